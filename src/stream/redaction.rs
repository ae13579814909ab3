//! faceredact's per-frame policy: which faces are hidden, and where a face that must be
//! hidden is still hidden when nothing says it is there any more.
//!
//! It fails closed:
//! - A face is shown only when `who` allows it. A new face is hidden before faceid has
//!   named it: faceid names a track only on its evidence (a clear match, or several
//!   checks), so a name is settled when it comes. "Unknown" is not: it is also what
//!   faceid says before that evidence is in, so with `who=known` or `listed` a stranger
//!   shows only after faceid has called him unknown on `settle` frames in a row.
//! - A named face whose similarity fell by [`SUDDEN_FALL`] or more at faceid's last
//!   check is hidden until a check that raises it: faceid lets go of a name slowly
//!   (the evidence is a running average over checks), and a sudden fall is what it looks
//!   like when another person takes the place of the one it named.
//! - A tracked face the detector misses is hidden where its track carries it, with a
//!   margin that grows with every frame since the detector last saw it.
//! - A face hidden on its last frame stays hidden at its last place, the margin still
//!   growing, for `hold` frames after it vanished from the metadata: the tracker gave up
//!   on it, the detector failed on that frame, or the face turned away.

use super::StreamFace;
use crate::rect::Rect;
use std::collections::HashMap;

pub use crate::redact::Method;

/// Whose faces are hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Who {
    /// Everyone but the people faceid names (and who are not in `hide`).
    #[default]
    Unknown,
    /// Every face.
    All,
    /// The people faceid names; strangers stay visible.
    Known,
    /// Only the people named in `hide`.
    Listed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RedactionSettings {
    pub method: Method,
    pub who: Who,
    /// Names always hidden (with `Listed`: the only ones).
    pub hide: Vec<String>,
    /// When not empty, the only names that may show.
    pub show: Vec<String>,
    /// Added on each side of a face's box, as a fraction of its width and height.
    pub margin: f32,
    /// Frames a hidden face stays hidden at its last place after it vanished.
    pub hold: u32,
    /// Frames in a row faceid must call a tracked face unknown before it shows as a
    /// stranger (`Known`, `Listed`).
    pub settle: u32,
}

impl Default for RedactionSettings {
    fn default() -> Self {
        Self {
            method: Method::default(),
            who: Who::default(),
            hide: Vec::new(),
            show: Vec::new(),
            margin: 0.25,
            // facedetect's `keep-lost`: as long as a track may come back.
            hold: crate::track::TrackerConfig::default().max_lost,
            // faceid names a track after its first three good checks (`min-sightings`);
            // two more frames keep a stranger's first "unknown" from showing him with
            // `who=known`.
            settle: 5,
        }
    }
}

/// How much the margin grows, as a fraction of the box, per frame since the face was
/// last detected: a track's prediction drifts, a vanished face may have moved.
pub const MARGIN_GROWTH_PER_FRAME: f32 = 0.03;

/// The most the margin grows over `margin`: a held box never swallows the picture.
pub const MAX_MARGIN_GROWTH: f32 = 0.75;

/// How far a named track's averaged similarity may fall at one check before the face is
/// hidden (see the module comment): more than one person's checks move the average,
/// less than another person's check does.
pub const SUDDEN_FALL: f64 = 0.08;

/// A region to hide on this frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    /// In frame pixels, margin included; may reach past the frame.
    pub rect: Rect,
    /// The face's own width, which sizes the blur or the blocks.
    pub face_width: f32,
}

#[derive(Debug, Clone)]
struct TrackState {
    /// The box on the face's last frame in the metadata.
    last: Rect,
    /// Frames since the detector saw it (0: this frame).
    missed: u32,
    /// Frames since it was in the metadata (0: this frame).
    absent: u32,
    /// Frames in a row it was allowed to show.
    allowed: u32,
    /// Whether it was hidden on its last frame.
    hidden: bool,
    /// The name faceid gives it, its similarity, and whether it fell suddenly at the
    /// check that last changed it.
    evidence: Option<(String, f64, bool)>,
}

/// Why a face may show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shows {
    No,
    /// faceid named it, and `who` lets that name show.
    Named,
    /// faceid found no one, and `who` lets strangers show.
    Stranger,
}

/// What faceredact does to one frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Redaction {
    /// Per face of the frame, in order: whether it is hidden.
    pub hidden: Vec<bool>,
    /// Every region to hide: the hidden faces' and those held from earlier frames.
    pub regions: Vec<Region>,
    /// The boxes of the faces that show: left as they are, even where a region (a
    /// neighbour's margin, a vanished face's hold) reaches over them.
    pub keep: Vec<Rect>,
}

/// An untracked face hidden on an earlier frame, held like a track.
#[derive(Debug, Clone)]
struct Held {
    last: Rect,
    absent: u32,
}

/// Boxes of untracked faces that overlap this much are the same face.
const SAME_PLACE_IOU: f32 = 0.3;

#[derive(Debug, Default)]
pub struct RedactionAnalyser {
    settings: RedactionSettings,
    tracks: HashMap<u64, TrackState>,
    untracked: Vec<Held>,
}

impl RedactionAnalyser {
    pub fn new(settings: RedactionSettings) -> Self {
        Self {
            settings,
            ..Default::default()
        }
    }

    pub fn settings(&self) -> &RedactionSettings {
        &self.settings
    }

    /// New settings, from the next frame on; what is held stays held.
    pub fn set_settings(&mut self, settings: RedactionSettings) {
        self.settings = settings;
    }

    /// Whether `who`, `hide` and `show` let this face's name show.
    pub fn may_show(&self, face: &StreamFace) -> bool {
        self.shows(face) != Shows::No
    }

    fn shows(&self, face: &StreamFace) -> Shows {
        let s = &self.settings;
        let name = face.identity.as_ref().filter(|(_, id, _)| *id >= 0).map(|(n, _, _)| n);
        let listed = |list: &[String], n: &String| list.iter().any(|l| l == n);
        let name_may_show = |n: &String| !listed(&s.hide, n) && (s.show.is_empty() || listed(&s.show, n));
        let named = |n: &String| if name_may_show(n) { Shows::Named } else { Shows::No };
        // faceid has looked at the face and found no one (a stranger, once that has held
        // for `settle` frames).
        let stranger = if face.identity.is_some() {
            Shows::Stranger
        } else {
            Shows::No
        };
        match (s.who, name) {
            (Who::All, _) => Shows::No,
            (Who::Unknown, Some(n)) => named(n),
            (Who::Unknown, None) => Shows::No,
            (Who::Known, Some(_)) => Shows::No,
            (Who::Known, None) => stranger,
            (Who::Listed, Some(n)) => named(n),
            (Who::Listed, None) => stranger,
        }
    }

    fn region(&self, face: Rect, frames_unseen: u32) -> Region {
        let m = self.settings.margin.max(0.0) + (frames_unseen as f32 * MARGIN_GROWTH_PER_FRAME).min(MAX_MARGIN_GROWTH);
        Region {
            rect: Rect::new(
                face.x - m * face.w,
                face.y - m * face.h,
                face.w * (1.0 + 2.0 * m),
                face.h * (1.0 + 2.0 * m),
            ),
            face_width: face.w,
        }
    }

    /// What to hide on this frame, whose faces (from the metadata) are `faces`.
    pub fn frame(&mut self, faces: &[StreamFace]) -> Redaction {
        let mut regions = Vec::new();
        let mut hidden = Vec::with_capacity(faces.len());
        let mut keep = Vec::new();
        for t in self.tracks.values_mut() {
            t.absent += 1;
        }
        for h in &mut self.untracked {
            h.absent += 1;
        }
        let settle = self.settings.settle.max(1);
        for f in faces {
            let mut shows = self.shows(f);
            match f.track_id {
                Some(id) => {
                    let t = self.tracks.entry(id).or_insert(TrackState {
                        last: f.bbox,
                        missed: 0,
                        absent: 0,
                        allowed: 0,
                        hidden: true,
                        evidence: None,
                    });
                    t.evidence = match (&f.identity, t.evidence.take()) {
                        (Some((name, id, sim)), Some((was, before, fell))) if *id >= 0 && *name == was => {
                            // The similarity changes only when faceid checks the face.
                            let fell = if *sim == before {
                                fell
                            } else {
                                before - sim >= SUDDEN_FALL || (fell && *sim < before)
                            };
                            Some((was, *sim, fell))
                        }
                        (Some((name, id, sim)), _) if *id >= 0 => Some((name.clone(), *sim, false)),
                        _ => None,
                    };
                    let falling = t.evidence.as_ref().is_some_and(|(_, _, fell)| *fell);
                    if falling && shows == Shows::Named {
                        shows = Shows::No;
                    }
                    let may_show = shows != Shows::No;
                    t.missed = if f.detected == Some(false) { t.missed + 1 } else { 0 };
                    t.absent = 0;
                    t.last = f.bbox;
                    t.allowed = if may_show { t.allowed + 1 } else { 0 };
                    let needed = if shows == Shows::Stranger { settle } else { 1 };
                    t.hidden = t.allowed < needed;
                    let (hide, missed) = (t.hidden, t.missed);
                    hidden.push(hide);
                    if hide {
                        regions.push(self.region(f.bbox, missed));
                    } else {
                        keep.push(f.bbox);
                    }
                }
                // Without a track there is nothing to settle over: the face shows on its
                // name of this frame.
                None if shows != Shows::No => {
                    hidden.push(false);
                    keep.push(f.bbox);
                }
                None => {
                    hidden.push(true);
                    regions.push(self.region(f.bbox, 0));
                    self.untracked
                        .retain(|h| h.absent == 0 || h.last.iou(f.bbox) < SAME_PLACE_IOU);
                    self.untracked.push(Held {
                        last: f.bbox,
                        absent: 0,
                    });
                }
            }
        }
        let hold = self.settings.hold;
        self.tracks.retain(|_, t| t.absent <= hold);
        self.untracked.retain(|h| h.absent <= hold);
        for t in self.tracks.values().filter(|t| t.absent > 0 && t.hidden) {
            regions.push(self.region(t.last, t.missed + t.absent));
        }
        for h in self.untracked.iter().filter(|h| h.absent > 0) {
            regions.push(self.region(h.last, h.absent));
        }
        Redaction { hidden, regions, keep }
    }

    /// After a seek the faces are elsewhere: nothing is held.
    pub fn restart(&mut self) {
        self.tracks.clear();
        self.untracked.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(track: Option<u64>, detected: bool, identity: Option<(&str, i32)>) -> StreamFace {
        StreamFace {
            bbox: Rect::new(100.0, 50.0, 40.0, 50.0),
            confidence: Some(0.9),
            landmarks: None,
            track_id: track,
            detected: track.map(|_| detected),
            identity: identity.map(|(n, id)| (n.to_string(), id, 0.6)),
            emotion: None,
            redacted: false,
        }
    }

    fn analyser(who: Who) -> RedactionAnalyser {
        RedactionAnalyser::new(RedactionSettings {
            who,
            ..Default::default()
        })
    }

    #[test]
    fn a_new_face_is_hidden_until_named_and_a_stranger_shows_only_once_settled() {
        let mut a = analyser(Who::Unknown);
        // Before faceid has named the face, and while it says unknown.
        assert_eq!(a.frame(&[face(Some(1), true, None)]).hidden, [true]);
        assert_eq!(a.frame(&[face(Some(1), true, Some(("unknown", -1)))]).regions.len(), 1);
        let shown = a.frame(&[face(Some(1), true, Some(("Ada", 0)))]);
        assert!(shown.regions.is_empty() && shown.hidden == [false]);
        assert_eq!(a.frame(&[face(Some(1), true, Some(("unknown", -1)))]).regions.len(), 1);
        // With who=known the same "unknown" must hold for `settle` frames.
        let mut a = analyser(Who::Known);
        let settle = a.settings().settle;
        for _ in 0..settle - 1 {
            assert_eq!(a.frame(&[face(Some(2), true, Some(("unknown", -1)))]).hidden, [true]);
        }
        assert_eq!(a.frame(&[face(Some(2), true, Some(("unknown", -1)))]).hidden, [false]);
        assert_eq!(a.frame(&[face(Some(2), true, Some(("Ada", 0)))]).hidden, [true]);
    }

    #[test]
    fn a_name_whose_similarity_falls_suddenly_is_hidden_until_a_check_that_does_not() {
        let mut a = analyser(Who::Unknown);
        let named = |sim: f64| {
            let mut f = face(Some(3), true, Some(("Ada", 0)));
            f.identity = Some(("Ada".into(), 0, sim));
            f
        };
        assert_eq!(a.frame(&[named(0.62)]).hidden, [false]);
        // A slow drift is one person's checks.
        assert_eq!(a.frame(&[named(0.58)]).hidden, [false]);
        assert_eq!(a.frame(&[named(0.54)]).hidden, [false]);
        // A sudden fall, then frames without a check, then the next check.
        assert_eq!(a.frame(&[named(0.44)]).hidden, [true]);
        assert_eq!(a.frame(&[named(0.44)]).hidden, [true]);
        assert_eq!(a.frame(&[named(0.40)]).hidden, [true]);
        assert_eq!(a.frame(&[named(0.46)]).hidden, [false]);
    }

    #[test]
    fn a_missed_face_stays_hidden_with_a_growing_margin_then_is_let_go() {
        let mut a = analyser(Who::Unknown);
        let stranger = face(Some(7), true, Some(("unknown", -1)));
        let first = a.frame(std::slice::from_ref(&stranger)).regions;
        assert_eq!(first.len(), 1);
        let margin = a.settings().margin;
        assert!((first[0].rect.w - 40.0 * (1.0 + 2.0 * margin)).abs() < 1e-3);
        // Carried by its track, not detected.
        let carried = a.frame(&[face(Some(7), false, Some(("unknown", -1)))]).regions;
        assert!(carried[0].rect.w > first[0].rect.w);
        // Gone from the metadata: still hidden where it was, wider each frame.
        let mut last = carried[0].rect.w;
        for _ in 0..a.settings().hold {
            let held = a.frame(&[]).regions;
            assert_eq!(held.len(), 1);
            assert!(held[0].rect.w >= last);
            assert_eq!(held[0].face_width, 40.0);
            last = held[0].rect.w;
        }
        assert!(last <= 40.0 * (1.0 + 2.0 * (margin + MAX_MARGIN_GROWTH)) + 1e-3);
        assert!(a.frame(&[]).regions.is_empty());
    }

    #[test]
    fn a_shown_face_that_vanishes_is_not_held() {
        let mut a = analyser(Who::Unknown);
        assert!(a.frame(&[face(Some(1), true, Some(("Ada", 0)))]).regions.is_empty());
        assert!(a.frame(&[]).regions.is_empty());
    }

    #[test]
    fn who_hide_and_show_choose_the_faces() {
        let ada = face(None, true, Some(("Ada", 0)));
        let bob = face(None, true, Some(("Bob", 1)));
        let stranger = face(None, true, Some(("unknown", -1)));
        let unchecked = face(None, true, None);
        let shows = |s: RedactionSettings| {
            let a = RedactionAnalyser::new(s);
            [&ada, &bob, &stranger, &unchecked].map(|f| a.may_show(f))
        };
        let with = |who, hide: &[&str], show: &[&str]| RedactionSettings {
            who,
            hide: hide.iter().map(|s| s.to_string()).collect(),
            show: show.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        assert_eq!(shows(with(Who::Unknown, &[], &[])), [true, true, false, false]);
        assert_eq!(shows(with(Who::Unknown, &["Bob"], &[])), [true, false, false, false]);
        assert_eq!(shows(with(Who::Unknown, &[], &["Bob"])), [false, true, false, false]);
        assert_eq!(shows(with(Who::All, &[], &[])), [false; 4]);
        assert_eq!(shows(with(Who::Known, &[], &[])), [false, false, true, false]);
        assert_eq!(shows(with(Who::Listed, &["Ada"], &[])), [false, true, true, false]);
    }

    #[test]
    fn an_untracked_face_is_held_once_where_it_was() {
        let mut a = analyser(Who::All);
        for _ in 0..3 {
            assert_eq!(a.frame(&[face(None, true, None)]).regions.len(), 1);
        }
        // The same place seen three times is one held region, not three.
        assert_eq!(a.frame(&[]).regions.len(), 1);
    }
}
