//! The ONNX Runtime backend: Microsoft's CPU kernels, loaded from a shared library at
//! run time.
//!
//! Nothing is linked at build time (`ort` with `load-dynamic`), so the plugin builds and
//! loads everywhere and this backend is simply unavailable where no libonnxruntime is
//! found. The library the PyPI `onnxruntime` wheel ships (`onnxruntime/capi/
//! libonnxruntime.so.*`) works; `scripts/fetch-onnxruntime.sh` extracts it.

mod prelu;

use super::Backend;
use crate::tensor::Tensor;
use anyhow::{Context, Result, anyhow, bail};
use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor as OrtTensor;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The library this process loaded: ONNX Runtime can only be loaded once per process.
#[derive(Debug, Clone)]
pub struct Library {
    pub path: PathBuf,
    pub version: String,
}

/// Only a success is kept: a wrong path on one element must not stop another from
/// loading the right library later.
static LOADED: Mutex<Option<(Library, Environment)>> = Mutex::new(None);

/// Where to look when nothing names a library: `ORT_DYLIB_PATH`, then the system's.
fn default_library() -> PathBuf {
    match std::env::var_os("ORT_DYLIB_PATH") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("libonnxruntime.so"),
    }
}

/// Loads ONNX Runtime once for the process (from `requested`, else the default search).
///
/// Later calls return the first outcome whatever they ask for; a different path than
/// the one loaded is an error rather than a silent substitution.
pub fn init(requested: Option<&Path>) -> Result<Library> {
    environment(requested).map(|(lib, _)| lib)
}

fn environment(requested: Option<&Path>) -> Result<(Library, Environment)> {
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((lib, env)) = loaded.as_ref() {
        if let Some(req) = requested
            && !same_file(req, &lib.path)
        {
            bail!(
                "ONNX Runtime is already loaded from {} in this process; cannot also load {}",
                lib.path.display(),
                req.display()
            );
        }
        return Ok((lib.clone(), env.clone()));
    }
    let wanted = requested.map(Path::to_path_buf).unwrap_or_else(default_library);
    let (lib, env) = load_library(&wanted).map_err(|e| anyhow!(e))?;
    *loaded = Some((lib.clone(), env.clone()));
    Ok((lib, env))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn load_library(path: &Path) -> std::result::Result<(Library, Environment), String> {
    // A bare file name goes through the dynamic loader's search; a path must exist, which
    // gives a clearer message than dlopen's.
    if path.components().count() > 1 && !path.is_file() {
        return Err(format!(
            "ONNX Runtime library {} does not exist (set ORT_DYLIB_PATH or onnxruntime-library \
             to libonnxruntime.so.*, e.g. from scripts/fetch-onnxruntime.sh)",
            path.display()
        ));
    }
    let builder = ort::init_from(path).map_err(|e| {
        format!(
            "cannot load ONNX Runtime: {e} (set ORT_DYLIB_PATH or onnxruntime-library to a \
             libonnxruntime.so.*; scripts/fetch-onnxruntime.sh fetches one)"
        )
    })?;
    let env = builder
        .with_name("gst-face")
        .build()
        .map_err(|e| format!("cannot start ONNX Runtime from {}: {e}", path.display()))?;
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let version = version_of(&path);
    Ok((Library { path, version }, env))
}

/// The version in the library's file name (`libonnxruntime.so.1.31.1`), as the wheel
/// and the release archives name it; `ort` exposes no version call.
fn version_of(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.split_once(".so.") {
        Some((_, v)) if v.chars().next().is_some_and(|c| c.is_ascii_digit()) => v.to_string(),
        _ => "of unknown version".to_string(),
    }
}

/// One ONNX Runtime session per model; runs are serialised (a session's run needs
/// exclusive access in `ort`), and each run uses every core through ONNX Runtime's own
/// thread pool.
pub struct OrtModel {
    session: Mutex<Session>,
    inputs: Vec<String>,
    outputs: Vec<String>,
}

impl OrtModel {
    pub fn load(path: &Path, library: Option<&Path>) -> Result<Self> {
        let (_, env) = environment(library)?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let err = |e: &dyn std::fmt::Display| anyhow!("{e}");
        let mut builder = Session::builder(&env)
            .map_err(|e| err(&e))?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(|e| err(&e))?
            .with_intra_threads(threads)
            .map_err(|e| err(&e))?
            // Several elements share the cores; a spinning pool would burn the time
            // another element's model needs.
            .with_intra_op_spinning(false)
            .map_err(|e| err(&e))?;
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let session = match prelu::split(&bytes)? {
            Some(split) => builder.commit_from_memory(&split),
            // The file itself, so that a model with external data finds it beside it.
            None => builder.commit_from_file(path),
        }
        .map_err(|e| err(&e))
        .context("ONNX Runtime could not load the model")?;
        let inputs = session.inputs().iter().map(|o| o.name().to_string()).collect();
        let outputs = session.outputs().iter().map(|o| o.name().to_string()).collect();
        Ok(Self {
            session: Mutex::new(session),
            inputs,
            outputs,
        })
    }
}

impl Backend for OrtModel {
    fn name(&self) -> &'static str {
        "onnxruntime"
    }

    fn prefers_batches(&self) -> bool {
        true
    }

    fn input_names(&self) -> &[String] {
        &self.inputs
    }

    fn output_names(&self) -> &[String] {
        &self.outputs
    }

    fn run(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        if inputs.len() != self.inputs.len() {
            bail!("model takes {} inputs, got {}", self.inputs.len(), inputs.len());
        }
        let values = inputs
            .iter()
            .zip(&self.inputs)
            .map(|(t, name)| {
                OrtTensor::from_array((t.shape.clone(), t.data.clone()))
                    .map(|v| (name.as_str(), v.into_dyn()))
                    .map_err(|e| anyhow!("input '{name}' of shape {:?}: {e}", t.shape))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let outputs = session
            .run(values)
            .map_err(|e| anyhow!("ONNX Runtime run failed: {e}"))?;
        self.outputs
            .iter()
            .map(|name| {
                let (shape, data) = outputs[name.as_str()]
                    .try_extract_tensor::<f32>()
                    .map_err(|e| anyhow!("output '{name}': {e}"))?;
                let shape = shape
                    .iter()
                    .map(|&d| usize::try_from(d).map_err(|_| anyhow!("output '{name}' has dimension {d}")))
                    .collect::<Result<Vec<_>>>()?;
                Tensor::new(shape, data.to_vec())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_comes_from_the_versioned_file_name() {
        assert_eq!(version_of(Path::new("/x/libonnxruntime.so.1.31.1")), "1.31.1");
        assert_eq!(version_of(Path::new("libonnxruntime.so")), "of unknown version");
        assert_eq!(version_of(Path::new("/x/libonnxruntime.so.x")), "of unknown version");
    }
}
