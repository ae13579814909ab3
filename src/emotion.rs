//! Facial expression classification over the seven FER2013 classes.

use crate::backend::Backend;
use crate::frame::FrameView;
use crate::rect::Rect;
use crate::spread;
use crate::tensor::{Tensor, argmax};
use anyhow::{Result, bail, ensure};
use std::path::Path;
use std::sync::Arc;

/// FER2013's classes, in its label order.
pub const FER_LABELS: [&str; 7] = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];

/// The bundled default model (trained by models/training/train_emotion.py).
pub const DEFAULT_MODEL: &str = "emotion-fer48.onnx";

#[derive(Debug, Clone, PartialEq)]
pub struct Emotion {
    /// Index into `labels` of the most likely class.
    pub label_id: usize,
    /// The classes reported, in order.
    pub labels: Vec<String>,
    /// Probabilities over `labels`, summing to 1.
    pub scores: Vec<f32>,
}

impl Emotion {
    pub fn label(&self) -> &str {
        &self.labels[self.label_id]
    }
    pub fn confidence(&self) -> f32 {
        self.scores[self.label_id]
    }
}

/// Parses a comma-separated subset of [`FER_LABELS`] into their indices, in FER order.
/// An empty string means all seven.
pub fn parse_labels(spec: &str) -> Result<Vec<usize>> {
    let mut idx = Vec::new();
    for name in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match FER_LABELS.iter().position(|l| l.eq_ignore_ascii_case(name)) {
            Some(i) if !idx.contains(&i) => idx.push(i),
            Some(_) => {}
            None => bail!("unknown emotion '{name}' (known: {})", FER_LABELS.join(", ")),
        }
    }
    if idx.is_empty() {
        return Ok((0..FER_LABELS.len()).collect());
    }
    if idx.len() < 2 {
        bail!("a labels subset needs at least two emotions");
    }
    idx.sort_unstable();
    Ok(idx)
}

/// The square region the classifier reads for a detector box: centred on the box,
/// as wide as its longer side, which is how FER2013's faces are framed.
pub fn crop_region(bbox: &Rect) -> [f32; 4] {
    let side = bbox.w.max(bbox.h);
    let cx = bbox.x + bbox.w / 2.0;
    let cy = bbox.y + bbox.h / 2.0;
    [cx - side / 2.0, cy - side / 2.0, side, side]
}

/// The side of the square grey face an emotion model reads, from its ONNX input
/// `[N,1,S,S]`: 48 for the bundled model (FER2013's own size), 64 for mini-Xception.
pub fn input_side(path: &Path) -> Result<usize> {
    let dims = crate::backend::onnx_input_dims(path)?;
    match dims.as_slice() {
        [_, Some(1), Some(h), Some(w)] if h == w => Ok(*h),
        _ => bail!(
            "{}: an emotion model must take grey square faces [N,1,S,S]; this one takes {:?}",
            path.display(),
            dims
        ),
    }
}

#[derive(Clone)]
pub struct EmotionClassifier {
    model: Arc<dyn Backend>,
    side: usize,
    threads: usize,
}

impl EmotionClassifier {
    /// `model` loaded from `path`; the input size is read from the same file.
    pub fn new(model: Arc<dyn Backend>, path: &Path) -> Result<Self> {
        let side = input_side(path)?;
        Ok(Self {
            model,
            side,
            threads: 0,
        })
    }

    /// On tract, the faces of one frame are classified on up to `threads` threads
    /// (0 = one per CPU); the batching runtimes take them as one batch.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Side of the grey square the model reads.
    pub fn side(&self) -> usize {
        self.side
    }

    /// Classifies the faces in these boxes over the classes `subset` (indices into
    /// [`FER_LABELS`]); probabilities are renormalised over it. ONNX Runtime and TensorRT
    /// get one call for all faces; tract one call per face, spread over threads
    /// (`spread::faces_through`).
    pub fn classify(&self, frame: &FrameView, boxes: &[Rect], subset: &[usize]) -> Result<Vec<Emotion>> {
        let side = self.side;
        spread::faces_through(
            self.model.as_ref(),
            boxes,
            self.threads,
            [1, side, side],
            |b| {
                frame
                    .crop_grey(crop_region(b), side, side)
                    .into_iter()
                    .map(normalise_pixel)
                    .collect()
            },
            |batch| self.classify_tensor(batch, subset),
        )
    }

    /// Classifies prepared input `[N, 1, side, side]` (already normalised to -1..1).
    pub fn classify_tensor(&self, batch: Tensor, subset: &[usize]) -> Result<Vec<Emotion>> {
        let n = batch.batch();
        let out = self.model.run(&[batch])?;
        let probs = out
            .first()
            .ok_or_else(|| anyhow::anyhow!("emotion model returned no output"))?;
        ensure!(
            probs.batch() == n && probs.row(0).len() == FER_LABELS.len(),
            "emotion model returned shape {:?} for {n} faces (expected [{n}, 7])",
            probs.shape
        );
        let labels: Vec<String> = subset.iter().map(|&i| FER_LABELS[i].to_string()).collect();
        Ok((0..n)
            .map(|i| {
                let row = probs.row(i);
                let mut scores: Vec<f32> = subset.iter().map(|&k| row[k].max(0.0)).collect();
                let sum: f32 = scores.iter().sum();
                if sum > 0.0 {
                    scores.iter_mut().for_each(|s| *s /= sum);
                }
                let label_id = argmax(&scores).map_or(0, |(i, _)| i);
                Emotion {
                    label_id,
                    labels: labels.clone(),
                    scores,
                }
            })
            .collect())
    }
}

/// The emotion models' input scaling: 0..255 to -1..1 (mini-Xception's, kept in
/// training ours so either model runs through the same code).
#[inline]
pub fn normalise_pixel(v: f32) -> f32 {
    (v / 255.0 - 0.5) * 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_subsets_parse_in_fer_order() {
        assert_eq!(parse_labels("").unwrap_or_default(), (0..7).collect::<Vec<_>>());
        assert_eq!(
            parse_labels("surprise, angry,Happy,neutral,sad").unwrap_or_default(),
            vec![0, 3, 4, 5, 6]
        );
        assert!(parse_labels("angry,bored").is_err());
        assert!(parse_labels("happy").is_err());
    }

    #[test]
    fn crop_region_is_a_centred_square() {
        assert_eq!(crop_region(&Rect::new(10.0, 20.0, 40.0, 60.0)), [0.0, 20.0, 60.0, 60.0]);
    }
}
