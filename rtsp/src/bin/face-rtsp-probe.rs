//! face-rtsp-probe: watches a `face-rtsp --stamp` stream and says how late its frames are.
//!
//!   face-rtsp-probe URL [--seconds 20] [--warmup 3] [--latency 0]
//!
//! Each frame's barcode holds the wall-clock time it left the source and its number;
//! the probe decodes the frame, reads the code and subtracts. Run it on the server's
//! machine (one clock). The last line is machine-readable key=value pairs.

use clap::Parser;
use face_rtsp::stamp::{self, Stamp};
use gst::prelude::*;
use gst_video::prelude::*;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "face-rtsp-probe",
    about = "Watches a `face-rtsp --stamp` stream and says how late its frames are",
    args_override_self = true,
    allow_negative_numbers = true
)]
struct Args {
    /// The stream, rtsp://HOST:PORT/PATH
    #[arg(value_name = "URL", value_parser = rtsp_url)]
    url: String,
    /// Seconds measured after the warm-up
    #[arg(long, value_name = "S", default_value = "20", value_parser = seconds)]
    seconds: f64,
    /// Seconds after the first frame that are not measured
    #[arg(long, value_name = "S", default_value = "3", value_parser = seconds)]
    warmup: f64,
    /// rtspsrc's jitterbuffer, in ms
    #[arg(long = "latency", value_name = "MS", default_value_t = 0)]
    latency_ms: u32,
}

fn rtsp_url(v: &str) -> Result<String, String> {
    if !v.starts_with("rtsp://") {
        return Err("expected an rtsp:// URL".into());
    }
    Ok(v.to_string())
}

/// Seconds, 0 to a day (a Duration is made of them).
fn seconds(v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(s) if (0.0..=86_400.0).contains(&s) => Ok(s),
        Ok(_) => Err("expected seconds, 0 to 86400".into()),
        Err(_) => Err("not a number".into()),
    }
}

/// One frame as the client got it.
struct Arrival {
    at: Instant,
    stamp: Option<Stamp>,
    received_ms: u64,
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn report(arrivals: &[Arrival], warmup_until: Instant) -> Result<(), String> {
    let total = arrivals.len();
    let measured: Vec<&Arrival> = arrivals.iter().filter(|a| a.at >= warmup_until).collect();
    let mut stamped: Vec<(Stamp, u64)> = measured
        .iter()
        .filter_map(|a| a.stamp.map(|s| (s, a.received_ms)))
        .collect();
    let unreadable = measured.len() - stamped.len();
    // face-rtsp repeats the last frame through a stall: a repeat is not a frame of the
    // source's, and its age is the stall's, not the pipeline's delay.
    stamped.dedup_by_key(|(s, _)| s.seq);
    if stamped.len() < 2 {
        return Err(format!(
            "{total} frames received, {} with a readable stamp after the warm-up: is the server running with --stamp, 512 px wide or more?",
            stamped.len()
        ));
    }
    let mut latency: Vec<i64> = stamped.iter().map(|(s, r)| *r as i64 - s.millis as i64).collect();
    latency.sort_unstable();
    let (first, last) = (stamped[0].0, stamped[stamped.len() - 1].0);
    // Frames the source made over the window (the counter wraps at 65536).
    let source_frames = u32::from(last.seq.wrapping_sub(first.seq)) + 1;
    let mut seqs: Vec<u16> = stamped.iter().map(|(s, _)| s.seq).collect();
    seqs.sort_unstable();
    seqs.dedup();
    // Frames received over the stamps' span, readable or not (a code blurred by the
    // encoder is not a dropped frame).
    let got = (seqs.len() + unreadable) as u32;
    let source_span = (last.millis.saturating_sub(first.millis)) as f64 / 1000.0;
    let recv_span = measured
        .last()
        .zip(measured.first())
        .map_or(0.0, |(l, f)| l.at.duration_since(f.at).as_secs_f64());
    let source_fps = if source_span > 0.0 {
        (source_frames - 1) as f64 / source_span
    } else {
        0.0
    };
    let recv_fps = if recv_span > 0.0 {
        (measured.len() - 1) as f64 / recv_span
    } else {
        0.0
    };
    let dropped = source_frames.saturating_sub(got);
    let (med, p95, max, min) = (
        percentile(&latency, 0.5),
        percentile(&latency, 0.95),
        latency[latency.len() - 1],
        latency[0],
    );
    // Latency of the first and the last tenth: a delay that grows shows here.
    let tenth = (stamped.len() / 10).max(1);
    let mean = |s: &[(Stamp, u64)]| s.iter().map(|(st, r)| *r as i64 - st.millis as i64).sum::<i64>() / s.len() as i64;
    let (early, late) = (mean(&stamped[..tenth]), mean(&stamped[stamped.len() - tenth..]));
    println!(
        "frames received        {total} ({} after the warm-up, {unreadable} of them without a readable stamp)",
        measured.len()
    );
    println!("source frame rate      {source_fps:.2} fps ({source_frames} frames made over {source_span:.1} s)");
    println!("received frame rate    {recv_fps:.2} fps");
    println!(
        "frames dropped         {dropped} of {source_frames} ({:.1}%)",
        100.0 * dropped as f64 / source_frames as f64
    );
    println!("latency ms             median {med}, p95 {p95}, max {max}, min {min}");
    println!("latency ms, first/last tenth of the run: {early} / {late}");
    println!(
        "source_fps={source_fps:.2} received_fps={recv_fps:.2} dropped_pct={:.1} latency_median_ms={med} latency_p95_ms={p95} latency_max_ms={max} latency_first_ms={early} latency_last_ms={late}",
        100.0 * dropped as f64 / source_frames as f64
    );
    Ok(())
}

fn run(a: &Args) -> Result<(), String> {
    gst::init().map_err(|e| e.to_string())?;
    // GRAY8: the barcode is in the luma, and nothing else is needed.
    let desc = format!(
        "rtspsrc location={} latency={} ! decodebin ! videoconvert ! video/x-raw,format=GRAY8 ! fakesink name=sink sync=false",
        face_rtsp::pipeline::quote(&a.url),
        a.latency_ms
    );
    let pipeline = gst::parse::launch(&desc)
        .map_err(|e| e.to_string())?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline".to_string())?;
    let pad = pipeline
        .by_name("sink")
        .and_then(|s| s.static_pad("sink"))
        .ok_or("no fakesink pad")?;
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let store = arrivals.clone();
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let received_ms = stamp::now_millis();
        let read = || {
            let caps = pad.current_caps()?;
            let info_v = gst_video::VideoInfo::from_caps(&caps).ok()?;
            let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(info.buffer()?.as_ref(), &info_v).ok()?;
            let stride = frame.plane_stride()[0] as usize;
            stamp::read(
                frame.plane_data(0).ok()?,
                stride,
                frame.width() as usize,
                frame.height() as usize,
            )
        };
        let arrival = Arrival {
            at: Instant::now(),
            stamp: read(),
            received_ms,
        };
        store.lock().unwrap_or_else(|e| e.into_inner()).push(arrival);
        gst::PadProbeReturn::Ok
    });
    pipeline.set_state(gst::State::Playing).map_err(|e| e.to_string())?;
    let bus = pipeline.bus().ok_or("no bus")?;
    let start = Instant::now();
    let mut warmup_until = None;
    let end = Duration::from_secs_f64(a.warmup + a.seconds);
    let mut error = None;
    while start.elapsed() < end + Duration::from_secs(30) {
        if let Some(msg) = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(100),
            &[gst::MessageType::Error, gst::MessageType::Eos],
        ) {
            if let gst::MessageView::Error(e) = msg.view() {
                error = Some(format!("{}: {}", a.url, e.error()));
            }
            break;
        }
        let first = arrivals.lock().unwrap_or_else(|e| e.into_inner()).first().map(|f| f.at);
        // The clock starts at the first frame: connecting and the first keyframe are not
        // what is measured.
        if let Some(f) = first {
            let w = *warmup_until.get_or_insert(f + Duration::from_secs_f64(a.warmup));
            if Instant::now() >= w + Duration::from_secs_f64(a.seconds) {
                break;
            }
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    if let Some(e) = error {
        return Err(e);
    }
    let arrivals = std::mem::take(&mut *arrivals.lock().unwrap_or_else(|e| e.into_inner()));
    report(&arrivals, warmup_until.unwrap_or(start))
}

fn main() -> ExitCode {
    // A bad command line: clap's message and exit status 2.
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("face-rtsp-probe: {e}");
            ExitCode::from(2)
        }
    }
}
