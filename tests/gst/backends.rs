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
        assert_eq!(
            in_use,
            "tract fp32 (backend=tract was asked for; auto: fp32 (tract runs fp32 only))"
        );
    }
    if onnxruntime_library().is_some() {
        for in_use in backends_in_use("backend=onnxruntime precision=int8") {
            assert!(in_use.starts_with("onnxruntime int8 ("), "{in_use}");
            assert!(in_use.contains(".int8.onnx"), "names the file: {in_use}");
        }
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

/// Each face of the chain with properties `a` on six photos, with the face nearest it of
/// the chain with properties `b` (the same gallery of two people; both must find as many).
fn paired_faces(a: &str, b: &str) -> Vec<(&'static str, meta::FaceInfo, meta::FaceInfo)> {
    let gallery = temp_dir(&format!("pairs-{}", a.replace([' ', '='], "-")));
    for (name, photo) in [("Barack_Obama", "obama.jpg"), ("Joe_Biden", "biden.jpg")] {
        std::fs::create_dir_all(gallery.join(name)).expect("dir");
        std::fs::copy(asset(&format!("photos/{photo}")), gallery.join(name).join(photo)).expect("copy");
    }
    let mut pairs = Vec::new();
    for photo in [
        "obama2.jpg",
        "obama3.jpg",
        "sample1.jpg",
        "sample2.jpg",
        "sample5.jpg",
        "sample6.jpg",
    ] {
        let first = chain_on(photo, a, &gallery);
        let second = chain_on(photo, b, &gallery);
        assert_eq!(first.len(), second.len(), "{photo}: number of faces");
        for f in first {
            let s = second
                .iter()
                .max_by(|x, y| iou(&x.bbox, &f.bbox).total_cmp(&iou(&y.bbox, &f.bbox)))
                .expect("a face")
                .clone();
            pairs.push((photo, f, s));
        }
    }
    assert!(pairs.len() >= 15, "only {} faces compared", pairs.len());
    pairs
}

#[test]
fn onnxruntime_and_tract_agree_on_faces_names_and_emotions() {
    if onnxruntime_library().is_none() {
        return;
    }
    init();
    // The same model files on both: auto would take int8 ones on a VNNI CPU.
    for (photo, t, o) in paired_faces("tract", "onnxruntime precision=fp32") {
        // Tolerances: the two runtimes sum in different orders, so scores and boxes
        // differ in the last float digits; decisions must not.
        assert!(iou(&o.bbox, &t.bbox) > 0.99, "{photo}: {:?} vs {:?}", t.bbox, o.bbox);
        let (tn, ti, ts) = t.identity.clone().expect("identity");
        let (on, oi, os) = o.identity.clone().expect("identity");
        assert_eq!((&tn, ti), (&on, oi), "{photo}: identity");
        assert!((ts - os).abs() < 0.01, "{photo}: similarity {ts} vs {os}");
        let (te, oe) = (t.emotion.clone().expect("emotion"), o.emotion.clone().expect("emotion"));
        assert_eq!(te.label, oe.label, "{photo}: emotion");
    }
}

#[test]
fn a_precision_the_backend_cannot_run_fails_naming_the_property() {
    init();
    let (r, _) = play("videotestsrc num-buffers=2 ! facedetect backend=tract precision=fp16 ! fakesink");
    let err = r.expect_err("fp16 is TensorRT's");
    assert!(
        err.contains("'precision' (fp16)") && err.contains("backend=tensorrt"),
        "{err}"
    );
    let (r, _) = play("videotestsrc num-buffers=2 ! faceemotion backend=tract precision=int8 ! fakesink");
    let err = r.expect_err("tract runs fp32 only");
    assert!(
        err.contains("'precision' (int8)") && err.contains("tract cannot"),
        "{err}"
    );
    if onnxruntime_library().is_none() {
        return;
    }
    // MTCNN has no int8 files: asking for int8 names the file that is missing.
    let (r, _) =
        play("videotestsrc num-buffers=2 ! facedetect model=mtcnn backend=onnxruntime precision=int8 ! fakesink");
    let err = r.expect_err("no int8 MTCNN");
    assert!(err.contains("mtcnn-pnet.int8.onnx"), "{err}");
}

#[test]
fn int8_and_fp32_agree_on_faces_names_and_emotions() {
    if onnxruntime_library().is_none() {
        return;
    }
    init();
    let pairs = paired_faces("onnxruntime precision=fp32", "onnxruntime precision=int8");
    let mut same_emotion = 0;
    for (photo, f, q) in &pairs {
        // Quantisation moves boxes by a pixel or two and similarities by a few
        // hundredths; who is who must not change.
        assert!(iou(&q.bbox, &f.bbox) > 0.85, "{photo}: {:?} vs {:?}", f.bbox, q.bbox);
        let (fname, fid, fsim) = f.identity.clone().expect("identity");
        let (qname, qid, qsim) = q.identity.clone().expect("identity");
        assert_eq!((&fname, fid), (&qname, qid), "{photo}: identity ({fsim} vs {qsim})");
        // Near the thresholds (0.44-0.45) the two must be close; a stranger's 0.1
        // against 0.2 decides nothing.
        if fsim.max(qsim) > 0.3 {
            assert!((fsim - qsim).abs() < 0.08, "{photo}: similarity {fsim} vs {qsim}");
        }
        let (fe, qe) = (f.emotion.clone().expect("emotion"), q.emotion.clone().expect("emotion"));
        same_emotion += usize::from(fe.label == qe.label);
    }
    assert!(
        same_emotion * 10 >= pairs.len() * 8,
        "int8 changed the emotion of {} of {} faces",
        pairs.len() - same_emotion,
        pairs.len()
    );
}
