//! CUDA through cudarc: the GPU, a stream per model, device buffers.
//!
//! cudarc loads libcuda at run time, but panics when it cannot (and on a symbol the
//! driver lacks), so we first open libcuda.so.1 ourselves and create the context inside
//! `catch_unwind`: a machine without the NVIDIA driver gets an error, never a crash.

use super::library::open_first;
use super::shim::Device;
use anyhow::{Result, anyhow};
use cudarc::driver::{CudaContext, CudaSlice, CudaStream, DevicePtr};
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};

/// The GPU all models of this process run on (device 0: Jetsons have one).
pub(crate) struct Gpu {
    pub context: Arc<CudaContext>,
    pub name: String,
}

static GPU: OnceLock<std::result::Result<Gpu, String>> = OnceLock::new();

pub(crate) fn gpu() -> Result<&'static Gpu> {
    GPU.get_or_init(|| open_gpu().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("{e}"))
}

fn open_gpu() -> Result<Gpu> {
    let (driver, _) = open_first(&["libcuda.so.1".into()])
        .map_err(|e| anyhow!("the NVIDIA driver's CUDA library is missing: {e:#}"))?;
    // Keep it mapped: cudarc opens it again and the two handles share the one mapping.
    std::mem::forget(driver);
    let context = catch_unwind(AssertUnwindSafe(|| CudaContext::new(0)))
        .map_err(|_| anyhow!("the CUDA driver library could not be used (cudarc panicked; driver too old?)"))?
        .map_err(|e| anyhow!("CUDA device 0: {e}"))?;
    // SAFETY: every buffer we allocate is used only on the stream it was allocated on,
    // and each run synchronises that stream before returning, so cudarc's cross-stream
    // event tracking has nothing to track (and TensorRT, which reads raw addresses,
    // would not see its events anyway).
    unsafe { context.disable_event_tracking() };
    let name = context.name().map_err(|e| anyhow!("CUDA device name: {e}"))?;
    Ok(Gpu { context, name })
}

/// A model's own stream on the shared GPU.
pub(crate) struct CudaDevice {
    stream: Arc<CudaStream>,
}

impl CudaDevice {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        let stream = gpu
            .context
            .new_stream()
            .map_err(|e| anyhow!("creating a CUDA stream: {e}"))?;
        Ok(Self { stream })
    }
}

impl Device for CudaDevice {
    type Buffer = CudaSlice<f32>;

    fn bind(&self) -> Result<()> {
        // TensorRT uses whatever context is current on the calling thread.
        self.stream
            .context()
            .bind_to_thread()
            .map_err(|e| anyhow!("binding the CUDA context: {e}"))
    }

    fn alloc(&self, len: usize) -> Result<CudaSlice<f32>> {
        self.stream
            .alloc_zeros::<f32>(len)
            .map_err(|e| anyhow!("cudaMalloc of {len} floats: {e}"))
    }

    fn address(&self, buffer: &CudaSlice<f32>) -> u64 {
        let (ptr, _sync) = buffer.device_ptr(&self.stream);
        ptr
    }

    fn upload(&self, host: &[f32], buffer: &mut CudaSlice<f32>) -> Result<()> {
        // cudarc asserts (panics) on a short destination; the runner never passes one,
        // but a wrong length must be an error, not a crash of the pipeline.
        if host.len() > buffer.len() {
            return Err(anyhow!(
                "upload of {} values into a buffer of {}",
                host.len(),
                buffer.len()
            ));
        }
        self.stream
            .memcpy_htod(host, buffer)
            .map_err(|e| anyhow!("copy to the GPU: {e}"))
    }

    fn download(&self, buffer: &CudaSlice<f32>, host: &mut [f32]) -> Result<()> {
        let view = buffer
            .try_slice(0..host.len())
            .ok_or_else(|| anyhow!("download of {} values from a buffer of {}", host.len(), buffer.len()))?;
        self.stream
            .memcpy_dtoh(&view, host)
            .map_err(|e| anyhow!("copy from the GPU: {e}"))
    }

    fn stream(&self) -> *mut c_void {
        self.stream.cu_stream().cast()
    }

    fn synchronize(&self) -> Result<()> {
        self.stream
            .synchronize()
            .map_err(|e| anyhow!("CUDA stream synchronize: {e}"))
    }
}
