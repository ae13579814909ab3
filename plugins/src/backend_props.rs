//! The inference-backend properties every model-running element shares (`backend`,
//! `backend-in-use`, `onnxruntime-library`, and the TensorRT engine settings), so the
//! three elements spell and document them the same way.

use faceengine::backend::Precision as EnginePrecision;
use faceengine::backend::{self, BackendChoice, BackendKind, BackendOptions, Loaded};
use gst::glib;
use gst::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstFaceBackend")]
pub enum Backend {
    #[default]
    #[enum_value(
        name = "TensorRT where an engine and libnvinfer are usable, else ONNX Runtime where its library is found, else tract",
        nick = "auto"
    )]
    Auto = 0,
    #[enum_value(name = "tract (pure Rust, always available)", nick = "tract")]
    Tract = 1,
    #[enum_value(name = "ONNX Runtime (CPU, libonnxruntime loaded at run time)", nick = "onnxruntime")]
    OnnxRuntime = 2,
    #[enum_value(
        name = "TensorRT (build with --features tensorrt; libnvinfer and CUDA at run time)",
        nick = "tensorrt"
    )]
    TensorRt = 3,
}

impl From<BackendChoice> for Backend {
    fn from(c: BackendChoice) -> Self {
        match c {
            BackendChoice::Auto => Backend::Auto,
            BackendChoice::Only(BackendKind::Tract) => Backend::Tract,
            BackendChoice::Only(BackendKind::OnnxRuntime) => Backend::OnnxRuntime,
            BackendChoice::Only(BackendKind::TensorRt) => Backend::TensorRt,
        }
    }
}

impl From<Backend> for BackendChoice {
    fn from(b: Backend) -> Self {
        match b {
            Backend::Auto => BackendChoice::Auto,
            Backend::Tract => BackendChoice::Only(BackendKind::Tract),
            Backend::OnnxRuntime => BackendChoice::Only(BackendKind::OnnxRuntime),
            Backend::TensorRt => BackendChoice::Only(BackendKind::TensorRt),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstFacePrecision")]
pub enum Precision {
    #[default]
    #[enum_value(
        name = "int8 on ONNX Runtime where the CPU has VNNI and the int8 model was faster when made, fp16 on \
                TensorRT, else fp32",
        nick = "auto"
    )]
    Auto = 0,
    #[enum_value(name = "fp32 (the model file as given)", nick = "fp32")]
    Fp32 = 1,
    #[enum_value(
        name = "int8 (NAME.int8.onnx beside the model; TensorRT: its NAME.onnx.int8.calib)",
        nick = "int8"
    )]
    Int8 = 2,
    #[enum_value(name = "fp16 (TensorRT only)", nick = "fp16")]
    Fp16 = 3,
}

impl From<EnginePrecision> for Precision {
    fn from(p: EnginePrecision) -> Self {
        match p {
            EnginePrecision::Auto => Precision::Auto,
            EnginePrecision::Fp32 => Precision::Fp32,
            EnginePrecision::Int8 => Precision::Int8,
            EnginePrecision::Fp16 => Precision::Fp16,
        }
    }
}

impl From<Precision> for EnginePrecision {
    fn from(p: Precision) -> Self {
        match p {
            Precision::Auto => EnginePrecision::Auto,
            Precision::Fp32 => EnginePrecision::Fp32,
            Precision::Int8 => EnginePrecision::Int8,
            Precision::Fp16 => EnginePrecision::Fp16,
        }
    }
}

/// The properties' values, one per element.
#[derive(Debug, Clone, Default)]
pub struct BackendSettings {
    pub options: BackendOptions,
    /// What `start()` chose, for the read-only `backend-in-use` (empty before start).
    pub in_use: String,
}

/// The ParamSpecs; `what` names the element's main model in the engine's blurb.
pub fn properties(what: &str) -> Vec<glib::ParamSpec> {
    let d = faceengine::backend::TensorRtOptions::default();
    vec![
        glib::ParamSpecEnum::builder::<Backend>("backend")
            .nick("Backend")
            .blurb("Inference backend; backend-in-use tells which one runs and why")
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder::<Precision>("precision")
            .nick("Precision")
            .blurb("Numeric precision, and so which model file loads; backend-in-use tells which one runs and why")
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("backend-in-use")
            .nick("Backend in use")
            .blurb("The backend running the model since the element started, and why it was chosen (empty before)")
            .default_value(Some(""))
            .read_only()
            .build(),
        glib::ParamSpecString::builder("onnxruntime-library")
            .nick("ONNX Runtime library")
            .blurb(
                "Path of libonnxruntime.so.* (e.g. from the PyPI onnxruntime wheel); empty = \
                 ORT_DYLIB_PATH, else the system's libonnxruntime.so. One library per process",
            )
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("engine")
            .nick("TensorRT engine")
            .blurb(&format!(
                "TensorRT: a serialized engine of the {what} to use as it is; empty = build one from \
                 the ONNX on first use and keep it in engine-cache"
            ))
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("engine-cache")
            .nick("TensorRT engine cache")
            .blurb(
                "TensorRT: folder for engines built from the ONNX, named by model, TensorRT version, \
                 GPU, precision and batch; empty = beside the model if writable, else \
                 $XDG_CACHE_HOME/gst-face/engines",
            )
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("fp16")
            .nick("fp16")
            .blurb("TensorRT: allow fp16 kernels when building an engine (false: precision=auto means fp32)")
            .default_value(d.fp16)
            .mutable_ready()
            .build(),
        glib::ParamSpecInt::builder("dla-core")
            .nick("DLA core")
            .blurb("TensorRT: build for this DLA core (Xavier NX: 0 or 1) with GPU fallback; -1 = GPU only")
            .minimum(-1)
            .maximum(15)
            .default_value(-1)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("max-batch")
            .nick("Max batch")
            .blurb("TensorRT: the largest number of faces an engine takes in one call")
            .minimum(1)
            .maximum(256)
            .default_value(d.max_batch as u32)
            .mutable_ready()
            .build(),
    ]
}

fn path(value: &glib::Value) -> Option<PathBuf> {
    value
        .get::<Option<String>>()
        .expect("type checked upstream")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
}

impl BackendSettings {
    /// Sets one of this module's properties; false when `name` is not one of them.
    pub fn set(&mut self, name: &str, value: &glib::Value) -> bool {
        // GObject has checked each value's type and range against its ParamSpec.
        let trt = &mut self.options.tensorrt;
        match name {
            "backend" => self.options.choice = value.get::<Backend>().expect("type checked upstream").into(),
            "onnxruntime-library" => self.options.onnxruntime_library = path(value),
            "precision" => {
                self.options.precision = value.get::<Precision>().expect("type checked upstream").into();
            }
            "engine" => trt.engine = path(value),
            "engine-cache" => trt.cache_dir = path(value),
            "fp16" => trt.fp16 = value.get().expect("type checked upstream"),
            "dla-core" => trt.dla_core = u32::try_from(value.get::<i32>().expect("type checked upstream")).ok(),
            "max-batch" => trt.max_batch = value.get::<u32>().expect("type checked upstream") as usize,
            _ => return false,
        }
        true
    }

    /// The value of one of this module's properties; `None` for the element's own.
    pub fn get(&self, name: &str) -> Option<glib::Value> {
        let trt = &self.options.tensorrt;
        let text = |p: &Option<PathBuf>| p.as_ref().map(|p| p.to_string_lossy().into_owned()).to_value();
        Some(match name {
            "backend" => Backend::from(self.options.choice).to_value(),
            "backend-in-use" => self.in_use.to_value(),
            "onnxruntime-library" => text(&self.options.onnxruntime_library),
            "precision" => Precision::from(self.options.precision).to_value(),
            "engine" => text(&trt.engine),
            "engine-cache" => text(&trt.cache_dir),
            "fp16" => trt.fp16.to_value(),
            "dla-core" => trt.dla_core.map_or(-1, |c| c as i32).to_value(),
            "max-batch" => (trt.max_batch as u32).to_value(),
            _ => return None,
        })
    }
}

/// Loads an element's main model (its `model` property) as the backend properties say.
pub fn load_model(what: &str, model: &Path, options: &BackendOptions) -> Result<Loaded, gst::ErrorMessage> {
    backend::load_with(model, options).map_err(|e| load_error(what, &model.display(), options, &e))
}

/// The state-change error when the `model` property cannot be loaded: names both
/// properties, the model and why.
pub fn load_error(
    what: &str,
    model: &dyn std::fmt::Display,
    options: &BackendOptions,
    e: &anyhow::Error,
) -> gst::ErrorMessage {
    gst::error_msg!(
        gst::ResourceError::OpenRead,
        [
            "Cannot use the {} from property 'model' ({}) with property 'backend' ({}) and 'precision' ({}): {:#}",
            what,
            model,
            options.choice,
            options.precision,
            e
        ]
    )
}

/// What an element loaded at its last start (its models, its gallery), kept while the
/// element exists: stopping and starting it again (a pipeline cycled through NULL, a
/// camera's pipeline rebuilt) reuses them instead of loading them again, unless the
/// properties they came from (the key) have changed.
pub struct Kept<K, T>(Mutex<Option<(K, T)>>);

impl<K, T> Default for Kept<K, T> {
    fn default() -> Self {
        Self(Mutex::new(None))
    }
}

impl<K: PartialEq, T: Clone> Kept<K, T> {
    /// The value kept for `key`, or `load()`'s, which is kept in its place.
    pub fn get_or_load<E>(&self, key: K, load: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((k, v)) = kept.as_ref()
            && *k == key
        {
            return Ok(v.clone());
        }
        // Dropped first: a changed model is not held twice while the new one loads.
        *kept = None;
        let v = load()?;
        *kept = Some((key, v.clone()));
        Ok(v)
    }
}

/// The line for `backend-in-use` and the log.
pub fn describe(loaded: &Loaded) -> String {
    format!("{} {} ({})", loaded.kind, loaded.precision, loaded.reason)
}
