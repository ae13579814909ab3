//! Face events: what happened to each tracked face over a stream, from the per-frame
//! records `facejson` already builds.
//!
//! Per track: `appeared` on its first frame, `identified` whenever its name settles on
//! someone (faceid's per-track hysteresis has done the settling; a later change to
//! another name is a new `identified`), and `left` once the track has been absent for
//! `leave_after` frames or the stream ends, with the time in view, the identity and the
//! share of its frames spent in each emotion. Attendance ("who was there, when, for how
//! long") and engagement ("how they looked") tables are sums of `left` events.
//!
//! Faces without a track id (facedetect `tracking=false`) have no identity over time and
//! produce no events.
//!
//! A live source that fails (a camera that drops out) ends every track at once with
//! `left` (reason `source-lost`) followed by `source-lost`; the first frame after it
//! comes back brings `source-restored` with how long it was away.

use crate::record::{FaceRecord, ordered_map};
use serde::Serialize;
use std::collections::BTreeMap;

/// Frames a track must be missing from the metadata before it counts as gone.
/// facedetect reports a face it misses where its track predicts it for as long as the
/// place still shows it, so a track is missing only once its face is really gone or
/// hidden; a face found again later under the same id (within facedetect's
/// `keep-lost`) starts a new visit of that track.
pub const DEFAULT_LEAVE_AFTER: u32 = 5;

/// Where and when something happened: the stream's source name, if it has one, and the
/// stream position; with stamps ([`FaceEvents::with_stamps`]) also the event's unique id
/// and the wall-clock time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct When {
    /// Unique over every event of every run: a consumer that receives an event twice
    /// (an MQTT QoS 1 resend, a file read again) drops the second by it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Wall-clock time (UTC, ISO 8601 with milliseconds) at which the element saw the
    /// frame: the stream position says where in the video, this says when in the day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utc: Option<String>,
    /// The name of the stream's source (a camera), when the stream has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Frame number (counted as facejson counts them, from 0).
    pub frame: u64,
    /// Buffer timestamp in nanoseconds, when the buffer had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pts: Option<u64>,
    /// `pts` in seconds, for people reading the line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<f64>,
}

impl When {
    pub fn new(frame: u64, pts: Option<u64>) -> Self {
        Self {
            id: None,
            utc: None,
            source: None,
            frame,
            pts,
            time: pts.map(|p| round3(p as f64 / 1e9)),
        }
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn round4(v: f64) -> f64 {
    (v * 10000.0).round() / 10000.0
}

/// One event, serialised as a JSON object with `"event": "appeared" | "identified" |
/// "left" | "source-lost" | "source-restored"`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Event {
    Appeared {
        track_id: u64,
        #[serde(flatten)]
        at: When,
        #[serde(rename = "box")]
        bbox: [f64; 4],
    },
    Identified {
        track_id: u64,
        #[serde(flatten)]
        at: When,
        name: String,
        similarity: f64,
    },
    Left {
        track_id: u64,
        /// The last frame the face was seen on.
        #[serde(flatten)]
        at: When,
        /// First and last timestamps the face was seen at (seconds).
        #[serde(skip_serializing_if = "Option::is_none")]
        first_seen: Option<f64>,
        /// Wall-clock time of the first frame it was on (with stamps); `utc` is the last.
        #[serde(skip_serializing_if = "Option::is_none")]
        first_seen_utc: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        last_seen: Option<f64>,
        /// Time in view in seconds: last minus first, plus one frame.
        #[serde(skip_serializing_if = "Option::is_none")]
        duration: Option<f64>,
        /// Frames the face was on.
        frames: u64,
        /// The last name the track settled on, or "unknown"; absent when the events
        /// leave identities out ([`FaceEvents::with_identities`]).
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// Share of the frames with an emotion spent in each (label → 0..1), labels in
        /// the order they were first seen; empty without faceemotion.
        #[serde(serialize_with = "ordered_map")]
        emotions: Vec<(String, f64)>,
        /// Why it ended: "gone" (absent for leave-after frames), "end" (end of stream,
        /// a seek or the element stopping) or "source-lost" (the camera dropped out).
        reason: &'static str,
    },
    /// The stream's source failed; `at` is the last frame it gave.
    #[serde(rename = "source-lost")]
    SourceLost {
        #[serde(flatten)]
        at: When,
        /// What failed, as the supervisor saw it (an error, no data for a while, an end of
        /// stream from a live source).
        reason: String,
    },
    /// The source gives frames again; `at` is the first of them.
    #[serde(rename = "source-restored")]
    SourceRestored {
        #[serde(flatten)]
        at: When,
        /// Seconds between the last frame before the loss and this one.
        #[serde(skip_serializing_if = "Option::is_none")]
        lost_for: Option<f64>,
    },
}

impl Event {
    /// The track a face event is about; `None` for the source's events.
    pub fn track_id(&self) -> Option<u64> {
        match self {
            Self::Appeared { track_id, .. } | Self::Identified { track_id, .. } | Self::Left { track_id, .. } => {
                Some(*track_id)
            }
            Self::SourceLost { .. } | Self::SourceRestored { .. } => None,
        }
    }

    /// Where and when it happened.
    pub fn at(&self) -> &When {
        match self {
            Self::Appeared { at, .. }
            | Self::Identified { at, .. }
            | Self::Left { at, .. }
            | Self::SourceLost { at, .. }
            | Self::SourceRestored { at, .. } => at,
        }
    }

    fn at_mut(&mut self) -> &mut When {
        match self {
            Self::Appeared { at, .. }
            | Self::Identified { at, .. }
            | Self::Left { at, .. }
            | Self::SourceLost { at, .. }
            | Self::SourceRestored { at, .. } => at,
        }
    }

    /// The event's unique id, when the events are stamped.
    pub fn id(&self) -> Option<&str> {
        self.at().id.as_deref()
    }

    /// "appeared", "identified", "left", "source-lost" or "source-restored".
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Appeared { .. } => "appeared",
            Self::Identified { .. } => "identified",
            Self::Left { .. } => "left",
            Self::SourceLost { .. } => "source-lost",
            Self::SourceRestored { .. } => "source-restored",
        }
    }

    /// One line of JSON, no trailing newline.
    pub fn to_line(&self) -> String {
        // Plain numbers and strings: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

struct TrackLog {
    first: When,
    last: When,
    frames: u64,
    /// Frames since the track was last on a frame.
    missing: u32,
    identified: Option<String>,
    /// Frames per emotion label, in first-seen order.
    emotions: Vec<(String, u64)>,
}

/// Turns per-frame face records into events; one per stream.
pub struct FaceEvents {
    leave_after: u32,
    source: Option<String>,
    tracks: BTreeMap<u64, TrackLog>,
    /// Last gap between two timestamps: the length of "one frame" in `duration`.
    frame_period: Option<u64>,
    last_pts: Option<u64>,
    /// The last frame seen (number and timestamp), where a loss of the source is placed.
    last_frame: Option<(u64, Option<u64>)>,
    /// While the source is lost: the timestamp of its last frame (if it had one).
    lost_at: Option<Option<u64>>,
    /// Whether events say who: `identified` events and the name in `left`.
    identities: bool,
    /// With stamps: this run's random prefix of event ids, and the events so far.
    stamps: Option<(String, u64)>,
}

impl Default for FaceEvents {
    fn default() -> Self {
        Self::new(DEFAULT_LEAVE_AFTER)
    }
}

impl FaceEvents {
    pub fn new(leave_after: u32) -> Self {
        Self {
            leave_after: leave_after.max(1),
            source: None,
            tracks: BTreeMap::new(),
            frame_period: None,
            last_pts: None,
            last_frame: None,
            lost_at: None,
            identities: true,
            stamps: None,
        }
    }

    /// With `true`, every event carries a unique `id` (this run's random prefix and a
    /// count) and `utc`, the wall-clock time its frame was seen at.
    pub fn with_stamps(mut self, stamps: bool) -> Self {
        self.stamps = stamps.then(|| (run_id(), 0));
        self
    }

    /// Gives each event its id (stamped events only): called on every batch that leaves.
    fn stamped(&mut self, mut events: Vec<Event>) -> Vec<Event> {
        if let Some((run, n)) = &mut self.stamps {
            for e in &mut events {
                e.at_mut().id = Some(format!("{run}-{n}"));
                *n += 1;
            }
        }
        events
    }

    /// With `false`, no event says who a face is: no `identified` events and no name in
    /// `left`, for a stream that must keep only counts and times.
    pub fn with_identities(mut self, identities: bool) -> Self {
        self.identities = identities;
        self
    }

    /// Every event names `source` (a camera's name) from now on.
    pub fn with_source(mut self, source: Option<String>) -> Self {
        self.source = source.filter(|s| !s.is_empty());
        self
    }

    fn when(&self, frame: u64, pts: Option<u64>) -> When {
        When {
            source: self.source.clone(),
            utc: self.stamps.as_ref().map(|_| utc_now()),
            ..When::new(frame, pts)
        }
    }

    /// The events one frame causes, in order: tracks gone first, then new ones, then
    /// identities that settled.
    pub fn frame(&mut self, frame: u64, pts: Option<u64>, faces: &[FaceRecord]) -> Vec<Event> {
        let at = self.when(frame, pts);
        let mut events = Vec::new();
        if let Some(lost_pts) = self.lost_at.take() {
            let lost_for = match (lost_pts, pts) {
                (Some(a), Some(b)) if b >= a => Some(round3((b - a) as f64 / 1e9)),
                _ => None,
            };
            events.push(Event::SourceRestored {
                at: at.clone(),
                lost_for,
            });
            // The gap is the outage, not a frame period.
            self.last_pts = None;
        }
        if let (Some(now), Some(before)) = (pts, self.last_pts)
            && now > before
        {
            self.frame_period = Some(now - before);
        }
        self.last_pts = pts.or(self.last_pts);
        self.last_frame = Some((frame, pts));

        for log in self.tracks.values_mut() {
            log.missing += 1;
        }
        let mut new_or_named = Vec::new();
        for face in faces {
            let Some(id) = face.track_id else { continue };
            let log = self.tracks.entry(id).or_insert_with(|| {
                new_or_named.push(Event::Appeared {
                    track_id: id,
                    at: at.clone(),
                    bbox: face.bbox,
                });
                TrackLog {
                    first: at.clone(),
                    last: at.clone(),
                    frames: 0,
                    missing: 0,
                    identified: None,
                    emotions: Vec::new(),
                }
            });
            log.last = at.clone();
            log.frames += 1;
            log.missing = 0;
            if let Some(emotion) = &face.emotion {
                match log.emotions.iter_mut().find(|(l, _)| *l == emotion.label) {
                    Some((_, n)) => *n += 1,
                    None => log.emotions.push((emotion.label.clone(), 1)),
                }
            }
            if let Some(identity) = face.identity.as_ref().filter(|_| self.identities)
                && identity.name != "unknown"
                && log.identified.as_deref() != Some(identity.name.as_str())
            {
                log.identified = Some(identity.name.clone());
                new_or_named.push(Event::Identified {
                    track_id: id,
                    at: at.clone(),
                    name: identity.name.clone(),
                    similarity: identity.similarity,
                });
            }
        }

        let gone: Vec<u64> = self
            .tracks
            .iter()
            .filter(|(_, log)| log.missing >= self.leave_after)
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            if let Some(log) = self.tracks.remove(&id) {
                events.push(self.left(id, log, "gone"));
            }
        }
        events.extend(new_or_named);
        self.stamped(events)
    }

    /// Every track still in view has left: end of stream, a seek, or the element stopping.
    pub fn finish(&mut self) -> Vec<Event> {
        let tracks = std::mem::take(&mut self.tracks);
        self.last_pts = None;
        let left = tracks.into_iter().map(|(id, log)| self.left(id, log, "end")).collect();
        self.stamped(left)
    }

    /// The source failed (`reason`): every track leaves at its last frame, then
    /// `source-lost` at the last frame the source gave. The next [`FaceEvents::frame`]
    /// starts with `source-restored`. A second loss before any frame came back (a
    /// reconnection that failed again) adds nothing.
    pub fn source_lost(&mut self, reason: &str) -> Vec<Event> {
        if self.lost_at.is_some() {
            return Vec::new();
        }
        let tracks = std::mem::take(&mut self.tracks);
        let mut events: Vec<Event> = tracks
            .into_iter()
            .map(|(id, log)| self.left(id, log, "source-lost"))
            .collect();
        let (frame, pts) = self.last_frame.unwrap_or((0, None));
        // Its `utc` is now, when the loss was noticed, wherever in the stream it is placed.
        events.push(Event::SourceLost {
            at: self.when(frame, pts),
            reason: reason.to_string(),
        });
        self.lost_at = Some(pts);
        self.stamped(events)
    }

    /// Whether the source is lost (between [`FaceEvents::source_lost`] and the next frame).
    pub fn is_source_lost(&self) -> bool {
        self.lost_at.is_some()
    }

    /// Tracks currently in view.
    pub fn in_view(&self) -> usize {
        self.tracks.len()
    }

    fn left(&self, track_id: u64, log: TrackLog, reason: &'static str) -> Event {
        let first_seen = log.first.time;
        let last_seen = log.last.time;
        let duration = match (log.first.pts, log.last.pts) {
            (Some(a), Some(b)) if b >= a => Some(round3((b - a + self.frame_period.unwrap_or(0)) as f64 / 1e9)),
            _ => None,
        };
        let with_emotion: u64 = log.emotions.iter().map(|(_, n)| n).sum();
        let emotions = log
            .emotions
            .iter()
            .map(|(label, n)| (label.clone(), round4(*n as f64 / with_emotion.max(1) as f64)))
            .collect();
        Event::Left {
            track_id,
            first_seen_utc: log.first.utc.clone(),
            at: log.last,
            first_seen,
            last_seen,
            duration,
            frames: log.frames,
            name: self
                .identities
                .then(|| log.identified.unwrap_or_else(|| "unknown".into())),
            emotions,
            reason,
        }
    }
}

/// A random 64-bit run prefix in hex: std's hasher keys are drawn at random per
/// process, and the time and process id set them apart further.
fn run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    h.write_u128(now.as_nanos());
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

/// Now, as `2026-12-03T12:00:06.123Z`.
fn utc_now() -> String {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    utc_string(since.as_millis() as i64)
}

/// Milliseconds since 1970 as ISO 8601 UTC (the proleptic Gregorian calendar; days to
/// a civil date by the era arithmetic of Howard Hinnant's `civil_from_days`).
pub fn utc_string(millis: i64) -> String {
    let secs = millis.div_euclid(1000);
    let ms = millis.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{EmotionRecord, IdentityRecord};

    #[test]
    fn utc_strings_are_iso_dates() {
        assert_eq!(utc_string(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc_string(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(utc_string(1_796_299_206_500), "2026-12-03T12:00:06.500Z");
    }

    #[test]
    fn stamped_events_have_unique_ids_and_a_time() {
        let mut ev = FaceEvents::new(2).with_stamps(true);
        let mut all = ev.frame(
            0,
            Some(0),
            &[face(Some(1), Some("Ann"), None), face(Some(2), None, None)],
        );
        all.extend(ev.frame(1, Some(PERIOD), &[]));
        all.extend(ev.frame(2, Some(2 * PERIOD), &[]));
        all.extend(ev.source_lost("gone"));
        let ids: std::collections::BTreeSet<_> = all.iter().map(|e| e.id().expect("an id").to_string()).collect();
        assert_eq!(ids.len(), all.len());
        assert!(
            all.iter()
                .all(|e| e.at().utc.as_ref().is_some_and(|u| u.ends_with('Z')))
        );
        let line = all[0].to_line();
        assert!(line.contains("\"id\":") && line.contains("\"utc\":"), "{line}");
        // Without stamps, none of it.
        let mut plain = FaceEvents::new(2);
        let e = plain.frame(0, Some(0), &[face(Some(1), None, None)]);
        assert!(!e[0].to_line().contains("\"id\""));
    }

    const PERIOD: u64 = 40_000_000; // 25 fps

    fn face(track: Option<u64>, name: Option<&str>, emotion: Option<&str>) -> FaceRecord {
        FaceRecord {
            bbox: [10.0, 20.0, 30.0, 40.0],
            track_id: track,
            identity: name.map(|n| IdentityRecord {
                name: n.into(),
                similarity: 0.5,
            }),
            emotion: emotion.map(|e| EmotionRecord {
                label: e.into(),
                confidence: 0.9,
                scores: vec![],
            }),
            ..Default::default()
        }
    }

    fn run(frames: &[Vec<FaceRecord>]) -> Vec<Event> {
        let mut ev = FaceEvents::new(5);
        let mut out = Vec::new();
        for (i, faces) in frames.iter().enumerate() {
            out.extend(ev.frame(i as u64, Some(i as u64 * PERIOD), faces));
        }
        out.extend(ev.finish());
        out
    }

    #[test]
    fn a_visit_appears_gets_a_name_and_leaves_with_its_time_and_emotions() {
        // Frames 0-9 empty, 10-59 the person (unknown for 3 frames, then named; happy
        // for 30 frames, sad for 20), then 20 empty frames.
        let mut frames = vec![vec![]; 10];
        for i in 0..50 {
            let name = if i < 3 { "unknown" } else { "Ada" };
            let emotion = if i < 30 { "happy" } else { "sad" };
            frames.push(vec![face(Some(7), Some(name), Some(emotion))]);
        }
        frames.extend(vec![vec![]; 20]);
        let events = run(&frames);
        let kinds: Vec<_> = events.iter().map(Event::kind).collect();
        assert_eq!(kinds, ["appeared", "identified", "left"]);
        match &events[0] {
            Event::Appeared { at, track_id, .. } => {
                assert_eq!((*track_id, at.frame, at.time), (7, 10, Some(0.4)));
            }
            e => panic!("{e:?}"),
        }
        match &events[1] {
            Event::Identified { at, name, .. } => assert_eq!((at.frame, name.as_str()), (13, "Ada")),
            e => panic!("{e:?}"),
        }
        match &events[2] {
            Event::Left {
                at,
                duration,
                frames,
                name,
                emotions,
                reason,
                first_seen,
                last_seen,
                ..
            } => {
                assert_eq!(at.frame, 59, "the last frame it was seen on");
                assert_eq!((*first_seen, *last_seen), (Some(0.4), Some(2.36)));
                assert_eq!(*duration, Some(2.0), "50 frames at 25 fps");
                assert_eq!(*frames, 50);
                assert_eq!(name.as_deref(), Some("Ada"));
                assert_eq!(emotions, &vec![("happy".to_string(), 0.6), ("sad".to_string(), 0.4)]);
                assert_eq!(*reason, "gone");
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn left_comes_after_leave_after_missing_frames_not_before() {
        let mut ev = FaceEvents::new(5);
        assert_eq!(ev.frame(0, Some(0), &[face(Some(1), None, None)]).len(), 1);
        for i in 1..5 {
            assert!(ev.frame(i, Some(i * PERIOD), &[]).is_empty(), "frame {i}");
        }
        let out = ev.frame(5, Some(5 * PERIOD), &[]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].kind(), "left");
        assert_eq!(ev.in_view(), 0);
    }

    #[test]
    fn a_track_back_within_leave_after_is_one_visit() {
        let mut frames = vec![vec![face(Some(3), None, None)]; 5];
        frames.extend(vec![vec![]; 3]);
        frames.extend(vec![vec![face(Some(3), None, None)]; 5]);
        let events = run(&frames);
        let kinds: Vec<_> = events.iter().map(Event::kind).collect();
        assert_eq!(kinds, ["appeared", "left"]);
        match &events[1] {
            Event::Left {
                frames,
                name,
                reason,
                emotions,
                ..
            } => {
                assert_eq!((*frames, name.as_deref(), *reason), (10, Some("unknown"), "end"));
                assert!(emotions.is_empty());
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn without_identities_no_event_says_who() {
        let mut ev = FaceEvents::new(5).with_identities(false);
        let mut out = Vec::new();
        for i in 0..10 {
            out.extend(ev.frame(i, Some(i * PERIOD), &[face(Some(1), Some("Ada"), Some("happy"))]));
        }
        out.extend(ev.finish());
        assert_eq!(out.len(), 2, "appeared and left only: {out:?}");
        let Event::Left { name, frames, .. } = &out[1] else {
            panic!("{out:?}")
        };
        assert_eq!((name, *frames), (&None, 10));
        let line = out[1].to_line();
        assert!(!line.contains("Ada") && !line.contains("name"), "{line}");
    }

    #[test]
    fn a_new_name_is_a_new_identified_and_left_reports_the_last() {
        let frames = vec![
            vec![face(Some(1), Some("Ada"), None)],
            vec![face(Some(1), Some("Ada"), None)],
            vec![face(Some(1), Some("unknown"), None)],
            vec![face(Some(1), Some("Bob"), None)],
        ];
        let events = run(&frames);
        let names: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Identified { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(names, ["Ada", "Bob"]);
        match events.last() {
            Some(Event::Left { name, .. }) => assert_eq!(name.as_deref(), Some("Bob")),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn untracked_faces_give_no_events_and_two_people_are_kept_apart() {
        let frames = vec![
            vec![face(None, Some("Ada"), None)],
            vec![face(Some(1), None, None), face(Some(2), Some("Bob"), None)],
        ];
        let events = run(&frames);
        let kinds: Vec<_> = events.iter().map(|e| (e.kind(), e.track_id())).collect();
        assert_eq!(
            kinds,
            [
                ("appeared", Some(1)),
                ("appeared", Some(2)),
                ("identified", Some(2)),
                ("left", Some(1)),
                ("left", Some(2))
            ]
        );
    }

    #[test]
    fn lines_carry_the_event_kind_and_leave_out_what_is_unknown() {
        let e = Event::Appeared {
            track_id: 4,
            at: When::new(12, None),
            bbox: [1.0, 2.0, 3.0, 4.0],
        };
        assert_eq!(
            e.to_line(),
            r#"{"event":"appeared","track_id":4,"frame":12,"box":[1.0,2.0,3.0,4.0]}"#
        );
        let l = run(&[vec![face(Some(9), None, Some("neutral"))]]).pop().expect("left");
        let line = l.to_line();
        assert!(
            line.starts_with(r#"{"event":"left","track_id":9,"frame":0,"pts":0,"time":0.0"#),
            "{line}"
        );
        assert!(line.contains(r#""emotions":{"neutral":1.0}"#), "{line}");
    }

    #[test]
    fn a_lost_source_ends_every_track_and_its_return_says_how_long_it_was_away() {
        let mut ev = FaceEvents::new(5).with_source(Some("cam1".into()));
        let mut out = Vec::new();
        for i in 0..3u64 {
            out.extend(ev.frame(i, Some(i * PERIOD), &[face(Some(1), Some("Ada"), None)]));
        }
        out.extend(ev.source_lost("no data for 5 s"));
        // A reconnection that fails again before any frame: nothing new.
        assert!(ev.source_lost("connection refused").is_empty());
        assert!(ev.is_source_lost());
        // Back 10 s after the last frame, with the same face: a new visit.
        let back = 2 * PERIOD + 10_000_000_000;
        out.extend(ev.frame(3, Some(back), &[face(Some(2), Some("Ada"), None)]));
        out.extend(ev.finish());
        let kinds: Vec<_> = out.iter().map(|e| (e.kind(), e.track_id())).collect();
        assert_eq!(
            kinds,
            [
                ("appeared", Some(1)),
                ("identified", Some(1)),
                ("left", Some(1)),
                ("source-lost", None),
                ("source-restored", None),
                ("appeared", Some(2)),
                ("identified", Some(2)),
                ("left", Some(2)),
            ]
        );
        let Event::Left { reason, frames, at, .. } = &out[2] else {
            panic!("{:?}", out[2])
        };
        assert_eq!((*reason, *frames, at.frame), ("source-lost", 3, 2));
        assert_eq!(
            out[3].to_line(),
            r#"{"event":"source-lost","source":"cam1","frame":2,"pts":80000000,"time":0.08,"reason":"no data for 5 s"}"#
        );
        let Event::SourceRestored { at, lost_for } = &out[4] else {
            panic!("{:?}", out[4])
        };
        assert_eq!((at.frame, *lost_for), (3, Some(10.0)));
        assert!(out.iter().all(|e| e.at().source.as_deref() == Some("cam1")));
        // The outage is not a frame period: the second visit lasts one frame, not 10 s.
        let Event::Left { duration, .. } = &out[7] else {
            panic!("{:?}", out[7])
        };
        assert_eq!(*duration, Some(0.04));
    }
}
