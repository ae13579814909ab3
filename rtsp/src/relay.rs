//! The relay: what a camera's viewers get, at the stream's frame rate, whatever the
//! camera does.
//!
//! The analysis pipeline hands each annotated frame to [`Relay::frame`], which passes it
//! to every prepared media (one per mount while anyone watches: the media is shared).
//! A filler thread keeps the rate up when frames stop coming: for a moment (a stall,
//! the seconds before a failure is noticed) it repeats the last frame; once the
//! camera is known to be lost, and before it was ever seen, it sends a slate
//! (`crate::slate`) that says so, with the time. Viewers and recorders therefore never
//! see the stream stop, and the first frame from a camera that comes back follows at once.
//!
//! A frame keeps, in the media, the time it entered face-rtsp (the analysis pipeline's
//! timestamp, which both pipelines read off the same system clock): it reaches the
//! network sinks already as late as the analysis made it, so they send it at once,
//! as when camera, analysis and encoder were one pipeline. Stamped on arrival in the
//! media instead, every frame would wait there for the encoder's latency on top.

use crate::slate;
use gst::prelude::*;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The rate of the slate before the camera has said what its rate is.
const DEFAULT_PERIOD: Duration = Duration::from_millis(40);
/// The size of the slate before the camera has said what its size is.
pub const DEFAULT_SIZE: (u32, u32) = (640, 360);
/// Frames this late are bridged by repeats of the last one. Much longer than a frame:
/// an analysis that runs in bursts (detection every other frame) or slower than the
/// camera must not get repeats wedged between its frames, only a real stall.
const REPEAT_AFTER: Duration = Duration::from_millis(500);

#[derive(Debug, Clone)]
enum Signal {
    /// Never seen yet (an RTSP camera that is down at start-up).
    Waiting {
        since: gst::glib::DateTime,
    },
    Live,
    Lost {
        since: gst::glib::DateTime,
        reason: String,
    },
    /// A file that played to its end: viewers got the end of stream.
    Ended,
}

struct State {
    info: gst_video::VideoInfo,
    caps: gst::Caps,
    period: Duration,
    signal: Signal,
    /// The last annotated frame from the analysis.
    last: Option<gst::Buffer>,
    last_frame_at: Instant,
    last_push_at: Instant,
    /// The slate and the wall-clock second it shows.
    slate: Option<(String, gst::Buffer)>,
    /// How long the last frame took from entering face-rtsp to the relay: repeats and
    /// slates are stamped that far in the past too, so that the stream's timeline
    /// does not jump when real frames come back after them.
    lag: gst::ClockTime,
    viewers: Vec<Viewer>,
    /// Frames handed to viewers (repeats and slates included), for the statistics.
    served: u64,
    stopping: bool,
}

/// One media's appsrc and the last timestamp given to it (they must keep increasing).
struct Viewer {
    src: gst_app::AppSrc,
    last_pts: Option<gst::ClockTime>,
}

pub struct Relay {
    name: String,
    state: Mutex<State>,
    wake: Condvar,
}

fn i420(w: u32, h: u32) -> (gst_video::VideoInfo, gst::Caps) {
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, w, h)
        .par(gst::Fraction::new(1, 1))
        .build()
        .expect("I420 of an even size is a valid format");
    let caps = info.to_caps().expect("caps from a valid format");
    (info, caps)
}

impl Relay {
    /// A relay for camera `name`, showing the "awaited" slate of `size` until frames come.
    pub fn new(name: &str, size: (u32, u32)) -> Arc<Relay> {
        let (info, caps) = i420(size.0, size.1);
        let now = Instant::now();
        Arc::new(Relay {
            name: name.to_string(),
            state: Mutex::new(State {
                info,
                caps,
                period: DEFAULT_PERIOD,
                signal: Signal::Waiting { since: now_local() },
                last: None,
                last_frame_at: now,
                last_push_at: now,
                slate: None,
                lag: gst::ClockTime::ZERO,
                viewers: Vec::new(),
                served: 0,
                stopping: false,
            }),
            wake: Condvar::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An annotated frame from the analysis, which it entered at clock time `captured`.
    pub fn frame(&self, sample: &gst::Sample, captured: Option<gst::ClockTime>) {
        let Some(buffer) = sample.buffer_owned() else { return };
        let mut st = self.lock();
        if let Some(caps) = sample.caps()
            && caps != st.caps.as_ref()
            && let Ok(info) = gst_video::VideoInfo::from_caps(caps)
        {
            st.period = period_of(&info);
            st.info = info;
            st.caps = caps.to_owned();
            st.slate = None;
            for v in &st.viewers {
                v.src.set_caps(Some(&st.caps));
            }
        }
        st.signal = Signal::Live;
        st.last_frame_at = Instant::now();
        st.last = Some(buffer.clone());
        push(&mut st, buffer, captured);
        self.wake.notify_all();
    }

    /// The camera is lost (`reason`): the slate from now until frames come back.
    pub fn lost(&self, reason: &str) {
        let mut st = self.lock();
        if matches!(st.signal, Signal::Live) {
            st.signal = Signal::Lost {
                since: now_local(),
                reason: reason.to_string(),
            };
            st.slate = None;
        }
        self.wake.notify_all();
    }

    /// The camera's stream has ended (a file without `--loop`): viewers get its end.
    pub fn ended(&self) {
        let mut st = self.lock();
        st.signal = Signal::Ended;
        for v in &st.viewers {
            let _ = v.src.end_of_stream();
        }
        self.wake.notify_all();
    }

    pub fn has_ended(&self) -> bool {
        matches!(self.lock().signal, Signal::Ended)
    }

    /// A new media (the first viewer of this mount): it gets the current picture at once.
    pub fn attach(&self, src: gst_app::AppSrc) {
        let mut st = self.lock();
        src.set_caps(Some(&st.caps));
        // The media is not playing yet: its first frame is stamped when it starts.
        let first = match &st.signal {
            Signal::Ended => {
                let _ = src.end_of_stream();
                None
            }
            Signal::Live => st.last.clone(),
            Signal::Waiting { .. } | Signal::Lost { .. } => self.slate(&mut st),
        };
        if let Some(b) = first {
            let _ = src.push_buffer(crate::feed::untimed(b));
        }
        st.viewers.push(Viewer { src, last_pts: None });
    }

    /// The media is gone (its last viewer left).
    pub fn detach(&self, src: &gst_app::AppSrc) {
        self.lock().viewers.retain(|v| v.src != *src);
    }

    /// Frames served so far, and the number of media being fed.
    pub fn served(&self) -> (u64, usize) {
        let st = self.lock();
        (st.served, st.viewers.len())
    }

    /// Stops the filler thread.
    pub fn stop(&self) {
        self.lock().stopping = true;
        self.wake.notify_all();
    }

    /// Keeps the frame rate up while frames do not come (see the module docs); returns
    /// after [`Relay::stop`].
    pub fn spawn_filler(self: &Arc<Self>) -> std::thread::JoinHandle<()> {
        let relay = self.clone();
        std::thread::Builder::new()
            .name(format!("relay-{}", self.name))
            .spawn(move || relay.fill())
            .expect("a thread can be started")
    }

    fn fill(&self) {
        let mut st = self.lock();
        loop {
            if st.stopping {
                return;
            }
            let now = Instant::now();
            let due = match st.signal {
                Signal::Ended => None,
                Signal::Live => Some((st.last_frame_at + REPEAT_AFTER).max(st.last_push_at + st.period)),
                Signal::Waiting { .. } | Signal::Lost { .. } => Some(st.last_push_at + st.period),
            };
            match due {
                Some(due) if due <= now => {
                    let picture = match st.signal {
                        Signal::Live => st.last.clone(),
                        _ => self.slate(&mut st),
                    };
                    match picture {
                        // Repeats and slates are pictures of now.
                        Some(b) => push(&mut st, b, None),
                        None => st.last_push_at = now,
                    }
                }
                Some(due) => {
                    st = self
                        .wake
                        .wait_timeout(st, due - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                None => st = self.wake.wait(st).unwrap_or_else(|e| e.into_inner()),
            }
        }
    }

    /// The slate for this second (rendered once a second: it shows the time).
    fn slate(&self, st: &mut State) -> Option<gst::Buffer> {
        let now = now_local();
        let time = slate::clock(&now);
        if let Some((shown, b)) = &st.slate
            && *shown == time
        {
            return Some(b.clone());
        }
        let lines = match &st.signal {
            Signal::Lost { since, reason } => vec![
                format!("{}: no signal since {}", self.name, slate::clock(since)),
                short(reason, 60),
                format!("{time}  reconnecting"),
            ],
            Signal::Waiting { since } => vec![
                format!("{}: waiting for the camera", self.name),
                format!("since {}, now {time}", slate::clock(since)),
            ],
            Signal::Live | Signal::Ended => return st.last.clone(),
        };
        let base = match st.signal {
            Signal::Lost { .. } => st.last.as_ref(),
            _ => None,
        };
        let b = slate::render(&st.info, base, &lines)?;
        st.slate = Some((time, b.clone()));
        Some(b)
    }
}

/// The least step between two timestamps of one media.
const MIN_STEP: gst::ClockTime = gst::ClockTime::from_mseconds(1);

/// Hands `buffer` to every media, stamped with `captured` (or now, less the lag of the
/// last frame) in the media's running time; a media not yet playing stamps it itself
/// when it starts.
fn push(st: &mut State, buffer: gst::Buffer, captured: Option<gst::ClockTime>) {
    let lag = st.lag;
    let mut new_lag = None;
    for v in &mut st.viewers {
        let mut b = crate::feed::untimed(buffer.clone());
        let running = v.src.clock().zip(v.src.base_time()).map(|(clock, base)| {
            let now = clock.time();
            let at = match captured {
                Some(at) => {
                    new_lag = Some(now.saturating_sub(at));
                    at
                }
                None => now.saturating_sub(lag),
            };
            let pts = at.saturating_sub(base);
            match v.last_pts {
                Some(last) if pts <= last => last + MIN_STEP,
                _ => pts,
            }
        });
        if let Some(pts) = running {
            b.make_mut().set_pts(pts);
            v.last_pts = Some(pts);
        }
        // A media still starting or already stopping refuses frames: nothing to do,
        // the next one goes in once it plays.
        let _ = v.src.push_buffer(b);
    }
    if let Some(lag) = new_lag {
        st.lag = lag;
    }
    st.served += 1;
    st.last_push_at = Instant::now();
}

fn period_of(info: &gst_video::VideoInfo) -> Duration {
    let fps = info.fps();
    if fps.numer() > 0 && fps.denom() > 0 {
        let secs = f64::from(fps.denom()) / f64::from(fps.numer());
        Duration::from_secs_f64(secs.clamp(1.0 / 120.0, 1.0))
    } else {
        DEFAULT_PERIOD
    }
}

fn now_local() -> gst::glib::DateTime {
    gst::glib::DateTime::now_local()
        .or_else(|_| gst::glib::DateTime::now_utc())
        .expect("the clock can be read")
}

fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A media stand-in: an appsrc in a playing pipeline, its frames counted at an appsink.
    struct Viewer {
        pipeline: gst::Pipeline,
        src: gst_app::AppSrc,
        sink: gst_app::AppSink,
    }

    impl Viewer {
        fn new() -> Viewer {
            gst::init().expect("GStreamer initialises");
            let pipeline = gst::parse::launch(
                "appsrc name=src is-live=true format=time do-timestamp=true ! appsink name=sink sync=false",
            )
            .expect("pipeline")
            .downcast::<gst::Pipeline>()
            .expect("a pipeline");
            let by = |n: &str| pipeline.by_name(n).expect(n);
            let src = by("src").downcast::<gst_app::AppSrc>().expect("appsrc");
            let sink = by("sink").downcast::<gst_app::AppSink>().expect("appsink");
            pipeline.set_state(gst::State::Playing).expect("plays");
            Viewer { pipeline, src, sink }
        }

        fn frames(&self, within: Duration) -> usize {
            let until = Instant::now() + within;
            let mut n = 0;
            while Instant::now() < until {
                if self.sink.try_pull_sample(gst::ClockTime::from_mseconds(20)).is_some() {
                    n += 1;
                }
            }
            n
        }
    }

    impl Drop for Viewer {
        fn drop(&mut self) {
            let _ = self.pipeline.set_state(gst::State::Null);
        }
    }

    fn sample(w: u32, h: u32) -> gst::Sample {
        let (info, caps) = i420(w, h);
        let info = gst_video::VideoInfo::builder(info.format(), w, h)
            .fps(gst::Fraction::new(25, 1))
            .build()
            .expect("info");
        let caps = info.to_caps().unwrap_or(caps);
        let buffer = gst::Buffer::with_size(info.size()).expect("buffer");
        gst::Sample::builder().buffer(&buffer).caps(&caps).build()
    }

    #[test]
    fn viewers_get_frames_at_the_stream_rate_before_during_and_after_an_outage() {
        let v = Viewer::new();
        let relay = Relay::new("door", (160, 90));
        relay.attach(v.src.clone());
        let filler = relay.spawn_filler();
        // Waiting for a camera that is not there yet: slates at 25 fps.
        let waiting = v.frames(Duration::from_millis(600));
        assert!((10..=20).contains(&waiting), "{waiting} slates in 0.6 s");
        // Frames, then the camera stops: repeats, then slates once it is declared lost.
        for _ in 0..5 {
            relay.frame(&sample(160, 90), None);
        }
        let gap = v.frames(Duration::from_millis(900));
        relay.lost("no data for 5 s");
        let lost = v.frames(Duration::from_millis(600));
        assert!(gap >= 12 && (10..=20).contains(&lost), "gap {gap}, lost {lost}");
        relay.frame(&sample(160, 90), None);
        relay.ended();
        relay.stop();
        filler.join().expect("filler ends");
        let (served, viewers) = relay.served();
        assert_eq!(viewers, 1);
        assert!(served as usize >= waiting + gap + lost, "{served}");
    }
}
