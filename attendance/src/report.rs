//! The attendance table: one row per person and camera, summed from the visits.
//!
//! A row's emotion shares are its visits' shares weighted by each visit's time in view,
//! so a long visit counts for more than a glance; faces nobody in the gallery matched
//! are summed as "unknown" and listed last.

use crate::store::Recorded;
use crate::utc;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// When a row's person was first or last seen: wall-clock time when the events carry it,
/// else the stream position (seconds), which is all an older file has.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Seen {
    Utc(i64),
    Stream(f64),
}

impl Seen {
    fn text(self) -> String {
        match self {
            Seen::Utc(ms) => utc::format(ms),
            Seen::Stream(s) => format!("{s:.3}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub person: String,
    pub camera: String,
    pub visits: usize,
    pub first: Option<Seen>,
    pub last: Option<Seen>,
    /// Time in view: the visits' durations summed.
    pub seconds: f64,
    /// Emotion label → share of the time in view (0..1), the shares summing to 1.
    pub emotions: BTreeMap<String, f64>,
}

/// Sums `visits` per person and camera; rows by person (unknown last), then camera.
pub fn rows(visits: &[Recorded]) -> Vec<Row> {
    let mut groups: BTreeMap<(bool, &str, &str), Vec<&Recorded>> = BTreeMap::new();
    for r in visits {
        let person = r.visit.person.as_str();
        groups
            .entry((person == "unknown", person, r.source.as_str()))
            .or_default()
            .push(r);
    }
    groups
        .into_iter()
        .map(|((_, person, camera), vs)| row(person, camera, &vs))
        .collect()
}

fn row(person: &str, camera: &str, visits: &[&Recorded]) -> Row {
    let utc_first = visits.iter().filter_map(|r| r.visit.first_utc_ms).min();
    let utc_last = visits.iter().filter_map(|r| r.visit.last_utc_ms).max();
    let min_f = |a: f64, b: f64| a.min(b);
    let max_f = |a: f64, b: f64| a.max(b);
    let first = utc_first.map(Seen::Utc).or_else(|| {
        visits
            .iter()
            .filter_map(|r| r.visit.first_seen)
            .reduce(min_f)
            .map(Seen::Stream)
    });
    let last = utc_last.map(Seen::Utc).or_else(|| {
        visits
            .iter()
            .filter_map(|r| r.visit.last_seen)
            .reduce(max_f)
            .map(Seen::Stream)
    });
    let seconds = visits.iter().map(|r| r.visit.duration).sum();
    // Weighted by time in view; streams without timestamps have no durations, and there
    // each frame counts the same instead.
    let mut emotions = weighted(visits, |r| r.visit.duration);
    if emotions.values().sum::<f64>() <= 0.0 {
        emotions = weighted(visits, |r| r.visit.frames as f64);
    }
    let total: f64 = emotions.values().sum();
    for share in emotions.values_mut() {
        *share = if total > 0.0 { *share / total } else { 0.0 };
    }
    Row {
        person: person.to_string(),
        camera: camera.to_string(),
        visits: visits.len(),
        first,
        last,
        seconds,
        emotions,
    }
}

fn weighted(visits: &[&Recorded], weight: impl Fn(&Recorded) -> f64) -> BTreeMap<String, f64> {
    let mut sums = BTreeMap::new();
    for r in visits {
        for (label, share) in &r.visit.emotions {
            *sums.entry(label.clone()).or_insert(0.0) += share * weight(r);
        }
    }
    sums
}

/// Every emotion label of `rows`, sorted: the table's and the CSV's columns.
fn labels(rows: &[Row]) -> Vec<&str> {
    let mut labels: Vec<&str> = rows
        .iter()
        .flat_map(|r| r.emotions.keys().map(String::as_str))
        .collect();
    labels.sort_unstable();
    labels.dedup();
    labels
}

/// The table for people to read.
pub fn table(rows: &[Row], out: &mut impl Write) -> io::Result<()> {
    let labels = labels(rows);
    write!(
        out,
        "{:<24} {:<16} {:>6} {:<24} {:<24} {:>9}",
        "person", "camera", "visits", "first seen", "last seen", "in view s"
    )?;
    for l in &labels {
        write!(out, " {:>8}", clip(l, 8))?;
    }
    writeln!(out)?;
    let seen = |s: Option<Seen>| s.map(Seen::text).unwrap_or_else(|| "-".into());
    for r in rows {
        write!(
            out,
            "{:<24} {:<16} {:>6} {:<24} {:<24} {:>9.1}",
            clip(&r.person, 24),
            clip(&r.camera, 16),
            r.visits,
            seen(r.first),
            seen(r.last),
            r.seconds
        )?;
        for l in &labels {
            match r.emotions.get(*l) {
                Some(s) => write!(out, " {:>7.0}%", 100.0 * s)?,
                None => write!(out, " {:>8}", "-")?,
            }
        }
        writeln!(out)?;
    }
    Ok(())
}

/// The same rows as CSV (RFC 4180): a header line, then one line per row; emotion
/// columns hold shares from 0 to 1, empty where the row has none of that label.
pub fn csv(rows: &[Row], out: &mut impl Write) -> io::Result<()> {
    let labels = labels(rows);
    let mut header = vec!["person", "camera", "visits", "first_seen", "last_seen", "in_view_s"];
    header.extend(&labels);
    writeln!(
        out,
        "{}",
        header.iter().map(|h| quoted(h)).collect::<Vec<_>>().join(",")
    )?;
    for r in rows {
        let seen = |s: Option<Seen>| s.map(Seen::text).unwrap_or_default();
        let mut fields = vec![
            quoted(&r.person),
            quoted(&r.camera),
            r.visits.to_string(),
            seen(r.first),
            seen(r.last),
            format!("{:.3}", r.seconds),
        ];
        fields.extend(
            labels
                .iter()
                .map(|l| r.emotions.get(*l).map(|s| format!("{s:.4}")).unwrap_or_default()),
        );
        writeln!(out, "{}", fields.join(","))?;
    }
    Ok(())
}

fn quoted(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// At most `n` characters (a long name must not push the columns out of line).
fn clip(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Visit;

    fn visit(camera: &str, person: &str, duration: f64, emotions: &[(&str, f64)]) -> Recorded {
        Recorded {
            source: camera.into(),
            visit: Visit {
                person: person.into(),
                track_id: Some(1),
                first_seen: Some(1.0),
                last_seen: Some(1.0 + duration),
                duration,
                frames: (duration * 25.0) as i64,
                first_utc_ms: None,
                last_utc_ms: None,
                emotions: emotions.iter().map(|(l, s)| (l.to_string(), *s)).collect(),
                reason: Some("gone".into()),
            },
        }
    }

    #[test]
    fn shares_are_weighted_by_time_in_view() {
        // 3 s all happy, then 1 s half happy half sad: 3.5 s of 4 happy.
        let rows = rows(&[
            visit("door", "Ada", 3.0, &[("happy", 1.0)]),
            visit("door", "Ada", 1.0, &[("happy", 0.5), ("sad", 0.5)]),
        ]);
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!((r.visits, r.seconds), (2, 4.0));
        assert!((r.emotions["happy"] - 0.875).abs() < 1e-9, "{r:?}");
        assert!((r.emotions["sad"] - 0.125).abs() < 1e-9, "{r:?}");
    }

    #[test]
    fn a_visit_without_emotions_does_not_dilute_the_shares() {
        let rows = rows(&[
            visit("door", "Ada", 2.0, &[("neutral", 1.0)]),
            visit("door", "Ada", 5.0, &[]),
        ]);
        assert_eq!(rows[0].emotions["neutral"], 1.0);
        assert_eq!(rows[0].seconds, 7.0);
    }

    #[test]
    fn without_durations_each_frame_counts_the_same() {
        let mut a = visit("door", "Ada", 0.0, &[("happy", 1.0)]);
        a.visit.frames = 30;
        let mut b = visit("door", "Ada", 0.0, &[("sad", 1.0)]);
        b.visit.frames = 10;
        let r = &rows(&[a, b])[0];
        assert!((r.emotions["happy"] - 0.75).abs() < 1e-9, "{r:?}");
    }

    #[test]
    fn rows_per_person_and_camera_with_unknown_last() {
        let rows = rows(&[
            visit("hall", "unknown", 1.0, &[]),
            visit("door", "Zoe", 1.0, &[]),
            visit("hall", "Ada", 2.0, &[]),
            visit("door", "Ada", 1.0, &[]),
            visit("door", "Ada", 1.5, &[]),
        ]);
        let keys: Vec<_> = rows
            .iter()
            .map(|r| (r.person.as_str(), r.camera.as_str(), r.visits))
            .collect();
        assert_eq!(
            keys,
            [
                ("Ada", "door", 2),
                ("Ada", "hall", 1),
                ("Zoe", "door", 1),
                ("unknown", "hall", 1)
            ]
        );
        assert_eq!(rows[0].seconds, 2.5);
    }

    #[test]
    fn first_and_last_are_wall_clock_when_known_else_stream_seconds() {
        let mut a = visit("door", "Ada", 2.0, &[]);
        let b = visit("door", "Ada", 4.0, &[]);
        let r = &rows(&[a.clone(), b.clone()])[0];
        assert_eq!((r.first, r.last), (Some(Seen::Stream(1.0)), Some(Seen::Stream(5.0))));
        a.visit.first_utc_ms = Some(1_000);
        a.visit.last_utc_ms = Some(3_000);
        let r = &rows(&[a, b])[0];
        assert_eq!((r.first, r.last), (Some(Seen::Utc(1_000)), Some(Seen::Utc(3_000))));
    }

    #[test]
    fn csv_has_a_header_one_column_per_label_and_quotes_what_needs_it() {
        let rows = rows(&[
            visit("door", "Lovelace, Ada", 2.0, &[("happy", 1.0)]),
            visit("door", "Bob", 2.0, &[("sad", 1.0)]),
        ]);
        let mut out = Vec::new();
        csv(&rows, &mut out).expect("writes");
        let text = String::from_utf8(out).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "person,camera,visits,first_seen,last_seen,in_view_s,happy,sad"
        );
        assert_eq!(lines[1], "Bob,door,1,1.000,3.000,2.000,,1.0000");
        assert_eq!(lines[2], "\"Lovelace, Ada\",door,1,1.000,3.000,2.000,1.0000,");
        let mut table_out = Vec::new();
        table(&rows, &mut table_out).expect("writes");
        let t = String::from_utf8(table_out).expect("utf-8");
        assert!(t.lines().nth(2).is_some_and(|l| l.contains("100%")), "{t}");
    }
}
