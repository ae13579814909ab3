//! Face events to a real MQTT broker (mosquitto, started by the tests on 127.0.0.1):
//! nothing lost while it is killed and restarted or absent at the start, TLS and
//! passwords, and the clear errors of bad settings.

mod util;

use gst::prelude::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use util::*;

const FPS: u64 = 10;
const FRAME_NS: u64 = 1_000_000_000 / FPS;

/// A port nothing listens on, never the same twice in this process: the tests run in
/// parallel, and one that starts its broker late must not find another's on its port.
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// A mosquitto on 127.0.0.1 with persistence, so a subscriber's session (and the
/// messages queued for it) survive a restart, as on a real broker.
struct Mosquitto {
    child: Option<Child>,
    conf: PathBuf,
    port: u16,
}

impl Mosquitto {
    /// `extra`: more configuration lines (TLS, a password file).
    fn start(dir: &Path, extra: &str) -> Self {
        let port = free_port();
        let db = dir.join("db");
        std::fs::create_dir_all(&db).expect("db dir");
        // Started as root, mosquitto drops to its own user: its files must be open to it.
        open_to_all(dir);
        open_to_all(&db);
        let conf = dir.join("mosquitto.conf");
        let anonymous = if extra.contains("password_file") {
            "false"
        } else {
            "true"
        };
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous {anonymous}\npersistence true\n\
                 persistence_location {}/\n{extra}\n",
                db.display()
            ),
        )
        .expect("conf");
        let mut m = Self {
            child: None,
            conf,
            port,
        };
        m.restart();
        m
    }

    fn restart(&mut self) {
        let log = std::fs::File::create(self.conf.with_extension("log")).expect("log");
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("mosquitto runs (the Debian package mosquitto)");
        let until = Instant::now() + Duration::from_secs(10);
        let mut child = child;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < until, "mosquitto did not listen on {}", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
        // Listening, and it is ours: not another process that holds the port.
        std::thread::sleep(Duration::from_millis(100));
        let log = self.conf.with_extension("log");
        assert!(
            child.try_wait().ok().flatten().is_none(),
            "mosquitto on {} exited: {}",
            self.port,
            std::fs::read_to_string(log).unwrap_or_default()
        );
        self.child = Some(child);
    }

    /// Kills it (SIGTERM: it saves its sessions, as a broker being restarted does).
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
            let until = Instant::now() + Duration::from_secs(10);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn open_to_all(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = if path.is_dir() { 0o777 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("permissions");
}

/// mosquitto_sub with a persistent session (QoS 1), printing `topic payload` lines.
struct Subscriber {
    child: Child,
    out: PathBuf,
}

impl Subscriber {
    fn start(broker: &Mosquitto, dir: &Path, extra: &[&str]) -> Self {
        let out = dir.join("received.txt");
        let child = Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &broker.port.to_string()])
            .args(["-t", "faces/#", "-q", "1", "-c", "-i", "test-subscriber", "-v"])
            .args(extra)
            .stdout(std::fs::File::create(&out).expect("out"))
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub runs (the Debian package mosquitto-clients)");
        // Subscribed once the broker has the session: give it a moment.
        std::thread::sleep(Duration::from_millis(500));
        Self { child, out }
    }

    /// (topic, message) of everything received so far.
    fn received(&self) -> Vec<(String, serde_json::Value)> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(t, p)| (t.to_string(), serde_json::from_str(p).expect("JSON payload")))
            .collect()
    }

    /// Waits until the events received cover `expected`, at most `timeout`.
    fn wait_for_events(&self, expected: usize, timeout: Duration) -> Vec<(String, serde_json::Value)> {
        let until = Instant::now() + timeout;
        loop {
            let got = self.received();
            if unique_events(&got).len() >= expected || Instant::now() > until {
                return got;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Subscriber {
    /// Messages on `topic`, once `n` came or 20 s passed.
    fn wait_for_topic(&self, topic: &str, n: usize) -> usize {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.received().iter().filter(|(t, _)| t == topic).count();
            if got >= n || Instant::now() > until {
                return got;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Events by first arrival of their id; asserts that a repeat is the same event.
fn unique_events(got: &[(String, serde_json::Value)]) -> Vec<serde_json::Value> {
    let mut seen = std::collections::HashMap::new();
    let mut out = Vec::new();
    for (_, m) in got.iter().filter(|(_, m)| m.get("event").is_some()) {
        let id = m["id"].as_str().expect("every event has an id").to_string();
        match seen.get(&id) {
            Some(first) => assert_eq!(first, m, "a duplicate id carries the same event"),
            None => {
                seen.insert(id, m.clone());
                out.push(m.clone());
            }
        }
    }
    out
}

/// What two facejson elements of one stream agree on: the event without its id and
/// wall-clock times (each element stamps its own).
fn content(e: &serde_json::Value) -> serde_json::Value {
    let mut e = e.clone();
    if let Some(o) = e.as_object_mut() {
        for k in ["id", "utc", "first_seen_utc"] {
            o.remove(k);
        }
    }
    e
}

/// A photo scaled down (a quick detector), and a black frame of its size.
fn frames(photo: &str) -> (gst::Caps, gst::Buffer, gst::Buffer) {
    let (caps, picture) = photo_frame(
        &asset(&format!("photos/{photo}")),
        "video/x-raw,format=RGB,width=240,height=460",
    );
    let black = gst::Buffer::from_mut_slice(vec![0u8; picture.size()]);
    (caps, picture, black)
}

/// The face chain from an appsrc into two facejson elements of one stream: one writes
/// a file, the other publishes (`broker_opts`). `sync`: played in real time.
fn chain(gallery: &Path, file: &Path, broker_opts: &str, sync: bool) -> (gst::Pipeline, gst_app::AppSrc) {
    init();
    let desc = format!(
        "appsrc name=src format=time ! facedetect ! faceid gallery=\"{}\" \
         ! facejson mode=both source=room-1 location=\"{}\" \
         ! facejson name=pub mode=both source=room-1 {broker_opts} ! fakesink sync={sync}",
        gallery.display(),
        file.display()
    );
    let pipeline = launch(&desc);
    let src = element(&pipeline, "src");
    (pipeline, src)
}

/// Queues `seconds` of a person coming and going (one second in view, one not).
fn push_visits(src: &gst_app::AppSrc, seconds: u64) {
    let (caps, picture, black) = frames("obama2.jpg");
    src.set_caps(Some(&caps));
    for i in 0..seconds * FPS {
        let mut buf = if (i / FPS).is_multiple_of(2) {
            picture.copy()
        } else {
            black.copy()
        };
        let b = buf.get_mut().expect("writable");
        b.set_pts(gst::ClockTime::from_nseconds(i * FRAME_NS));
        b.set_duration(gst::ClockTime::from_nseconds(FRAME_NS));
        src.push_buffer(buf).expect("pushed");
    }
    src.end_of_stream().expect("eos");
}

/// Waits for the end of the stream; the `face-broker` messages and warnings on the way.
fn wait_eos(pipeline: &gst::Pipeline) -> (Vec<gst::Structure>, Vec<String>) {
    let bus = pipeline.bus().expect("bus");
    let (mut broker, mut warnings) = (Vec::new(), Vec::new());
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(120)) {
        match msg.view() {
            gst::MessageView::Eos(_) => return (broker, warnings),
            gst::MessageView::Error(e) => panic!("{} ({:?})", e.error(), e.debug()),
            gst::MessageView::Warning(w) => warnings.push(format!("{} {:?}", w.error(), w.debug())),
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure().filter(|s| s.name() == "face-broker") {
                    broker.push(s.to_owned());
                }
            }
            _ => {}
        }
    }
    panic!("no end of stream within two minutes");
}

fn file_events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("file written")
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
        .filter(|l| l.get("event").is_some())
        .collect()
}

#[test]
fn a_broker_killed_and_restarted_loses_no_event() {
    let dir = temp_dir("mqtt-restart");
    let mut broker = Mosquitto::start(&dir, "");
    let sub = Subscriber::start(&broker, &dir, &[]);
    let gallery = gallery_of("Barack_Obama", "obama.jpg");
    let file = dir.join("events.jsonl");
    let opts = format!(
        "location=\"mqtt://127.0.0.1:{}/faces/{{source}}/{{event}}\" spool=\"{}\"",
        broker.port,
        dir.join("spool").display()
    );
    let (pipeline, src) = chain(&gallery, &file, &opts, true);
    pipeline.set_state(gst::State::Playing).expect("plays");
    let started = Instant::now();
    push_visits(&src, 12);
    // Killed 2 s in, back 5 s later, while the stream plays in real time.
    std::thread::sleep(Duration::from_secs(2).saturating_sub(started.elapsed()));
    broker.kill();
    std::thread::sleep(Duration::from_secs(5));
    broker.restart();
    let (notices, warnings) = wait_eos(&pipeline);
    let expected = file_events(&file);
    let got = sub.wait_for_events(expected.len(), Duration::from_secs(30));
    pipeline.set_state(gst::State::Null).expect("stops");

    assert!(expected.len() >= 12, "a visit every two seconds: {expected:?}");
    let during: Vec<_> = expected
        .iter()
        .filter(|e| (2.5..6.5).contains(&e["time"].as_f64().unwrap_or(0.0)))
        .collect();
    assert!(!during.is_empty(), "events while the broker was down");
    let states: Vec<_> = notices.iter().filter_map(|s| s.get::<String>("state").ok()).collect();
    assert!(
        states.windows(2).any(|w| w[0] == "away" && w[1] == "connected"),
        "away, then connected again: {states:?}"
    );
    assert!(warnings.iter().any(|w| w.contains("away")), "{warnings:?}");
    let received: Vec<_> = unique_events(&got).iter().map(content).collect();
    let written: Vec<_> = expected.iter().map(content).collect();
    assert_eq!(received, written, "every event, in order");
    // Topics say the camera and the event.
    assert!(
        got.iter()
            .any(|(t, m)| t == "faces/room-1/left" && m["event"] == "left")
    );
    // The frame lines came through as well, in order.
    let frames: Vec<u64> = got
        .iter()
        .filter(|(t, _)| t.ends_with("/frame"))
        .map(|(_, m)| m["frame"].as_u64().expect("frame number"))
        .collect();
    let mut unique = frames.clone();
    unique.dedup();
    let mut sorted = unique.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len() as u64, 12 * FPS, "every frame line");
    // Resent after the reconnect: a run of repeats, then onwards in order.
    assert!(
        frames.windows(2).filter(|w| w[1] < w[0]).count() <= 1,
        "in order but for one resend"
    );
    // The retained status says offline once the pipeline stopped.
    let until = Instant::now() + Duration::from_secs(10);
    let status = loop {
        let last = sub
            .received()
            .into_iter()
            .rev()
            .find(|(t, _)| t == "faces/room-1/status")
            .map(|(_, m)| m["status"].clone());
        if last.as_ref().is_some_and(|s| s == "offline") || Instant::now() > until {
            break last;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.expect("a status"), "offline");
}

#[test]
fn a_broker_absent_at_the_start_gets_the_spool_when_it_appears() {
    let dir = temp_dir("mqtt-absent");
    // The consumer subscribes (a persistent session the broker saves), then the broker
    // goes away before the pipeline starts: when it is back, what it receives is kept
    // for the consumer whether or not mosquitto_sub has reconnected yet.
    let mut broker = Mosquitto::start(&dir, "");
    let sub = Subscriber::start(&broker, &dir, &[]);
    broker.kill();
    let gallery = gallery_of("Barack_Obama", "obama.jpg");
    let file = dir.join("events.jsonl");
    let opts = format!(
        "location=\"mqtt://127.0.0.1:{}/faces/{{source}}\" spool=\"{}\"",
        broker.port,
        dir.join("spool").display()
    );
    let (pipeline, src) = chain(&gallery, &file, &opts, false);
    pipeline.set_state(gst::State::Playing).expect("plays");
    push_visits(&src, 6);
    // Nothing listens on the port: the stream still runs to its end.
    let (notices, _) = wait_eos(&pipeline);
    assert!(
        notices
            .iter()
            .any(|s| s.get::<String>("state").ok().as_deref() == Some("away")),
        "{notices:?}"
    );
    let expected = file_events(&file);
    assert!(expected.len() >= 6, "{expected:?}");

    // The broker appears on that port while the pipeline is still up.
    broker.restart();
    let got = sub.wait_for_events(expected.len(), Duration::from_secs(30));
    pipeline.set_state(gst::State::Null).expect("stops");
    let received: Vec<_> = unique_events(&got).iter().map(content).collect();
    let written: Vec<_> = expected.iter().map(content).collect();
    assert_eq!(received, written, "the spool, in order");
}

#[test]
fn a_spool_left_by_a_stopped_pipeline_goes_out_on_the_next_start() {
    let dir = temp_dir("mqtt-next-run");
    let port = free_port();
    let gallery = gallery_of("Barack_Obama", "obama.jpg");
    let spool = dir.join("spool");
    let opts = format!(
        "location=\"mqtt://127.0.0.1:{port}/faces/{{source}}\" spool=\"{}\"",
        spool.display()
    );
    // First run: no broker at all; stopped with everything spooled.
    let first = dir.join("first.jsonl");
    let (pipeline, src) = chain(&gallery, &first, &opts, false);
    pipeline.set_state(gst::State::Playing).expect("plays");
    push_visits(&src, 4);
    wait_eos(&pipeline);
    pipeline.set_state(gst::State::Null).expect("stops");
    let expected = file_events(&first);
    assert!(expected.len() >= 4, "{expected:?}");

    let broker_dir = dir.join("broker");
    std::fs::create_dir_all(&broker_dir).expect("dir");
    let mut broker = Mosquitto {
        child: None,
        conf: broker_dir.join("mosquitto.conf"),
        port,
    };
    std::fs::write(
        &broker.conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\n"),
    )
    .expect("conf");
    broker.restart();
    let sub = Subscriber::start(&broker, &dir, &[]);
    // Second run, with the broker: the first run's events go first.
    let second = dir.join("second.jsonl");
    let (pipeline, src) = chain(&gallery, &second, &opts, false);
    pipeline.set_state(gst::State::Playing).expect("plays");
    push_visits(&src, 2);
    wait_eos(&pipeline);
    pipeline.set_state(gst::State::Null).expect("stops");
    let mut all = expected.clone();
    all.extend(file_events(&second));
    let got = sub.wait_for_events(all.len(), Duration::from_secs(30));
    let received: Vec<_> = unique_events(&got).iter().map(content).collect();
    let written: Vec<_> = all.iter().map(content).collect();
    assert_eq!(received, written, "the first run's events, then the second's");
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate signed by it, and
/// a second CA that signed nothing, made with openssl.
fn certificates(dir: &Path) {
    let sh = format!(
        "set -e; cd '{}'
         openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca.key -out ca.pem 2>/dev/null
         openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca -keyout other.key -out other.pem 2>/dev/null
         openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr 2>/dev/null
         printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext
         openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
             -extfile san.ext -out server.pem 2>/dev/null
         openssl req -newkey rsa:2048 -nodes -subj /CN=camera -keyout client.key -out client.csr 2>/dev/null
         printf 'extendedKeyUsage=clientAuth\n' > client.ext
         openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
             -extfile client.ext -out client.pem 2>/dev/null",
        dir.display()
    );
    let ok = Command::new("sh").arg("-c").arg(sh).status().expect("openssl runs");
    assert!(ok.success(), "certificates made");
    open_to_all(&dir.join("server.key"));
}

/// A stream of a few seconds with no faces, into facejson `opts`: the error (if any)
/// and the warnings.
fn publish_nothing(opts: &str) -> (Result<(), String>, Vec<String>) {
    publish_frames(30, 10, opts)
}

fn publish_frames(n: u32, fps: u32, opts: &str) -> (Result<(), String>, Vec<String>) {
    init();
    play(&format!(
        "videotestsrc is-live=true num-buffers={n} ! video/x-raw,width=64,height=48,framerate={fps}/1 \
         ! facejson mode=both source=tls {opts} ! fakesink"
    ))
}

#[test]
fn tls_and_passwords_work_and_wrong_ones_fail_clearly() {
    let dir = temp_dir("mqtt-tls");
    certificates(&dir);
    let passwords = dir.join("passwords");
    let made = Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&passwords)
        .args(["camera", "right-secret"])
        .status()
        .expect("mosquitto_passwd runs");
    assert!(made.success());
    open_to_all(&passwords);
    let d = dir.display();
    let broker = Mosquitto::start(
        &dir,
        &format!("cafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\npassword_file {d}/passwords"),
    );
    let base = format!("location=\"mqtts://127.0.0.1:{}/faces/{{source}}\"", broker.port);

    // The right CA and password, over MQTT 5: the frames arrive.
    let ca = format!("{d}/ca.pem");
    let sub = Subscriber::start(&broker, &dir, &["--cafile", &ca, "-u", "camera", "-P", "right-secret"]);
    let (r, warnings) = publish_nothing(&format!(
        "{base} mqtt-ca-file=\"{d}/ca.pem\" mqtt-username=camera mqtt-password=right-secret \
         mqtt-protocol=5 spool=\"{d}/spool-ok\""
    ));
    assert!(r.is_ok(), "{r:?} {warnings:?}");
    assert_eq!(sub.wait_for_topic("faces/tls", 30), 30, "every frame line over TLS");

    // A CA that did not sign the broker's certificate.
    let (r, _) = publish_nothing(&format!(
        "{base} mqtt-ca-file=\"{d}/other.pem\" mqtt-username=camera mqtt-password=right-secret spool=\"{d}/spool-ca\""
    ));
    let e = r.expect_err("a wrong CA fails");
    assert!(e.contains("mqtt-ca-file") && e.contains("not trusted"), "{e}");

    // A wrong password: refused, named, and not shown.
    let (r, warnings) = publish_nothing(&format!(
        "{base} mqtt-ca-file=\"{d}/ca.pem\" mqtt-username=camera mqtt-password=wrong-secret spool=\"{d}/spool-pw\""
    ));
    let e = r.expect_err("a wrong password fails");
    assert!(e.contains("mqtt-password"), "{e}");
    for text in warnings.iter().chain([&e]) {
        assert!(!text.contains("secret"), "a password shown: {text}");
    }
    // Nor in the URL, read back or in a message.
    let (r, warnings) = publish_nothing(&format!(
        "location=\"mqtts://camera:wrong-secret@127.0.0.1:{}/faces\" mqtt-ca-file=\"{d}/ca.pem\" spool=\"{d}/spool-url\"",
        broker.port
    ));
    let e = r.expect_err("a wrong password in the URL fails");
    for text in warnings.iter().chain([&e]) {
        assert!(!text.contains("secret"), "a password shown: {text}");
    }

    // A broker that wants a client certificate: with one signed by its CA the frames
    // arrive; without one the error says what is missing.
    let strict_dir = dir.join("strict");
    std::fs::create_dir_all(&strict_dir).expect("dir");
    let strict = Mosquitto::start(
        &strict_dir,
        &format!("cafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\nrequire_certificate true"),
    );
    let sub = Subscriber::start(
        &strict,
        &strict_dir,
        &[
            "--cafile",
            &ca,
            "--cert",
            &format!("{d}/client.pem"),
            "--key",
            &format!("{d}/client.key"),
        ],
    );
    let strict_base = format!(
        "location=\"mqtts://127.0.0.1:{}/faces/{{source}}\" mqtt-ca-file=\"{d}/ca.pem\"",
        strict.port
    );
    let (r, warnings) = publish_nothing(&format!(
        "{strict_base} mqtt-cert-file=\"{d}/client.pem\" mqtt-key-file=\"{d}/client.key\" spool=\"{d}/spool-cert\""
    ));
    assert!(r.is_ok(), "{r:?} {warnings:?}");
    assert_eq!(
        sub.wait_for_topic("faces/tls", 30),
        30,
        "every frame line, client certificate"
    );
    let (r, _) = publish_nothing(&format!("{strict_base} spool=\"{d}/spool-nocert\""));
    let e = r.expect_err("no client certificate fails");
    assert!(e.contains("mqtt-cert-file"), "{e}");

    let element = gst::ElementFactory::make("facejson")
        .property("location", "mqtt://camera:wrong-secret@127.0.0.1:1/faces")
        .build()
        .expect("facejson");
    let read_back: String = element.property("location");
    assert!(
        !read_back.contains("secret") && read_back.contains("camera"),
        "{read_back}"
    );
}

#[test]
fn bad_broker_settings_fail_the_state_change_naming_the_property() {
    for (opts, property) in [
        ("location=mqtt://127.0.0.1:port/faces", "location"),
        ("location=mqtt://127.0.0.1:1883", "location"),
        (
            "location=mqtts://127.0.0.1/faces mqtt-ca-file=/nonexistent/ca.pem",
            "mqtt-ca-file",
        ),
        (
            "location=mqtt://127.0.0.1/faces mqtt-ca-file=/nonexistent/ca.pem",
            "mqtt-ca-file",
        ),
        (
            "location=mqtts://127.0.0.1/faces mqtt-cert-file=/x.pem",
            "mqtt-key-file",
        ),
    ] {
        let (r, _) = publish_nothing(opts);
        let e = r.expect_err(opts);
        assert!(e.contains(property), "{opts}: {e}");
    }
}

#[test]
fn a_full_spool_drops_the_oldest_and_says_how_many() {
    let dir = temp_dir("mqtt-full");
    // Some 200 frame lines: several times the spool's 4 KiB.
    let (r, warnings) = publish_frames(
        200,
        100,
        &format!(
            "location=mqtt://127.0.0.1:{}/faces spool=\"{}\" spool-size=4096",
            free_port(),
            dir.join("spool").display()
        ),
    );
    assert!(r.is_ok(), "the broker's absence is not an error: {r:?}");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("dropped the") && w.contains("spool-size")),
        "{warnings:?}"
    );
}
