//! Inference backends: load an ONNX model once, run batches of named f32 tensors.
//!
//! Every element goes through [`load_with`] (or [`load`] for one named backend), which
//! keeps one instance per model file, backend and backend options for the whole process,
//! so ten `faceid` elements in one application share a single copy of the SFace weights.
//!
//! Three implementations: tract (pure Rust, always built), ONNX Runtime (its library is
//! loaded at run time, so nothing is needed at build time) and TensorRT (cargo feature
//! `tensorrt`; libnvinfer and CUDA are loaded at run time too, so the same plugin file
//! loads on machines without them). `auto` picks the fastest that works here and says why.

pub mod onnxruntime;
pub mod precision;
#[cfg(feature = "tensorrt")]
pub mod tensorrt;
pub mod tract;

use crate::tensor::Tensor;
use anyhow::{Context, Result, bail};
pub use precision::Precision;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, Weak};

/// A loaded model that runs whole batches.
pub trait Backend: Send + Sync {
    /// Short name of the implementation, e.g. `"tract"`.
    fn name(&self) -> &'static str;
    /// The model's input names, in graph order.
    fn input_names(&self) -> &[String];
    /// The model's output names, in graph order; [`Backend::run`] returns them in this order.
    fn output_names(&self) -> &[String];
    /// Runs the model on one tensor per input (same order as `input_names`).
    fn run(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>>;

    /// Whether one call with a batch of N beats N calls of one. True for the runtimes
    /// with batched kernels (ONNX Runtime, TensorRT); tract runs SFace and the emotion
    /// net faster one face at a time on several threads (crate::spread).
    fn prefers_batches(&self) -> bool {
        false
    }

    /// Index of a named output, with an error naming what the model does offer.
    fn output_index(&self, name: &str) -> Result<usize> {
        self.output_names()
            .iter()
            .position(|n| n == name)
            .with_context(|| format!("model has no output '{name}' (it has {:?})", self.output_names()))
    }
}

/// One concrete backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BackendKind {
    /// Pure Rust, always available.
    #[default]
    Tract,
    /// ONNX Runtime's CPU provider, from a libonnxruntime found at run time.
    OnnxRuntime,
    /// A TensorRT engine (feature `tensorrt`, libnvinfer found at run time).
    TensorRt,
}

impl BackendKind {
    pub const ALL: [BackendKind; 3] = [Self::Tract, Self::OnnxRuntime, Self::TensorRt];

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "tract" => Ok(Self::Tract),
            "onnxruntime" | "ort" => Ok(Self::OnnxRuntime),
            "tensorrt" | "trt" => Ok(Self::TensorRt),
            other => bail!("unknown backend '{other}' (available: tract, onnxruntime, tensorrt)"),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tract => "tract",
            Self::OnnxRuntime => "onnxruntime",
            Self::TensorRt => "tensorrt",
        })
    }
}

/// What the user asked for: one backend, or the best one available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BackendChoice {
    /// TensorRT where an engine and libnvinfer are usable, else ONNX Runtime where its
    /// library is found, else tract.
    #[default]
    Auto,
    Only(BackendKind),
}

impl BackendChoice {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "auto" | "" => Ok(Self::Auto),
            other => BackendKind::parse(other).map(Self::Only),
        }
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Only(k) => k.fmt(f),
        }
    }
}

/// Settings of the TensorRT backend (feature `tensorrt`); ignored by the others.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TensorRtOptions {
    /// A serialized engine to use as it is. When `None`, an engine is built from the
    /// ONNX on first use and kept in `cache_dir` under a name that records the model,
    /// TensorRT version, GPU, precision and batch (as DeepStream names its engines).
    pub engine: Option<PathBuf>,
    /// Where built engines are kept; `None` = next to the ONNX file if writable, else
    /// `$XDG_CACHE_HOME/gst-face/engines`.
    pub cache_dir: Option<PathBuf>,
    /// Build engines with fp16 kernels allowed; `false` makes precision `auto` mean fp32
    /// (the `fp16` property from before `precision` existed).
    pub fp16: bool,
    /// Run on this DLA core (Jetson Xavier: 0 or 1), falling back to the GPU for layers
    /// the DLA cannot run.
    pub dla_core: Option<u32>,
    /// Largest batch the engine's optimisation profile accepts.
    pub max_batch: usize,
}

impl Default for TensorRtOptions {
    fn default() -> Self {
        Self {
            engine: None,
            cache_dir: None,
            fp16: true,
            dla_core: None,
            max_batch: 16,
        }
    }
}

/// Everything that decides which backend loads a model and how.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct BackendOptions {
    pub choice: BackendChoice,
    /// libonnxruntime to load; when `None`, `ORT_DYLIB_PATH`, then the system's
    /// `libonnxruntime.so`. One process loads one ONNX Runtime library: the first wins.
    pub onnxruntime_library: Option<PathBuf>,
    /// fp32, int8 or fp16 (TensorRT), or the best this backend and CPU run: see
    /// [`precision`]. It picks the model file beside the one given.
    pub precision: Precision,
    pub tensorrt: TensorRtOptions,
}

impl BackendOptions {
    pub fn only(kind: BackendKind) -> Self {
        Self {
            choice: BackendChoice::Only(kind),
            ..Self::default()
        }
    }

    /// The same options for another model than the one `tensorrt.engine` was built
    /// from (MTCNN's other nets, faceid's detector for gallery photos): an engine file
    /// serves one model only, so the others build or find their own.
    pub fn without_engine(&self) -> Self {
        let mut o = self.clone();
        o.tensorrt.engine = None;
        o
    }
}

/// A loaded model, which backend runs it and why that one.
#[derive(Clone)]
pub struct Loaded {
    pub model: Arc<dyn Backend>,
    pub kind: BackendKind,
    /// The file loaded (the int8 one beside the model given, for int8 on the CPU).
    pub path: PathBuf,
    /// The precision it runs in (never `Auto`).
    pub precision: Precision,
    /// One line for the log: e.g. "auto: TensorRT not built in (feature tensorrt);
    /// ONNX Runtime 1.31.1 from /opt/ort/libonnxruntime.so.1.31.1".
    pub reason: String,
}

impl fmt::Debug for Loaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loaded")
            .field("kind", &self.kind)
            .field("path", &self.path)
            .field("precision", &self.precision)
            .field("reason", &self.reason)
            .finish()
    }
}

#[derive(PartialEq, Eq, Hash)]
struct CacheKey {
    path: PathBuf,
    kind: BackendKind,
    precision: Precision,
    // Only the options the backend reads, so tract models are shared whatever the rest.
    onnxruntime_library: Option<PathBuf>,
    tensorrt: Option<TensorRtOptions>,
}

static CACHE: LazyLock<Mutex<HashMap<CacheKey, Weak<dyn Backend>>>> = LazyLock::new(Default::default);

/// An ONNX file's protobuf as it is on disk, read without planning anything.
pub(crate) fn onnx_proto(path: &Path) -> Result<tract_onnx::pb::ModelProto> {
    use tract_onnx::prelude::Framework;
    tract_onnx::onnx()
        .proto_model_for_path(path)
        .map_err(|e| anyhow::anyhow!("{e:?}"))
        .with_context(|| format!("cannot read ONNX file {}", path.display()))
}

/// The declared shape of an ONNX file's first input, read from the file itself so the
/// answer does not depend on the backend: `None` for a symbolic axis (a batch axis).
pub fn onnx_input_dims(path: &Path) -> Result<Vec<Option<usize>>> {
    use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
    use tract_onnx::pb::type_proto::Value as Type;
    let proto = onnx_proto(path)?;
    let graph = proto
        .graph
        .as_ref()
        .with_context(|| format!("{} has no graph", path.display()))?;
    // Old exporters also list the weights as graph inputs; the real input is not a weight.
    let input = graph
        .input
        .iter()
        .find(|i| !graph.initializer.iter().any(|t| t.name == i.name))
        .with_context(|| format!("{} has no input", path.display()))?;
    let Some(Type::TensorType(tensor)) = input.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
        bail!("{}: input '{}' is not a tensor", path.display(), input.name);
    };
    let shape = tensor
        .shape
        .as_ref()
        .with_context(|| format!("{}: input '{}' has no declared shape", path.display(), input.name))?;
    Ok(shape
        .dim
        .iter()
        .map(|d| match d.value {
            Some(Dim::DimValue(v)) if v > 0 => usize::try_from(v).ok(),
            _ => None,
        })
        .collect())
}

/// Loads the file `path` itself, in fp32, with one backend and its default options (or
/// the instance already loaded): no int8 file beside it is taken in its place.
pub fn load(path: &Path, kind: BackendKind) -> Result<Arc<dyn Backend>> {
    let options = BackendOptions {
        precision: Precision::Fp32,
        ..BackendOptions::only(kind)
    };
    load_with(path, &options).map(|l| l.model)
}

/// Loads `path` as `options` ask, or returns the instance already loaded in this process.
///
/// With [`BackendChoice::Auto`] a backend that cannot load the model is skipped with its
/// reason recorded in [`Loaded::reason`]; with one named backend its failure is the error.
/// The cache holds weak references: a model is freed when the last element using it is.
pub fn load_with(path: &Path, options: &BackendOptions) -> Result<Loaded> {
    if !path.is_file() {
        bail!("model file {} does not exist or is not a file", path.display());
    }
    match options.choice {
        BackendChoice::Only(kind) => {
            let (model, r) = load_kind(path, kind, options)?;
            Ok(Loaded {
                model,
                kind,
                reason: format!("backend={kind} was asked for; {}", r.why),
                path: r.path,
                precision: r.precision,
            })
        }
        BackendChoice::Auto => {
            let mut skipped = Vec::new();
            for kind in [BackendKind::TensorRt, BackendKind::OnnxRuntime] {
                let tried =
                    available(kind, options).and_then(|how| load_kind(path, kind, options).map(|model| (model, how)));
                match tried {
                    Ok(((model, r), how)) => {
                        return Ok(Loaded {
                            model,
                            kind,
                            reason: format!("{}; {}", auto_reason(&skipped, &how), r.why),
                            path: r.path,
                            precision: r.precision,
                        });
                    }
                    Err(e) => skipped.push(format!("{kind} skipped: {e:#}")),
                }
            }
            let (model, r) = load_kind(path, BackendKind::Tract, options)?;
            Ok(Loaded {
                model,
                kind: BackendKind::Tract,
                reason: format!("{}; {}", auto_reason(&skipped, "tract"), r.why),
                path: r.path,
                precision: r.precision,
            })
        }
    }
}

fn auto_reason(skipped: &[String], chosen: &str) -> String {
    if skipped.is_empty() {
        format!("auto: {chosen}")
    } else {
        format!("auto: {}; using {chosen}", skipped.join("; "))
    }
}

/// Whether `kind` can run here at all (its library is found), before trying a model;
/// on success, what was found (e.g. "onnxruntime 1.31.1 from /…/libonnxruntime.so.1.31.1").
pub fn available(kind: BackendKind, options: &BackendOptions) -> Result<String> {
    match kind {
        BackendKind::Tract => Ok("tract".into()),
        BackendKind::OnnxRuntime => onnxruntime::init(options.onnxruntime_library.as_deref())
            .map(|lib| format!("onnxruntime {} from {}", lib.version, lib.path.display())),
        #[cfg(feature = "tensorrt")]
        BackendKind::TensorRt => tensorrt::probe().map(|what| format!("tensorrt ({what})")),
        #[cfg(not(feature = "tensorrt"))]
        BackendKind::TensorRt => bail!("this build has no TensorRT support (build with --features tensorrt)"),
    }
}

fn load_kind(
    path: &Path,
    kind: BackendKind,
    options: &BackendOptions,
) -> Result<(Arc<dyn Backend>, precision::Resolved)> {
    let asked = match options.precision {
        Precision::Auto if kind == BackendKind::TensorRt && !options.tensorrt.fp16 => Precision::Fp32,
        p => p,
    };
    let resolved = precision::resolve(path, kind, asked)?;
    let path = resolved.path.as_path();
    let key = CacheKey {
        path: path.canonicalize().unwrap_or_else(|_| path.to_path_buf()),
        kind,
        precision: resolved.precision,
        onnxruntime_library: (kind == BackendKind::OnnxRuntime)
            .then(|| options.onnxruntime_library.clone())
            .flatten(),
        tensorrt: (kind == BackendKind::TensorRt).then(|| options.tensorrt.clone()),
    };
    // Holding the lock while loading makes two elements starting together load once.
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(model) = cache.get(&key).and_then(Weak::upgrade) {
        return Ok((model, resolved));
    }
    let model: Arc<dyn Backend> = match kind {
        BackendKind::Tract => {
            Arc::new(tract::TractModel::load(&key.path).with_context(|| format!("loading {}", path.display()))?)
        }
        BackendKind::OnnxRuntime => Arc::new(
            onnxruntime::OrtModel::load(&key.path, options.onnxruntime_library.as_deref())
                .with_context(|| format!("loading {} with ONNX Runtime", path.display()))?,
        ),
        #[cfg(feature = "tensorrt")]
        BackendKind::TensorRt => Arc::new(
            tensorrt::TensorRtModel::load(&key.path, &options.tensorrt, resolved.precision)
                .with_context(|| format!("loading {} with TensorRT", path.display()))?,
        ),
        #[cfg(not(feature = "tensorrt"))]
        BackendKind::TensorRt => {
            bail!("this build has no TensorRT support (build with --features tensorrt)")
        }
    };
    cache.retain(|_, m| m.strong_count() > 0);
    cache.insert(key, Arc::downgrade(&model));
    Ok((model, resolved))
}
