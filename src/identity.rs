//! Identity per track rather than per frame: `faceid` embeds a tracked face only now
//! and then, accumulates what each embedding says, and names the track from the
//! accumulated evidence, with hysteresis so one bad frame does not flip the label.
//!
//! Evidence is, per enrolled person, a running average of the face's similarity to
//! that person (every check moves it `weight` of the way towards the new value). A track
//! takes the best person's name once that average reaches the threshold; it changes to
//! someone else only when that person's average beats the current one's by `margin`, and
//! falls back to unknown only when the current one's drops `margin` under the threshold.
//! The threshold is the one for the track's face quality (running average of the
//! embedding magnitudes, see [`MatchThreshold`]), so a dim, blurred face needs less.
//!
//! A track can change hands without its id changing (someone else sits down where the
//! tracker could not see the cut). Two guards: a face whose thumbnail changes at once is
//! checked on that frame, and an embedding far from the track's previous one (cosine
//! under `same_person`) starts the evidence afresh, unless the gallery vouches for it:
//! the new face's best match on its own is the track's person, at that person's naming
//! threshold. Two photos of one person can be further apart than `same_person` (another
//! year, light, pose), and the gallery, which holds several of their photos, knows them
//! better than the track's last embedding does.
//!
//! Not every frame may give a name (see [`crate::quality`]): a check of a face whose
//! quality is under `quality_floor` (too small, turned away, unsure) moves the evidence
//! less and can neither name a track nor change its name, only keep the one the track
//! has; a name is given only once the track has had `min_sightings` checks at or over
//! the floor (or one check `CLEAR_MATCH_MARGIN` over the threshold: the rule is for
//! marginal matches, which is where strangers are), at the threshold for the track's quality (a poorer face needs more
//! similarity: `MatchThreshold::at_quality`). Once given, a name stays until the evidence
//! drops under the threshold for the face's magnitude alone, so a named face that moves
//! to the back of the room keeps what it earned nearer the camera.
//!
//! The opposite happens too: the tracker starts a new track where the picture of the
//! same person changed at once (a turn of the head into the light, a cut between two
//! cameras on one speaker). A new track that appears where a track ended on the frame
//! before, with an embedding close to that track's last one (cosine at least
//! `same_person`) or one the gallery vouches for (the same tests as above), takes over
//! its evidence instead of starting from nothing, so the name does not drop to unknown
//! and come back.

use crate::detect::iou;
use crate::embed::{Embedding, cosine};
use crate::gallery::MatchThreshold;
use crate::rect::Rect;
use crate::tensor::argmax;
use crate::track::Appearance;
use std::collections::HashMap;

/// How far over its threshold one good check must be to name a track before it has had
/// `min_sightings`: a clear match, not the marginal kind a stranger's look-alike makes.
pub const CLEAR_MATCH_MARGIN: f32 = 0.05;

/// For how many warm-ups' worth of checks a track short of its sightings is checked on
/// every frame.
const SIGHTING_WARMUPS: u32 = 4;

#[derive(Debug, Clone, PartialEq)]
pub struct IdentityConfig {
    /// Similarity at which a track is named, by face quality.
    pub threshold: MatchThreshold,
    /// Frames between two checks of a track (after its first `warmup` checks).
    pub reidentify_interval: u32,
    /// Checks made on consecutive frames when a track appears, to settle quickly.
    pub warmup: u32,
    /// Hysteresis on the similarity scale.
    pub margin: f32,
    /// Weight of a new check in the running average (1 = no memory).
    pub weight: f32,
    /// A face this many times larger (area) than at its last check is checked now.
    pub grow: f32,
    /// Tracks not seen for this many frames are forgotten.
    pub forget_after: u64,
    /// A face whose thumbnail correlates less than this with the previous frame's is
    /// checked at once.
    pub look_change: f32,
    /// Two checks of a track with embeddings less similar than this are two people.
    pub same_person: f32,
    /// Face quality a check needs to count towards a name (`crate::quality`).
    pub quality_floor: f32,
    /// Checks at or over the floor a track needs before it is given a name.
    pub min_sightings: u32,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            threshold: MatchThreshold::default(),
            reidentify_interval: 10,
            warmup: 3,
            margin: 0.04,
            weight: 0.3,
            grow: 1.5,
            forget_after: 300,
            look_change: 0.85,
            same_person: 0.3,
            quality_floor: crate::quality::DEFAULT_FLOOR,
            min_sightings: 3,
        }
    }
}

/// What `faceid` says about a track now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Answer {
    /// The gallery person, or `None` for unknown.
    pub person: Option<usize>,
    /// The track's averaged similarity to that person (to the closest one when unknown).
    pub similarity: f32,
}

#[derive(Debug, Clone)]
struct TrackState {
    evidence: Vec<f32>,
    /// Running average of the embedding magnitudes (face quality), like the evidence.
    magnitude: f32,
    /// Running average of the checks' face quality (`crate::quality`), like the evidence.
    quality: f32,
    /// Sum of the checks' weights while the evidence is a plain (weighted) mean.
    weights: f32,
    checks: u32,
    /// Checks of a face at or over the quality floor.
    good_checks: u32,
    person: Option<usize>,
    last_check: u64,
    checked_area: f32,
    last_seen: u64,
    /// Where the face was when last seen, to find the track a new one continues.
    bbox: Rect,
    last_embedding: Vec<f32>,
    look: Option<Appearance>,
    /// Set when the look changed since the last check.
    look_changed: bool,
}

#[derive(Debug, Default)]
pub struct Identities {
    cfg: IdentityConfig,
    tracks: HashMap<u64, TrackState>,
}

impl Identities {
    pub fn new(cfg: IdentityConfig) -> Self {
        Self {
            cfg,
            tracks: HashMap::new(),
        }
    }

    pub fn config(&self) -> &IdentityConfig {
        &self.cfg
    }

    /// Takes new settings (properties changed while playing); the evidence is kept.
    pub fn set_config(&mut self, cfg: IdentityConfig) {
        self.cfg = cfg;
    }

    pub fn clear(&mut self) {
        self.tracks.clear();
    }

    /// Should the face of `track`, `area` pixels large, be embedded on `frame`?
    pub fn needs_check(&self, track: u64, frame: u64, area: f32) -> bool {
        let Some(t) = self.tracks.get(&track) else {
            return true;
        };
        // A track still short of its sightings is looked at on every frame, so that a face
        // that starts small is named soon after it is seen well, for a few warm-ups at
        // most (a face that stays poor is not embedded on every frame for ever).
        t.checks < self.cfg.warmup
            || (t.good_checks < self.cfg.min_sightings && t.checks < SIGHTING_WARMUPS * self.cfg.warmup)
            || t.look_changed
            || frame.saturating_sub(t.last_check) >= self.cfg.reidentify_interval.max(1) as u64
            || area >= t.checked_area * self.cfg.grow
    }

    /// Notes what the face of `track` looks like on this frame (before `needs_check`).
    pub fn look(&mut self, track: u64, look: Appearance) {
        let cut = self.cfg.look_change;
        if let Some(t) = self.tracks.get_mut(&track) {
            if t.look.as_ref().is_some_and(|old| old.correlation(&look) < cut) {
                t.look_changed = true;
            }
            t.look = Some(look);
        }
    }

    /// Notes that `track` is in view on `frame` at `bbox` (checked or not).
    pub fn seen(&mut self, track: u64, frame: u64, bbox: Rect) {
        if let Some(t) = self.tracks.get_mut(&track) {
            t.last_seen = frame;
            t.bbox = bbox;
        }
    }

    /// The track that a new track appearing at `bbox` on `frame` with this embedding
    /// continues, if any: one last seen on the frame before in about the same place (no
    /// longer in view) whose last embedding is the same person's.
    fn predecessor(&self, frame: u64, bbox: &Rect, check: (&Embedding, f32), similarities: &[f32]) -> Option<u64> {
        self.tracks
            .iter()
            .filter(|(_, t)| t.last_seen + 1 == frame && t.checks > 0)
            .map(|(id, t)| (*id, iou(&t.bbox, bbox), t))
            .filter(|(_, overlap, t)| *overlap >= 0.5 && self.same_person(t, check, similarities))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(id, _, _)| id)
    }

    /// Whether this face (its embedding and quality) is the one the track has been
    /// following: its embedding is close to the track's last one, or the track is named
    /// and the gallery, on this face alone, names the same person at the threshold for
    /// this face's magnitude and quality.
    fn same_person(&self, t: &TrackState, (embedding, quality): (&Embedding, f32), similarities: &[f32]) -> bool {
        if cosine(&t.last_embedding, &embedding.vector) >= self.cfg.same_person {
            return true;
        }
        let threshold = self.cfg.threshold.at_quality(embedding.magnitude, quality);
        t.person
            .is_some_and(|p| argmax(similarities).is_some_and(|(best, s)| best == p && s >= threshold))
    }

    /// [`Identities::observe_with_quality`] for a face of full quality.
    pub fn observe(
        &mut self,
        track: u64,
        frame: u64,
        bbox: Rect,
        embedding: &Embedding,
        similarities: &[f32],
    ) -> Answer {
        self.observe_with_quality(track, frame, bbox, embedding, 1.0, similarities)
    }

    /// Adds one check: the face (at `bbox`), its embedding, its quality
    /// ([`crate::quality`]) and its similarity to each enrolled person, in gallery order.
    pub fn observe_with_quality(
        &mut self,
        track: u64,
        frame: u64,
        bbox: Rect,
        embedding: &Embedding,
        quality: f32,
        similarities: &[f32],
    ) -> Answer {
        let area = bbox.area();
        let check = (embedding, quality);
        if !self.tracks.contains_key(&track)
            && let Some(old) = self.predecessor(frame, &bbox, check, similarities)
            && let Some(state) = self.tracks.remove(&old)
        {
            self.tracks.insert(track, state);
        }
        // Someone else now? (See the module comment.) Decided before the entry is
        // borrowed mutably below.
        let someone_else = self
            .tracks
            .get(&track)
            .is_some_and(|t| t.checks > 0 && !self.same_person(t, check, similarities));
        let cfg = &self.cfg;
        let good = quality >= cfg.quality_floor;
        // A poor check still counts, a quarter as much as a perfect one.
        let weight = 0.25 + 0.75 * quality.clamp(0.0, 1.0);
        let t = self.tracks.entry(track).or_insert_with(|| TrackState {
            evidence: similarities.to_vec(),
            magnitude: embedding.magnitude,
            quality,
            weights: 0.0,
            checks: 0,
            good_checks: 0,
            person: None,
            last_check: frame,
            checked_area: area,
            last_seen: frame,
            bbox,
            last_embedding: embedding.vector.clone(),
            look: None,
            look_changed: false,
        });
        if someone_else {
            // Forget what was said about the previous face.
            t.checks = 0;
            t.good_checks = 0;
            t.person = None;
        }
        if t.checks > 0 && t.evidence.len() == similarities.len() {
            // A mean weighted by quality over the first checks, then a running average
            // in which a better check moves further.
            let w = (cfg.weight * weight).max(weight / (t.weights + weight));
            for (e, s) in t.evidence.iter_mut().zip(similarities) {
                *e += w * (s - *e);
            }
            t.magnitude += w * (embedding.magnitude - t.magnitude);
            t.quality += w * (quality - t.quality);
            t.weights += weight;
        } else {
            t.evidence = similarities.to_vec();
            t.magnitude = embedding.magnitude;
            t.quality = quality;
            t.weights = weight;
        }
        if good {
            t.good_checks += 1;
        }
        t.last_embedding = embedding.vector.clone();
        t.look_changed = false;
        t.checks += 1;
        t.last_check = frame;
        t.last_seen = frame;
        t.bbox = bbox;
        t.checked_area = area;
        let best = argmax(&t.evidence);
        // A name is earned on a good check of a track seen well enough, at the threshold
        // for its quality; it is kept at the threshold for its magnitude alone.
        let to_earn = cfg.threshold.at_quality(t.magnitude, t.quality);
        let earns =
            |s: f32| good && s >= to_earn && (t.good_checks >= cfg.min_sightings || s >= to_earn + CLEAR_MATCH_MARGIN);
        let to_keep = cfg.threshold.at(t.magnitude);
        t.person = match (t.person, best) {
            (_, None) => None,
            (None, Some((b, s))) => earns(s).then_some(b),
            (Some(cur), Some((b, s))) => {
                let cur_s = t.evidence.get(cur).copied().unwrap_or(f32::NEG_INFINITY);
                if b != cur && earns(s) && s > cur_s + cfg.margin {
                    Some(b)
                } else if cur_s < to_keep - cfg.margin {
                    None
                } else {
                    Some(cur)
                }
            }
        };
        Self::answer_of(t)
    }

    /// The current answer for a track, if it was ever checked.
    pub fn answer(&self, track: u64) -> Option<Answer> {
        self.tracks.get(&track).map(Self::answer_of)
    }

    fn answer_of(t: &TrackState) -> Answer {
        let similarity = match t.person {
            Some(p) => t.evidence.get(p).copied().unwrap_or(0.0),
            None => t.evidence.iter().copied().fold(0.0f32, f32::max),
        };
        Answer {
            person: t.person,
            similarity,
        }
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

    /// A 10x10 face box (area 100).
    const BOX: Rect = Rect::new(0.0, 0.0, 10.0, 10.0);

    /// A clear face's embedding (magnitude at which the full threshold applies).
    fn clear(v: &[f32]) -> Embedding {
        Embedding {
            vector: v.to_vec(),
            magnitude: crate::gallery::CLEAR_MAGNITUDE,
        }
    }

    /// A tracker whose `track` was checked on frames 0..checks with a clear face [1, 0]
    /// and these similarities.
    fn settled(track: u64, checks: u64, sims: &[f32]) -> Identities {
        let mut id = ids();
        for f in 0..checks {
            id.observe(track, f, BOX, &clear(&[1.0, 0.0]), sims);
        }
        id
    }

    fn ids() -> Identities {
        Identities::new(IdentityConfig {
            threshold: MatchThreshold { clear: 0.45, poor: 0.3 },
            ..IdentityConfig::default()
        })
    }

    #[test]
    fn a_new_track_is_checked_on_its_first_frames_then_at_the_interval() {
        let e0 = clear(&[1.0, 0.0]);
        let mut id = ids();
        assert!(id.needs_check(7, 0, 100.0));
        for f in 0..3 {
            id.observe(7, f, BOX, &e0, &[0.6, 0.1]);
        }
        assert!(!id.needs_check(7, 3, 100.0));
        assert!(!id.needs_check(7, 11, 100.0));
        assert!(id.needs_check(7, 12, 100.0));
        // A face that grew a lot is checked at once.
        assert!(id.needs_check(7, 4, 160.0));
    }

    #[test]
    fn one_bad_frame_does_not_flip_the_name() {
        let e0 = clear(&[1.0, 0.0]);
        let mut id = ids();
        // A clear match (over the threshold by more than 0.05) is named at once.
        for f in 0..3 {
            assert_eq!(id.observe(1, f, BOX, &e0, &[0.6, 0.2]).person, Some(0));
        }
        // One frame that looks like person 1 (blur, a hand): the name stays.
        let a = id.observe(1, 3, BOX, &e0, &[0.3, 0.5]);
        assert_eq!(a.person, Some(0));
        // And one frame under the threshold does not make it unknown either.
        let a = id.observe(1, 4, BOX, &e0, &[0.35, 0.2]);
        assert_eq!(a.person, Some(0));
        assert!(a.similarity > 0.45, "{a:?}");
    }

    #[test]
    fn a_stranger_close_to_someone_on_a_few_frames_stays_unknown() {
        let e0 = clear(&[1.0, 0.0]);
        let mut id = ids();
        // Mostly 0.35 to person 0, now and then 0.47 (over the threshold on its own).
        let sims = [0.35, 0.47, 0.35, 0.35, 0.47, 0.35, 0.35];
        for (f, s) in sims.iter().enumerate() {
            let a = id.observe(2, f as u64, BOX, &e0, &[*s, 0.1]);
            assert_eq!(a.person, None, "frame {f}: {a:?}");
        }
    }

    #[test]
    fn a_sustained_change_does_change_the_name() {
        let e0 = clear(&[1.0, 0.0]);
        let mut id = settled(3, 3, &[0.6, 0.2]);
        let mut f = 3;
        let mut last = None;
        while f < 20 {
            last = id.observe(3, f, BOX, &e0, &[0.2, 0.7]).person;
            f += 1;
        }
        assert_eq!(last, Some(1));
    }

    #[test]
    fn someone_else_under_the_same_track_id_starts_afresh() {
        let e0 = clear(&[1.0, 0.0]);
        let mut id = ids();
        for f in 0..5 {
            id.observe(5, f, BOX, &e0, &[0.7, 0.1]);
        }
        // A very different embedding: the evidence for person 0 is dropped at once and
        // the new face is named from its own check.
        let a = id.observe(5, 5, BOX, &clear(&[0.0, 1.0]), &[0.1, 0.6]);
        assert_eq!(a.person, Some(1), "{a:?}");
        // A thumbnail that changes at once asks for a check on this very frame.
        // A left-to-right ramp, then the mirror image.
        let look = |rising: bool| {
            let px: Vec<u8> = (0..32 * 32)
                .flat_map(|i| [(if rising { i % 32 } else { 31 - i % 32 } * 8) as u8; 3])
                .collect();
            let view = crate::FrameView::packed(crate::PixelFormat::Rgb, 32, 32, &px, 96).expect("view");
            Appearance::of(&view, &Rect::new(0.0, 0.0, 32.0, 32.0))
        };
        let mut other = ids();
        for f in 0..3 {
            other.observe(6, f, BOX, &e0, &[0.7]);
            other.look(6, look(true));
        }
        assert!(!other.needs_check(6, 3, 100.0));
        other.look(6, look(false));
        assert!(other.needs_check(6, 3, 100.0));
    }

    #[test]
    fn a_poor_face_is_named_at_a_lower_similarity_than_a_clear_one() {
        let e0 = clear(&[1.0, 0.0]);
        let poor = Embedding {
            magnitude: crate::gallery::POOR_MAGNITUDE,
            ..e0.clone()
        };
        let (mut a, mut b) = (ids(), ids());
        for f in 0..5 {
            a.observe(1, f, BOX, &e0, &[0.36, 0.1]);
            b.observe(1, f, BOX, &poor, &[0.36, 0.1]);
        }
        assert_eq!(a.answer(1).map(|x| x.person), Some(None));
        assert_eq!(b.answer(1).map(|x| x.person), Some(Some(0)));
    }

    #[test]
    fn a_new_track_where_the_same_person_just_was_keeps_the_name() {
        let e0 = clear(&[1.0, 0.0]);
        let mut id = settled(1, 5, &[0.6, 0.1]);
        // The tracker cuts to track 2 in the same place on frame 5: a worse picture of
        // the same person (on its own under the threshold) keeps the name.
        let a = id.observe(2, 5, BOX, &clear(&crate::embed::normalise(&[0.98, 0.2])), &[0.4, 0.1]);
        assert_eq!(a.person, Some(0), "{a:?}");
        assert!(id.answer(1).is_none(), "the old track was handed over");
        // Someone else (a far embedding) in the same place starts from nothing ...
        let b = id.observe(3, 6, BOX, &clear(&[0.0, 1.0]), &[0.4, 0.1]);
        assert_eq!(b.person, None, "{b:?}");
        // ... and so does the same face somewhere else, or after a gap.
        let mut id = ids();
        id.observe(1, 0, BOX, &e0, &[0.6, 0.1]);
        let elsewhere = Rect::new(50.0, 0.0, 10.0, 10.0);
        assert_eq!(id.observe(2, 1, elsewhere, &e0, &[0.4, 0.1]).person, None);
        assert_eq!(id.observe(3, 9, BOX, &e0, &[0.4, 0.1]).person, None);
    }

    #[test]
    fn another_photo_of_the_same_person_keeps_the_name_when_the_gallery_agrees() {
        // Two photos of person 0 whose embeddings are far apart (cosine 0), the second
        // one still matched to person 0 by the gallery on its own.
        let other_photo = clear(&[0.0, 1.0]);
        // Under the same track id: the evidence is kept, the name never changes.
        let mut id = settled(1, 5, &[0.6, 0.1]);
        let a = id.observe(1, 5, BOX, &other_photo, &[0.5, 0.2]);
        assert_eq!(a.person, Some(0), "{a:?}");
        assert!(a.similarity > 0.5, "the evidence was kept: {a:?}");
        // As a new track where the old one just ended: handed over.
        let mut id = settled(1, 5, &[0.6, 0.1]);
        let a = id.observe(2, 5, BOX, &other_photo, &[0.5, 0.2]);
        assert_eq!(a.person, Some(0), "{a:?}");
        assert!(id.answer(1).is_none(), "the old track was handed over");
        // The gallery preferring someone else, or not reaching the threshold, is not
        // enough: the evidence starts afresh.
        let mut id = settled(1, 5, &[0.6, 0.1]);
        let a = id.observe(1, 5, BOX, &other_photo, &[0.5, 0.55]);
        assert_eq!(a.person, Some(1), "{a:?}");
        let mut id = settled(1, 5, &[0.6, 0.1]);
        let a = id.observe(1, 5, BOX, &other_photo, &[0.4, 0.1]);
        assert_eq!(a.person, None, "{a:?}");
        let mut id = settled(1, 5, &[0.6, 0.1]);
        assert_eq!(id.observe(2, 5, BOX, &other_photo, &[0.4, 0.1]).person, None);
    }

    #[test]
    fn forgotten_tracks_start_over() {
        let e0 = clear(&[1.0, 0.0]);
        let mut id = ids();
        id.observe(4, 0, BOX, &e0, &[0.6]);
        id.seen(4, 10, BOX);
        id.forget_old(300);
        assert!(id.answer(4).is_some());
        id.forget_old(311);
        assert!(id.answer(4).is_none());
    }

    #[test]
    fn a_marginal_match_is_named_only_after_several_sightings() {
        let e0 = clear(&[1.0, 0.0]);
        let mut id = ids();
        // Over the clear threshold (0.45), but not clearly: three good checks first.
        let named: Vec<_> = (0..4)
            .map(|f| id.observe(1, f, BOX, &e0, &[0.47, 0.2]).person)
            .collect();
        assert_eq!(named, vec![None, None, Some(0), Some(0)]);
        // Poor checks do not count as sightings: a track seen small twice and well once
        // is not named yet.
        let mut id = ids();
        id.observe_with_quality(2, 0, BOX, &e0, 0.3, &[0.47, 0.2]);
        id.observe_with_quality(2, 1, BOX, &e0, 0.3, &[0.47, 0.2]);
        assert_eq!(id.observe(2, 2, BOX, &e0, &[0.47, 0.2]).person, None);
        // And a poor track is looked at on every frame until it has had its sightings.
        assert!(id.needs_check(2, 3, BOX.area()));
    }

    #[test]
    fn a_poor_face_never_earns_a_name_but_keeps_one_earned_on_better_frames() {
        let poor = Embedding {
            magnitude: crate::gallery::POOR_MAGNITUDE,
            ..clear(&[1.0, 0.0])
        };
        // A small, dim face (a bystander in the back of a photo) close enough to
        // someone for a dim face's threshold, on every frame: never named.
        let mut id = ids();
        for f in 0..20 {
            let a = id.observe_with_quality(1, f, BOX, &poor, 0.3, &[0.36, 0.1]);
            assert_eq!(a.person, None, "frame {f}: {a:?}");
        }
        // Good enough to count, but a poorer face needs more than the dimmest's floor
        // (0.30): 0.36 at quality 0.6, so 0.35 is not enough, 0.41 is.
        let mut id = ids();
        for f in 0..20 {
            assert_eq!(
                id.observe_with_quality(2, f, BOX, &poor, 0.6, &[0.35, 0.1]).person,
                None
            );
        }
        let mut id = ids();
        let named = (0..5).map(|f| id.observe_with_quality(3, f, BOX, &poor, 0.6, &[0.41, 0.1]).person);
        assert_eq!(named.last(), Some(Some(0)));
        // Named on good frames, then small: the name stays through the poor frames.
        let mut id = settled(4, 5, &[0.6, 0.1]);
        for f in 5..30 {
            let a = id.observe_with_quality(4, f, BOX, &poor, 0.2, &[0.36, 0.1]);
            assert_eq!(a.person, Some(0), "frame {f}: {a:?}");
        }
        // ... but poor frames cannot change it to someone else.
        let mut id = settled(5, 5, &[0.6, 0.1]);
        for f in 5..30 {
            let a = id.observe_with_quality(5, f, BOX, &clear(&[1.0, 0.0]), 0.2, &[0.2, 0.9]);
            assert_ne!(a.person, Some(1), "frame {f}: {a:?}");
        }
    }
}
