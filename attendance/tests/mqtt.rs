//! `ingest --mqtt` against a real broker (mosquitto, started here on 127.0.0.1): a
//! message delivered twice counts once, events without a source count for their topic,
//! what arrives while the ingester is down is waiting for it (a persistent session),
//! a kill loses nothing already recorded, and a broker that refuses us is an error.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CLI: &str = env!("CARGO_BIN_EXE_face-attendance");

/// A mosquitto with persistence (so a session outlives the client) and `extra` lines
/// of configuration; killed and its folder removed on drop.
struct Mosquitto {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Mosquitto {
    fn start(name: &str, extra: &str) -> Self {
        // The system's temporary folder: started as root, mosquitto drops to its own
        // user, who must reach its folder.
        let dir = std::env::temp_dir().join(format!("face-attendance-mqtt-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("broker dir");
        open_to_all(&dir);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\npersistence true\npersistence_location {}/\n{extra}\n",
                dir.display()
            ),
        )
        .expect("conf");
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto runs (the Debian package mosquitto)");
        let until = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < until, "mosquitto did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, dir, port }
    }

    fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}/faces/#", self.port)
    }

    /// Publishes one message at QoS 1 (mosquitto_pub, the Debian package
    /// mosquitto-clients).
    fn publish(&self, topic: &str, payload: &str) {
        let out = bounded(
            Command::new("mosquitto_pub").args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-q",
                "1",
                "-t",
                topic,
                "-m",
                payload,
            ]),
            Duration::from_secs(20),
        );
        assert!(
            out.status.success(),
            "mosquitto_pub: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn open_to_all(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).expect("permissions");
}

/// Runs `cmd` to its end, killing it after `limit`.
fn bounded(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let until = Instant::now() + limit;
    while child.try_wait().expect("waits").is_none() {
        if Instant::now() > until {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{cmd:?} took more than {limit:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// An ingester in the background, its standard error in a file (read while it runs).
struct Ingester {
    child: Child,
    log: PathBuf,
}

impl Ingester {
    fn start(broker: &Mosquitto, db: &str, more: &[&str]) -> Self {
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let log = broker
            .dir
            .join(format!("ingest-{}.log", RUNS.fetch_add(1, Ordering::Relaxed)));
        let child = Command::new(CLI)
            .args([
                "ingest",
                "--database",
                db,
                "--mqtt",
                &broker.url(),
                "--client-id",
                "attendance-test",
            ])
            .args(more)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("face-attendance runs");
        let me = Self { child, log };
        me.wait_for("connected to", Duration::from_secs(20));
        me
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_for(&self, text: &str, limit: Duration) {
        let until = Instant::now() + limit;
        while !self.stderr().contains(text) {
            assert!(
                Instant::now() < until,
                "no '{text}' within {limit:?}: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for it to exit by itself (`--idle-exit`); its exit status.
    fn finish(mut self, limit: Duration) -> (std::process::ExitStatus, String) {
        let until = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("waits") {
                return (status, self.stderr());
            }
            assert!(
                Instant::now() < until,
                "still running after {limit:?}: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Ingester {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn left(id: Option<&str>, source: Option<&str>, name: &str, duration: f64) -> String {
    let mut fields = vec!["\"event\":\"left\"".to_string(), "\"track_id\":1".into()];
    if let Some(id) = id {
        fields.push(format!("\"id\":\"{id}\""));
    }
    if let Some(s) = source {
        fields.push(format!("\"source\":\"{s}\""));
    }
    fields.push(format!(
        "\"frame\":9,\"first_seen\":0.0,\"last_seen\":{duration},\"duration\":{duration},\"frames\":10,\
         \"name\":\"{name}\",\"emotions\":{{\"happy\":1.0}},\"reason\":\"gone\""
    ));
    format!("{{{}}}", fields.join(","))
}

/// The report's CSV rows (header left out), sorted.
fn rows(db: &str) -> Vec<String> {
    let out = bounded(
        Command::new(CLI).args(["report", "--database", db, "--csv", "-"]),
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut rows: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .map(|l| l.split(',').take(3).collect::<Vec<_>>().join(","))
        .collect();
    rows.sort();
    rows
}

#[test]
fn a_broker_feeds_the_record_once_per_event_also_across_restarts_and_kills() {
    let broker = Mosquitto::start("ok", "allow_anonymous true");
    let db = broker.dir.join("attendance.sqlite");
    let db = db.to_str().expect("utf-8 path");

    let ingester = Ingester::start(&broker, db, &["--idle-exit", "2"]);
    // "Connected" comes as the subscription goes out: until the broker has taken it, a
    // message would find no session to queue it in. A probe, sent until it is recorded
    // (once, whatever number of times it is sent), says the subscription stands.
    let probe = left(Some("probe-1"), Some("probe"), "Probe", 0.1);
    let until = Instant::now() + Duration::from_secs(20);
    while rows(db).is_empty() {
        assert!(Instant::now() < until, "nothing recorded: {}", ingester.stderr());
        broker.publish("faces/probe", &probe);
        std::thread::sleep(Duration::from_millis(200));
    }
    let ada = left(Some("run1-1"), Some("cam-x"), "Ada", 2.0);
    broker.publish("faces/cam-x/left", &ada);
    // QoS 1 may deliver twice: the id makes it one visit.
    broker.publish("faces/cam-x/left", &ada);
    broker.publish("faces/cam-x/status", r#"{"status":"online","source":"cam-x"}"#);
    broker.publish("faces/cam-x/left", "garbage");
    // No source: the topic is the camera.
    broker.publish("faces/hall", &left(None, None, "Bob", 1.0));
    let (status, err) = ingester.finish(Duration::from_secs(30));
    assert!(status.success(), "{err}");
    assert!(
        err.contains("on faces/cam-x/left:1: skipped"),
        "the junk is named: {err}"
    );
    assert_eq!(rows(db), ["Ada,cam-x,1", "Bob,faces/hall,1", "Probe,probe,1"]);

    // Published while no ingester runs: the broker keeps it for the session.
    broker.publish("faces/cam-x/left", &left(Some("run1-2"), Some("cam-x"), "Ada", 3.0));
    let (status, err) = Ingester::start(&broker, db, &["--idle-exit", "2"]).finish(Duration::from_secs(30));
    assert!(status.success(), "{err}");
    assert_eq!(rows(db), ["Ada,cam-x,2", "Bob,faces/hall,1", "Probe,probe,1"]);

    // Without --idle-exit it runs until killed; what it recorded stays.
    let ingester = Ingester::start(&broker, db, &[]);
    broker.publish("faces/door", &left(Some("run2-1"), Some("door"), "Cy", 1.0));
    let until = Instant::now() + Duration::from_secs(20);
    while !rows(db).contains(&"Cy,door,1".to_string()) {
        assert!(
            Instant::now() < until,
            "the message was not recorded: {}",
            ingester.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = ingester.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
    assert!(killed.success());
    let (status, _) = ingester.finish(Duration::from_secs(10));
    assert!(!status.success(), "killed");
    assert_eq!(
        rows(db),
        ["Ada,cam-x,2", "Bob,faces/hall,1", "Cy,door,1", "Probe,probe,1"]
    );
}

#[test]
fn a_broker_that_refuses_us_is_an_error_that_hides_the_password() {
    let broker = Mosquitto::start("refused", "allow_anonymous false");
    let db = broker.dir.join("attendance.sqlite");
    let url = format!("mqtt://ada:s3cret@127.0.0.1:{}/faces/#", broker.port);
    let out = bounded(
        Command::new(CLI).args([
            "ingest",
            "--database",
            db.to_str().expect("utf-8 path"),
            "--mqtt",
            &url,
            "--client-id",
            "attendance-refused",
        ]),
        Duration::from_secs(30),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("--mqtt") && err.contains("refused"), "{err}");
    assert!(!err.contains("s3cret") && !err.contains("panicked"), "{err}");
    // Settings that cannot work fail before anything connects.
    let out = bounded(
        Command::new(CLI).args([
            "ingest",
            "--database",
            db.to_str().expect("utf-8 path"),
            "--mqtt",
            "mqtt://127.0.0.1:1/faces/#",
            "--mqtt-ca-file",
            "/nonexistent/ca.pem",
        ]),
        Duration::from_secs(30),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("--mqtt-ca-file"), "{err}");
}
