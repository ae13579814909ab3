//! Per-track smoothing of emotion probabilities: `faceemotion` classifies a tracked face
//! every `interval` frames and reports a running average over about `window` frames, so
//! the label follows the expression rather than every blink and shadow.

use crate::emotion::Emotion;
use crate::tensor::argmax;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub struct SmoothingConfig {
    /// Frames the average spans (an exponential average with the weight of a `window`
    /// frame moving average); 1 reports each classification as it is.
    pub window: u32,
    /// Frames between two classifications of the same track. Every third frame
    /// still gives five classifications per 15-frame window, for a third of the cost.
    pub interval: u32,
    /// Tracks not seen for this many frames are forgotten.
    pub forget_after: u64,
}

impl Default for SmoothingConfig {
    fn default() -> Self {
        Self {
            window: 15,
            interval: 3,
            forget_after: 300,
        }
    }
}

#[derive(Debug, Clone)]
struct TrackState {
    current: Emotion,
    last_check: u64,
    last_seen: u64,
}

#[derive(Debug, Default)]
pub struct EmotionSmoother {
    cfg: SmoothingConfig,
    tracks: HashMap<u64, TrackState>,
}

impl EmotionSmoother {
    pub fn new(cfg: SmoothingConfig) -> Self {
        Self {
            cfg,
            tracks: HashMap::new(),
        }
    }

    pub fn set_config(&mut self, cfg: SmoothingConfig) {
        self.cfg = cfg;
    }

    pub fn clear(&mut self) {
        self.tracks.clear();
    }

    /// Should `track` be classified on `frame`?
    pub fn needs_check(&self, track: u64, frame: u64) -> bool {
        self.tracks
            .get(&track)
            .is_none_or(|t| frame.saturating_sub(t.last_check) >= self.cfg.interval.max(1) as u64)
    }

    /// The track's smoothed emotion, noting that it is in view on `frame`.
    pub fn current(&mut self, track: u64, frame: u64) -> Option<Emotion> {
        let t = self.tracks.get_mut(&track)?;
        t.last_seen = frame;
        Some(t.current.clone())
    }

    /// Adds one classification of `track` and returns the smoothed emotion.
    pub fn observe(&mut self, track: u64, frame: u64, e: Emotion) -> Emotion {
        // The weight of an N-frame moving average, per check (a check covers `interval`
        // frames).
        let per_frame = 2.0 / (self.cfg.window.max(1) as f32 + 1.0);
        let w = (per_frame * self.cfg.interval.max(1) as f32).min(1.0);
        let t = self.tracks.entry(track).or_insert_with(|| TrackState {
            current: e.clone(),
            last_check: frame,
            last_seen: frame,
        });
        if t.current.labels == e.labels {
            for (avg, s) in t.current.scores.iter_mut().zip(&e.scores) {
                *avg += w * (s - *avg);
            }
        } else {
            t.current = e;
        }
        t.current.label_id = argmax(&t.current.scores).map_or(0, |(i, _)| i);
        t.last_check = frame;
        t.last_seen = frame;
        t.current.clone()
    }

    /// Forgets tracks that have not been seen for a while.
    pub fn forget_old(&mut self, frame: u64) {
        let keep = self.cfg.forget_after;
        self.tracks.retain(|_, t| frame.saturating_sub(t.last_seen) <= keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emotion(scores: [f32; 3]) -> Emotion {
        let label_id = if scores[0] >= scores[1] && scores[0] >= scores[2] {
            0
        } else if scores[1] >= scores[2] {
            1
        } else {
            2
        };
        Emotion {
            label_id,
            labels: vec!["happy".into(), "sad".into(), "neutral".into()],
            scores: scores.to_vec(),
        }
    }

    #[test]
    fn one_odd_frame_does_not_change_the_label_but_a_lasting_change_does() {
        let mut s = EmotionSmoother::new(SmoothingConfig {
            window: 9,
            interval: 1,
            ..SmoothingConfig::default()
        });
        for f in 0..10 {
            assert_eq!(s.observe(1, f, emotion([0.8, 0.1, 0.1])).label(), "happy");
        }
        assert_eq!(s.observe(1, 10, emotion([0.1, 0.8, 0.1])).label(), "happy");
        let mut f = 11;
        while s.observe(1, f, emotion([0.1, 0.8, 0.1])).label() != "sad" {
            f += 1;
            assert!(f < 20, "the change took too long");
        }
        // Window 1: no memory.
        let mut raw = EmotionSmoother::new(SmoothingConfig {
            window: 1,
            interval: 1,
            ..SmoothingConfig::default()
        });
        raw.observe(2, 0, emotion([0.8, 0.1, 0.1]));
        assert_eq!(raw.observe(2, 1, emotion([0.1, 0.8, 0.1])).label(), "sad");
    }

    #[test]
    fn tracks_are_classified_at_the_interval_and_forgotten_when_gone() {
        let mut s = EmotionSmoother::new(SmoothingConfig {
            interval: 5,
            ..SmoothingConfig::default()
        });
        assert!(s.needs_check(3, 0));
        s.observe(3, 0, emotion([0.8, 0.1, 0.1]));
        assert!(!s.needs_check(3, 4));
        assert!(s.needs_check(3, 5));
        assert_eq!(s.current(3, 4).map(|e| e.label_id), Some(0));
        s.forget_old(4 + 301);
        assert!(s.current(3, 306).is_none());
    }
}
