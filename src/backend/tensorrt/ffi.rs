//! The C shim's functions (shim.h) and owning wrappers around its handles.

use super::profile::ProfileEntry;
use super::shim::{IoTensor, Profile, Shim};
use anyhow::{Context, Result, bail};
use std::ffi::{CStr, CString, c_char, c_void};
use std::path::Path;
use std::ptr::NonNull;
use std::sync::Arc;

const MAX_DIMS: usize = 8;
const ERR_LEN: usize = 4096;

pub(crate) type CreateFn = unsafe extern "C" fn(logger: *mut c_void, version: i32) -> *mut c_void;
pub(crate) type CreateParserFn =
    unsafe extern "C" fn(network: *mut c_void, logger: *mut c_void, version: i32) -> *mut c_void;

#[repr(C)]
struct RawRuntime {
    _opaque: [u8; 0],
}
#[repr(C)]
struct RawEngine {
    _opaque: [u8; 0],
}
#[repr(C)]
struct RawNetwork {
    _opaque: [u8; 0],
}

#[repr(C)]
struct BuildOptions {
    fp16: i32,
    dla_core: i32,
    workspace: usize,
    int8: i32,
    nb_ranges: i32,
    range_names: *const *const c_char,
    range_amax: *const f32,
}

#[repr(C)]
struct RawProfileEntry {
    name: *const c_char,
    nb_dims: i32,
    min: [i64; MAX_DIMS],
    opt: [i64; MAX_DIMS],
    max: [i64; MAX_DIMS],
}

unsafe extern "C" {
    fn gfs_trt_header_version(major: *mut i32, minor: *mut i32, patch: *mut i32);
    fn gfs_trt_has_onnx_parser() -> i32;
    fn gfs_trt_has_fp16_flag() -> i32;
    fn gfs_trt_has_int8_flag() -> i32;

    fn gfs_trt_runtime_new(create: CreateFn, dla_core: i32, err: *mut c_char, err_len: usize) -> *mut RawRuntime;
    fn gfs_trt_runtime_free(runtime: *mut RawRuntime);
    fn gfs_trt_engine_new(
        runtime: *mut RawRuntime,
        blob: *const c_void,
        len: usize,
        err: *mut c_char,
        err_len: usize,
    ) -> *mut RawEngine;
    fn gfs_trt_engine_free(engine: *mut RawEngine);
    fn gfs_trt_engine_nb_io(engine: *const RawEngine) -> i32;
    fn gfs_trt_engine_io_name(engine: *const RawEngine, index: i32) -> *const c_char;
    fn gfs_trt_engine_io_info(
        engine: *const RawEngine,
        name: *const c_char,
        is_input: *mut i32,
        dtype: *mut i32,
        dims: *mut i64,
        nb_dims: *mut i32,
        err: *mut c_char,
        err_len: usize,
    ) -> i32;
    fn gfs_trt_engine_profile(
        engine: *const RawEngine,
        name: *const c_char,
        which: i32,
        dims: *mut i64,
        nb_dims: *mut i32,
        err: *mut c_char,
        err_len: usize,
    ) -> i32;
    fn gfs_trt_context_set_input_shape(
        engine: *mut RawEngine,
        name: *const c_char,
        dims: *const i64,
        nb_dims: i32,
        err: *mut c_char,
        err_len: usize,
    ) -> i32;
    fn gfs_trt_context_tensor_shape(
        engine: *const RawEngine,
        name: *const c_char,
        dims: *mut i64,
        nb_dims: *mut i32,
        err: *mut c_char,
        err_len: usize,
    ) -> i32;
    fn gfs_trt_context_set_address(
        engine: *mut RawEngine,
        name: *const c_char,
        ptr: *mut c_void,
        err: *mut c_char,
        err_len: usize,
    ) -> i32;
    fn gfs_trt_context_enqueue(engine: *mut RawEngine, stream: *mut c_void, err: *mut c_char, err_len: usize) -> i32;

    fn gfs_trt_network_from_onnx(
        create_builder: CreateFn,
        create_parser: CreateParserFn,
        onnx_path: *const c_char,
        err: *mut c_char,
        err_len: usize,
    ) -> *mut RawNetwork;
    fn gfs_trt_network_free(network: *mut RawNetwork);
    fn gfs_trt_network_nb_inputs(network: *const RawNetwork) -> i32;
    fn gfs_trt_network_input(
        network: *const RawNetwork,
        index: i32,
        name: *mut *const c_char,
        dims: *mut i64,
        nb_dims: *mut i32,
        err: *mut c_char,
        err_len: usize,
    ) -> i32;
    fn gfs_trt_network_build(
        network: *mut RawNetwork,
        options: *const BuildOptions,
        profile: *const RawProfileEntry,
        nb_profile: i32,
        blob: *mut *mut c_void,
        data: *mut *const c_void,
        len: *mut usize,
        fp16_used: *mut i32,
        ranges_set: *mut i32,
        err: *mut c_char,
        err_len: usize,
    ) -> i32;
    fn gfs_trt_blob_free(blob: *mut c_void);
}

/// The TensorRT version of the headers the shim was compiled against.
pub(crate) fn header_version() -> (u32, u32, u32) {
    let (mut major, mut minor, mut patch) = (0, 0, 0);
    // SAFETY: writes three integers through valid pointers; no other effect.
    unsafe { gfs_trt_header_version(&mut major, &mut minor, &mut patch) };
    (major as u32, minor as u32, patch as u32)
}

pub(crate) fn has_onnx_parser() -> bool {
    // SAFETY: returns a compile-time constant.
    unsafe { gfs_trt_has_onnx_parser() != 0 }
}

/// Whether these headers still build implicit int8 from dynamic ranges (TensorRT < 11).
pub(crate) fn has_int8_flag() -> bool {
    // SAFETY: no arguments, returns a constant.
    unsafe { gfs_trt_has_int8_flag() != 0 }
}

pub(crate) fn has_fp16_flag() -> bool {
    // SAFETY: returns a compile-time constant.
    unsafe { gfs_trt_has_fp16_flag() != 0 }
}

/// Calls a shim function with an error buffer and turns its status into a Result.
fn check(call: impl FnOnce(*mut c_char, usize) -> i32) -> Result<()> {
    let mut err = [0 as c_char; ERR_LEN];
    if call(err.as_mut_ptr(), ERR_LEN) == 0 {
        Ok(())
    } else {
        bail!("{}", message(&err))
    }
}

/// Calls a shim constructor: a null handle means failure, explained in the buffer.
fn construct<T>(call: impl FnOnce(*mut c_char, usize) -> *mut T) -> Result<NonNull<T>> {
    let mut err = [0 as c_char; ERR_LEN];
    let raw = call(err.as_mut_ptr(), ERR_LEN);
    NonNull::new(raw).ok_or_else(|| anyhow::anyhow!("{}", message(&err)))
}

fn message(err: &[c_char; ERR_LEN]) -> String {
    // SAFETY: the shim writes a NUL-terminated string within the buffer, which starts
    // zeroed, so there is a NUL even if it wrote nothing.
    let text = unsafe { CStr::from_ptr(err.as_ptr()) }.to_string_lossy().into_owned();
    if text.is_empty() {
        "TensorRT call failed".into()
    } else {
        text
    }
}

fn c_name(name: &str) -> Result<CString> {
    CString::new(name).with_context(|| format!("tensor name {name:?} contains a NUL byte"))
}

fn dims_vec(dims: &[i64; MAX_DIMS], nb: i32) -> Vec<i64> {
    dims[..(nb.clamp(0, MAX_DIMS as i32) as usize)].to_vec()
}

/// An IRuntime (plus the DLA core it deserializes for).
pub(crate) struct Runtime(NonNull<RawRuntime>);

// SAFETY: the runtime is only used to deserialize engines, which happens while the
// backend's model cache lock is held, so never from two threads at once.
unsafe impl Send for Runtime {}
// SAFETY: as above: shared references never call into it concurrently.
unsafe impl Sync for Runtime {}

impl Runtime {
    pub fn new(create: CreateFn, dla_core: Option<u32>) -> Result<Arc<Self>> {
        let core = dla_core.map_or(-1, |c| c.min(i32::MAX as u32) as i32);
        // SAFETY: `create` is libnvinfer's createInferRuntime_INTERNAL, kept loaded for
        // the whole process; the error buffer is valid for `len` bytes.
        let raw = construct(|err, len| unsafe { gfs_trt_runtime_new(create, core, err, len) })?;
        Ok(Arc::new(Self(raw)))
    }

    /// Deserializes an engine; it keeps this runtime alive.
    pub fn engine(self: &Arc<Self>, blob: &[u8]) -> Result<Engine> {
        // SAFETY: the runtime handle is live (we hold it), blob points at `blob.len()`
        // readable bytes for the duration of the call.
        let raw = construct(|err, len| unsafe {
            gfs_trt_engine_new(self.0.as_ptr(), blob.as_ptr().cast(), blob.len(), err, len)
        })?;
        Ok(Engine {
            raw,
            _runtime: self.clone(),
        })
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // SAFETY: the handle came from gfs_trt_runtime_new and every engine holds an Arc
        // to this runtime, so none is left when it is freed.
        unsafe { gfs_trt_runtime_free(self.0.as_ptr()) }
    }
}

/// An engine and its execution context.
pub(crate) struct Engine {
    raw: NonNull<RawEngine>,
    _runtime: Arc<Runtime>,
}

// SAFETY: TensorRT allows an engine and its context to be used from any thread, one at a
// time; the model keeps the Engine behind a Mutex and `&mut self` methods serialise use.
unsafe impl Send for Engine {}

impl Drop for Engine {
    fn drop(&mut self) {
        // SAFETY: the handle came from gfs_trt_engine_new and is freed only here.
        unsafe { gfs_trt_engine_free(self.raw.as_ptr()) }
    }
}

impl Shim for Engine {
    fn io_tensors(&self) -> Result<Vec<IoTensor>> {
        // SAFETY: live handle.
        let n = unsafe { gfs_trt_engine_nb_io(self.raw.as_ptr()) };
        let mut out = Vec::new();
        for i in 0..n {
            // SAFETY: live handle; the name is owned by the engine and copied at once.
            let name_ptr = unsafe { gfs_trt_engine_io_name(self.raw.as_ptr(), i) };
            if name_ptr.is_null() {
                bail!("engine IO tensor {i} has no name");
            }
            // SAFETY: non-null NUL-terminated string owned by the live engine.
            let c = unsafe { CStr::from_ptr(name_ptr) };
            let (mut is_input, mut dtype, mut nb) = (0, 0, 0);
            let mut dims = [0i64; MAX_DIMS];
            // SAFETY: live handle, valid name, out-pointers to locals, dims has MAX_DIMS room.
            check(|err, len| unsafe {
                gfs_trt_engine_io_info(
                    self.raw.as_ptr(),
                    c.as_ptr(),
                    &mut is_input,
                    &mut dtype,
                    dims.as_mut_ptr(),
                    &mut nb,
                    err,
                    len,
                )
            })?;
            out.push(IoTensor {
                name: c.to_string_lossy().into_owned(),
                is_input: is_input != 0,
                dtype,
                dims: dims_vec(&dims, nb),
            });
        }
        Ok(out)
    }

    fn profile(&self, name: &str) -> Result<Option<Profile>> {
        let c = c_name(name)?;
        let mut shapes = Vec::with_capacity(3);
        for which in 0..3 {
            let mut dims = [0i64; MAX_DIMS];
            let mut nb = 0;
            // SAFETY: live handle, valid name, dims has MAX_DIMS room.
            check(|err, len| unsafe {
                gfs_trt_engine_profile(
                    self.raw.as_ptr(),
                    c.as_ptr(),
                    which,
                    dims.as_mut_ptr(),
                    &mut nb,
                    err,
                    len,
                )
            })?;
            if nb == 0 {
                return Ok(None);
            }
            shapes.push(dims_vec(&dims, nb));
        }
        let max = shapes.pop().unwrap_or_default();
        let opt = shapes.pop().unwrap_or_default();
        let min = shapes.pop().unwrap_or_default();
        Ok(Some(Profile { min, opt, max }))
    }

    fn set_input_shape(&mut self, name: &str, dims: &[i64]) -> Result<()> {
        let c = c_name(name)?;
        if dims.len() > MAX_DIMS {
            bail!(
                "input '{name}' has {} dimensions; TensorRT takes at most {MAX_DIMS}",
                dims.len()
            );
        }
        // SAFETY: live handle, valid name, `dims` holds nb_dims values.
        check(|err, len| unsafe {
            gfs_trt_context_set_input_shape(
                self.raw.as_ptr(),
                c.as_ptr(),
                dims.as_ptr(),
                dims.len() as i32,
                err,
                len,
            )
        })
    }

    fn tensor_shape(&self, name: &str) -> Result<Vec<i64>> {
        let c = c_name(name)?;
        let mut dims = [0i64; MAX_DIMS];
        let mut nb = 0;
        // SAFETY: live handle, valid name, dims has MAX_DIMS room.
        check(|err, len| unsafe {
            gfs_trt_context_tensor_shape(self.raw.as_ptr(), c.as_ptr(), dims.as_mut_ptr(), &mut nb, err, len)
        })?;
        Ok(dims_vec(&dims, nb))
    }

    fn set_tensor_address(&mut self, name: &str, address: u64) -> Result<()> {
        let c = c_name(name)?;
        // SAFETY: live handle, valid name; the address is a device allocation the runner
        // keeps alive until after the enqueue that reads it has been synchronised.
        check(|err, len| unsafe {
            gfs_trt_context_set_address(self.raw.as_ptr(), c.as_ptr(), address as usize as *mut c_void, err, len)
        })
    }

    fn enqueue(&mut self, stream: *mut c_void) -> Result<()> {
        // SAFETY: live handle; `stream` is a CUDA stream of the context TensorRT runs in.
        check(|err, len| unsafe { gfs_trt_context_enqueue(self.raw.as_ptr(), stream, err, len) })
    }
}

/// A network parsed from ONNX, ready to be built into an engine.
pub(crate) struct Network(NonNull<RawNetwork>);

impl Network {
    pub fn from_onnx(create_builder: CreateFn, create_parser: CreateParserFn, onnx: &Path) -> Result<Self> {
        let path = CString::new(onnx.as_os_str().as_encoded_bytes())
            .with_context(|| format!("{} contains a NUL byte", onnx.display()))?;
        // SAFETY: both functions come from libraries kept loaded for the process; the
        // path is NUL-terminated; the error buffer is valid.
        let raw = construct(|err, len| unsafe {
            gfs_trt_network_from_onnx(create_builder, create_parser, path.as_ptr(), err, len)
        })?;
        Ok(Self(raw))
    }

    /// Name and declared shape of every input (-1 = dynamic).
    pub fn inputs(&self) -> Result<Vec<(String, Vec<i64>)>> {
        // SAFETY: live handle.
        let n = unsafe { gfs_trt_network_nb_inputs(self.0.as_ptr()) };
        let mut out = Vec::new();
        for i in 0..n {
            let mut name: *const c_char = std::ptr::null();
            let mut dims = [0i64; MAX_DIMS];
            let mut nb = 0;
            // SAFETY: live handle, out-pointers to locals, dims has MAX_DIMS room.
            check(|err, len| unsafe {
                gfs_trt_network_input(self.0.as_ptr(), i, &mut name, dims.as_mut_ptr(), &mut nb, err, len)
            })?;
            if name.is_null() {
                bail!("network input {i} has no name");
            }
            // SAFETY: non-null NUL-terminated string owned by the live network.
            let name = unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned();
            out.push((name, dims_vec(&dims, nb)));
        }
        Ok(out)
    }

    /// Builds and serializes the engine; returns it, whether fp16 was allowed and how many
    /// of the int8 ranges (`int8`: tensor name, largest absolute value) named a tensor.
    pub fn build(
        &mut self,
        fp16: bool,
        int8: Option<&[(String, f32)]>,
        dla_core: Option<u32>,
        profile: &[ProfileEntry],
    ) -> Result<Built> {
        let ranges = int8.unwrap_or_default();
        let range_names = ranges.iter().map(|(n, _)| c_name(n)).collect::<Result<Vec<_>>>()?;
        let range_ptrs: Vec<*const c_char> = range_names.iter().map(|n| n.as_ptr()).collect();
        let range_amax: Vec<f32> = ranges.iter().map(|(_, a)| *a).collect();
        let names = profile.iter().map(|p| c_name(&p.name)).collect::<Result<Vec<_>>>()?;
        let mut entries = Vec::with_capacity(profile.len());
        for (p, name) in profile.iter().zip(&names) {
            let n = p.min.len();
            if n > MAX_DIMS || p.opt.len() != n || p.max.len() != n {
                bail!("bad optimisation profile for input '{}'", p.name);
            }
            let mut e = RawProfileEntry {
                name: name.as_ptr(),
                nb_dims: n as i32,
                min: [0; MAX_DIMS],
                opt: [0; MAX_DIMS],
                max: [0; MAX_DIMS],
            };
            e.min[..n].copy_from_slice(&p.min);
            e.opt[..n].copy_from_slice(&p.opt);
            e.max[..n].copy_from_slice(&p.max);
            entries.push(e);
        }
        let options = BuildOptions {
            fp16: fp16 as i32,
            dla_core: dla_core.map_or(-1, |c| c.min(i32::MAX as u32) as i32),
            workspace: 0,
            int8: int8.is_some() as i32,
            nb_ranges: i32::try_from(ranges.len()).context("too many int8 ranges")?,
            range_names: range_ptrs.as_ptr(),
            range_amax: range_amax.as_ptr(),
        };
        let mut blob: *mut c_void = std::ptr::null_mut();
        let mut data: *const c_void = std::ptr::null();
        let (mut len, mut fp16_used, mut ranges_set) = (0usize, 0i32, 0i32);
        // SAFETY: live handle; options, entries and the ranges (whose names outlive the
        // call) are valid for reading; out-pointers are locals.
        check(|err, elen| unsafe {
            gfs_trt_network_build(
                self.0.as_ptr(),
                &options,
                entries.as_ptr(),
                entries.len() as i32,
                &mut blob,
                &mut data,
                &mut len,
                &mut fp16_used,
                &mut ranges_set,
                err,
                elen,
            )
        })?;
        let bytes = if data.is_null() {
            Vec::new()
        } else {
            // SAFETY: on success `data` points at `len` bytes owned by `blob`, still alive.
            unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }.to_vec()
        };
        // SAFETY: `blob` came from gfs_trt_network_build and is freed once, here.
        unsafe { gfs_trt_blob_free(blob) };
        if bytes.is_empty() {
            bail!("TensorRT built an empty engine");
        }
        Ok(Built {
            blob: bytes,
            fp16_used: fp16_used != 0,
            ranges_set: usize::try_from(ranges_set).unwrap_or(0),
        })
    }
}

/// A serialized engine and what the build applied.
pub struct Built {
    pub blob: Vec<u8>,
    pub fp16_used: bool,
    pub ranges_set: usize,
}

impl Drop for Network {
    fn drop(&mut self) {
        // SAFETY: the handle came from gfs_trt_network_from_onnx and is freed only here.
        unsafe { gfs_trt_network_free(self.0.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shim_reports_the_headers_it_was_compiled_with() {
        let (major, _, _) = header_version();
        // build.rs only accepts TensorRT >= 8.5 headers (shim.cpp has an #error below).
        assert!(major >= 8, "header major {major}");
        assert_eq!(has_fp16_flag(), major < 11);
        assert_eq!(has_int8_flag(), major < 11);
        // Every header set build.rs may pick (JetPack, trtx-sys) ships NvOnnxParser.h.
        assert!(has_onnx_parser());
    }

    #[test]
    fn dims_are_cut_to_their_count() {
        let d = [1, 3, 112, 112, 9, 9, 9, 9];
        assert_eq!(dims_vec(&d, 4), [1, 3, 112, 112]);
        assert_eq!(dims_vec(&d, 0), Vec::<i64>::new());
        assert_eq!(dims_vec(&d, -1), Vec::<i64>::new());
        assert_eq!(dims_vec(&d, 99).len(), MAX_DIMS);
    }

    #[test]
    fn shim_errors_become_messages() {
        assert!(check(|_, _| 0).is_ok());
        let err = check(|buf, len| {
            let text = b"setInputShape failed\0";
            assert!(len >= text.len());
            // SAFETY: the buffer has `len` bytes, more than the text.
            unsafe { std::ptr::copy_nonoverlapping(text.as_ptr().cast(), buf, text.len()) };
            -1
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "setInputShape failed");
        assert_eq!(check(|_, _| -1).unwrap_err().to_string(), "TensorRT call failed");
    }
}
