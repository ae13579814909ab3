//! Shared by the element tests: GStreamer set-up, decoding photos into any raw format,
//! running a pipeline to its end, and the hand-checked faces.
#![allow(dead_code)]

use gst::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Once;

#[path = "../common/mod.rs"]
pub mod engine_common;
#[allow(unused_imports)]
pub use engine_common::{asset, check_boxes, expected_faces, root};

pub const FORMATS: [&str; 8] = ["I420", "NV12", "RGB", "BGR", "RGBA", "BGRA", "RGBx", "BGRx"];

pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        gst::init().expect("GStreamer initialises");
        gstface::register_static().expect("elements register");
    });
}

/// A test's own launch line as a pipeline.
pub fn launch(desc: &str) -> gst::Pipeline {
    gst::parse::launch(desc)
        .expect("pipeline")
        .downcast::<gst::Pipeline>()
        .expect("a pipeline")
}

/// The element `name` of `pipeline`, as the type it is.
pub fn element<T: IsA<gst::Element>>(pipeline: &gst::Pipeline, name: &str) -> T {
    pipeline
        .by_name(name)
        .and_downcast::<T>()
        .unwrap_or_else(|| panic!("no element {name} of that type"))
}

/// A photo decoded by GStreamer and converted to `format`: its caps and one buffer.
pub fn photo_buffer(path: &Path, format: &str) -> (gst::Caps, gst::Buffer) {
    photo_frame(path, &format!("video/x-raw,format={format}"))
}

/// A photo decoded by GStreamer, converted and scaled to `caps` (e.g.
/// "video/x-raw,format=RGB,width=240,height=460"): its caps and one buffer.
pub fn photo_frame(path: &Path, caps: &str) -> (gst::Caps, gst::Buffer) {
    let pipeline = launch(&format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! videoscale ! {caps} ! appsink name=sink",
        path.display()
    ));
    let sink: gst_app::AppSink = element(&pipeline, "sink");
    pipeline.set_state(gst::State::Playing).expect("plays");
    let sample = sink.pull_sample().expect("one frame");
    pipeline.set_state(gst::State::Null).expect("stops");
    (
        sample.caps().expect("caps").to_owned(),
        sample.buffer().expect("buffer").to_owned(),
    )
}

/// Runs a launch line ending in `appsink name=sink` to EOS; returns every output sample.
pub fn run_to_eos(desc: &str) -> Result<Vec<gst::Sample>, String> {
    let pipeline = gst::parse::launch(desc)
        .map_err(|e| e.to_string())?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline")?;
    let sink = pipeline
        .by_name("sink")
        .and_then(|s| s.downcast::<gst_app::AppSink>().ok())
        .ok_or("no appsink named sink")?;
    sink.set_property("sync", false);
    let samples = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let store = samples.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                store.lock().expect("lock").push(sample);
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    let result = wait(&pipeline);
    pipeline.set_state(gst::State::Null).map_err(|e| e.to_string())?;
    result?;
    let out = std::mem::take(&mut *samples.lock().expect("lock"));
    Ok(out)
}

/// Plays a pipeline to EOS; an error message or a failed state change comes back as text
/// (with the debug details), warnings are collected into the second value.
pub fn play(desc: &str) -> (Result<(), String>, Vec<String>) {
    let pipeline = match gst::parse::launch(desc) {
        Ok(p) => p.downcast::<gst::Pipeline>().expect("pipeline"),
        Err(e) => return (Err(e.to_string()), vec![]),
    };
    let mut warnings = Vec::new();
    let r = wait_collect(&pipeline, &mut warnings);
    let _ = pipeline.set_state(gst::State::Null);
    (r, warnings)
}

fn wait(pipeline: &gst::Pipeline) -> Result<(), String> {
    wait_collect(pipeline, &mut Vec::new())
}

fn wait_collect(pipeline: &gst::Pipeline, warnings: &mut Vec<String>) -> Result<(), String> {
    let bus = pipeline.bus().expect("bus");
    let started = pipeline.set_state(gst::State::Playing);
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(300)) {
        use gst::MessageView;
        match msg.view() {
            MessageView::Eos(..) => return Ok(()),
            MessageView::Error(e) => {
                return Err(format!(
                    "{} ({})",
                    e.error(),
                    e.debug().map(|d| d.to_string()).unwrap_or_default()
                ));
            }
            MessageView::Warning(w) => warnings.push(format!(
                "{} ({})",
                w.error(),
                w.debug().map(|d| d.to_string()).unwrap_or_default()
            )),
            _ => {}
        }
    }
    if started.is_err() {
        return Err("state change failed without an error message".into());
    }
    Err("timed out".into())
}

/// A fresh folder; unique per call, since tests run in parallel threads of one process.
pub fn temp_dir(name: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("gstface-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A gallery folder with one person made from one photo.
pub fn gallery_of(name: &str, photo: &str) -> PathBuf {
    let d = temp_dir(&format!("gallery-{name}"));
    std::fs::create_dir_all(d.join(name)).expect("person dir");
    std::fs::copy(asset(&format!("photos/{photo}")), d.join(name).join(photo)).expect("copy");
    d
}

pub fn video_size(caps: &gst::CapsRef) -> (u32, u32) {
    let info = gst_video::VideoInfo::from_caps(caps).expect("video caps");
    (info.width(), info.height())
}

/// How much of `original`'s fine detail `output` keeps over the middle half of `face`
/// (x0, y0, x1, y1), both packed RGB frames `width` x `height`: about 1 when untouched,
/// near 0 when hidden. The measure of ../shared/tools/score_redaction.py (the output's
/// band-passed image projected on the original's), with box means for its Gaussians.
pub fn detail_kept(original: &[u8], output: &[u8], width: usize, height: usize, face: [usize; 4]) -> f64 {
    let grey = |b: &[u8]| -> Vec<f64> {
        let stride = b.len() / height;
        (0..height)
            .flat_map(|y| {
                b[y * stride..y * stride + width * 3]
                    .chunks(3)
                    .map(|p| 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let (a, b) = (grey(original), grey(output));
    let [x0, y0, x1, y1] = face;
    let (fw, fh) = (x1 - x0, y1 - y0);
    let mean = |g: &[f64], x: usize, y: usize, r: usize| {
        let mut s = 0.0;
        for yy in y.saturating_sub(r)..=(y + r).min(height - 1) {
            for xx in x.saturating_sub(r)..=(x + r).min(width - 1) {
                s += g[yy * width + xx];
            }
        }
        s / ((2 * r + 1) * (2 * r + 1)) as f64
    };
    let (mut cross, mut own) = (0.0, 0.0);
    for y in y0 + fh / 4..y1 - fh / 4 {
        for x in x0 + fw / 4..x1 - fw / 4 {
            let ha = mean(&a, x, y, 1) - mean(&a, x, y, 4);
            let hb = mean(&b, x, y, 1) - mean(&b, x, y, 4);
            cross += ha * hb;
            own += ha * ha;
        }
    }
    cross / own.max(1e-6)
}
