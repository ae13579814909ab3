//! faceemotion's per-frame policy: tracked faces are classified every `interval` frames
//! and their probabilities averaged over about `smoothing` frames
//! (crate::smoothing); untracked faces are classified on every frame as they are.

use super::StreamFace;
use crate::emotion::{Emotion, EmotionClassifier};
use crate::frame::FrameView;
use crate::smoothing::{EmotionSmoother, SmoothingConfig};
use anyhow::Result;

#[derive(Debug, Clone, PartialEq)]
pub struct EmotionSettings {
    /// Frames the per-track average spans (1 = no smoothing).
    pub smoothing: u32,
    /// Frames between two classifications of a tracked face.
    pub interval: u32,
}

impl Default for EmotionSettings {
    fn default() -> Self {
        let d = SmoothingConfig::default();
        Self {
            smoothing: d.window,
            interval: d.interval,
        }
    }
}

impl EmotionSettings {
    fn smoothing_config(&self) -> SmoothingConfig {
        SmoothingConfig {
            window: self.smoothing,
            interval: self.interval,
            ..SmoothingConfig::default()
        }
    }
}

pub struct EmotionAnalyser {
    classifier: EmotionClassifier,
    /// The classes reported (indices into the model's), all when empty.
    subset: Vec<usize>,
    smoother: EmotionSmoother,
    settings: EmotionSettings,
    /// Frames since the start, for the interval; `frame - 1` is the frame last analysed.
    frame: u64,
}

impl EmotionAnalyser {
    pub fn new(classifier: EmotionClassifier, subset: Vec<usize>, settings: EmotionSettings) -> Self {
        Self {
            classifier,
            subset,
            smoother: EmotionSmoother::new(SmoothingConfig::default()),
            settings,
            frame: 0,
        }
    }

    pub fn set_settings(&mut self, settings: EmotionSettings) {
        self.settings = settings;
    }

    /// A seek or a lost source: the faces after it are new tracks.
    pub fn restart(&mut self) {
        self.smoother.clear();
    }

    /// The emotions of this frame's `faces`.
    pub fn frame(&mut self, view: &FrameView, faces: &[StreamFace]) -> Result<Vec<Option<Emotion>>> {
        self.smoother.set_config(self.settings.smoothing_config());
        let frame = self.frame;
        self.frame += 1;
        if frame.is_multiple_of(64) {
            self.smoother.forget_old(frame);
        }
        let mut emotions = vec![None; faces.len()];
        let mut wanted: Vec<usize> = Vec::new();
        for (i, f) in faces.iter().enumerate() {
            match f.track_id {
                Some(t) if !self.smoother.needs_check(t, frame) => emotions[i] = self.smoother.current(t, frame),
                _ => wanted.push(i),
            }
        }
        if wanted.is_empty() {
            return Ok(emotions);
        }
        let boxes: Vec<crate::rect::Rect> = wanted.iter().map(|&i| faces[i].bbox).collect();
        let found = self.classifier.classify(view, &boxes, &self.subset)?;
        for (&i, e) in wanted.iter().zip(found) {
            emotions[i] = Some(match faces[i].track_id {
                Some(t) => self.smoother.observe(t, frame, e),
                None => e,
            });
        }
        Ok(emotions)
    }

    /// The emotions of a frame that could not be looked at: each track's current one.
    pub fn carried(&mut self, faces: &[StreamFace]) -> Vec<Option<Emotion>> {
        let frame = self.frame.saturating_sub(1);
        faces
            .iter()
            .map(|f| f.track_id.and_then(|t| self.smoother.current(t, frame)))
            .collect()
    }
}
