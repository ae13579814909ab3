//! The TensorRT backend (cargo feature `tensorrt`), for NVIDIA Jetsons (JetPack 5,
//! TensorRT 8.5) and other NVIDIA GPUs.
//!
//! TensorRT runs serialized *engines*, compiled from the ONNX model for one TensorRT
//! version and one GPU. Without an explicit engine file, [`TensorRtModel::load`] builds
//! one on first use (minutes on a Jetson) and caches it (see `cache` for the folder and
//! the file name), so later starts take a second.
//!
//! Layers, from the bottom:
//! * `shim.cpp`/`shim.h` — C functions over TensorRT's C++ API, compiled by build.rs;
//! * `ffi` — those functions and owning handles; `library` — libnvinfer, opened at
//!   run time; `cuda` — the GPU, streams and buffers through cudarc, also loaded at run
//!   time, so a plugin built with the feature still loads on machines without either;
//! * `shim` — the engine and device as traits, so that `runner` (shapes, buffers,
//!   batching), `profile` and `cache` are unit-tested without a GPU.

mod cache;
mod calibration;
mod cuda;
mod ffi;
mod library;
mod profile;
mod runner;
mod shim;

use super::{Backend, Precision, TensorRtOptions, precision};
use crate::tensor::Tensor;
use anyhow::{Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Whether TensorRT and CUDA can be used here: e.g. `Ok("TensorRT 8.5.2, Xavier")`, or
/// an error saying what is missing. Checked once per process; never panics.
pub fn probe() -> Result<String> {
    static PROBE: OnceLock<std::result::Result<String, String>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            let trt = library::tensorrt().map_err(|e| format!("{e:#}"))?;
            let gpu = cuda::gpu().map_err(|e| format!("{e:#}"))?;
            let (major, minor, patch) = trt.version;
            Ok(format!("TensorRT {major}.{minor}.{patch}, {}", gpu.name))
        })
        .clone()
        .map_err(anyhow::Error::msg)
}

/// A model running as a TensorRT engine.
pub struct TensorRtModel {
    inputs: Vec<String>,
    outputs: Vec<String>,
    // One execution context: runs are serialised (the elements batch their faces instead).
    runner: Mutex<runner::Runner<ffi::Engine, cuda::CudaDevice>>,
    engine_file: Option<PathBuf>,
    notes: Vec<String>,
}

impl TensorRtModel {
    /// Loads `opts.engine` as it is, or the cached engine for `onnx` with these options,
    /// building and caching it first when there is none.
    /// Loads `opts.engine`, or the cached engine built from `onnx` at `precision` (fp32,
    /// fp16 or int8), building it first when there is none. int8 takes the ranges of the
    /// calibration cache beside `onnx` (TensorRT < 11: implicit quantisation, which the
    /// Xavier's DLA needs), or builds from the QDQ int8 model beside it (TensorRT 11 on).
    pub fn load(onnx: &Path, opts: &TensorRtOptions, precision: Precision) -> Result<Self> {
        let trt = library::tensorrt()?;
        let gpu = cuda::gpu()?;
        let runtime = ffi::Runtime::new(trt.create_runtime, opts.dla_core)?;
        let mut notes = Vec::new();
        let here = Here {
            tensorrt: trt.version,
            gpu: &gpu.name,
        };

        let (engine, engine_file) = match &opts.engine {
            Some(path) => {
                let blob = fs::read(path).with_context(|| format!("reading TensorRT engine {}", path.display()))?;
                let engine = runtime
                    .engine(&blob)
                    .map_err(|e| anyhow::anyhow!(not_portable(path, &e, &here)))?;
                (engine, Some(path.clone()))
            }
            None => {
                let int8 = precision == Precision::Int8;
                let (onnx, ranges) = int8_source(onnx, int8)?;
                let onnx = onnx.as_path();
                // int8 keeps fp16 for the layers it cannot quantise.
                let want_fp16 = matches!(precision, Precision::Fp16 | Precision::Int8);
                let fp16 = want_fp16 && ffi::has_fp16_flag();
                if want_fp16 && !fp16 {
                    notes.push(
                        "fp16 not applied: from TensorRT 11 on, precision comes from the model's own types".into(),
                    );
                }
                let key = cache::EngineKey {
                    onnx,
                    tensorrt: trt.version,
                    gpu: &gpu.name,
                    precision: if int8 {
                        "int8"
                    } else if fp16 {
                        "fp16"
                    } else {
                        "fp32"
                    },
                    dla_core: opts.dla_core,
                    max_batch: opts.max_batch,
                };
                let name = cache::engine_file_name(&key);
                let dirs = cache::default_dirs(onnx, opts.cache_dir.as_deref());
                let cached = cache::find_fresh(&dirs, &name, onnx).and_then(|path| {
                    match fs::read(&path)
                        .map_err(anyhow::Error::from)
                        .and_then(|b| runtime.engine(&b))
                    {
                        Ok(engine) => Some((engine, path)),
                        Err(e) => {
                            // Ours to replace: the name matches, so it is damaged.
                            notes.push(format!("cached engine {} unusable ({e:#}); rebuilt it", path.display()));
                            None
                        }
                    }
                });
                match cached {
                    Some((engine, path)) => (engine, Some(path)),
                    None => {
                        let blob = build_engine(trt, onnx, fp16, ranges.as_deref(), opts, &mut notes)?;
                        let file = match cache::store(&dirs, &name, &blob) {
                            Ok(path) => Some(path),
                            Err(e) => {
                                notes.push(format!("{e:#}; it will be built again next time"));
                                None
                            }
                        };
                        let engine = runtime.engine(&blob).context("loading the engine just built")?;
                        (engine, file)
                    }
                }
            }
        };

        let device = cuda::CudaDevice::new(gpu)?;
        let runner = runner::Runner::new(engine, device)?;
        Ok(Self {
            inputs: runner.input_names(),
            outputs: runner.output_names(),
            runner: Mutex::new(runner),
            engine_file,
            notes,
        })
    }

    /// The engine file in use (`None` when a freshly built one could not be cached).
    pub fn engine_file(&self) -> Option<&Path> {
        self.engine_file.as_deref()
    }

    /// Things worth logging that did not stop the load (e.g. the cache was not writable).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

/// Each tensor's name and largest absolute value, from a calibration cache.
type Ranges = Vec<(String, f32)>;

/// The ONNX file an int8 engine is built from, and the dynamic ranges it takes.
fn int8_source(onnx: &Path, int8: bool) -> Result<(PathBuf, Option<Ranges>)> {
    if !int8 {
        return Ok((onnx.to_path_buf(), None));
    }
    if ffi::has_int8_flag() {
        let cache = precision::calibration_path(onnx);
        if !cache.is_file() {
            anyhow::bail!(
                "precision=int8: no calibration cache {} beside {} (models/convert/run-int8.sh makes one)",
                cache.display(),
                onnx.display()
            );
        }
        Ok((onnx.to_path_buf(), Some(calibration::read(&cache)?)))
    } else {
        let qdq = precision::int8_path(onnx);
        if !qdq.is_file() {
            anyhow::bail!(
                "precision=int8: TensorRT 11 builds int8 from a QDQ model, and there is no {}",
                qdq.display()
            );
        }
        Ok((qdq, None))
    }
}

fn build_engine(
    trt: &library::TensorRt,
    onnx: &Path,
    fp16: bool,
    ranges: Option<&[(String, f32)]>,
    opts: &TensorRtOptions,
    notes: &mut Vec<String>,
) -> Result<Vec<u8>> {
    if !ffi::has_onnx_parser() {
        anyhow::bail!(
            "this plugin was compiled without TensorRT's NvOnnxParser.h, so it cannot build engines; build one with \
             models/build-engines.sh (trtexec) and pass it with the engine property"
        );
    }
    let create_parser = trt.parser()?;
    let mut network = ffi::Network::from_onnx(trt.create_builder, create_parser, onnx)?;
    let profile = profile::for_inputs(&network.inputs()?, opts.max_batch)?;
    let built = network
        .build(fp16, ranges, opts.dla_core, &profile)
        .with_context(|| format!("building a TensorRT engine from {}", onnx.display()))?;
    if fp16 && !built.fp16_used {
        notes.push("fp16 not applied: this GPU has no fast fp16".into());
    }
    if let Some(ranges) = ranges {
        notes.push(format!(
            "int8: {} of the calibration cache's {} ranges matched a tensor",
            built.ranges_set,
            ranges.len()
        ));
    }
    Ok(built.blob)
}

/// The TensorRT and GPU in use, for messages.
struct Here<'a> {
    tensorrt: (u32, u32, u32),
    gpu: &'a str,
}

/// Why a given engine file would not load, and what to do about it.
fn not_portable(path: &Path, err: &anyhow::Error, here: &Here) -> String {
    let (major, minor, patch) = here.tensorrt;
    format!(
        "TensorRT could not load the engine {}: {err:#}. An engine only runs with the TensorRT version and the \
         GPU it was built with (this is TensorRT {major}.{minor}.{patch} on {}), so it was probably built \
         elsewhere. Delete it, or rebuild it here with models/build-engines.sh; without the engine property the \
         backend builds and caches one from the ONNX model itself",
        path.display(),
        here.gpu
    )
}

impl Backend for TensorRtModel {
    fn name(&self) -> &'static str {
        "tensorrt"
    }

    fn input_names(&self) -> &[String] {
        &self.inputs
    }

    fn output_names(&self) -> &[String] {
        &self.outputs
    }

    fn prefers_batches(&self) -> bool {
        true
    }

    fn run(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        self.runner.lock().unwrap_or_else(|e| e.into_inner()).run(inputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn model_can_be_shared_between_elements() {
        assert_send_sync::<TensorRtModel>();
    }

    /// Whether this machine has the libnvinfer the shim needs, asked independently.
    fn nvinfer_present() -> bool {
        let (major, _, _) = ffi::header_version();
        library::candidates("libnvinfer", major)
            .iter()
            // SAFETY: only checks whether the library loads; it is unloaded at once.
            .any(|name| unsafe { libloading::Library::new(name.as_str()) }.is_ok())
    }

    #[test]
    fn probe_names_the_missing_library_without_panicking() {
        let first = probe();
        if nvinfer_present() {
            // A machine with TensorRT: either it works, or the error is not about libnvinfer.
            match &first {
                Ok(what) => assert!(what.starts_with("TensorRT "), "{what}"),
                Err(e) => assert!(!e.to_string().contains("libnvinfer.so"), "{e}"),
            }
            return;
        }
        let (major, _, _) = ffi::header_version();
        let err = first.unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("libnvinfer.so.{major} not found (dlopen: ")),
            "{err}"
        );
        // Cached: the second answer is the same, not a second search.
        assert_eq!(probe().unwrap_err().to_string(), err);
    }

    #[test]
    fn loading_without_tensorrt_is_an_error_not_a_crash() {
        if nvinfer_present() {
            return;
        }
        let onnx = crate::default_model("emotion-minixception.onnx");
        let err = TensorRtModel::load(&onnx, &TensorRtOptions::default(), Precision::Fp16)
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("libnvinfer"), "{err:#}");
        // Through the backend registry as the elements call it.
        let err = crate::backend::load(&onnx, crate::backend::BackendKind::TensorRt)
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("libnvinfer"), "{err:#}");
    }

    #[test]
    fn foreign_engine_message_says_what_to_do() {
        let here = Here {
            tensorrt: (8, 5, 2),
            gpu: "Xavier",
        };
        let msg = not_portable(
            Path::new("/data/sface.engine"),
            &anyhow::anyhow!("deserializeCudaEngine failed"),
            &here,
        );
        assert!(
            msg.contains("/data/sface.engine: deserializeCudaEngine failed"),
            "{msg}"
        );
        assert!(msg.contains("TensorRT 8.5.2 on Xavier"), "{msg}");
        assert!(
            msg.contains("Delete it") && msg.contains("models/build-engines.sh"),
            "{msg}"
        );
    }
}
