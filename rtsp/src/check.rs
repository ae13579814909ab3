//! Start-up checks, so that a mistake stops face-rtsp at once with the element's own
//! message rather than surfacing as a viewer who gets nothing.
//!
//! The analysis checks itself (its elements load their models and gallery when it
//! starts, `crate::camera`), and the first frame of a file, device or launch line is
//! waited for (`crate::supervise`). What is left is the launch-line syntax of each
//! element's options, and whether the encoder works: gst-rtsp-server builds the media
//! only when the first viewer comes.

use gst::prelude::*;
use std::time::{Duration, Instant};

const ENCODER_TIMEOUT: Duration = Duration::from_secs(30);

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

/// Encodes a few test frames with `media_line`'s encoder and payloader (its appsrc
/// replaced by a test source); the error message of the element that fails, if any.
pub fn encoder(media_line: &str) -> Result<(), String> {
    let inner = media_line.trim().trim_start_matches('(').trim_end_matches(')');
    let Some((_, rest)) = inner.split_once('!') else {
        return Err("the media line has no encoder".into());
    };
    let line = format!(
        "videotestsrc num-buffers=5 ! video/x-raw,format=I420,width=320,height=240,framerate=25/1 ! {rest} ! fakesink"
    );
    let pipeline = gst::parse::launch(&line).map_err(|e| e.to_string())?;
    let bus = pipeline.bus().ok_or("pipeline without a bus")?;
    let started = pipeline.set_state(gst::State::Playing);
    let until = Instant::now() + ENCODER_TIMEOUT;
    let result = loop {
        let msg = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(200),
            &[gst::MessageType::Error, gst::MessageType::Eos],
        );
        match msg.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Error(e)) => {
                let source = e.src().map(|s| s.name().to_string()).unwrap_or_default();
                break Err(format!("{source}: {}", e.error()));
            }
            Some(_) => break Ok(()),
            None if started.is_err() => break Err("the encoder does not start".into()),
            None if Instant::now() > until => break Ok(()),
            None => {}
        }
    };
    let _ = pipeline.set_state(gst::State::Null);
    result
}
