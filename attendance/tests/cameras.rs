//! Two cameras, end to end: real events from two real gst-launch-1.0 pipelines (this
//! workspace's plugin, `facejson mode=events source=cam-a|cam-b`), ingested by the CLI
//! into SQLite and into a throw-away PostgreSQL cluster; the report must say what the
//! cameras' `left` lines say, and ingesting the files again must change nothing.
//!
//! Needs the plugin built first: `cargo build -p gst-plugin-face`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

const CLI: &str = env!("CARGO_BIN_EXE_face-attendance");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fresh folder under target/tmp (the cluster's is under the system's temporary
/// folder instead: the `postgres` user must reach it, and its socket path be short).
fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("attendance-cameras-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Runs `cmd` to its end, killing it after `limit`.
fn run(cmd: &mut Command, limit: Duration) -> Output {
    let shown = format!("{cmd:?}");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap_or_else(|e| panic!("{shown}: {e}")),
        Err(_) => {
            let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
            panic!("{shown} took more than {limit:?}");
        }
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The CLI, which must succeed; its standard output.
fn cli(args: &[&str]) -> String {
    let out = run(Command::new(CLI).args(args), Duration::from_secs(120));
    assert!(out.status.success(), "face-attendance {args:?}\n{}", text(&out));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// A folder holding only the libgstface.so cargo built (target/<profile>/, next to the
/// deps/ folder this test runs from), so gst-launch-1.0 loads exactly this build.
fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps folder");
    let so = [deps.join("libgstface.so"), deps.join("../libgstface.so")]
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "libgstface.so not found next to {}: run `cargo build -p gst-plugin-face` first",
                exe.display()
            )
        });
    let dir = temp_dir("plugin");
    std::os::unix::fs::symlink(so.canonicalize().expect("plugin path"), dir.join("libgstface.so")).expect("symlink");
    dir
}

/// The event files of the two cameras, made once per test process: cam-a sees the
/// presenter (a still of the demo clip, held for 25 frames); cam-b sees a stranger to
/// the gallery (a short clip) and then the presenter again, in two runs, two files.
struct Cameras {
    files: Vec<PathBuf>,
}

fn cameras() -> &'static Cameras {
    static CAMERAS: OnceLock<Cameras> = OnceLock::new();
    CAMERAS.get_or_init(|| {
        let plugins = plugin_dir();
        let dir = temp_dir("events");
        let assets = root().join("assets");
        let gallery = assets.join("demo-gallery");
        assert!(gallery.is_dir(), "run scripts/fetch-assets.sh first");
        let still = |name: &str, frames: u32| {
            format!(
                "filesrc location={} ! pngdec ! imagefreeze num-buffers={frames}",
                assets.join("video").join(name).display()
            )
        };
        let clip = format!(
            "filesrc location={} ! decodebin",
            assets.join("video/single_face.mp4").display()
        );
        let runs = [
            ("cam-a", "A.jsonl", still("pexels-15s.png", 25)),
            ("cam-b", "B1.jsonl", clip),
            ("cam-b", "B2.jsonl", still("pexels-02s.png", 20)),
        ];
        let mut files = Vec::new();
        for (camera, file, input) in runs {
            let out_file = dir.join(file);
            let line = format!(
                "{input} ! videoconvert ! facedetect ! faceid gallery={} ! faceemotion \
                 ! facejson mode=events source={camera} location={} ! fakesink",
                gallery.display(),
                out_file.display()
            );
            let out = run(
                Command::new("gst-launch-1.0")
                    .arg("-q")
                    .args(line.split(' ').filter(|a| !a.is_empty()))
                    .env("GST_PLUGIN_PATH", &plugins)
                    .env("GST_REGISTRY", plugins.join("registry.bin")),
                Duration::from_secs(300),
            );
            assert!(out.status.success(), "gst-launch-1.0 {line}\n{}", text(&out));
            files.push(out_file);
        }
        Cameras { files }
    })
}

/// (person, camera) → (visits, seconds in view), from the files' `left` lines; with
/// `from`, only the visits still in view then (facejson's `utc` strings all have one
/// width, so they compare as text).
fn expected(files: &[PathBuf], from: Option<&str>) -> Table {
    let mut want = BTreeMap::new();
    for f in files {
        let body = std::fs::read_to_string(f).expect("events written");
        for line in body.lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("facejson writes JSON");
            if v["event"] != "left" || from.is_some_and(|f| v["utc"].as_str().is_none_or(|u| u < f)) {
                continue;
            }
            let person = v["name"].as_str().unwrap_or("unknown").to_string();
            let camera = v["source"].as_str().expect("source= is set").to_string();
            let e = want.entry((person, camera)).or_insert((0, 0.0));
            e.0 += 1;
            e.1 += v["duration"].as_f64().unwrap_or(0.0);
        }
    }
    want
}

/// The report's CSV, as (person, camera) → (visits, seconds in view).
fn reported(database: &str, more: &[&str]) -> Table {
    let mut args = vec!["report", "--database", database, "--csv", "-"];
    args.extend(more);
    let csv = cli(&args);
    let mut lines = csv.lines();
    let header = lines.next().expect("a header line");
    assert!(
        header.starts_with("person,camera,visits,first_seen,last_seen,in_view_s"),
        "{csv}"
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let visits = f[2].parse().expect("visits");
            let seconds = f[5].parse().expect("seconds");
            ((f[0].to_string(), f[1].to_string()), (visits, seconds))
        })
        .collect()
}

fn check_record(database: &str) {
    let cams = cameras();
    let want = expected(&cams.files, None);
    assert!(
        want.keys().any(|(p, c)| c == "cam-a" && p != "unknown"),
        "cam-a must see someone the gallery names: {want:?}"
    );
    assert!(want.keys().any(|(_, c)| c == "cam-b"), "{want:?}");
    let files: Vec<&str> = cams.files.iter().map(|f| f.to_str().expect("utf-8 path")).collect();
    let mut args = vec!["ingest", "--database", database];
    args.extend(&files);
    cli(&args);
    let got = reported(database, &[]);
    same(&got, &want);
    // The table lists the unknown faces last.
    let table = cli(&["report", "--database", database]);
    let people: Vec<&str> = table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    if let Some(i) = people.iter().position(|p| *p == "unknown") {
        assert!(people[i..].iter().all(|p| *p == "unknown"), "{table}");
    }
    // One camera only.
    let cam_a = cli(&["report", "--database", database, "--source", "cam-a", "--csv", "-"]);
    assert!(cam_a.lines().skip(1).all(|l| l.contains(",cam-a,")), "{cam_a}");

    // From when the last file's first visit began: only what was in view since.
    let last = std::fs::read_to_string(cams.files.last().expect("files")).expect("events");
    let since = last
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v["first_seen_utc"].as_str().map(str::to_string));
    match since {
        Some(from) => {
            let window = reported(database, &["--from", &from, "--to", "2999-01-01"]);
            let want_since = expected(&cams.files, Some(&from));
            assert!(
                !want_since.is_empty() && want_since.len() < want.len(),
                "{want_since:?}"
            );
            same(&window, &want_since);
        }
        None => eprintln!("facejson wrote no utc: --from/--to not checked"),
    }

    // Everything again: nothing new.
    let again = cli(&args);
    assert!(again.lines().all(|l| l.contains(" 0 new, 0 new visits")), "{again}");
    assert_eq!(reported(database, &[]), got, "ingesting twice counts once");
}

type Table = BTreeMap<(String, String), (usize, f64)>;

fn same(got: &Table, want: &Table) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "the same people on the same cameras"
    );
    for (key, (visits, seconds)) in want {
        let (got_visits, got_seconds) = got[key];
        assert_eq!(got_visits, *visits, "{key:?}");
        assert!(
            (got_seconds - seconds).abs() < 0.002,
            "{key:?}: {got_seconds} vs {seconds}"
        );
    }
}

#[test]
fn two_cameras_into_sqlite() {
    let dir = temp_dir("sqlite");
    let db = dir.join("attendance.sqlite");
    check_record(db.to_str().expect("utf-8 path"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A PostgreSQL cluster of its own, in a temporary folder, on a free port on 127.0.0.1;
/// stopped and removed on drop, also when the test fails.
struct Cluster {
    dir: PathBuf,
    port: u16,
    bin: PathBuf,
    as_postgres: bool,
}

impl Cluster {
    fn start() -> Self {
        let bin = pg_bin();
        let dir = std::env::temp_dir().join(format!("face-attendance-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("cluster dir");
        // initdb refuses to run as root: there the cluster belongs to Debian's
        // `postgres` user, who runs the server tools.
        let as_postgres = run(Command::new("id").arg("-u"), Duration::from_secs(10)).stdout == b"0\n";
        if as_postgres {
            let out = run(
                Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir),
                Duration::from_secs(10),
            );
            assert!(out.status.success(), "{}", text(&out));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let cluster = Self {
            dir,
            port,
            bin,
            as_postgres,
        };
        let data = cluster.dir.join("data");
        let out = run(
            cluster
                .tool("initdb")
                .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
                .arg(&data),
            Duration::from_secs(120),
        );
        assert!(out.status.success(), "initdb\n{}", text(&out));
        let options = format!("-p {port} -k {} -c listen_addresses=127.0.0.1", cluster.dir.display());
        // -l: the server must not hold this test's pipes open after pg_ctl returns.
        let out = run(
            cluster
                .tool("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(cluster.dir.join("server.log"))
                .args(["-o", &options, "-w", "-t", "60", "start"]),
            Duration::from_secs(90),
        );
        assert!(out.status.success(), "pg_ctl start\n{}", text(&out));
        let out = run(
            Command::new(cluster.bin.join("createdb")).args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "postgres",
                "attendance",
            ]),
            Duration::from_secs(60),
        );
        assert!(out.status.success(), "createdb\n{}", text(&out));
        cluster
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/attendance", self.port)
    }

    fn tool(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = run(
            self.tool("pg_ctl")
                .arg("-D")
                .arg(self.dir.join("data"))
                .args(["-m", "fast", "-w", "-t", "30", "stop"]),
            Duration::from_secs(60),
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The folder of PostgreSQL's server programs: Debian keeps initdb and pg_ctl out of
/// PATH, in /usr/lib/postgresql/VERSION/bin.
fn pg_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").is_file())
        .collect();
    found.sort();
    found
        .pop()
        .expect("PostgreSQL's server programs (the Debian package postgresql)")
}

#[test]
fn two_cameras_into_postgres() {
    let cluster = Cluster::start();
    check_record(&cluster.url());
}
