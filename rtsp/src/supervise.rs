//! Source supervision: each camera's ingest pipeline is run, watched and, when it fails,
//! torn down and built again, for ever.
//!
//! A failure is an error from the pipeline (rtspsrc's, the decoder's), an end of stream
//! from anything but a file that is not looping, or no frame for `--source-timeout`
//! (twice that, at least 10 s, for the first frame of a connection: a camera's first
//! keyframe can take a few seconds). After a failure the supervisor waits 1 s, then
//! twice as long after each try that gave no frame, up to 30 s, and tries again,
//! logging every try. An RTSP camera whose port refused the connection is also knocked
//! on (a plain TCP connect) every second while the supervisor waits: a camera that
//! reboots is back within a second of opening its port, whatever the backoff has grown
//! to. A try that gives frames resets the backoff.
//!
//! Why our own rather than gst-plugins-rs's `fallbacksrc`: it needs GStreamer 1.20 for
//! its default feature where JetPack 5 ships 1.16 (our floor is 1.14), and what we need
//! around the source is ours anyway: the analysis keeps running across the outage, its
//! tracks end at the loss with events saying so (`gstface::source`), and the viewers'
//! slate is drawn by the relay. Restarting a small ingest pipeline is what fallbacksrc
//! does inside too.

use crate::args::{Camera, Input, Options, Source};
use crate::feed::Feed;
use crate::{looping, pipeline};
use gst::prelude::*;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Waits between tries: the first, and the longest.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A connection's first frame may take this long at least.
const FIRST_FRAME_MIN: Duration = Duration::from_secs(10);
/// How often the supervisor looks at the pipeline and the clock.
const POLL: Duration = Duration::from_millis(100);
/// How often a refused RTSP port is knocked on while waiting.
const KNOCK_EVERY: Duration = Duration::from_secs(1);

/// The next wait after `backoff`: doubled, up to `MAX_BACKOFF`.
pub fn next_backoff(backoff: Duration) -> Duration {
    (backoff * 2).min(MAX_BACKOFF)
}

/// How one try ended.
#[derive(Debug)]
enum End {
    /// face-rtsp is stopping.
    Stopped,
    /// A file played to its end (no `--loop`).
    Finished,
    Failed(String),
}

/// Where the first try's outcome goes, once (see [`Supervisor::start`]).
type FirstOutcome = Arc<Mutex<Option<SyncSender<Result<(), String>>>>>;

/// Tells the supervisor thread to stop, and wakes it from a wait.
#[derive(Default)]
struct StopFlag {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl StopFlag {
    fn is_set(&self) -> bool {
        *self.stopped.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self) {
        *self.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.wake.notify_all();
    }

    /// Sleeps for `d` or until stopped; true when stopped.
    fn sleep(&self, d: Duration) -> bool {
        let guard = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = self
            .wake
            .wait_timeout_while(guard, d, |stopped| !*stopped)
            .unwrap_or_else(|e| e.into_inner());
        *guard
    }
}

/// A running supervisor; [`Supervisor::stop`] ends it.
pub struct Supervisor {
    stop: Arc<StopFlag>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Supervisor {
    /// Starts supervising `camera`'s source, feeding `feed`. When `first` is given, the
    /// outcome of the first try goes there: `Ok` at its first frame, or the reason it
    /// failed without one (a file, device or launch line that must work at start-up).
    pub fn start(
        camera: Camera,
        options: Arc<Options>,
        feed: Arc<Feed>,
        first: Option<SyncSender<Result<(), String>>>,
    ) -> Supervisor {
        let stop = Arc::new(StopFlag::default());
        let run = Run {
            camera,
            options,
            feed,
            stop: stop.clone(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("supervise-{}", run.camera.name))
            .spawn(move || run.supervise(first))
            .expect("a thread can be started");
        Supervisor {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the current try (the ingest pipeline goes to NULL) and the retries.
    pub fn stop(&mut self) {
        self.stop.set();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Run {
    camera: Camera,
    options: Arc<Options>,
    feed: Arc<Feed>,
    stop: Arc<StopFlag>,
}

fn log(camera: &str, what: &str) {
    eprintln!("face-rtsp: {camera}: {what}");
}

impl Run {
    fn supervise(&self, first: Option<SyncSender<Result<(), String>>>) {
        let first: FirstOutcome = Arc::new(Mutex::new(first));
        let name = &self.camera.name;
        let mut backoff = FIRST_BACKOFF;
        let mut tries: u64 = 0;
        loop {
            tries += 1;
            log(
                name,
                &format!("connecting to {} (try {tries})", self.camera.source.describe()),
            );
            let (end, frames) = self.attempt(&first);
            if frames > 0 {
                tries = 0;
                backoff = FIRST_BACKOFF;
            }
            // The first try ended without a frame: that is the answer start-up waits for.
            if let Some(tx) = first.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let outcome = match &end {
                    End::Failed(reason) => Err(reason.clone()),
                    _ => Ok(()),
                };
                let _ = tx.send(outcome);
            }
            let reason = match end {
                End::Stopped => return,
                End::Finished => {
                    log(name, "the file has ended");
                    self.feed.ended();
                    return;
                }
                End::Failed(reason) => reason,
            };
            if frames > 0 {
                log(name, &format!("source lost: {reason}"));
                self.feed.lost(&reason);
            }
            log(name, &format!("{reason}; next try in {} s", backoff.as_secs()));
            if self.wait(backoff) {
                return;
            }
            if frames == 0 {
                backoff = next_backoff(backoff);
            }
        }
    }

    /// Waits `backoff` (false) or until stopped (true). An RTSP camera whose port is
    /// closed now is knocked on every second and tried as soon as it opens.
    fn wait(&self, backoff: Duration) -> bool {
        let Source::Input(Input::Rtsp(url)) = &self.camera.source else {
            return self.stop.sleep(backoff);
        };
        let Some(target) = rtsp_host_port(url) else {
            return self.stop.sleep(backoff);
        };
        let watch_port = !port_open(&target);
        let until = Instant::now() + backoff;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            if self.stop.sleep(left.min(KNOCK_EVERY)) {
                return true;
            }
            if watch_port && port_open(&target) {
                log(&self.camera.name, "the camera's port answers again");
                return false;
            }
        }
    }

    /// One try; its first frame answers `first`, if still waiting.
    fn attempt(&self, first: &FirstOutcome) -> (End, u64) {
        let o = &self.options;
        let line = pipeline::ingest_line(&self.camera, o, self.feed.size().or(o.size));
        let element = match gst::parse::launch(&line) {
            Ok(e) => e,
            Err(e) => return (End::Failed(format!("bad pipeline: {e}")), 0),
        };
        let Ok(pipe) = element.downcast::<gst::Pipeline>() else {
            return (End::Failed("not a pipeline".into()), 0);
        };
        let frames = Arc::new(AtomicU64::new(0));
        let last_frame = Arc::new(Mutex::new(Instant::now()));
        let Some(sink) = pipe
            .by_name(pipeline::FRAMES)
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        else {
            return (End::Failed("the ingest pipeline has no frames sink".into()), 0);
        };
        {
            let (feed, frames, last_frame, first) =
                (self.feed.clone(), frames.clone(), last_frame.clone(), first.clone());
            sink.set_callbacks(
                gst_app::AppSinkCallbacks::builder()
                    .new_sample(move |s| {
                        let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                        *last_frame.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
                        if frames.fetch_add(1, Ordering::Relaxed) == 0
                            && let Some(tx) = first.lock().unwrap_or_else(|e| e.into_inner()).take()
                        {
                            let _ = tx.send(Ok(()));
                        }
                        feed.frame(&sample);
                        Ok(gst::FlowSuccess::Ok)
                    })
                    .build(),
            );
        }
        if o.looping
            && matches!(self.camera.source, Source::Input(Input::File(_)))
            && let Some(pad) = pipe.by_name(pipeline::CONVERT).and_then(|c| c.static_pad("src"))
        {
            looping::install(&pad);
        }
        let end = self.watch(&pipe, &frames, &last_frame);
        let _ = pipe.set_state(gst::State::Null);
        (end, frames.load(Ordering::Relaxed))
    }

    fn watch(&self, pipe: &gst::Pipeline, frames: &AtomicU64, last_frame: &Mutex<Instant>) -> End {
        let Some(bus) = pipe.bus() else {
            return End::Failed("pipeline without a bus".into());
        };
        let started_at = Instant::now();
        let started = pipe.set_state(gst::State::Playing);
        let timeout = self.options.source_timeout;
        let first_timeout = (timeout * 2).max(FIRST_FRAME_MIN);
        loop {
            if self.stop.is_set() {
                return End::Stopped;
            }
            let poll = gst::ClockTime::from_nseconds(POLL.as_nanos() as u64);
            if let Some(msg) = bus.timed_pop_filtered(poll, &[gst::MessageType::Error, gst::MessageType::Eos]) {
                return match msg.view() {
                    gst::MessageView::Error(e) => End::Failed(describe(e)),
                    _ if self.camera.source.ends(self.options.looping) => End::Finished,
                    _ => End::Failed("the stream ended".into()),
                };
            }
            if started.is_err() {
                return End::Failed("the source does not start".into());
            }
            let (since, limit) = if frames.load(Ordering::Relaxed) == 0 {
                (started_at, first_timeout)
            } else {
                (*last_frame.lock().unwrap_or_else(|e| e.into_inner()), timeout)
            };
            if since.elapsed() > limit {
                return End::Failed(format!("no frame for {:.1} s", limit.as_secs_f64()));
            }
        }
    }
}

/// An error message as one line, with the last line of its details (rtspsrc's "Failed
/// to connect.", say), any password masked.
fn describe(msg: &gst::message::Error) -> String {
    let detail = msg
        .debug()
        .and_then(|d| d.lines().last().map(|l| l.trim().to_string()))
        .filter(|l| !l.is_empty() && !l.starts_with('/'))
        .map(|l| format!(" ({l})"))
        .unwrap_or_default();
    crate::args::mask_credentials(&format!("{}{detail}", msg.error()))
}

/// `host:port` of an rtsp:// (port 554 by default) or rtsps:// (322) URL.
pub fn rtsp_host_port(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?']).next()?;
    let hostport = authority.rsplit('@').next()?;
    if hostport.is_empty() {
        return None;
    }
    let has_port = match hostport.rfind(':') {
        Some(i) => !hostport.ends_with(']') && hostport[i + 1..].chars().all(|c| c.is_ascii_digit()),
        None => false,
    };
    if has_port {
        Some(hostport.to_string())
    } else {
        let port = if scheme.eq_ignore_ascii_case("rtsps") { 322 } else { 554 };
        Some(format!("{hostport}:{port}"))
    }
}

fn port_open(target: &str) -> bool {
    let Ok(addrs) = target.to_socket_addrs() else {
        return false;
    };
    addrs
        .into_iter()
        .any(|a| TcpStream::connect_timeout(&a, Duration::from_millis(500)).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_one_second_to_thirty() {
        let mut b = FIRST_BACKOFF;
        let mut waits = vec![b.as_secs()];
        for _ in 0..7 {
            b = next_backoff(b);
            waits.push(b.as_secs());
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
    }

    #[test]
    fn the_camera_port_comes_from_its_url() {
        assert_eq!(rtsp_host_port("rtsp://10.0.0.5/s1").as_deref(), Some("10.0.0.5:554"));
        assert_eq!(
            rtsp_host_port("rtsp://admin:pw@cam.local:8554/live?x=1").as_deref(),
            Some("cam.local:8554")
        );
        assert_eq!(rtsp_host_port("rtsps://[::1]/s").as_deref(), Some("[::1]:322"));
        assert_eq!(rtsp_host_port("rtsp://[::1]:9000/s").as_deref(), Some("[::1]:9000"));
        assert_eq!(rtsp_host_port("not a url"), None);
    }

    #[test]
    fn a_closed_port_is_closed_and_an_open_one_open() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        assert!(port_open(&addr));
        drop(listener);
        assert!(!port_open(&addr));
    }
}
