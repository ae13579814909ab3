//! What the runner needs from a TensorRT engine, as a trait.
//!
//! [`Shim`] has one method per execution function of the C shim (shim.h), so the runner's
//! logic — names, shapes, buffers, batching — is the same code whether it drives a real
//! engine ([`super::ffi::Engine`]) or the stand-in the tests use; [`Device`] does the same
//! for CUDA memory ([`super::cuda::CudaDevice`] on a GPU).

use anyhow::{Result, bail};
use std::ffi::c_void;

/// TensorRT's `DataType::kFLOAT`, the only type this backend exchanges.
pub(crate) const DTYPE_FLOAT: i32 = 0;

/// TensorRT's name for a `DataType` value, for messages.
pub(crate) fn dtype_name(value: i32) -> &'static str {
    match value {
        0 => "float32",
        1 => "float16",
        2 => "int8",
        3 => "int32",
        4 => "bool",
        5 => "uint8",
        6 => "fp8",
        7 => "bfloat16",
        8 => "int64",
        9 => "int4",
        _ => "an unknown type",
    }
}

/// One input or output of an engine, as the engine declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IoTensor {
    pub name: String,
    pub is_input: bool,
    /// TensorRT `DataType` value.
    pub dtype: i32,
    /// -1 where the engine leaves the dimension to the caller (within its profile).
    pub dims: Vec<i64>,
}

/// The shapes an input accepts (the engine's optimisation profile 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Profile {
    pub min: Vec<i64>,
    pub opt: Vec<i64>,
    pub max: Vec<i64>,
}

/// An engine with its execution context.
pub(crate) trait Shim: Send {
    /// Every IO tensor, in the engine's order (inputs first, as in the network).
    fn io_tensors(&self) -> Result<Vec<IoTensor>>;
    /// The profile of an input; `None` when all its dimensions are fixed.
    fn profile(&self, name: &str) -> Result<Option<Profile>>;
    fn set_input_shape(&mut self, name: &str, dims: &[i64]) -> Result<()>;
    /// The context's current shape of a tensor (outputs: once all input shapes are set).
    fn tensor_shape(&self, name: &str) -> Result<Vec<i64>>;
    fn set_tensor_address(&mut self, name: &str, address: u64) -> Result<()>;
    /// Queues the inference on `stream`.
    fn enqueue(&mut self, stream: *mut c_void) -> Result<()>;
}

/// Device memory and the stream the engine runs on.
pub(crate) trait Device: Send {
    type Buffer: Send;
    /// Makes the device current on the calling thread (GStreamer calls from many).
    fn bind(&self) -> Result<()>;
    /// A buffer of `len` f32 values.
    fn alloc(&self, len: usize) -> Result<Self::Buffer>;
    fn address(&self, buffer: &Self::Buffer) -> u64;
    /// Copies `host` to the start of `buffer` (which holds at least as many values).
    fn upload(&self, host: &[f32], buffer: &mut Self::Buffer) -> Result<()>;
    /// Copies the start of `buffer` into all of `host`, after the work queued before it.
    fn download(&self, buffer: &Self::Buffer, host: &mut [f32]) -> Result<()>;
    fn stream(&self) -> *mut c_void;
    fn synchronize(&self) -> Result<()>;
}

/// A concrete shape from TensorRT's int64 dims; -1 left in an output means TensorRT cannot
/// tell its size before running (data-dependent outputs, which we do not support).
pub(crate) fn to_shape(name: &str, dims: &[i64]) -> Result<Vec<usize>> {
    dims.iter()
        .map(|&d| {
            usize::try_from(d).or_else(|_| {
                bail!(
                    "tensor '{name}' has shape {dims:?}: its size is only known after running, which is not supported"
                )
            })
        })
        .collect()
}

/// Number of values in a tensor of `shape`, refusing sizes that overflow.
pub(crate) fn element_count(name: &str, shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| anyhow::anyhow!("tensor '{name}' of shape {shape:?} is too large"))
}

/// The int64 dims TensorRT takes for a concrete shape.
pub(crate) fn to_dims(shape: &[usize]) -> Result<Vec<i64>> {
    shape
        .iter()
        .map(|&d| i64::try_from(d).map_err(|_| anyhow::anyhow!("dimension {d} does not fit TensorRT's dims")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_convert_both_ways_and_unknown_sizes_are_refused() {
        assert_eq!(to_shape("y", &[2, 128]).unwrap(), vec![2, 128]);
        assert_eq!(to_dims(&[16, 3, 112, 112]).unwrap(), vec![16, 3, 112, 112]);
        let err = to_shape("boxes", &[1, -1, 4]).unwrap_err().to_string();
        assert!(err.contains("'boxes'") && err.contains("[1, -1, 4]"), "{err}");
    }

    #[test]
    fn element_counts_multiply_and_catch_overflow() {
        assert_eq!(element_count("x", &[4, 3, 112, 112]).unwrap(), 4 * 3 * 112 * 112);
        assert_eq!(element_count("x", &[]).unwrap(), 1);
        assert_eq!(element_count("x", &[0, 7]).unwrap(), 0);
        assert!(element_count("x", &[usize::MAX, 2]).is_err());
    }

    #[test]
    fn dtype_names_follow_tensorrt_values() {
        assert_eq!(dtype_name(DTYPE_FLOAT), "float32");
        assert_eq!(dtype_name(1), "float16");
        assert_eq!(dtype_name(8), "int64");
        assert_eq!(dtype_name(99), "an unknown type");
    }
}
