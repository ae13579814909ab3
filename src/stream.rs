//! Stream analysers: the per-frame policy of the elements, without GStreamer.
//!
//! Each element of the chain is a thin adapter over one analyser here: it maps the
//! frame, hands the analyser its engine view (and the faces upstream found), and writes
//! what comes back as metadata. `face-eval video` runs the same analysers on a decoded
//! file, so what it writes is what the elements write.
//!
//! - [`DetectionAnalyser`] (facedetect): the detector, the tracker, the detection
//!   interval, the stale-prediction check, the closer looks, holding missed faces.
//! - [`IdentityAnalyser`] (faceid): which faces are due a check, the per-track
//!   evidence, the gallery.
//! - [`EmotionAnalyser`] (faceemotion): which faces are due, the per-track smoothing.
//! - [`RedactionAnalyser`] (faceredact): which faces are hidden, and holding hidden
//!   faces the metadata no longer has.
//!
//! Every analyser that runs a model has `frame`, which looks at one frame and may fail
//! (a model error), and `carried`, what the frame gets instead when it failed: the
//! tracks' last word, so that one bad frame neither ends the stream nor blanks its faces.

pub mod detection;
pub mod emotion;
pub mod identity;
pub mod redaction;

pub use detection::{DetectionAnalyser, DetectionSettings, Found};
pub use emotion::{EmotionAnalyser, EmotionSettings};
pub use identity::{IdentityAnalyser, IdentitySettings, Name};
pub use redaction::{Redaction, RedactionAnalyser, RedactionSettings, Region, Who};

use crate::record::{EmotionRecord, FaceRecord, IdentityRecord, Landmarks};
use crate::rect::Rect;

/// A face as it travels from one element to the next: what the metadata carries
/// (docs/metadata.md). The elements read it back from the metas; `face-eval video`
/// makes it with [`StreamFace::carried`], which does the same arithmetic.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamFace {
    /// Box in frame pixels, clamped to the frame.
    pub bbox: Rect,
    pub confidence: Option<f64>,
    pub landmarks: Option<[[f32; 2]; 5]>,
    pub track_id: Option<u64>,
    /// With a track: whether the detector saw the face on this frame (`false`: its track
    /// carried it, between detections or while the detector missed it).
    pub detected: Option<bool>,
    /// Name, gallery index (-1 unknown), similarity.
    pub identity: Option<(String, i32, f64)>,
    pub emotion: Option<EmotionInfo>,
    /// Whether faceredact hid this face on this frame.
    pub redacted: bool,
}

/// A face's emotion as the metadata carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct EmotionInfo {
    pub label: String,
    pub label_id: i32,
    pub confidence: f64,
    pub labels: Vec<String>,
    pub scores: Vec<f64>,
}

impl EmotionInfo {
    pub fn of(e: &crate::emotion::Emotion) -> Self {
        Self {
            label: e.label().to_string(),
            label_id: e.label_id as i32,
            confidence: e.confidence() as f64,
            labels: e.labels.clone(),
            scores: e.scores.iter().map(|&s| s as f64).collect(),
        }
    }
}

/// The corners of `bbox` (x, y, w, h) clamped to a `width` × `height` frame, in pixels:
/// x0, y0, x1, y1.
pub fn clamped_corners(bbox: &Rect, width: u32, height: u32) -> [f32; 4] {
    let (w, h) = (width as f32, height as f32);
    let [x, y, bw, bh] = bbox.xywh();
    [
        x.clamp(0.0, w),
        y.clamp(0.0, h),
        (x + bw).clamp(0.0, w),
        (y + bh).clamp(0.0, h),
    ]
}

/// Corners in pixels ([`clamped_corners`]) as fractions of the frame (DL Streamer's
/// `x_min` .. `y_max`).
pub fn normalised_corners(corners: [f32; 4], width: u32, height: u32) -> [f64; 4] {
    let (w, h) = (width as f32, height as f32);
    let [x0, y0, x1, y1] = corners;
    [(x0 / w) as f64, (y0 / h) as f64, (x1 / w) as f64, (y1 / h) as f64]
}

/// The box in pixels (x, y, w, h) back from its normalised corners.
pub fn from_normalised(corners: [f64; 4], width: u32, height: u32) -> Rect {
    let [x0, y0, x1, y1] = corners;
    let (w, h) = (width as f64, height as f64);
    Rect::new(
        (x0 * w) as f32,
        (y0 * h) as f32,
        ((x1 - x0) * w) as f32,
        ((y1 - y0) * h) as f32,
    )
}

impl StreamFace {
    /// The face as an element downstream of facedetect reads it from the metadata.
    pub fn carried(found: &Found, width: u32, height: u32) -> Self {
        Self {
            bbox: from_normalised(
                normalised_corners(clamped_corners(&found.face.bbox, width, height), width, height),
                width,
                height,
            ),
            confidence: Some(found.face.score as f64),
            landmarks: Some(found.face.landmarks),
            track_id: found.track.map(|t| t.id),
            detected: found.track.map(|t| t.detected),
            identity: None,
            emotion: None,
            redacted: false,
        }
    }

    /// The JSON-lines form of this face (docs/metadata.md), with its landmarks when
    /// `landmarks` keeps them.
    pub fn to_record(&self, landmarks: Landmarks) -> FaceRecord {
        let r = |v: f32| ((v as f64) * 100.0).round() / 100.0;
        let r4 = |v: f64| (v * 10000.0).round() / 10000.0;
        FaceRecord {
            bbox: self.bbox.xywh().map(r),
            confidence: self.confidence.map(r4),
            landmarks: self
                .landmarks
                .filter(|_| landmarks.keeps(self.identity.as_ref()))
                .map(|lm| lm.iter().map(|p| [r(p[0]), r(p[1])]).collect()),
            track_id: self.track_id,
            detected: self.detected,
            identity: self.identity.as_ref().map(|(name, _, sim)| IdentityRecord {
                name: name.clone(),
                similarity: r4(*sim),
            }),
            emotion: self.emotion.as_ref().map(|e| EmotionRecord {
                label: e.label.clone(),
                confidence: r4(e.confidence),
                scores: e.labels.iter().cloned().zip(e.scores.iter().map(|&s| r4(s))).collect(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_is_clamped_to_the_frame_and_survives_normalising() {
        let b = Rect::new(-10.0, 20.0, 110.0, 400.0);
        assert_eq!(clamped_corners(&b, 640, 360), [0.0, 20.0, 100.0, 360.0]);
        let back = from_normalised(normalised_corners(clamped_corners(&b, 640, 360), 640, 360), 640, 360);
        for (got, want) in back.xywh().iter().zip([0.0, 20.0, 100.0, 340.0]) {
            assert!((got - want).abs() < 1e-3, "{back:?}");
        }
    }
}
