//! The engine behind the gst-face elements: everything that does not need GStreamer.
//!
//! A frame arrives as a [`frame::FrameView`] over the caller's own pixel memory (any of
//! the raw formats cameras and decoders produce); the detector, the aligner and the
//! classifiers sample only the pixels their model needs from it, so no element ever
//! converts a whole frame.

pub mod align;
pub mod backend;
pub mod detect;
pub mod draw;
pub mod embed;
pub mod emotion;
pub mod eval;
pub mod events;
pub mod frame;
pub mod gallery;
pub mod identity;
pub mod quality;
pub mod record;
pub mod rect;
pub mod redact;
pub mod smoothing;
pub mod spread;
pub mod stream;
pub mod tensor;
pub mod track;

pub use detect::Face;
pub use frame::{FrameView, PixelFormat};

use std::path::PathBuf;

/// Folder holding the models that ship with the project.
///
/// `GST_FACE_MODEL_DIR` overrides it at run time (an installed plugin keeps its models
/// under a share directory); otherwise the source checkout's `models/` is used.
pub fn model_dir() -> PathBuf {
    match std::env::var_os("GST_FACE_MODEL_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/models")),
    }
}

/// Path of a bundled model file, e.g. `default_model("yunet.onnx")`.
pub fn default_model(file: &str) -> PathBuf {
    model_dir().join(file)
}
