//! Runs an engine on host tensors: shape checks, device buffers, batching.
//!
//! TensorRT wants every input shape set on the context, a device address for every IO
//! tensor, then one `enqueueV3`. Output shapes are read back from the context once the
//! input shapes are set. Buffers are kept between runs and only reallocated when a run
//! needs more than they hold, so a steady stream of frames allocates nothing.
//!
//! A batch larger than the engine's profile allows is split into chunks the engine
//! accepts and the outputs are joined again, so the elements need not know the limit.

use super::shim::{DTYPE_FLOAT, Device, Profile, Shim, dtype_name, element_count, to_dims, to_shape};
use crate::tensor::Tensor;
use anyhow::{Context, Result, bail};

struct Slot<B> {
    name: String,
    /// The engine's shape, -1 where it is dynamic.
    dims: Vec<i64>,
    profile: Option<Profile>,
    buffer: Option<B>,
    /// Values `buffer` holds.
    capacity: usize,
}

impl<B> Slot<B> {
    fn new(name: String, dims: Vec<i64>, profile: Option<Profile>) -> Self {
        Self {
            name,
            dims,
            profile,
            buffer: None,
            capacity: 0,
        }
    }
}

/// An input of one run: borrowed, so chunks of a batch need no copy.
#[derive(Clone, Copy)]
struct View<'a> {
    shape: &'a [usize],
    data: &'a [f32],
}

pub(crate) struct Runner<S, D: Device> {
    shim: S,
    device: D,
    inputs: Vec<Slot<D::Buffer>>,
    outputs: Vec<Slot<D::Buffer>>,
}

impl<S: Shim, D: Device> Runner<S, D> {
    pub fn new(shim: S, device: D) -> Result<Self> {
        let mut inputs = Vec::new();
        let mut outputs = Vec::new();
        for t in shim.io_tensors()? {
            if t.dtype != DTYPE_FLOAT {
                bail!(
                    "engine tensor '{}' is {}, but this backend exchanges float32 tensors only \
                     (build the engine without changing the model's input/output types)",
                    t.name,
                    dtype_name(t.dtype)
                );
            }
            if t.is_input {
                let profile = shim.profile(&t.name)?;
                inputs.push(Slot::new(t.name, t.dims, profile));
            } else {
                outputs.push(Slot::new(t.name, t.dims, None));
            }
        }
        if inputs.is_empty() || outputs.is_empty() {
            bail!(
                "the engine has {} input(s) and {} output(s); a model needs at least one of each",
                inputs.len(),
                outputs.len()
            );
        }
        Ok(Self {
            shim,
            device,
            inputs,
            outputs,
        })
    }

    pub fn input_names(&self) -> Vec<String> {
        self.inputs.iter().map(|s| s.name.clone()).collect()
    }

    pub fn output_names(&self) -> Vec<String> {
        self.outputs.iter().map(|s| s.name.clone()).collect()
    }

    /// The largest batch one enqueue takes, when every input's first axis is a dynamic
    /// batch axis (so a larger batch can be split); `None` otherwise.
    fn batch_limit(&self) -> Option<usize> {
        self.inputs
            .iter()
            .map(|s| match (&s.dims.first(), &s.profile) {
                (Some(-1), Some(p)) => p.max.first().and_then(|&m| usize::try_from(m).ok()).filter(|&m| m > 0),
                _ => None,
            })
            .try_fold(usize::MAX, |acc, m| m.map(|m| acc.min(m)))
    }

    pub fn run(&mut self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        if inputs.len() != self.inputs.len() {
            bail!(
                "the engine takes {} input(s) ({:?}), got {}",
                self.inputs.len(),
                self.input_names(),
                inputs.len()
            );
        }
        for (t, slot) in inputs.iter().zip(&self.inputs) {
            // Tensor's fields are public: a mismatch would make the chunks below wrong.
            if t.shape.iter().product::<usize>() != t.data.len() {
                bail!(
                    "input '{}' has shape {:?} but {} values",
                    slot.name,
                    t.shape,
                    t.data.len()
                );
            }
        }
        let views: Vec<View> = inputs
            .iter()
            .map(|t| View {
                shape: &t.shape,
                data: &t.data,
            })
            .collect();
        let batch = inputs[0].batch();
        let same_batch = inputs.iter().all(|t| t.batch() == batch);
        match self.batch_limit() {
            Some(limit) if batch > limit && same_batch => self.run_chunked(&views, batch, limit),
            _ => self.run_once(&views),
        }
    }

    fn run_chunked(&mut self, views: &[View], batch: usize, limit: usize) -> Result<Vec<Tensor>> {
        let mut joined: Vec<Option<Tensor>> = vec![None; self.outputs.len()];
        let mut start = 0;
        while start < batch {
            let end = (start + limit).min(batch);
            let shapes: Vec<Vec<usize>> = views
                .iter()
                .map(|v| {
                    let mut s = v.shape.to_vec();
                    s[0] = end - start;
                    s
                })
                .collect();
            let chunk: Vec<View> = views
                .iter()
                .zip(&shapes)
                .map(|(v, shape)| {
                    let per = v.data.len() / batch;
                    View {
                        shape,
                        data: &v.data[start * per..end * per],
                    }
                })
                .collect();
            let outs = self.run_once(&chunk)?;
            for ((acc, out), slot) in joined.iter_mut().zip(outs).zip(&self.outputs) {
                if out.batch() != end - start {
                    bail!(
                        "batch of {batch} is over the engine's limit of {limit}, and output '{}' (shape {:?}) \
                         is not batched along its first axis, so the batch cannot be split",
                        slot.name,
                        out.shape
                    );
                }
                match acc {
                    None => *acc = Some(out),
                    Some(t) => {
                        t.shape[0] += out.shape[0];
                        t.data.extend_from_slice(&out.data);
                    }
                }
            }
            start = end;
        }
        joined
            .into_iter()
            .map(|t| t.context("no output from a split batch"))
            .collect()
    }

    fn check_input(slot: &Slot<D::Buffer>, shape: &[usize]) -> Result<()> {
        let name = &slot.name;
        if shape.len() != slot.dims.len() {
            bail!(
                "input '{name}' must have {} dimensions (engine shape {:?}), got shape {shape:?}",
                slot.dims.len(),
                slot.dims
            );
        }
        for (axis, (&want, &got)) in slot.dims.iter().zip(shape).enumerate() {
            if want >= 0 && want as usize != got {
                bail!(
                    "input '{name}' must have {want} at axis {axis} (engine shape {:?}), got shape {shape:?}",
                    slot.dims
                );
            }
            if let Some(p) = &slot.profile
                && want < 0
                && let (Some(&min), Some(&max)) = (p.min.get(axis), p.max.get(axis))
                && !(min..=max).contains(&(got as i64))
            {
                bail!(
                    "input '{name}' has {got} at axis {axis} (shape {shape:?}), but the engine was built for \
                     {min}..={max} there (optimisation profile min {:?}, max {:?}); use a size in that range or \
                     rebuild the engine",
                    p.min,
                    p.max
                );
            }
        }
        Ok(())
    }

    fn run_once(&mut self, views: &[View]) -> Result<Vec<Tensor>> {
        self.device.bind()?;
        for (slot, v) in self.inputs.iter().zip(views) {
            Self::check_input(slot, v.shape)?;
            self.shim.set_input_shape(&slot.name, &to_dims(v.shape)?)?;
        }
        let mut out_shapes = Vec::with_capacity(self.outputs.len());
        for slot in &self.outputs {
            let dims = self.shim.tensor_shape(&slot.name)?;
            out_shapes.push(to_shape(&slot.name, &dims)?);
        }

        for (slot, v) in self.inputs.iter_mut().zip(views) {
            let buffer = ensure_capacity(&self.device, slot, v.data.len())?;
            self.device.upload(v.data, buffer)?;
            let address = self.device.address(buffer);
            self.shim.set_tensor_address(&slot.name, address)?;
        }
        let mut lens = Vec::with_capacity(self.outputs.len());
        for (slot, shape) in self.outputs.iter_mut().zip(&out_shapes) {
            let len = element_count(&slot.name, shape)?;
            let buffer = ensure_capacity(&self.device, slot, len)?;
            let address = self.device.address(buffer);
            self.shim.set_tensor_address(&slot.name, address)?;
            lens.push(len);
        }

        self.shim.enqueue(self.device.stream())?;

        let mut results = Vec::with_capacity(self.outputs.len());
        for ((slot, shape), len) in self.outputs.iter().zip(out_shapes).zip(lens) {
            let mut data = vec![0.0f32; len];
            if let Some(buffer) = &slot.buffer {
                self.device
                    .download(buffer, &mut data)
                    .with_context(|| format!("copying output '{}' back", slot.name))?;
            }
            results.push(Tensor::new(shape, data)?);
        }
        self.device.synchronize()?;
        Ok(results)
    }
}

/// The slot's buffer, reallocated when it holds fewer than `len` values. Never empty:
/// TensorRT wants a valid address even for a tensor with no values.
fn ensure_capacity<'a, D: Device>(device: &D, slot: &'a mut Slot<D::Buffer>, len: usize) -> Result<&'a mut D::Buffer> {
    let len = len.max(1);
    if slot.buffer.is_none() || slot.capacity < len {
        // Drop the old buffer first: on a Jetson the GPU shares the board's memory.
        slot.buffer = None;
        slot.buffer = Some(
            device
                .alloc(len)
                .with_context(|| format!("allocating {len} values for tensor '{}'", slot.name))?,
        );
        slot.capacity = len;
    }
    slot.buffer.as_mut().context("buffer just allocated")
}

#[cfg(test)]
pub(crate) mod fake {
    //! A stand-in engine and device: host memory behind fake device addresses, and an
    //! "engine" with one input `x` [N, 3] and two outputs, `neg` = -x and `sum` = the sum
    //! of each row, that checks what TensorRT checks (profile range, shapes set,
    //! addresses set) before it "runs".

    use super::super::shim::{DTYPE_FLOAT, Device, IoTensor, Profile, Shim};
    use anyhow::{Context, Result, bail};
    use std::collections::HashMap;
    use std::ffi::c_void;
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    pub struct Memory {
        next: u64,
        pub buffers: HashMap<u64, Vec<f32>>,
        /// Length of every allocation, in order.
        pub allocations: Vec<usize>,
        pub syncs: usize,
    }

    #[derive(Clone, Default)]
    pub struct FakeDevice {
        pub memory: Arc<Mutex<Memory>>,
    }

    pub struct FakeBuffer(u64);

    impl Device for FakeDevice {
        type Buffer = FakeBuffer;

        fn bind(&self) -> Result<()> {
            Ok(())
        }

        fn alloc(&self, len: usize) -> Result<FakeBuffer> {
            let mut m = self.memory.lock().unwrap();
            m.next += 0x1000;
            let address = m.next;
            m.buffers.insert(address, vec![f32::NAN; len]);
            m.allocations.push(len);
            Ok(FakeBuffer(address))
        }

        fn address(&self, buffer: &FakeBuffer) -> u64 {
            buffer.0
        }

        fn upload(&self, host: &[f32], buffer: &mut FakeBuffer) -> Result<()> {
            let mut m = self.memory.lock().unwrap();
            let dst = m.buffers.get_mut(&buffer.0).context("no such buffer")?;
            dst[..host.len()].copy_from_slice(host);
            Ok(())
        }

        fn download(&self, buffer: &FakeBuffer, host: &mut [f32]) -> Result<()> {
            let m = self.memory.lock().unwrap();
            let src = m.buffers.get(&buffer.0).context("no such buffer")?;
            host.copy_from_slice(&src[..host.len()]);
            Ok(())
        }

        fn stream(&self) -> *mut c_void {
            0x5eed as *mut c_void
        }

        fn synchronize(&self) -> Result<()> {
            self.memory.lock().unwrap().syncs += 1;
            Ok(())
        }
    }

    pub struct FakeEngine {
        pub tensors: Vec<IoTensor>,
        pub profile: Option<Profile>,
        memory: Arc<Mutex<Memory>>,
        shape: Option<Vec<i64>>,
        addresses: HashMap<String, u64>,
        /// Every batch size set on `x`, in order.
        pub log: Arc<Mutex<Vec<i64>>>,
    }

    impl FakeEngine {
        /// `x` [-1, 3] with a batch profile 1..=`max_batch`.
        pub fn new(device: &FakeDevice, max_batch: i64) -> Self {
            let t = |name: &str, is_input, dims: Vec<i64>| IoTensor {
                name: name.into(),
                is_input,
                dtype: DTYPE_FLOAT,
                dims,
            };
            Self {
                tensors: vec![
                    t("x", true, vec![-1, 3]),
                    t("neg", false, vec![-1, 3]),
                    t("sum", false, vec![-1, 1]),
                ],
                profile: Some(Profile {
                    min: vec![1, 3],
                    opt: vec![(max_batch + 1) / 2, 3],
                    max: vec![max_batch, 3],
                }),
                memory: device.memory.clone(),
                shape: None,
                addresses: HashMap::new(),
                log: Arc::default(),
            }
        }
    }

    impl Shim for FakeEngine {
        fn io_tensors(&self) -> Result<Vec<IoTensor>> {
            Ok(self.tensors.clone())
        }

        fn profile(&self, name: &str) -> Result<Option<Profile>> {
            Ok(if name == "x" { self.profile.clone() } else { None })
        }

        fn set_input_shape(&mut self, name: &str, dims: &[i64]) -> Result<()> {
            if name != "x" || dims.len() != 2 || dims[1] != 3 {
                bail!("setInputShape failed for input '{name}'");
            }
            if let Some(p) = &self.profile
                && (dims[0] < p.min[0] || dims[0] > p.max[0])
            {
                bail!("setInputShape failed for input '{name}': outside the profile");
            }
            self.log.lock().unwrap().push(dims[0]);
            self.shape = Some(dims.to_vec());
            Ok(())
        }

        fn tensor_shape(&self, name: &str) -> Result<Vec<i64>> {
            let n = self.shape.as_ref().map_or(-1, |s| s[0]);
            match name {
                "x" | "neg" => Ok(vec![n, 3]),
                "sum" => Ok(vec![n, 1]),
                _ => bail!("no shape for tensor '{name}'"),
            }
        }

        fn set_tensor_address(&mut self, name: &str, address: u64) -> Result<()> {
            self.addresses.insert(name.to_string(), address);
            Ok(())
        }

        fn enqueue(&mut self, stream: *mut c_void) -> Result<()> {
            if stream != 0x5eed as *mut c_void {
                bail!("enqueued on the wrong stream");
            }
            let n = self.shape.as_ref().context("enqueue before setInputShape")?[0] as usize;
            let addr = |name: &str| self.addresses.get(name).copied().context("address not set");
            let (x, neg, sum) = (addr("x")?, addr("neg")?, addr("sum")?);
            let mut m = self.memory.lock().unwrap();
            let input: Vec<f32> = m.buffers[&x][..n * 3].to_vec();
            let out = m.buffers.get_mut(&neg).context("bad address")?;
            for (o, v) in out.iter_mut().zip(&input) {
                *o = -v;
            }
            let out = m.buffers.get_mut(&sum).context("bad address")?;
            for (o, row) in out.iter_mut().zip(input.chunks(3)) {
                *o = row.iter().sum();
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::{FakeDevice, FakeEngine};
    use super::*;

    fn runner(max_batch: i64) -> (Runner<FakeEngine, FakeDevice>, FakeDevice) {
        let device = FakeDevice::default();
        let engine = FakeEngine::new(&device, max_batch);
        (Runner::new(engine, device.clone()).unwrap(), device)
    }

    fn rows(n: usize) -> Tensor {
        Tensor::new(vec![n, 3], (0..n * 3).map(|v| v as f32).collect()).unwrap()
    }

    #[test]
    fn runs_and_returns_outputs_in_engine_order() {
        let (mut r, device) = runner(16);
        assert_eq!(r.input_names(), ["x"]);
        assert_eq!(r.output_names(), ["neg", "sum"]);
        let out = r.run(&[rows(2)]).unwrap();
        assert_eq!(out[0].shape, [2, 3]);
        assert_eq!(out[0].data, [-0.0, -1.0, -2.0, -3.0, -4.0, -5.0]);
        assert_eq!(out[1].shape, [2, 1]);
        assert_eq!(out[1].data, [3.0, 12.0]);
        assert_eq!(device.memory.lock().unwrap().syncs, 1);
    }

    #[test]
    fn buffers_grow_with_the_batch_and_are_reused() {
        let (mut r, device) = runner(16);
        r.run(&[rows(1)]).unwrap();
        r.run(&[rows(4)]).unwrap();
        // Smaller again: fits in what batch 4 allocated, nothing new.
        let out = r.run(&[rows(2)]).unwrap();
        assert_eq!(out[1].data, [3.0, 12.0]);
        // x, neg, sum at batch 1, then again at batch 4; nothing for batch 2.
        assert_eq!(device.memory.lock().unwrap().allocations, [3, 3, 1, 12, 12, 4]);
    }

    #[test]
    fn batches_over_the_profile_are_split_and_joined() {
        let (mut r, _) = runner(4);
        let log = r.shim.log.clone();
        let out = r.run(&[rows(10)]).unwrap();
        assert_eq!(*log.lock().unwrap(), [4, 4, 2]);
        assert_eq!(out[0].shape, [10, 3]);
        assert_eq!(out[0].data, rows(10).data.iter().map(|v| -v).collect::<Vec<_>>());
        assert_eq!(out[1].shape, [10, 1]);
        assert_eq!(out[1].data[9], 27.0 + 28.0 + 29.0);
    }

    #[test]
    fn wrong_inputs_are_refused_with_the_engine_shape() {
        let (mut r, _) = runner(16);
        let err = r.run(&[]).unwrap_err().to_string();
        assert!(err.contains("takes 1 input(s)") && err.contains("\"x\""), "{err}");
        let err = r.run(&[Tensor::zeros(vec![2, 4])]).unwrap_err().to_string();
        assert!(
            err.contains("'x'") && err.contains("3 at axis 1") && err.contains("[-1, 3]"),
            "{err}"
        );
        let err = r.run(&[Tensor::zeros(vec![6])]).unwrap_err().to_string();
        assert!(err.contains("must have 2 dimensions"), "{err}");
        let bad = Tensor {
            shape: vec![2, 3],
            data: vec![0.0; 5],
        };
        let err = r.run(&[bad]).unwrap_err().to_string();
        assert!(err.contains("shape [2, 3] but 5 values"), "{err}");
    }

    #[test]
    fn sizes_outside_a_fixed_profile_name_the_range() {
        let device = FakeDevice::default();
        let mut engine = FakeEngine::new(&device, 4);
        // Built for batches of 2 to 4: 1 is below the range, and is refused before
        // TensorRT sees it, naming the range.
        engine.profile = Some(Profile {
            min: vec![2, 3],
            opt: vec![2, 3],
            max: vec![4, 3],
        });
        let mut r = Runner::new(engine, device).unwrap();
        let err = r.run(&[rows(1)]).unwrap_err().to_string();
        assert!(err.contains("2..=4") && err.contains("rebuild the engine"), "{err}");
    }

    #[test]
    fn non_float_engines_are_refused_at_load() {
        let device = FakeDevice::default();
        let mut engine = FakeEngine::new(&device, 4);
        engine.tensors[1].dtype = 1;
        let err = Runner::new(engine, device).err().unwrap().to_string();
        assert!(err.contains("'neg'") && err.contains("float16"), "{err}");
    }

    #[test]
    fn batch_limit_needs_every_input_batched() {
        let (r, _) = runner(8);
        assert_eq!(r.batch_limit(), Some(8));
        let device = FakeDevice::default();
        let mut engine = FakeEngine::new(&device, 8);
        engine.profile = None;
        let r = Runner::new(engine, device).unwrap();
        assert_eq!(r.batch_limit(), None);
    }
}
