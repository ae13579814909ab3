//! face-rtsp end to end: the real binary serving the demo clip on a free port, and real
//! RTSP clients (in-process GStreamer, gst-launch-1.0, ffprobe) watching it.
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

/// A running face-rtsp, killed when dropped (a failed assertion never leaves it behind).
struct Server {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = std::env::temp_dir().join(format!("face-rtsp-test-{}-{n}.log", std::process::id()));
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
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("serving ") {
                    let _ = tx.send(url.to_string());
                }
            }
        });
        let mut server = Server {
            child,
            url: String::new(),
            log,
        };
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(url) => server.url = url,
            Err(_) => panic!("face-rtsp did not start:\n{}", server.log()),
        }
        assert!(server.url.starts_with("rtsp://127.0.0.1:"), "{}", server.url);
        assert!(server.url.ends_with("/faces"), "{}", server.url);
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

/// Decodes `n` frames with an appsink at the end of `desc`; panics after the timeout.
fn frames_from(desc: &str, n: usize, timeout: Duration) -> Vec<Frame> {
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
        out.push(Frame {
            width: w,
            height: h,
            rgb,
            at: Instant::now(),
        });
    }
    pipeline.set_state(gst::State::Null).expect("client stops");
    out
}

fn rtsp_frames(url: &str, n: usize) -> Vec<Frame> {
    frames_from(
        &format!(
            "rtspsrc location={url} latency=200 ! decodebin ! videoconvert ! video/x-raw,format=RGB ! appsink name=sink"
        ),
        n,
        CLIENT_TIMEOUT,
    )
}

/// Pixels of the presenter's box colour, the longest horizontal run of them, and the
/// bounding box of all runs of 20 or more, across or down (the box's four edges).
struct Marks {
    pixels: usize,
    longest_run: usize,
    bbox: Option<[usize; 4]>,
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
    let boxed: Vec<&Marks> = marked
        .iter()
        .filter(|m| m.longest_run >= 60 && m.pixels >= 500)
        .collect();
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

fn run_bad(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN).args(args).output().expect("face-rtsp runs");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn bad_flags_exit_2_naming_the_flag() {
    let clip = clip();
    let cases: [(&[&str], &str); 8] = [
        (&["--input", "/no/such/video.mp4"], "--input"),
        (&["--input", &clip, "--encoder", "h265magic"], "--encoder"),
        (&["--input", &clip, "--port", "99999"], "--port"),
        (&["--input", &clip, "--detect-opts", "no-such-prop=1"], "--detect-opts"),
        (&["--input", &clip, "--gallery", "/no/such/people"], "--gallery"),
        (&["--launch", "videotestsrc ! x264enc ! rtph264pay"], "--launch"),
        (&["--launch", "videotestsrc ! (( !"], "--launch"),
        (&["--input", &clip, "--bogus"], "--bogus"),
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
