//! facedetect's per-frame policy: when to run the detector, where to look closer, and
//! how tracks carry faces between detections and through misses.
//!
//! With tracking on, the detector runs on every `interval`th frame only: on the frames
//! between, the faces are where their tracks predict them. On those frames only a 16x16
//! thumbnail of each predicted box is read: when one no longer looks like the face it
//! follows (a cut, a face that jumped), the detector runs on that frame after all, so
//! that nothing downstream embeds, classifies or draws a box in a stale place.
//!
//! A small face that scores too little at the working size to start a track gets a
//! second look on a crop at twice the scale (YuNet, `recheck_threshold`); so does the
//! place where a tracked face should be when the working size shows none there. A
//! tracked face the detector misses is held where its track predicts it for as long as
//! that box still looks like its last detection (`keep_lost` frames at most).

use crate::detect::{Detector, DetectorConfig, Face};
use crate::frame::FrameView;
use crate::track::{Appearance, Tracked, Tracker, TrackerConfig};
use anyhow::Result;

#[derive(Debug, Clone, PartialEq)]
pub struct DetectionSettings {
    pub detector: DetectorConfig,
    /// Follow faces from frame to frame and give each a track id.
    pub tracking: bool,
    /// Run the detector on every Nth frame (with tracking; 1 = every frame).
    pub interval: u32,
    /// Score at which a detection continues a track (new faces need the detector's
    /// threshold).
    pub track_threshold: f32,
    /// Frames a track is kept after its face's last detection.
    pub keep_lost: u32,
}

impl Default for DetectionSettings {
    fn default() -> Self {
        Self {
            detector: DetectorConfig::default(),
            tracking: true,
            // Every other frame: the tracker carries faces over one frame with little
            // error, and detection is the largest cost left once identity is per track.
            interval: 2,
            track_threshold: 0.5,
            keep_lost: TrackerConfig::default().max_lost,
        }
    }
}

/// What the metadata says of a face's track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackMark {
    pub id: u64,
    /// Whether the detector saw the face on this frame (`false`: its track carried it).
    pub detected: bool,
}

/// A face of this frame, with its track when tracking is on.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub face: Face,
    pub track: Option<TrackMark>,
}

impl From<Tracked> for Found {
    fn from(t: Tracked) -> Self {
        Self {
            track: Some(TrackMark {
                id: t.id,
                detected: t.detected,
            }),
            face: t.face,
        }
    }
}

pub struct DetectionAnalyser {
    detector: Detector,
    tracker: Tracker,
    settings: DetectionSettings,
    /// Frames since the start (or the last restart), for the interval.
    frame: u64,
}

impl DetectionAnalyser {
    pub fn new(detector: Detector, settings: DetectionSettings) -> Self {
        Self {
            detector,
            tracker: Tracker::new(TrackerConfig::default()),
            settings,
            frame: 0,
        }
    }

    /// "yunet" or "mtcnn": the `model_name` of the metadata.
    pub fn detector_name(&self) -> &'static str {
        self.detector.name()
    }

    /// New settings, from the next frame on (properties can change while playing).
    pub fn set_settings(&mut self, settings: DetectionSettings) {
        self.settings = settings;
    }

    /// After a seek, or a source that dropped out and came back, the faces are
    /// elsewhere: the tracks start afresh (their ids keep counting).
    pub fn restart(&mut self) {
        self.tracker.clear();
        self.frame = 0;
    }

    /// The faces of one frame.
    pub fn frame(&mut self, view: &FrameView) -> Result<Vec<Found>> {
        let s = &self.settings;
        let tracking = s.tracking;
        let new_track_score = s.detector.score_threshold;
        let mut config = s.detector.clone();
        if tracking {
            // The detector reports the weaker faces too; the tracker keeps those only
            // where they continue a track.
            config.score_threshold = config.score_threshold.min(s.track_threshold);
        }
        self.tracker.set_new_track_score(new_track_score);
        self.tracker.set_max_lost(s.keep_lost);
        self.tracker.set_overlap_limit(config.nms_threshold);
        let due = !tracking || self.frame.is_multiple_of(s.interval.max(1) as u64);
        self.frame += 1;
        if !due && !self.tracker.prediction_is_stale(view) {
            return Ok(self.carried());
        }
        // A small face under the score a new track needs gets a closer look, even where
        // it would continue a track with what it has: the closer look's landmarks align
        // it better for faceid.
        let needs_recheck = |f: &Face| f.score < new_track_score;
        // Where a followed face should be but the working size shows none, YuNet looks
        // closer too: a face half behind a hand or a cup stays found.
        let expected = if tracking {
            self.tracker.expected_boxes()
        } else {
            Vec::new()
        };
        let faces = self
            .detector
            .detect_rechecking(view, &config, needs_recheck, &expected)?;
        if !tracking {
            return Ok(faces.into_iter().map(|face| Found { face, track: None }).collect());
        }
        // The tracker tells a cut from motion by what the box looks like.
        let looks = faces.iter().map(|f| Some(Appearance::of(view, &f.bbox))).collect();
        let mut tracked = self.tracker.update_with_appearance(faces, looks);
        // A face the detector missed but whose place still shows it stays reported.
        tracked.extend(self.tracker.hold_missed(view));
        Ok(tracked.into_iter().map(Found::from).collect())
    }

    /// The faces of a frame that could not be looked at: where their tracks predict them.
    pub fn carried(&mut self) -> Vec<Found> {
        if !self.settings.tracking {
            return Vec::new();
        }
        self.tracker.predict().into_iter().map(Found::from).collect()
    }
}
