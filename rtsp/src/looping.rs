//! `--loop`: a file input starts again at its end, and downstream never notices.
//!
//! A probe on the source pad of the first element after the decoder swallows the
//! end-of-stream, seeks the decoder back to the start, and hides the seek from the rest
//! of the pipeline: the flush and the new segment go no further (on a source pad, so
//! the element itself is flushed as it should be), and the timestamps of the replayed frames are shifted
//! to continue where the last run ended. The clients (and the encoder, and the clock
//! pacing) see one endless stream; the RTSP media is never re-prepared.

use gst::prelude::*;
use std::sync::{Arc, Mutex};

/// How the probe swallows an event. `Handled`, not `Drop`: the binding takes the event
/// out of the probe info, and GStreamer 1.22 would then unref a null pointer after a
/// `Drop` (a critical warning per event).
const SWALLOW: gst::PadProbeReturn = gst::PadProbeReturn::Handled;

/// A frame's duration when the decoder does not say.
const DEFAULT_DURATION: gst::ClockTime = gst::ClockTime::from_mseconds(40);

#[derive(Default)]
struct State {
    /// Added to every timestamp of the current run.
    offset: gst::ClockTime,
    /// End of the latest frame let through, in shifted time.
    end: gst::ClockTime,
    /// Between the end of one run and the first frame of the next.
    restarting: bool,
    /// The input could not seek: the next EOS ends the stream.
    gave_up: bool,
}

/// Loops the stream that leaves `pad` (the source pad of the element after the decoder).
pub fn install(pad: &gst::Pad) {
    let state = Arc::new(Mutex::new(State::default()));
    let shared = state.clone();
    pad.add_probe(
        gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM | gst::PadProbeType::EVENT_FLUSH,
        move |pad, info| {
            let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(buffer) = info.buffer_mut() {
                let Some(pts) = buffer.pts() else {
                    return gst::PadProbeReturn::Ok;
                };
                if st.restarting {
                    // The first frame of the new run comes right after the last one.
                    st.offset = st.end.saturating_sub(pts);
                    st.restarting = false;
                }
                let shifted = pts + st.offset;
                let duration = buffer.duration().unwrap_or(DEFAULT_DURATION);
                st.end = st.end.max(shifted + duration);
                if !st.offset.is_zero() {
                    let b = buffer.make_mut();
                    b.set_pts(shifted);
                    b.set_dts(gst::ClockTime::NONE);
                }
                return gst::PadProbeReturn::Ok;
            }
            let Some(event) = info.event() else {
                return gst::PadProbeReturn::Ok;
            };
            match event.view() {
                gst::EventView::Eos(_) if !st.gave_up => {
                    st.restarting = true;
                    seek_to_start(pad, shared.clone());
                    SWALLOW
                }
                // Our own seek's flush: downstream keeps its frames and its clock.
                gst::EventView::FlushStart(_) | gst::EventView::FlushStop(_) => SWALLOW,
                gst::EventView::Segment(seg) => {
                    if st.restarting {
                        // The segment of the replay: downstream keeps the first one.
                        return SWALLOW;
                    }
                    // The first segment may end at the file's duration; the stream no longer does.
                    if let Some(time) = seg.segment().downcast_ref::<gst::ClockTime>() {
                        let mut open = time.clone();
                        open.set_stop(gst::ClockTime::NONE);
                        open.set_duration(gst::ClockTime::NONE);
                        info.data = Some(gst::PadProbeData::Event(gst::event::Segment::new(&open)));
                    }
                    gst::PadProbeReturn::Ok
                }
                _ => gst::PadProbeReturn::Ok,
            }
        },
    );
}

/// Seeks upstream of `pad` to the start. Not from the streaming thread that brought the
/// EOS: a flushing seek waits for that thread to stop, which it cannot while in here.
fn seek_to_start(pad: &gst::Pad, state: Arc<Mutex<State>>) {
    let Some(element) = pad.parent_element() else {
        return;
    };
    element.call_async(move |element| {
        let seek = gst::event::Seek::new(
            1.0,
            gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT,
            gst::SeekType::Set,
            gst::ClockTime::ZERO,
            gst::SeekType::None,
            gst::ClockTime::NONE,
        );
        // Through the element's sink pad to the decoder and the demuxer.
        let Some(sink) = element.static_pad("sink") else {
            return;
        };
        if !sink.push_event(seek) {
            eprintln!("face-rtsp: --loop: the input cannot seek back to its start; the stream ends here");
            state.lock().unwrap_or_else(|e| e.into_inner()).gave_up = true;
            // Into the element as if from upstream, and this time through the probe.
            sink.send_event(gst::event::Eos::new());
        }
    });
}
