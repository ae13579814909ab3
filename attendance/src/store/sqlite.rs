//! The record in an SQLite file, through the system's libsqlite3.

use super::{Added, Filter, Recorded, SCHEMA, Store, emotions_from_json, emotions_json};
use crate::event::{Incoming, Visit};
use rusqlite::{Connection, OpenFlags, params};
use std::path::Path;
use std::time::Duration;

pub struct Sqlite {
    db: Connection,
}

impl Sqlite {
    /// Opens the file (with `create`, creating it) and its schema.
    pub fn open(path: &str, create: bool) -> Result<Self, String> {
        if !create && !Path::new(path).is_file() {
            return Err("no such SQLite database: ingest some events first".into());
        }
        // No SQLITE_OPEN_URI: the argument is a path, whatever it looks like.
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let db =
            Connection::open_with_flags(path, flags).map_err(|e| format!("cannot open the SQLite database: {e}"))?;
        // An MQTT ingester and a report (or a second ingester) may use the same file at
        // once: wait for the other's transaction instead of failing at once.
        db.busy_timeout(Duration::from_secs(30))
            .map_err(|e| format!("cannot set up the SQLite database: {e}"))?;
        // The first statement is where a file that is not a database shows it.
        db.execute_batch(SCHEMA)
            .map_err(|e| format!("cannot create the tables in the SQLite database: {e}"))?;
        Ok(Self { db })
    }
}

impl Store for Sqlite {
    fn add(&mut self, events: &[Incoming]) -> Result<Added, String> {
        let fail = |e: rusqlite::Error| format!("cannot record events in the SQLite database: {e}");
        let tx = self.db.transaction().map_err(fail)?;
        let mut added = Added::default();
        {
            let mut event = tx
                .prepare(
                    "INSERT INTO events (id, source, kind, utc_ms) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
                )
                .map_err(fail)?;
            let mut visit = tx
                .prepare(
                    "INSERT INTO visits (event_id, source, person, track_id, first_seen, last_seen, duration, frames, \
                     first_utc_ms, last_utc_ms, emotions, reason) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )
                .map_err(fail)?;
            for e in events {
                if event.execute(params![e.id, e.source, e.kind, e.utc_ms]).map_err(fail)? == 0 {
                    continue;
                }
                added.events += 1;
                if let Some(v) = &e.visit {
                    visit
                        .execute(params![
                            e.id,
                            e.source,
                            v.person,
                            v.track_id,
                            v.first_seen,
                            v.last_seen,
                            v.duration,
                            v.frames,
                            v.first_utc_ms,
                            v.last_utc_ms,
                            emotions_json(&v.emotions),
                            v.reason,
                        ])
                        .map_err(fail)?;
                    added.visits += 1;
                }
            }
        }
        tx.commit().map_err(fail)?;
        Ok(added)
    }

    fn visits(&mut self, filter: &Filter) -> Result<Vec<Recorded>, String> {
        let fail = |e: rusqlite::Error| format!("cannot read the visits from the SQLite database: {e}");
        let mut q = self
            .db
            .prepare(
                "SELECT source, person, track_id, first_seen, last_seen, duration, frames, first_utc_ms, last_utc_ms, \
                 emotions, reason FROM visits \
                 WHERE (?1 IS NULL OR source = ?1) \
                 AND (?2 IS NULL OR last_utc_ms >= ?2) \
                 AND (?3 IS NULL OR COALESCE(first_utc_ms, last_utc_ms) <= ?3)",
            )
            .map_err(fail)?;
        let rows = q
            .query_map(params![filter.source, filter.from_ms, filter.to_ms], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(9)?,
                    Visit {
                        person: r.get(1)?,
                        track_id: r.get(2)?,
                        first_seen: r.get(3)?,
                        last_seen: r.get(4)?,
                        duration: r.get(5)?,
                        frames: r.get(6)?,
                        first_utc_ms: r.get(7)?,
                        last_utc_ms: r.get(8)?,
                        emotions: Vec::new(),
                        reason: r.get(10)?,
                    },
                ))
            })
            .map_err(fail)?;
        let mut out = Vec::new();
        for row in rows {
            let (source, emotions, mut visit) = row.map_err(fail)?;
            visit.emotions = emotions_from_json(&emotions)?;
            out.push(Recorded { source, visit });
        }
        Ok(out)
    }
}
