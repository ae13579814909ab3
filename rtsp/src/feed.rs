//! The feed: where a camera's ingest pipelines, one after the other, hand their frames
//! to the camera's one analysis pipeline.
//!
//! The analysis outlives every outage, so the feed is also where an outage becomes part
//! of its stream: the loss is sent as `gstface::source`'s custom event (the elements end
//! their tracks, facejson writes `source-lost`), and the first frame after it is
//! preceded by the event saying the source is back. The first connection's size is
//! kept for the later ones (see `pipeline::ingest_line`).

use gst::prelude::*;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

#[derive(Default)]
struct State {
    caps: Option<gst::Caps>,
    size: Option<(u32, u32)>,
    lost_at: Option<Instant>,
}

pub struct Feed {
    name: String,
    src: gst_app::AppSrc,
    state: Mutex<State>,
    frames: AtomicU64,
    outages: AtomicU64,
}

impl Feed {
    /// A feed for camera `name` into the analysis pipeline's appsrc.
    pub fn new(name: &str, src: gst_app::AppSrc) -> Feed {
        Feed {
            name: name.to_string(),
            src,
            state: Mutex::new(State::default()),
            frames: AtomicU64::new(0),
            outages: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The size of the first connection's frames, once there was one.
    pub fn size(&self) -> Option<(u32, u32)> {
        self.lock().size
    }

    /// Frames received and outages so far, for the statistics.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.frames.load(Ordering::Relaxed),
            self.outages.load(Ordering::Relaxed),
        )
    }

    /// A frame from the camera (ingest streaming thread).
    pub fn frame(&self, sample: &gst::Sample) {
        let Some(buffer) = sample.buffer_owned() else { return };
        {
            let mut st = self.lock();
            if let Some(at) = st.lost_at.take() {
                eprintln!(
                    "face-rtsp: {}: source restored after {:.1} s",
                    self.name,
                    at.elapsed().as_secs_f64()
                );
                self.src.send_event(gstface::source::restored());
            }
            if let Some(caps) = sample.caps()
                && st.caps.as_ref().is_none_or(|c| c.as_ref() != caps)
            {
                if st.size.is_none()
                    && let Ok(info) = gst_video::VideoInfo::from_caps(caps)
                {
                    st.size = Some((info.width(), info.height()));
                }
                let caps = caps.to_owned();
                self.src.set_caps(Some(&caps));
                st.caps = Some(caps);
            }
        }
        self.frames.fetch_add(1, Ordering::Relaxed);
        // A pipeline that is stopping refuses it; nothing is lost that matters then.
        let _ = self.src.push_buffer(untimed(buffer));
    }

    /// The camera failed after giving frames (`reason`): the analysis learns it in order.
    pub fn lost(&self, reason: &str) {
        let mut st = self.lock();
        if st.lost_at.is_none() {
            st.lost_at = Some(Instant::now());
            self.outages.fetch_add(1, Ordering::Relaxed);
            self.src.send_event(gstface::source::lost(reason));
        }
    }

    /// A file that played to its end: the analysis ends too.
    pub fn ended(&self) {
        let _ = self.src.end_of_stream();
    }
}

/// `buffer` without timestamps (its pixels shared, not copied), for an appsrc that
/// stamps what it gets with its own pipeline's running time (`do-timestamp`): each
/// pipeline has its own clock base, and an ingest pipeline starts again from 0 at every
/// reconnection, so its timestamps mean nothing downstream.
pub fn untimed(mut buffer: gst::Buffer) -> gst::Buffer {
    let b = buffer.make_mut();
    b.set_pts(gst::ClockTime::NONE);
    b.set_dts(gst::ClockTime::NONE);
    buffer
}
