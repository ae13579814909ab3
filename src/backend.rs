//! Inference backends: load an ONNX model once, run batches of named f32 tensors.
//!
//! Every element goes through [`load`], which keeps one instance per model file and
//! backend for the whole process, so ten `faceid` elements in one application share a
//! single copy of the SFace weights and of its compiled plans.

pub mod tract;

use crate::tensor::Tensor;
use anyhow::{Context, Result, bail};
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

    /// Index of a named output, with an error naming what the model does offer.
    fn output_index(&self, name: &str) -> Result<usize> {
        self.output_names()
            .iter()
            .position(|n| n == name)
            .with_context(|| format!("model has no output '{name}' (it has {:?})", self.output_names()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BackendKind {
    /// Pure Rust, always available.
    #[default]
    Tract,
}

impl BackendKind {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "tract" | "auto" => Ok(Self::Tract),
            other => bail!("unknown backend '{other}' (available: tract)"),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tract => f.write_str("tract"),
        }
    }
}

type CacheKey = (PathBuf, BackendKind);
static CACHE: LazyLock<Mutex<HashMap<CacheKey, Weak<dyn Backend>>>> = LazyLock::new(Default::default);

/// Loads `path` with `kind`, or returns the instance already loaded in this process.
///
/// The cache holds weak references: a model is freed when the last element using it is.
pub fn load(path: &Path, kind: BackendKind) -> Result<Arc<dyn Backend>> {
    if !path.is_file() {
        bail!("model file {} does not exist or is not a file", path.display());
    }
    let key = (path.canonicalize().unwrap_or_else(|_| path.to_path_buf()), kind);
    // Holding the lock while loading makes two elements starting together load once.
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(model) = cache.get(&key).and_then(Weak::upgrade) {
        return Ok(model);
    }
    let model: Arc<dyn Backend> = match kind {
        BackendKind::Tract => {
            Arc::new(tract::TractModel::load(&key.0).with_context(|| format!("loading {}", path.display()))?)
        }
    };
    cache.retain(|_, m| m.strong_count() > 0);
    cache.insert(key, Arc::downgrade(&model));
    Ok(model)
}
