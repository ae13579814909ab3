//! The `backend` properties: which backend runs, why, and that ONNX Runtime and tract
//! give the same faces, names and emotions through the real elements.
//!
//! The README's test command sets `ORT_DYLIB_PATH` (scripts/fetch-onnxruntime.sh); then
//! `auto` must pick ONNX Runtime and the comparison runs. Without it `auto` must be tract.

mod util;

use faceengine::detect::iou;
use gst::prelude::*;
use gstface::meta;
use util::engine_common::onnxruntime_library;
use util::*;

/// Starts a pipeline with the three inference elements (named det, id, emo) to PAUSED and
/// returns each one's `backend-in-use`.
fn backends_in_use(props: &str) -> Vec<String> {
    init();
    let desc = format!(
        "videotestsrc num-buffers=1 ! facedetect name=det {props} ! faceid name=id {props} \
         ! faceemotion name=emo {props} ! fakesink"
    );
    let pipeline = gst::parse::launch(&desc).expect("pipeline");
    let bin = pipeline.clone().downcast::<gst::Bin>().expect("bin");
    pipeline.set_state(gst::State::Paused).expect("starts");
    let (r, _, _) = pipeline.state(gst::ClockTime::from_seconds(60));
    r.expect("reaches PAUSED");
    let out = ["det", "id", "emo"]
        .iter()
        .map(|n| bin.by_name(n).expect("element").property::<String>("backend-in-use"))
        .collect();
    pipeline.set_state(gst::State::Null).expect("stops");
    out
}

#[test]
fn every_inference_element_says_which_backend_runs_and_why() {
    for in_use in backends_in_use("") {
        assert!(in_use.contains("auto"), "{in_use}");
        if in_use.starts_with("tensorrt") {
            continue; // a TensorRT machine: auto took the fastest
        }
        // No TensorRT here (not built in, or no libnvinfer): auto says it skipped it.
        assert!(in_use.contains("tensorrt skipped"), "{in_use}");
        if onnxruntime_library().is_some() {
            assert!(in_use.starts_with("onnxruntime"), "{in_use}");
        } else {
            assert!(in_use.starts_with("tract"), "{in_use}");
        }
    }
    for in_use in backends_in_use("backend=tract") {
        assert_eq!(in_use, "tract (backend=tract was asked for)");
    }
}

#[test]
fn backend_in_use_is_empty_before_start_and_backend_reads_back() {
    init();
    let el = gst::ElementFactory::make("faceid")
        .property_from_str("backend", "onnxruntime")
        .build()
        .expect("faceid");
    assert_eq!(el.property::<String>("backend-in-use"), "");
    let nick = el.property_value("backend");
    let nick = glib_enum_nick(&nick);
    assert_eq!(nick, "onnxruntime");
}

fn glib_enum_nick(v: &gst::glib::Value) -> String {
    gst::glib::EnumValue::from_value(v)
        .map(|(_, e)| e.nick().to_string())
        .unwrap_or_default()
}

#[test]
fn a_missing_onnxruntime_library_fails_naming_the_property_and_path() {
    init();
    let (r, _) = play(
        "videotestsrc num-buffers=2 ! facedetect backend=onnxruntime \
         onnxruntime-library=/no/such/libonnxruntime.so ! fakesink",
    );
    let err = r.expect_err("must fail");
    assert!(
        err.contains("'backend'") && err.contains("/no/such/libonnxruntime.so"),
        "{err}"
    );
}

#[test]
fn backend_tensorrt_without_tensorrt_is_a_clear_error() {
    init();
    let (r, _) = play("videotestsrc num-buffers=2 ! facedetect backend=tensorrt ! fakesink");
    let Err(err) = r else {
        eprintln!("TensorRT works on this machine: nothing to check here");
        return;
    };
    assert!(err.contains("'backend'") && err.contains("tensorrt"), "{err}");
    assert!(
        err.contains("--features tensorrt") || err.contains("libnvinfer"),
        "the message says what is missing: {err}"
    );
}

/// The faces out of the whole chain on one photo with one backend.
fn chain_on(photo: &str, backend: &str, gallery: &std::path::Path) -> Vec<meta::FaceInfo> {
    let desc = format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! facedetect backend={backend} \
         ! faceid backend={backend} gallery=\"{}\" ! faceemotion backend={backend} ! appsink name=sink",
        asset(&format!("photos/{photo}")).display(),
        gallery.display()
    );
    let samples = run_to_eos(&desc).unwrap_or_else(|e| panic!("{backend} on {photo}: {e}"));
    let (w, h) = video_size(samples[0].caps().expect("caps"));
    meta::faces(samples[0].buffer().expect("buffer"), w, h)
}

#[test]
fn onnxruntime_and_tract_agree_on_faces_names_and_emotions() {
    if onnxruntime_library().is_none() {
        return;
    }
    init();
    let gallery = temp_dir("backends-gallery");
    for (name, photo) in [("Barack_Obama", "obama.jpg"), ("Joe_Biden", "biden.jpg")] {
        std::fs::create_dir_all(gallery.join(name)).expect("dir");
        std::fs::copy(asset(&format!("photos/{photo}")), gallery.join(name).join(photo)).expect("copy");
    }
    let mut compared = 0;
    for photo in [
        "obama2.jpg",
        "obama3.jpg",
        "sample1.jpg",
        "sample2.jpg",
        "sample5.jpg",
        "sample6.jpg",
    ] {
        let tract = chain_on(photo, "tract", &gallery);
        let ort = chain_on(photo, "onnxruntime", &gallery);
        assert_eq!(tract.len(), ort.len(), "{photo}: number of faces");
        for t in &tract {
            let o = ort
                .iter()
                .max_by(|a, b| iou(&a.bbox, &t.bbox).total_cmp(&iou(&b.bbox, &t.bbox)))
                .expect("a face");
            // Tolerances: the two runtimes sum in different orders, so scores and boxes
            // differ in the last float digits; decisions must not.
            assert!(iou(&o.bbox, &t.bbox) > 0.99, "{photo}: {:?} vs {:?}", t.bbox, o.bbox);
            let (tn, ti, ts) = t.identity.clone().expect("identity");
            let (on, oi, os) = o.identity.clone().expect("identity");
            assert_eq!((&tn, ti), (&on, oi), "{photo}: identity");
            assert!((ts - os).abs() < 0.01, "{photo}: similarity {ts} vs {os}");
            let (te, oe) = (t.emotion.clone().expect("emotion"), o.emotion.clone().expect("emotion"));
            assert_eq!(te.label, oe.label, "{photo}: emotion");
            compared += 1;
        }
    }
    assert!(compared >= 15, "only {compared} faces compared");
}
