//! Start-up check: the media pipeline is built and started once, outside the server,
//! before anyone connects.
//!
//! gst-rtsp-server only builds the media when the first client asks for it, so a wrong
//! gallery or model would otherwise surface as a client that gets nothing and a line in
//! the log. Here it stops face-rtsp at once, with the element's own message.

use gst::prelude::*;
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub enum CheckError {
    /// The launch line itself is wrong (exit 2).
    Launch(String),
    /// The pipeline was built but an element failed (exit 1).
    Media(String),
}

/// How long to wait for the first encoded frame before letting the server start anyway
/// (a slow camera, or a slow first inference in a debug build).
const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(60);

fn describe(msg: &gst::message::Error) -> String {
    let source = msg.src().map(|s| s.path_string().to_string()).unwrap_or_default();
    let debug = msg.debug().map(|d| format!(" ({d})")).unwrap_or_default();
    format!("{source}: {}{debug}", msg.error())
}

/// Builds `launch` (the media's line), plays it into a fakesink and waits until a first
/// encoded frame leaves `pay0` or, when `wait_for_frame` is false, only until every
/// element has started (live cameras need not be up yet).
pub fn check(launch: &str, wait_for_frame: bool) -> Result<(), CheckError> {
    let element = gst::parse::launch(launch).map_err(|e| CheckError::Launch(e.to_string()))?;
    let bin = element
        .clone()
        .downcast::<gst::Bin>()
        .map_err(|_| CheckError::Launch("not a pipeline".into()))?;
    let pay = bin.by_name("pay0").ok_or_else(|| {
        CheckError::Launch("no element named pay0 (the payloader gst-rtsp-server streams from)".into())
    })?;
    let pipeline = gst::Pipeline::new();
    let sink = gst::ElementFactory::make("fakesink")
        .property("sync", false)
        .property("async", false)
        .build()
        .map_err(|e| CheckError::Media(e.to_string()))?;
    pipeline
        .add_many([&element, &sink])
        .map_err(|e| CheckError::Media(e.to_string()))?;
    pay.link(&sink)
        .map_err(|e| CheckError::Launch(format!("pay0 cannot be linked: {e}")))?;

    let (tx, rx) = mpsc::sync_channel(1);
    if let Some(pad) = sink.static_pad("sink") {
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            let _ = tx.try_send(());
            gst::PadProbeReturn::Remove
        });
    }
    let result = run(&pipeline, &rx, wait_for_frame);
    let _ = pipeline.set_state(gst::State::Null);
    result
}

fn run(pipeline: &gst::Pipeline, first_frame: &mpsc::Receiver<()>, wait_for_frame: bool) -> Result<(), CheckError> {
    let bus = pipeline
        .bus()
        .ok_or_else(|| CheckError::Media("pipeline without a bus".into()))?;
    // Elements load their models and gallery in this state change; a failure comes with
    // an error message on the bus that says which property and which file.
    let started = pipeline.set_state(gst::State::Playing);
    let deadline = Instant::now()
        + if wait_for_frame {
            FIRST_FRAME_TIMEOUT
        } else {
            Duration::ZERO
        };
    loop {
        let poll = gst::ClockTime::from_mseconds(if started.is_err() { 1000 } else { 100 });
        if let Some(msg) = bus.timed_pop_filtered(poll, &[gst::MessageType::Error, gst::MessageType::Eos]) {
            return match msg.view() {
                gst::MessageView::Error(e) => Err(CheckError::Media(describe(e))),
                // A clip shorter than the wait: it played, so it works.
                _ => Ok(()),
            };
        }
        if started.is_err() {
            return Err(CheckError::Media(
                "the pipeline failed to start (no error message)".into(),
            ));
        }
        if first_frame.try_recv().is_ok() || Instant::now() >= deadline {
            return Ok(());
        }
    }
}

/// Each `--*-opts` string tried on its element alone, so that a typo names its flag
/// rather than failing somewhere in the whole line.
pub fn element_options(options: &[(&'static str, &'static str, String)]) -> Result<(), crate::args::UsageError> {
    for (flag, element, opts) in options {
        if opts.trim().is_empty() {
            continue;
        }
        gst::parse::launch(&format!("{element} {opts}"))
            .map_err(|e| crate::args::UsageError::new(flag, Some(opts), e.to_string()))?;
    }
    Ok(())
}
