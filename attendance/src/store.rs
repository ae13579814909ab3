//! Where the record lives: one schema, kept by SQLite (a file, the default) or
//! PostgreSQL (a `postgres://` URL), behind one small trait.
//!
//! Every event is a row of `events`, keyed by its id: inserting an id already there does
//! nothing, which is what makes a file read twice or an MQTT message delivered twice
//! count once. A `left` event that was new also becomes a row of `visits`, which is all
//! the report reads.

mod pg;
mod sqlite;

use crate::event::{Incoming, Visit};

/// `CREATE TABLE IF NOT EXISTS`, in SQL both databases take as it is. Times are
/// milliseconds since 1970 (UTC) so that both compare them as integers; emotions are the
/// visit's `{label: share}` object as JSON text, read back whole by the report.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    utc_ms BIGINT
);
CREATE TABLE IF NOT EXISTS visits (
    event_id TEXT PRIMARY KEY REFERENCES events (id),
    source TEXT NOT NULL,
    person TEXT NOT NULL,
    track_id BIGINT,
    first_seen DOUBLE PRECISION,
    last_seen DOUBLE PRECISION,
    duration DOUBLE PRECISION NOT NULL,
    frames BIGINT NOT NULL,
    first_utc_ms BIGINT,
    last_utc_ms BIGINT,
    emotions TEXT NOT NULL,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS visits_by_source ON visits (source, person);
";

/// What one [`Store::add`] recorded.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Added {
    /// Events not seen before.
    pub events: usize,
    /// Of those, `left` events: new visits.
    pub visits: usize,
}

impl std::ops::AddAssign for Added {
    fn add_assign(&mut self, other: Self) {
        self.events += other.events;
        self.visits += other.visits;
    }
}

/// Which visits a report reads.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Only this camera.
    pub source: Option<String>,
    /// Only visits in view at some time from `from_ms` to `to_ms` (milliseconds since
    /// 1970). Visits without wall-clock times cannot be placed and are left out.
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

/// A visit as recorded, with its camera.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub source: String,
    pub visit: Visit,
}

pub trait Store {
    /// Records `events` in one transaction (all or nothing); ids already recorded are
    /// left as they are.
    fn add(&mut self, events: &[Incoming]) -> Result<Added, String>;

    /// The visits `filter` selects.
    fn visits(&mut self, filter: &Filter) -> Result<Vec<Recorded>, String>;
}

/// Opens (with `create`, creating) the database `--database` names and makes sure the
/// schema is there. Errors name `--database`, with any password in a URL hidden.
pub fn open(database: &str, create: bool) -> Result<Box<dyn Store>, String> {
    let fail = |e: String| format!("--database ({}): {e}", redacted(database));
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        Ok(Box::new(pg::Postgres::connect(database).map_err(fail)?))
    } else {
        Ok(Box::new(sqlite::Sqlite::open(database, create).map_err(fail)?))
    }
}

/// `database` as it may be shown: a URL's password (`user:PASSWORD@`, `password=…` in
/// the query) replaced by `***`; a path as it is.
pub fn redacted(database: &str) -> String {
    let Some((scheme, rest)) = database.split_once("://") else {
        return database.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// A visit's emotions as the JSON text the `emotions` column holds.
fn emotions_json(emotions: &[(String, f64)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = emotions
        .iter()
        .map(|(l, s)| (l.clone(), serde_json::Value::from(*s)))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// The `emotions` column read back.
fn emotions_from_json(text: &str) -> Result<Vec<(String, f64)>, String> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| format!("a visit's emotions are not a JSON object ({e}): {text}"))?;
    Ok(map
        .into_iter()
        .filter_map(|(l, s)| s.as_f64().map(|s| (l, s)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redacted("postgres://ada:s3cr:et@127.0.0.1:5432/att"),
            "postgres://ada:***@127.0.0.1:5432/att"
        );
        assert_eq!(
            redacted("postgresql://ada@h/att?sslmode=disable&password=s3cret"),
            "postgresql://ada@h/att?sslmode=disable&password=***"
        );
        assert_eq!(redacted("postgres://h/att"), "postgres://h/att");
        assert_eq!(redacted("attendance.sqlite"), "attendance.sqlite");
    }

    #[test]
    fn emotions_go_in_and_out_as_json() {
        let e = vec![("happy".to_string(), 0.25), ("sad".to_string(), 0.75)];
        assert_eq!(emotions_from_json(&emotions_json(&e)), Ok(e));
        assert_eq!(emotions_from_json("{}"), Ok(vec![]));
        assert!(emotions_from_json("[").is_err());
    }
}
