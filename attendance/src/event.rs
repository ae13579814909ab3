//! One line of `facejson mode=events` (or `mode=both`) output, read into what the record
//! keeps: the event's id, camera, kind and time, and for a `left` event the visit.
//!
//! Only the keys the record needs are read, and read leniently where older files lack
//! them (no `id`, `utc` or `source`; no `name` with `identities=false`), so files from
//! every version of facejson can be ingested.

use crate::utc;
use serde_json::{Map, Value};

/// An event as the database keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// The event's own `id`, or for lines without one a hash of the camera and the line
    /// ([`fallback_id`]): the key that makes a replay count once.
    pub id: String,
    /// The camera: the line's `source`, else what the caller knows (the file's stem, the
    /// MQTT topic).
    pub source: String,
    /// "appeared", "identified", "left", "source-lost", "source-restored", or a kind a
    /// later facejson adds (kept, and otherwise ignored).
    pub kind: String,
    /// `utc` in milliseconds since 1970, when the line has it.
    pub utc_ms: Option<i64>,
    /// For `left`: the visit it ends.
    pub visit: Option<Visit>,
}

/// One visit: a track from its first frame to its last, from a `left` event.
#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    /// The name the track settled on; "unknown" for a stranger and for events written
    /// without identities.
    pub person: String,
    pub track_id: Option<i64>,
    /// Stream seconds of the first and last frame.
    pub first_seen: Option<f64>,
    pub last_seen: Option<f64>,
    /// Seconds in view (0 when the stream had no timestamps).
    pub duration: f64,
    pub frames: i64,
    /// Wall-clock times of the first and last frame, milliseconds since 1970.
    pub first_utc_ms: Option<i64>,
    pub last_utc_ms: Option<i64>,
    /// Share of the visit's frames in each emotion (label → 0..1).
    pub emotions: Vec<(String, f64)>,
    pub reason: Option<String>,
}

/// Reads one line. `Ok(None)`: a line that is not an event (a frame line, a status
/// message, a blank line), skipped without a word. `Err`: a line that is neither JSON nor
/// a well-formed event; the caller warns and goes on.
pub fn parse_line(line: &str, fallback_source: &str) -> Result<Option<Incoming>, String> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON ({e})"))?;
    let Value::Object(obj) = value else {
        return Err("not a JSON object".into());
    };
    let Some(kind) = obj.get("event") else {
        // Frame lines (mode=both) and status messages have no "event" key.
        return Ok(None);
    };
    let kind = kind.as_str().ok_or("\"event\" is not a string")?.to_string();
    let source = match opt_str(&obj, "source")? {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => fallback_source.to_string(),
    };
    let id = match opt_str(&obj, "id")? {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => fallback_id(&source, line),
    };
    let utc_ms = opt_utc(&obj, "utc")?;
    let visit = if kind == "left" {
        Some(visit(&obj, utc_ms)?)
    } else {
        None
    };
    Ok(Some(Incoming {
        id,
        source,
        kind,
        utc_ms,
        visit,
    }))
}

fn visit(obj: &Map<String, Value>, last_utc_ms: Option<i64>) -> Result<Visit, String> {
    let emotions = match obj.get("emotions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(label, share)| {
                share
                    .as_f64()
                    .filter(|s| s.is_finite())
                    .map(|s| (label.clone(), s))
                    .ok_or_else(|| format!("emotion '{label}' has no numeric share"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("\"emotions\" is not an object".into()),
    };
    let person = match opt_str(obj, "name")? {
        Some(n) if !n.is_empty() => n.to_string(),
        // No name: facejson identities=false, or a file from before names.
        _ => "unknown".to_string(),
    };
    Ok(Visit {
        person,
        track_id: opt_i64(obj, "track_id")?,
        first_seen: opt_f64(obj, "first_seen")?,
        last_seen: opt_f64(obj, "last_seen")?,
        // A stream without timestamps has no duration: the visit still counts.
        duration: opt_f64(obj, "duration")?.unwrap_or(0.0).max(0.0),
        frames: opt_i64(obj, "frames")?.unwrap_or(0),
        first_utc_ms: opt_utc(obj, "first_seen_utc")?.or(last_utc_ms),
        last_utc_ms,
        emotions,
        reason: opt_str(obj, "reason")?.map(str::to_string),
    })
}

/// The id of a line that has none: FNV-1a (64 bit) over the camera and the line's exact
/// text. Stable across runs and Rust versions, unlike std's `DefaultHasher`, so a file
/// read again maps to the same ids. The camera is part of it because two cameras
/// replaying the same recording write identical lines, and those are two visits.
pub fn fallback_id(source: &str, line: &str) -> String {
    let mut hash = Fnv1a::new();
    hash.write(source.as_bytes());
    // A separator no source name or JSON line can hold, so ("ab", "c") ≠ ("a", "bc").
    hash.write(&[0]);
    hash.write(line.as_bytes());
    format!("line-{:016x}", hash.0)
}

/// FNV-1a, 64 bit (the published offset basis and prime).
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

fn opt_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("\"{key}\" is not a string")),
    }
}

fn opt_f64(obj: &Map<String, Value>, key: &str) -> Result<Option<f64>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|x| x.is_finite())
            .map(Some)
            .ok_or_else(|| format!("\"{key}\" is not a number")),
    }
}

fn opt_i64(obj: &Map<String, Value>, key: &str) -> Result<Option<i64>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("\"{key}\" is not an integer")),
    }
}

fn opt_utc(obj: &Map<String, Value>, key: &str) -> Result<Option<i64>, String> {
    opt_str(obj, key)?
        .map(|t| utc::parse(t).map_err(|e| format!("\"{key}\": {e}")))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEFT: &str = r#"{"event":"left","track_id":1,"id":"9f3a0c2e11d4b7a5-17","utc":"2026-12-03T12:00:06.123Z","source":"door","frame":75,"pts":3000000000,"time":3.0,"first_seen":1.04,"last_seen":3.0,"first_seen_utc":"2026-12-03T12:00:04.163Z","duration":2.0,"frames":50,"name":"Barack_Obama","emotions":{"angry":0.75,"happy":0.25},"reason":"gone"}"#;

    #[test]
    fn a_left_line_is_a_visit_with_its_id_camera_and_times() {
        let e = parse_line(LEFT, "file-stem").expect("parses").expect("an event");
        assert_eq!(
            (e.id.as_str(), e.source.as_str(), e.kind.as_str()),
            ("9f3a0c2e11d4b7a5-17", "door", "left")
        );
        let v = e.visit.expect("a visit");
        assert_eq!(v.person, "Barack_Obama");
        assert_eq!((v.duration, v.frames, v.track_id), (2.0, 50, Some(1)));
        assert_eq!((v.first_seen, v.last_seen), (Some(1.04), Some(3.0)));
        assert_eq!(v.last_utc_ms, e.utc_ms);
        assert_eq!(
            v.first_utc_ms.map(utc::format).as_deref(),
            Some("2026-12-03T12:00:04.163Z")
        );
        assert_eq!(
            v.emotions,
            vec![("angry".to_string(), 0.75), ("happy".to_string(), 0.25)]
        );
        assert_eq!(v.reason.as_deref(), Some("gone"));
    }

    #[test]
    fn an_old_line_gets_a_stable_id_and_the_callers_camera() {
        let line = r#"{"event":"left","track_id":1,"frame":75,"first_seen":1.04,"last_seen":3.0,"duration":2.0,"frames":50,"emotions":{},"reason":"gone"}"#;
        let a = parse_line(line, "cam1").expect("parses").expect("an event");
        let b = parse_line(line, "cam1").expect("parses").expect("an event");
        assert_eq!(a.id, b.id, "the same line, the same id");
        assert_eq!(a.source, "cam1");
        let v = a.visit.expect("a visit");
        assert_eq!(
            (v.person.as_str(), v.first_utc_ms),
            ("unknown", None),
            "no name: unknown"
        );
        // Other camera, other visit; one character more, other event.
        assert_ne!(a.id, parse_line(line, "cam2").expect("parses").expect("event").id);
        let longer = line.replace("\"gone\"", "\"end\"");
        assert_ne!(a.id, parse_line(&longer, "cam1").expect("parses").expect("event").id);
    }

    #[test]
    fn fnv1a_is_the_published_function() {
        // Reference values of FNV-1a 64 for "" and "a".
        let mut h = Fnv1a::new();
        assert_eq!(h.0, 0xcbf29ce484222325);
        h.write(b"a");
        assert_eq!(h.0, 0xaf63dc4c8601ec8c);
        assert_eq!(
            fallback_id("", ""),
            format!("line-{:016x}", {
                let mut h = Fnv1a::new();
                h.write(&[0]);
                h.0
            })
        );
    }

    #[test]
    fn frame_lines_and_status_messages_are_not_events_and_junk_is_an_error() {
        for quiet in [
            r#"{"frame":3,"pts":120000000,"width":640,"height":360,"faces":[]}"#,
            r#"{"status":"online","source":"door"}"#,
            "",
            "   ",
        ] {
            assert_eq!(parse_line(quiet, "x"), Ok(None), "{quiet}");
        }
        for junk in [
            "garbage",
            "[1,2]",
            r#"{"event":3}"#,
            r#"{"event":"left","duration":"long"}"#,
            r#"{"event":"left","emotions":[1]}"#,
            r#"{"event":"left","emotions":{"happy":"a lot"}}"#,
            r#"{"event":"left","utc":"yesterday"}"#,
            r#"{"event":"appeared","source":7}"#,
            r#"{"event":"left""#,
        ] {
            assert!(parse_line(junk, "x").is_err(), "{junk}");
        }
    }

    #[test]
    fn other_events_are_kept_without_a_visit() {
        let e = parse_line(
            r#"{"event":"source-lost","source":"door","frame":9,"reason":"no frame for 5.0 s"}"#,
            "x",
        )
        .expect("parses")
        .expect("an event");
        assert_eq!((e.kind.as_str(), e.visit), ("source-lost", None));
    }
}
