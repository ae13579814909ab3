//! face-rtsp end to end: the real binary serving the demo clip on a free port, and real
//! RTSP clients (in-process GStreamer, gst-launch-1.0, ffprobe) watching it; for the
//! outages, a real RTSP camera (face-rtsp-camera, a plain gst-rtsp-server serving the
//! clip on 127.0.0.1) that is killed and started again on the same port.
//!
//! The tests take turns (one server at a time): each one plays video in real time and
//! the machine may have only two cores.

use gst::prelude::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_face-rtsp");
const CAMERA_BIN: &str = env!("CARGO_BIN_EXE_face-rtsp-camera");
/// Startup includes loading the models and running the pipeline once (debug build).
const START_TIMEOUT: Duration = Duration::from_secs(120);
const CLIENT_TIMEOUT: Duration = Duration::from_secs(90);
/// faceannotate's colour for gallery person 2 (folders sorted: Barack_Obama, Joe_Biden,
/// Presenter); see faceengine::draw::PALETTE.
const PRESENTER_RGB: [i32; 3] = [0, 130, 200];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn clip() -> String {
    root()
        .join("assets/video/WolfgangLanger_Pexels.mp4")
        .to_string_lossy()
        .into_owned()
}

fn gallery() -> String {
    root().join("assets/demo-gallery").to_string_lossy().into_owned()
}

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| gst::init().expect("GStreamer initialises"));
}

/// A temporary file name for this test process.
fn temp(what: &str) -> PathBuf {
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("face-rtsp-test-{}-{n}-{what}", std::process::id()))
}

/// A port on 127.0.0.1 that nothing listens on now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// The `serving rtsp://…` lines of a child's standard output, as they come.
fn serving_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("serving ") {
                let _ = tx.send(url.to_string());
            }
        }
    });
    rx
}

/// A real RTSP camera on 127.0.0.1 (face-rtsp-camera serving the clip, looped), killed
/// when dropped.
struct Camera {
    child: Child,
    url: String,
}

impl Camera {
    fn start(port: u16) -> Camera {
        let mut child = Command::new(CAMERA_BIN)
            .args([&clip(), "--address", "127.0.0.1", "--port", &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("face-rtsp-camera starts");
        let url = serving_lines(&mut child)
            .recv_timeout(Duration::from_secs(30))
            .expect("the camera serves");
        Camera { child, url }
    }

    /// Pulls the plug: SIGKILL, as a camera that loses power.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running face-rtsp, killed when dropped (a failed assertion never leaves it behind).
struct Server {
    child: Child,
    url: String,
    /// Every mount's URL, in the order of the command line's cameras.
    urls: Vec<String>,
    log: PathBuf,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        Self::start_mounts(args, 1)
    }

    fn start_mounts(args: &[&str], mounts: usize) -> Server {
        let log = temp("face-rtsp.log");
        let mut cmd = Command::new(BIN);
        cmd.args(["--address", "127.0.0.1", "--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"));
        // ONNX Runtime when fetched (much faster); tract otherwise.
        if let Ok(dir) = std::fs::read_dir(root().join("assets/onnxruntime"))
            && let Some(lib) = dir
                .flatten()
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().contains("libonnxruntime.so."))
        {
            cmd.env("ORT_DYLIB_PATH", lib);
        }
        let mut child = cmd.spawn().expect("face-rtsp starts");
        let rx = serving_lines(&mut child);
        let mut server = Server {
            child,
            url: String::new(),
            urls: Vec::new(),
            log,
        };
        while server.urls.len() < mounts {
            match rx.recv_timeout(START_TIMEOUT) {
                Ok(url) => server.urls.push(url),
                Err(_) => panic!("face-rtsp did not start:\n{}", server.log()),
            }
        }
        server.url = server.urls[0].clone();
        assert!(server.url.starts_with("rtsp://127.0.0.1:"), "{}", server.url);
        if mounts == 1 {
            assert!(server.url.ends_with("/faces"), "{}", server.url);
        }
        server
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(ok.success());
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// One decoded RGB frame and when it arrived.
struct Frame {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
    at: Instant,
}

/// The client pipeline `desc`, with its appsink named `sink` (not synchronised).
fn client(desc: &str) -> (gst::Pipeline, gst_app::AppSink) {
    init();
    let pipeline = gst::parse::launch(desc)
        .expect("client pipeline")
        .downcast::<gst::Pipeline>()
        .expect("pipeline");
    let sink = pipeline
        .by_name("sink")
        .expect("sink")
        .downcast::<gst_app::AppSink>()
        .expect("appsink");
    sink.set_property("sync", false);
    (pipeline, sink)
}

/// An RTSP viewer of `url`, decoding to RGB into an appsink named `sink`.
fn viewer_line(url: &str) -> String {
    format!(
        "rtspsrc location={url} latency=200 ! decodebin ! videoconvert ! video/x-raw,format=RGB ! appsink name=sink"
    )
}

/// Decodes `n` frames with an appsink at the end of `desc`; panics after the timeout.
fn frames_from(desc: &str, n: usize, timeout: Duration) -> Vec<Frame> {
    let (pipeline, sink) = client(desc);
    pipeline.set_state(gst::State::Playing).expect("client plays");
    let bus = pipeline.bus().expect("bus");
    let until = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < until {
        if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
            let _ = pipeline.set_state(gst::State::Null);
            panic!("client error after {} frames: {:?}", out.len(), msg);
        }
        let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_mseconds(500)) else {
            if sink.is_eos() {
                break;
            }
            continue;
        };
        out.push(to_frame(&sample));
    }
    pipeline.set_state(gst::State::Null).expect("client stops");
    out
}

/// Watches `url` for `duration`, keeping only `summary` of each decoded frame and when
/// it came (frames are not kept: a minute of them would not fit in memory).
fn watch<T>(url: &str, duration: Duration, summary: impl Fn(&Frame) -> T) -> Vec<(Instant, T)> {
    let (pipeline, sink) = client(&viewer_line(url));
    // When each frame reached the sink, noted in its streaming thread: the frames are
    // summarised here, after they queued, and a slow summary must not look like a late
    // frame.
    let arrivals = std::sync::Arc::new(Mutex::new(std::collections::VecDeque::new()));
    if let Some(pad) = sink.static_pad("sink") {
        let arrivals = arrivals.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            arrivals
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_back(Instant::now());
            gst::PadProbeReturn::Ok
        });
    }
    pipeline.set_state(gst::State::Playing).expect("client plays");
    let bus = pipeline.bus().expect("bus");
    let until = Instant::now() + duration;
    let mut out = Vec::new();
    while Instant::now() < until {
        if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error, gst::MessageType::Eos]) {
            let _ = pipeline.set_state(gst::State::Null);
            panic!("client stopped after {} frames: {:?}", out.len(), msg);
        }
        let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_mseconds(100)) else {
            continue;
        };
        let mut frame = to_frame(&sample);
        if let Some(at) = arrivals.lock().unwrap_or_else(|e| e.into_inner()).pop_front() {
            frame.at = at;
        }
        out.push((frame.at, summary(&frame)));
    }
    pipeline.set_state(gst::State::Null).expect("client stops");
    out
}

fn to_frame(sample: &gst::Sample) -> Frame {
    let s = sample.caps().expect("caps").structure(0).expect("structure").to_owned();
    let (w, h) = (
        s.get::<i32>("width").expect("width") as usize,
        s.get::<i32>("height").expect("height") as usize,
    );
    let map = sample.buffer().expect("buffer").map_readable().expect("readable");
    // RGB rows are padded to 4 bytes (none at 640 px).
    let stride = (w * 3).div_ceil(4) * 4;
    let mut rgb = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        rgb.extend_from_slice(&map[y * stride..y * stride + w * 3]);
    }
    Frame {
        width: w,
        height: h,
        rgb,
        at: Instant::now(),
    }
}

fn rtsp_frames(url: &str, n: usize) -> Vec<Frame> {
    frames_from(&viewer_line(url), n, CLIENT_TIMEOUT)
}

/// Pixels of the presenter's box colour, the longest horizontal run of them, and the
/// bounding box of all runs of 20 or more, across or down (the box's four edges).
struct Marks {
    pixels: usize,
    longest_run: usize,
    bbox: Option<[usize; 4]>,
}

impl Marks {
    /// Long runs of her colour around a face-sized area: her box is drawn.
    fn boxed(&self) -> bool {
        self.longest_run >= 60 && self.pixels >= 500
    }
}

fn presenter_boxed(f: &Frame) -> bool {
    presenter_marks(f).boxed()
}

fn presenter_marks(f: &Frame) -> Marks {
    let near = |x: usize, y: usize| {
        let p = &f.rgb[(y * f.width + x) * 3..][..3];
        let d: i32 = (0..3).map(|i| (p[i] as i32 - PRESENTER_RGB[i]).abs()).sum();
        // Blue-cyan, far from the clip's warm greys (compression and 4:2:0 chroma blur
        // the 2-6 px lines, so allow a wide margin around the exact colour).
        d < 150 && p[2] as i32 - p[0] as i32 > 90
    };
    let mut m = Marks {
        pixels: 0,
        longest_run: 0,
        bbox: None,
    };
    let mut grow = |x: usize, y: usize| {
        let b = m.bbox.get_or_insert([x, y, x, y]);
        *b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
    };
    for y in 0..f.height {
        let mut run = 0;
        for x in 0..f.width {
            run = if near(x, y) { run + 1 } else { 0 };
            m.pixels += usize::from(run > 0);
            m.longest_run = m.longest_run.max(run);
            if run >= 20 {
                grow(x, y);
                grow(x + 1 - run, y);
            }
        }
    }
    for x in 0..f.width {
        let mut run = 0;
        for y in 0..f.height {
            run = if near(x, y) { run + 1 } else { 0 };
            if run >= 20 {
                grow(x, y);
                grow(x, y + 1 - run);
            }
        }
    }
    m
}

#[test]
fn serves_the_clip_annotated_and_in_real_time() {
    let _turn = serial();
    let server = Server::start(&["--input", &clip(), "--gallery", &gallery(), "--loop"]);
    let frames = rtsp_frames(&server.url, 120);
    assert!(frames.len() >= 100, "only {} frames\n{}", frames.len(), server.log());
    for f in &frames {
        assert_eq!((f.width, f.height), (640, 360));
    }
    // Paced at the clip's 23.976 fps, not sent as a burst: frames 20..120 span ~4.2 s.
    let span = frames[frames.len() - 1].at.duration_since(frames[20].at).as_secs_f64();
    let expected = (frames.len() - 21) as f64 / 23.976;
    assert!(
        span > expected * 0.7 && span < expected * 1.6,
        "{} frames took {span:.2} s, expected about {expected:.2} s",
        frames.len() - 21
    );

    // The same clip decoded here without the server has none of the box colour...
    let plain = frames_from(
        &format!(
            "filesrc location=\"{}\" ! decodebin ! videoconvert ! video/x-raw,format=RGB ! appsink name=sink",
            clip()
        ),
        100,
        CLIENT_TIMEOUT,
    );
    assert_eq!(plain.len(), 100);
    let plain_max = plain.iter().map(|f| presenter_marks(f).longest_run).max().unwrap_or(0);
    assert!(
        plain_max < 20,
        "the plain clip already has runs of {plain_max} box-coloured pixels"
    );

    // ...and the served frames show the presenter's box: long runs of her colour around a
    // face-sized area (named Presenter: an unknown face would be grey).
    let marked: Vec<Marks> = frames[20..].iter().map(presenter_marks).collect();
    let boxed: Vec<&Marks> = marked.iter().filter(|m| m.boxed()).collect();
    assert!(
        boxed.len() * 10 >= marked.len() * 8,
        "the presenter's box is in {} of {} frames",
        boxed.len(),
        marked.len()
    );
    for m in boxed {
        let [x0, y0, x1, y1] = m.bbox.expect("runs");
        let (w, h) = (x1 - x0 + 1, y1 - y0 + 1);
        assert!(
            (80..=500).contains(&w) && (80..=360).contains(&h),
            "box {w}x{h} at {x0},{y0}"
        );
    }
}

#[test]
fn two_clients_watch_at_once() {
    let _turn = serial();
    let server = Server::start(&["--input", &clip(), "--loop"]);
    let url = server.url.clone();
    let other = std::thread::spawn(move || rtsp_frames(&url, 100).len());
    let here = rtsp_frames(&server.url, 100).len();
    let there = other.join().expect("second client");
    assert!(
        here >= 100 && there >= 100,
        "frames: {here} and {there}\n{}",
        server.log()
    );
}

#[test]
fn a_client_killed_mid_stream_harms_nobody() {
    let _turn = serial();
    let mut server = Server::start(&["--input", &clip(), "--loop"]);
    // Over TCP, so that the kill leaves the server writing into a reset connection.
    let mut victim = Command::new("gst-launch-1.0")
        .args([
            "-q",
            "rtspsrc",
            &format!("location={}", server.url),
            "protocols=tcp",
            "!",
            "fakesink",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("gst-launch-1.0 runs");
    // A second client is watching all along.
    let url = server.url.clone();
    let watcher = std::thread::spawn(move || rtsp_frames(&url, 200).len());
    std::thread::sleep(Duration::from_secs(4));
    assert!(matches!(victim.try_wait(), Ok(None)), "the TCP client ended early");
    victim.kill().expect("SIGKILL");
    let _ = victim.wait();
    let after = rtsp_frames(&server.url, 50).len();
    assert!(after >= 50, "a new client got {after} frames\n{}", server.log());
    let watched = watcher.join().expect("watcher");
    assert!(
        watched >= 200,
        "the other client got {watched} frames\n{}",
        server.log()
    );
    assert!(server.alive(), "the server died\n{}", server.log());
}

#[test]
fn ffprobe_sees_h264_640x360() {
    let _turn = serial();
    if Command::new("ffprobe").arg("-version").output().is_err() {
        eprintln!("ffprobe is not installed: skipped");
        return;
    }
    let server = Server::start(&["--input", &clip(), "--loop"]);
    let out = Command::new("timeout")
        .args([
            "60",
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "default=noprint_wrappers=1",
            &server.url,
        ])
        .output()
        .expect("ffprobe runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text} {}", String::from_utf8_lossy(&out.stderr));
    for line in ["codec_name=h264", "width=640", "height=360"] {
        assert!(text.lines().any(|l| l == line), "{line} not in {text}");
    }
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let _turn = serial();
    let mut server = Server::start(&["--input", &clip(), "--loop"]);
    let url = server.url.clone();
    // A client mid-stream while the signal comes.
    let client = std::thread::spawn(move || rtsp_frames(&url, 1000).len());
    std::thread::sleep(Duration::from_secs(3));
    server.signal("-TERM");
    let status = server.wait_exit(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "exit: {status:?}\n{}",
        server.log()
    );
    assert!(client.join().expect("client") > 0);
}

/// The longest wait between two frames of `seen` (after the first).
fn longest_gap<T>(seen: &[(Instant, T)]) -> Duration {
    seen.windows(2)
        .map(|w| w[1].0.duration_since(w[0].0))
        .max()
        .unwrap_or(Duration::MAX)
}

/// The JSON lines of `path` whose "event" is one of `kinds`.
fn events(path: &Path, kinds: &[&str]) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| kinds.iter().any(|k| l.contains(&format!("\"event\":\"{k}\""))))
        .map(str::to_string)
        .collect()
}

/// The number after `"key":` in a JSON line.
fn number_in(line: &str, key: &str) -> f64 {
    let at = line
        .find(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("no {key} in {line}"));
    line[at + key.len() + 3..]
        .split([',', '}'])
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{key} is not a number in {line}"))
}

#[test]
fn a_camera_that_drops_out_for_10_s_keeps_its_viewer_and_comes_back_annotated() {
    let _turn = serial();
    let port = free_port();
    let camera = Camera::start(port);
    let json = temp("events.jsonl");
    let mut server = Server::start(&[
        "--input",
        &camera.url,
        "--gallery",
        &gallery(),
        "--json",
        &json.to_string_lossy(),
        "--stats",
        "0",
    ]);
    let url = server.url.clone();
    let viewer = std::thread::spawn(move || watch(&url, Duration::from_secs(32), presenter_boxed));
    std::thread::sleep(Duration::from_secs(9));
    camera.kill();
    let killed = Instant::now();
    std::thread::sleep(Duration::from_secs(10));
    let _camera = Camera::start(port);
    let back = Instant::now();
    let seen = viewer.join().expect("viewer");
    let log = server.log();
    assert!(server.alive(), "face-rtsp died\n{log}");
    assert!(seen.len() > 400, "{} frames in 32 s\n{log}", seen.len());
    // Frames throughout: the last frame, then the slate, at the stream's rate.
    let gap = longest_gap(&seen);
    assert!(gap < Duration::from_secs(1), "no frame for {gap:?}\n{log}");
    assert!(
        seen.iter().any(|(at, boxed)| *boxed && *at < killed),
        "never annotated before the outage\n{log}"
    );
    let outage: Vec<bool> = seen
        .iter()
        .filter(|(at, _)| *at > killed + Duration::from_secs(2) && *at < back)
        .map(|(_, b)| *b)
        .collect();
    assert!(outage.len() > 100, "{} frames during the outage\n{log}", outage.len());
    // Annotated camera frames again within 5 s of the camera's return.
    let again = seen
        .iter()
        .find(|(at, boxed)| *boxed && *at > back)
        .map(|(at, _)| at.duration_since(back))
        .unwrap_or_else(|| panic!("never annotated after the camera came back\n{log}"));
    // What the viewer saw after the return, as runs of (boxed, frames, from s).
    let mut runs: Vec<(bool, usize, f64)> = Vec::new();
    for (at, boxed) in seen.iter().filter(|(at, _)| *at > back) {
        match runs.last_mut() {
            Some((b, n, _)) if b == boxed => *n += 1,
            _ => runs.push((*boxed, 1, at.duration_since(back).as_secs_f64())),
        }
    }
    assert!(
        again < Duration::from_secs(5),
        "annotated again after {again:?}; after the return (boxed, frames, from s): {runs:?}\n{log}"
    );
    // The events say it: the presenter left at the loss, the source was lost and came
    // back about 10 s later, and she appeared again.
    server.signal("-TERM");
    assert!(server.wait_exit(Duration::from_secs(20)).is_some_and(|s| s.success()));
    let lines = events(&json, &["left", "source-lost", "source-restored"]);
    let _ = std::fs::remove_file(&json);
    let lost = lines
        .iter()
        .position(|l| l.contains("\"event\":\"source-lost\""))
        .unwrap_or_else(|| panic!("no source-lost in {lines:#?}"));
    assert!(
        lost > 0 && lines[lost - 1].contains("\"reason\":\"source-lost\""),
        "{lines:#?}"
    );
    let restored = &lines[lost + 1];
    assert!(restored.contains("\"source-restored\"") && restored.contains("\"source\":\"faces\""));
    let away = number_in(restored, "lost_for");
    assert!((9.0..16.0).contains(&away), "lost for {away} s: {restored}");
    assert!(log.contains("next try in"), "{log}");
}

#[test]
fn a_camera_absent_at_start_is_waited_for() {
    let _turn = serial();
    let port = free_port();
    let url = format!("rtsp://127.0.0.1:{port}/camera");
    let mut server = Server::start(&["--input", &url, "--gallery", &gallery(), "--stats", "0"]);
    let watch_url = server.url.clone();
    let viewer = std::thread::spawn(move || watch(&watch_url, Duration::from_secs(22), presenter_boxed));
    std::thread::sleep(Duration::from_secs(8));
    let _camera = Camera::start(port);
    let back = Instant::now();
    let seen = viewer.join().expect("viewer");
    let log = server.log();
    assert!(server.alive(), "face-rtsp died\n{log}");
    let gap = longest_gap(&seen);
    assert!(gap < Duration::from_secs(1), "no frame for {gap:?}\n{log}");
    assert!(
        seen.iter().filter(|(at, _)| *at < back).count() > 80,
        "too few slates before the camera came\n{log}"
    );
    let first = seen
        .iter()
        .find(|(_, boxed)| *boxed)
        .map(|(at, _)| at.saturating_duration_since(back))
        .unwrap_or_else(|| panic!("never annotated\n{log}"));
    assert!(first < Duration::from_secs(5), "annotated after {first:?}\n{log}");
}

#[test]
fn forty_viewers_killed_within_2_s_harm_nobody() {
    let _turn = serial();
    let mut server = Server::start(&["--input", &clip(), "--loop", "--stats", "0"]);
    let mut viewers: Vec<Child> = (0..40)
        .map(|i| {
            Command::new("gst-launch-1.0")
                .args([
                    "-q",
                    "rtspsrc",
                    &format!("location={}", server.url),
                    if i % 2 == 0 { "protocols=tcp" } else { "protocols=udp" },
                    "!",
                    "fakesink",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("gst-launch-1.0 runs")
        })
        .collect();
    // Killed one after the other over 2 s: before, during and after their handshakes.
    for v in &mut viewers {
        std::thread::sleep(Duration::from_millis(50));
        let _ = v.kill();
    }
    for v in &mut viewers {
        let _ = v.wait();
    }
    let frames = rtsp_frames(&server.url, 100);
    let log = server.log();
    assert!(frames.len() >= 100, "a viewer got {} frames\n{log}", frames.len());
    assert!(server.alive(), "the server died\n{log}");
}

#[test]
fn four_cameras_in_one_process_each_on_its_own_mount() {
    let _turn = serial();
    // Four cameras of four colours (ARGB), no faces.
    let colours: [(&str, u32, [i32; 3]); 4] = [
        ("red", 0xffe01010, [224, 16, 16]),
        ("green", 0xff10c010, [16, 192, 16]),
        ("blue", 0xff1010e0, [16, 16, 224]),
        ("grey", 0xff808080, [128, 128, 128]),
    ];
    let launches: Vec<String> = colours
        .iter()
        .map(|(name, argb, _)| {
            format!(
                "{name}=videotestsrc is-live=true pattern=solid-color foreground-color={argb} \
                 ! video/x-raw,width=320,height=240,framerate=10/1"
            )
        })
        .collect();
    let mut args: Vec<&str> = Vec::new();
    for l in &launches {
        args.extend(["--launch", l.as_str()]);
    }
    args.extend(["--stats", "0"]);
    let mut server = Server::start_mounts(&args, 4);
    for ((name, _, rgb), url) in colours.iter().zip(&server.urls) {
        assert!(url.ends_with(&format!("/{name}")), "{url}");
        let frames = rtsp_frames(url, 5);
        assert_eq!(frames.len(), 5, "{name}\n{}", server.log());
        let f = &frames[4];
        let mid = (f.height / 2 * f.width + f.width / 2) * 3;
        let px = &f.rgb[mid..mid + 3];
        let d: i32 = (0..3).map(|i| (px[i] as i32 - rgb[i]).abs()).sum();
        assert!(d < 60, "{name}'s mount shows {px:?}, not {rgb:?}");
    }
    assert!(server.alive(), "{}", server.log());
}

fn run_bad(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN).args(args).output().expect("face-rtsp runs");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn bad_flags_exit_2_naming_the_flag() {
    let clip = clip();
    let cases: [(&[&str], &str); 10] = [
        (&["--input", "/no/such/video.mp4"], "--input"),
        (&["--input", &clip, "--encoder", "h265magic"], "--encoder"),
        (&["--input", &clip, "--port", "99999"], "--port"),
        (&["--input", &clip, "--detect-opts", "no-such-prop=1"], "--detect-opts"),
        (&["--input", &clip, "--gallery", "/no/such/people"], "--gallery"),
        (&["--launch", "videotestsrc ! x264enc ! rtph264pay"], "--launch"),
        (&["--launch", "videotestsrc ! (( !"], "--launch"),
        (&["--input", &clip, "--bogus"], "--bogus"),
        (&["--input", "rtsp://a/s", "--input", "rtsp://b/s"], "--input"),
        (&["--input", &clip, "--source-timeout", "soon"], "--source-timeout"),
    ];
    for (args, flag) in cases {
        let (code, stderr) = run_bad(args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_broken_model_fails_at_start_with_the_elements_message() {
    let _turn = serial();
    let (code, stderr) = run_bad(&[
        "--input",
        &clip(),
        "--port",
        "0",
        "--detect-opts",
        "model=/no/such/model.onnx",
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("/no/such/model.onnx"), "{stderr}");
}
