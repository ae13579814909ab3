//! What the CLI does with input it cannot use: junk lines are skipped with a warning
//! that names the file and line, the rest of the file still counts; a database that
//! cannot be opened is a clear error and a non-zero exit, never a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const CLI: &str = env!("CARGO_BIN_EXE_face-attendance");

fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("attendance-bad-input-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The CLI on `args`; every call here ends by itself (no broker, no server waited for).
fn cli(args: &[&str]) -> Output {
    Command::new(CLI)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("face-attendance runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn junk_lines_are_skipped_with_a_warning_and_the_rest_counts() {
    let dir = temp_dir("junk");
    // An older file: no id, utc or source; its camera is the file's stem.
    let events = dir.join("door.jsonl");
    std::fs::write(
        &events,
        [
            r#"{"event":"appeared","track_id":1,"frame":0,"pts":0,"time":0.0,"box":[1,2,3,4]}"#,
            "this is not JSON",
            r#"{"frame":1,"pts":40000000,"width":640,"height":360,"faces":[]}"#,
            r#"{"status":"online","source":"door"}"#,
            r#"{"event":"left","track_id":1,"frame":50,"first_seen":0.0,"last_seen":2.0,"duration":"long","frames":50}"#,
            r#"{"event":"left","track_id":1,"frame":50,"pts":2000000000,"time":2.0,"first_seen":0.0,"last_seen":2.0,"duration":2.04,"frames":51,"emotions":{"happy":0.5,"sad":0.5},"reason":"gone"}"#,
            "",
        ]
        .join("\n"),
    )
    .expect("events written");
    let db = dir.join("a.sqlite");
    let db = db.to_str().expect("utf-8 path");
    let file = events.to_str().expect("utf-8 path");
    let out = cli(&["ingest", "--database", db, file]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(&format!("{file}:2:")), "names the junk line: {err}");
    assert!(
        err.contains(&format!("{file}:5:")),
        "and the left with a bad duration: {err}"
    );
    assert_eq!(
        err.matches("warning:").count(),
        2,
        "frame and status lines are no junk: {err}"
    );
    assert!(stdout(&out).contains("2 lines skipped"), "{}", stdout(&out));

    let out = cli(&["report", "--database", db, "--csv", "-"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = stdout(&out);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "person,camera,visits,first_seen,last_seen,in_view_s,happy,sad");
    assert_eq!(rows[1], "unknown,door,1,0.000,2.000,2.040,0.5000,0.5000", "{csv}");
    assert_eq!(rows.len(), 2, "{csv}");

    // The same file again: without ids, the lines' text (and camera) make the ids.
    let out = cli(&["ingest", "--database", db, file]);
    assert!(stdout(&out).contains("0 new, 0 new visits"), "{}", stdout(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_database_that_cannot_be_opened_is_a_clear_error() {
    let dir = temp_dir("database");
    let events = dir.join("cam.jsonl");
    std::fs::write(&events, r#"{"event":"left","track_id":1,"frame":0,"frames":1}"#).expect("written");
    let file = events.to_str().expect("utf-8 path");
    let not_a_db = dir.join("notes.txt");
    std::fs::write(
        &not_a_db,
        "not a database, but long enough to have a header page?\n".repeat(20),
    )
    .expect("written");
    let missing = dir.join("missing.sqlite");

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["ingest", "--database", "/nonexistent/dir/a.sqlite", file],
            "/nonexistent/dir/a.sqlite",
        ),
        (
            vec!["ingest", "--database", not_a_db.to_str().expect("utf-8"), file],
            "not a database",
        ),
        (
            vec!["report", "--database", missing.to_str().expect("utf-8")],
            "no such SQLite database",
        ),
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        (
            vec!["ingest", "--database", "postgres://ada:s3cret@127.0.0.1:1/att", file],
            "postgres://ada:***@127.0.0.1:1/att",
        ),
        (
            vec!["report", "--database", "postgresql://ada:s3cret@[nonsense/att"],
            "***",
        ),
    ];
    for (args, says) in cases {
        let out = cli(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("--database") && err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("s3cret") && !err.contains("panicked"), "{args:?}: {err}");
    }
    assert!(!missing.exists(), "a report must not create an empty database");

    // A file that is not there is named too.
    let db = dir.join("ok.sqlite");
    let out = cli(&[
        "ingest",
        "--database",
        db.to_str().expect("utf-8"),
        "/nonexistent/events.jsonl",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/nonexistent/events.jsonl"), "{}", stderr(&out));
    // So is a bad time.
    let out = cli(&[
        "report",
        "--database",
        db.to_str().expect("utf-8"),
        "--from",
        "yesterday",
    ]);
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
    assert!(stderr(&out).contains("ISO 8601"), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}
