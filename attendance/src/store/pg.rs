//! The record in PostgreSQL, through the synchronous `postgres` client.
//!
//! The connection is not encrypted (`NoTls`): point it at a server on this machine or
//! on a network you trust. TLS is a later step.

use super::{Added, Filter, Recorded, SCHEMA, Store, emotions_from_json, emotions_json};
use crate::event::{Incoming, Visit};
use postgres::{Client, Config, NoTls};
use std::time::Duration;

pub struct Postgres {
    db: Client,
}

impl Postgres {
    /// Connects to the `postgres://` URL and makes sure the schema is there.
    pub fn connect(url: &str) -> Result<Self, String> {
        let mut config: Config = url
            .parse()
            .map_err(|e| format!("not a PostgreSQL connection URL: {e}"))?;
        // A server that does not answer must not hang the tool; the URL's own
        // connect_timeout wins.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let mut db = config
            .connect(NoTls)
            .map_err(|e| format!("cannot connect to PostgreSQL: {}", why(&e)))?;
        db.batch_execute(SCHEMA)
            .map_err(|e| format!("cannot create the tables in PostgreSQL: {}", why(&e)))?;
        Ok(Self { db })
    }
}

impl Store for Postgres {
    fn add(&mut self, events: &[Incoming]) -> Result<Added, String> {
        let fail = |e: postgres::Error| format!("cannot record events in PostgreSQL: {}", why(&e));
        let mut tx = self.db.transaction().map_err(fail)?;
        let event = tx
            .prepare(
                "INSERT INTO events (id, source, kind, utc_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
            )
            .map_err(fail)?;
        let visit = tx
            .prepare(
                "INSERT INTO visits (event_id, source, person, track_id, first_seen, last_seen, duration, frames, \
                 first_utc_ms, last_utc_ms, emotions, reason) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .map_err(fail)?;
        let mut added = Added::default();
        for e in events {
            if tx
                .execute(&event, &[&e.id, &e.source, &e.kind, &e.utc_ms])
                .map_err(fail)?
                == 0
            {
                continue;
            }
            added.events += 1;
            if let Some(v) = &e.visit {
                tx.execute(
                    &visit,
                    &[
                        &e.id,
                        &e.source,
                        &v.person,
                        &v.track_id,
                        &v.first_seen,
                        &v.last_seen,
                        &v.duration,
                        &v.frames,
                        &v.first_utc_ms,
                        &v.last_utc_ms,
                        &emotions_json(&v.emotions),
                        &v.reason,
                    ],
                )
                .map_err(fail)?;
                added.visits += 1;
            }
        }
        tx.commit().map_err(fail)?;
        Ok(added)
    }

    fn visits(&mut self, filter: &Filter) -> Result<Vec<Recorded>, String> {
        let fail = |e: postgres::Error| format!("cannot read the visits from PostgreSQL: {}", why(&e));
        let rows = self
            .db
            .query(
                "SELECT source, person, track_id, first_seen, last_seen, duration, frames, first_utc_ms, last_utc_ms, \
                 emotions, reason FROM visits \
                 WHERE ($1::TEXT IS NULL OR source = $1) \
                 AND ($2::BIGINT IS NULL OR last_utc_ms >= $2) \
                 AND ($3::BIGINT IS NULL OR COALESCE(first_utc_ms, last_utc_ms) <= $3)",
                &[&filter.source, &filter.from_ms, &filter.to_ms],
            )
            .map_err(fail)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let visit = Visit {
                person: r.try_get(1).map_err(fail)?,
                track_id: r.try_get(2).map_err(fail)?,
                first_seen: r.try_get(3).map_err(fail)?,
                last_seen: r.try_get(4).map_err(fail)?,
                duration: r.try_get(5).map_err(fail)?,
                frames: r.try_get(6).map_err(fail)?,
                first_utc_ms: r.try_get(7).map_err(fail)?,
                last_utc_ms: r.try_get(8).map_err(fail)?,
                emotions: emotions_from_json(&r.try_get::<_, String>(9).map_err(fail)?)?,
                reason: r.try_get(10).map_err(fail)?,
            };
            out.push(Recorded {
                source: r.try_get(0).map_err(fail)?,
                visit,
            });
        }
        Ok(out)
    }
}

/// The error with its causes: the client's own message is only the kind ("error
/// connecting to server"); what went wrong ("Connection refused", the server's message)
/// is in its source.
fn why(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
