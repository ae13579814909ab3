//! Reading events from JSON-lines files (or standard input) into the record.

use crate::event::{self, Incoming};
use crate::store::{Added, Store};
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

/// Events per transaction: one transaction per line would make SQLite sync to disk for
/// every line; a whole large file in one would hold the write lock for long.
const BATCH: usize = 1000;

/// What one input gave.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Events read (new or already recorded).
    pub events: usize,
    pub added: Added,
    /// Lines that were neither events nor anything else facejson writes.
    pub junk: usize,
}

/// Ingests every file (`-`: standard input) in turn, printing what each gave.
pub fn files(store: &mut dyn Store, paths: &[String]) -> Result<(), String> {
    for path in paths {
        let tally = if path == "-" {
            read(store, io::stdin().lock(), "standard input", "stdin")?
        } else {
            let file = File::open(path).map_err(|e| format!("cannot read {path}: {e}"))?;
            read(store, BufReader::new(file), path, &camera_of(path))?
        };
        println!(
            "{path}: {} events read, {} new, {} new visits{}",
            tally.events,
            tally.added.events,
            tally.added.visits,
            match tally.junk {
                0 => String::new(),
                n => format!(", {n} lines skipped"),
            }
        );
    }
    Ok(())
}

/// The camera of a file's events that do not name their source: the file's stem.
fn camera_of(path: &str) -> String {
    Path::new(path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| path.to_string())
}

/// Ingests one input; `name` is what warnings call it, `camera` the source of events
/// that do not name theirs.
pub fn read(store: &mut dyn Store, mut input: impl BufRead, name: &str, camera: &str) -> Result<Tally, String> {
    let mut tally = Tally::default();
    let mut batch: Vec<Incoming> = Vec::with_capacity(BATCH);
    let mut raw = Vec::new();
    let mut number = 0usize;
    loop {
        raw.clear();
        let n = input
            .read_until(b'\n', &mut raw)
            .map_err(|e| format!("cannot read {name}: {e}"))?;
        if n == 0 {
            break;
        }
        number += 1;
        // The id of a line without one hashes its exact text, less the line ending.
        let text = raw.strip_suffix(b"\n").unwrap_or(&raw);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let parsed = std::str::from_utf8(text)
            .map_err(|_| "not UTF-8 text".to_string())
            .and_then(|line| event::parse_line(line, camera));
        match parsed {
            Ok(Some(e)) => batch.push(e),
            Ok(None) => {}
            Err(why) => {
                tally.junk += 1;
                eprintln!("warning: {name}:{number}: skipped, not a face event line: {why}");
            }
        }
        if batch.len() >= BATCH {
            tally.events += batch.len();
            tally.added += store.add(&batch)?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        tally.events += batch.len();
        tally.added += store.add(&batch)?;
    }
    Ok(tally)
}
