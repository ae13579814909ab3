//! Cycles the whole face chain NULL -> PLAYING -> NULL many times in one process and
//! prints the process's memory as it goes, so that a leak in starting and stopping
//! (models, galleries, threads, GStreamer objects) shows as a slope.
//!
//!   cargo run --release -p gst-plugin-face --example state-cycles -- CYCLES VIDEO GALLERY [FRAMES]
//!
//! Each cycle plays FRAMES frames (default 10) of VIDEO through
//! facedetect ! faceid ! faceemotion ! facejson ! faceannotate and stops. The last line
//! is machine-readable: cycles, RSS after the first tenth and at the end, the slope.

use gst::prelude::*;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Least-squares slope of `ys` over `xs`.
fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let num: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let den: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    if den > 0.0 { num / den } else { 0.0 }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: state-cycles CYCLES VIDEO GALLERY [FRAMES]";
    let cycles: usize = args.first().and_then(|a| a.parse().ok()).ok_or(usage)?;
    let (video, gallery) = (args.get(1).ok_or(usage)?, args.get(2).ok_or(usage)?);
    let frames: u64 = args.get(3).map_or(Ok(10), |a| a.parse().map_err(|_| usage))?;
    gst::init().map_err(|e| e.to_string())?;
    gstface::register_static().map_err(|e| e.to_string())?;
    let line = format!(
        "filesrc location=\"{video}\" ! decodebin name=dec  videoconvert name=conv ! video/x-raw,format=I420 \
         ! facedetect ! faceid gallery=\"{gallery}\" ! faceemotion ! facejson location=/dev/null mode=both \
         ! faceannotate name=last ! fakesink"
    );
    let pipeline = gst::parse::launch(&line)
        .map_err(|e| e.to_string())?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline")?;
    // gst-launch's own link to decodebin's pad happens once; every cycle makes a new pad.
    let conv = pipeline
        .by_name("conv")
        .and_then(|c| c.static_pad("sink"))
        .ok_or("no videoconvert")?;
    pipeline
        .by_name("dec")
        .ok_or("no decodebin")?
        .connect_pad_added(move |_, pad| {
            if !conv.is_linked() {
                let _ = pad.link(&conv);
            }
        });
    let seen = Arc::new(AtomicU64::new(0));
    let pad = pipeline
        .by_name("last")
        .and_then(|e| e.static_pad("src"))
        .ok_or("no faceannotate")?;
    {
        let seen = seen.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            seen.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
    }
    let bus = pipeline.bus().ok_or("no bus")?;
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    let started = Instant::now();
    for cycle in 1..=cycles {
        seen.store(0, Ordering::Relaxed);
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| format!("cycle {cycle}: {e}"))?;
        let until = Instant::now() + Duration::from_secs(60);
        while seen.load(Ordering::Relaxed) < frames {
            if let Some(msg) = bus.timed_pop_filtered(
                gst::ClockTime::from_mseconds(10),
                &[gst::MessageType::Error, gst::MessageType::Eos],
            ) {
                if let gst::MessageView::Error(e) = msg.view() {
                    let _ = pipeline.set_state(gst::State::Null);
                    return Err(format!("cycle {cycle}: {}", e.error()));
                }
                break;
            }
            if Instant::now() > until {
                let _ = pipeline.set_state(gst::State::Null);
                return Err(format!("cycle {cycle}: no {frames} frames in 60 s"));
            }
        }
        pipeline
            .set_state(gst::State::Null)
            .map_err(|e| format!("cycle {cycle}: {e}"))?;
        while bus.pop().is_some() {}
        if cycle % (cycles / 20).max(1) == 0 || cycle == 1 {
            let rss = rss_mb();
            println!(
                "cycle {cycle:5}  {:7.1} s  RSS {rss:7.1} MB",
                started.elapsed().as_secs_f64()
            );
            xs.push(cycle as f64);
            ys.push(rss);
        }
    }
    // The slope after the first tenth (allocators and caches settle first).
    let skip = (xs.len() / 10).max(1).min(xs.len().saturating_sub(2));
    let per_1000 = slope(&xs[skip..], &ys[skip..]) * 1000.0;
    println!(
        "cycles={cycles} rss_after_first_tenth_mb={:.1} rss_end_mb={:.1} rss_max_mb={:.1} slope_mb_per_1000_cycles={per_1000:.2}",
        ys[skip],
        ys[ys.len() - 1],
        ys.iter().cloned().fold(0.0, f64::max)
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("state-cycles: {e}");
            ExitCode::FAILURE
        }
    }
}
