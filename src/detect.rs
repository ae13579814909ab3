//! Face detection: the detected face type, non-maximum suppression, and the detectors.

pub mod mtcnn;
pub mod yunet;

use crate::rect::Rect;

pub use mtcnn::Mtcnn;
pub use yunet::{DetectorConfig, YuNet};

use crate::backend::{self, BackendOptions, Loaded};
use crate::frame::FrameView;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Either detector, chosen by name or model path.
#[derive(Clone)]
pub enum Detector {
    YuNet(YuNet),
    Mtcnn(Mtcnn),
}

impl Detector {
    /// `"yunet"` or `"mtcnn"` load the bundled models; any other value is a path: a file
    /// whose name contains `pnet` is MTCNN's P-Net with `rnet`/`onet` beside it under the
    /// same name, anything else a YuNet model.
    ///
    /// Also returns how the (first) model was loaded: which backend runs it and why.
    pub fn load(spec: &str, options: &BackendOptions) -> Result<(Self, Loaded)> {
        match spec {
            "yunet" => Self::load_yunet(&crate::default_model("yunet.onnx"), options),
            "mtcnn" => Self::load_mtcnn(&crate::default_model("mtcnn-pnet.onnx"), options),
            path => {
                let p = Path::new(path);
                let is_pnet = p.file_name().is_some_and(|n| n.to_string_lossy().contains("pnet"));
                if is_pnet {
                    Self::load_mtcnn(p, options)
                } else {
                    Self::load_yunet(p, options)
                }
            }
        }
    }

    fn load_yunet(path: &Path, options: &BackendOptions) -> Result<(Self, Loaded)> {
        let loaded = backend::load_with(path, options)?;
        Ok((Self::YuNet(YuNet::new(loaded.model.clone())?), loaded))
    }

    fn load_mtcnn(pnet: &Path, options: &BackendOptions) -> Result<(Self, Loaded)> {
        let sibling = |net: &str| -> PathBuf {
            let name = pnet
                .file_name()
                .map(|n| n.to_string_lossy().replace("pnet", net))
                .unwrap_or_default();
            pnet.with_file_name(name)
        };
        // The TensorRT engine option names one model's engine; it cannot serve three nets.
        let options = options.without_engine();
        let pnet = backend::load_with(pnet, &options)?;
        let mtcnn = Mtcnn::new(
            pnet.model.clone(),
            backend::load_with(&sibling("rnet"), &options)?.model,
            backend::load_with(&sibling("onet"), &options)?.model,
        )?;
        Ok((Self::Mtcnn(mtcnn), pnet))
    }

    /// The name that goes into the metadata's `model_name`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::YuNet(_) => "yunet",
            Self::Mtcnn(_) => "mtcnn",
        }
    }

    pub fn detect(&self, frame: &FrameView, cfg: &DetectorConfig) -> Result<Vec<Face>> {
        match self {
            Self::YuNet(d) => d.detect(frame, cfg),
            Self::Mtcnn(d) => d.detect(frame, cfg),
        }
    }

    /// [`detect`](Self::detect) with the caller choosing which weak faces YuNet looks
    /// at again, and where it expects faces ([`YuNet::detect_rechecking`]); MTCNN's
    /// pyramid has no such step.
    pub fn detect_rechecking(
        &self,
        frame: &FrameView,
        cfg: &DetectorConfig,
        needs_recheck: impl Fn(&Face) -> bool,
        expected: &[Rect],
    ) -> Result<Vec<Face>> {
        match self {
            Self::YuNet(d) => d.detect_rechecking(frame, cfg, needs_recheck, expected),
            Self::Mtcnn(d) => d.detect(frame, cfg),
        }
    }
}

/// One detected face, in pixels of the frame it was found in.
#[derive(Debug, Clone, PartialEq)]
pub struct Face {
    /// The box, clamped to the frame.
    pub bbox: Rect,
    /// Detector confidence, 0..1.
    pub score: f32,
    /// Right eye, left eye, nose tip, right and left mouth corner (the subject's right and
    /// left, so the first point is the eye on the image's left), x then y.
    pub landmarks: [[f32; 2]; 5],
}

impl Face {
    pub fn area(&self) -> f32 {
        self.bbox.area()
    }
}

/// Intersection over union of two boxes.
pub fn iou(a: &Rect, b: &Rect) -> f32 {
    a.iou(*b)
}

/// Greedy non-maximum suppression: highest score first, dropping any face that
/// overlaps an already kept one by more than `threshold` IoU. Returns faces by score.
pub fn nms(mut faces: Vec<Face>, threshold: f32) -> Vec<Face> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Face> = Vec::with_capacity(faces.len());
    for f in faces {
        if kept.iter().all(|k| iou(&k.bbox, &f.bbox) <= threshold) {
            kept.push(f);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32, y: f32, s: f32, score: f32) -> Face {
        Face {
            bbox: Rect::new(x, y, s, s),
            score,
            landmarks: [[0.0; 2]; 5],
        }
    }

    #[test]
    fn iou_of_known_boxes() {
        let r = |x: f32| Rect::new(x, 0.0, 10.0, 10.0);
        assert_eq!(iou(&r(0.0), &r(0.0)), 1.0);
        assert_eq!(iou(&r(0.0), &r(20.0)), 0.0);
        // Half overlap: 50 / 150.
        assert!((iou(&r(0.0), &r(5.0)) - 1.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn nms_keeps_the_best_of_each_cluster() {
        let kept = nms(
            vec![
                face(0.0, 0.0, 10.0, 0.7),
                face(1.0, 1.0, 10.0, 0.9),
                face(50.0, 50.0, 10.0, 0.8),
            ],
            0.3,
        );
        let scores: Vec<f32> = kept.iter().map(|f| f.score).collect();
        assert_eq!(scores, vec![0.9, 0.8]);
    }
}
