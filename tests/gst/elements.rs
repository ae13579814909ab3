//! The elements one at a time (gst_check::Harness) and chained in real pipelines, on
//! real photos, in every raw format they accept; metadata exactly as docs/metadata.md.

mod util;

use gst_video::VideoRegionOfInterestMeta;
use gstface::meta;
use util::*;

fn found_boxes(buf: &gst::BufferRef, caps: &gst::CapsRef) -> Vec<[f32; 4]> {
    let (w, h) = video_size(caps);
    meta::faces(buf, w, h).iter().map(|f| f.bbox.xywh()).collect()
}

#[test]
fn facedetect_finds_the_faces_through_a_harness_in_every_format() {
    init();
    for (photo, expected) in expected_faces() {
        for format in FORMATS {
            let (caps, buf) = photo_buffer(&asset(&format!("photos/{photo}")), format);
            let mut h = gst_check::Harness::new("facedetect");
            h.set_src_caps(caps.clone());
            let out = h.push_and_pull(buf).expect("a buffer comes out");
            if let Err(e) = check_boxes(&found_boxes(&out, &caps), &expected, 0.6) {
                panic!("{photo} as {format}: {e}");
            }
        }
    }
}

#[test]
fn the_chain_attaches_the_contracted_metadata_in_every_format() {
    init();
    let gallery = gallery_of("Barack_Obama", "obama.jpg");
    for format in FORMATS {
        let desc = format!(
            "filesrc location=\"{}\" ! decodebin ! videoconvert ! video/x-raw,format={format} \
             ! facedetect ! faceid gallery=\"{}\" ! faceemotion ! appsink name=sink",
            asset("photos/obama2.jpg").display(),
            gallery.display()
        );
        let samples = run_to_eos(&desc).unwrap_or_else(|e| panic!("{format}: {e}"));
        assert_eq!(samples.len(), 1);
        let buf = samples[0].buffer().expect("buffer");
        let (w, h) = video_size(samples[0].caps().expect("caps"));
        let rois: Vec<_> = buf.iter_meta::<VideoRegionOfInterestMeta>().collect();
        assert_eq!(rois.len(), 1, "{format}: obama2.jpg has one face");
        let roi = &rois[0];
        assert_eq!(roi.roi_type(), "face");
        assert_eq!(roi.parent_id(), -1);
        let (x, y, rw, rh) = roi.rect();
        assert!(
            x + rw <= w && y + rh <= h && rw > 50 && rh > 50,
            "{format}: rect {:?}",
            roi.rect()
        );

        let d = roi.param("detection").expect("detection structure");
        assert_eq!(d.get::<String>("label").expect("label"), "face");
        assert_eq!(d.get::<i32>("label_id").expect("label_id"), 0);
        let conf = d.get::<f64>("confidence").expect("confidence");
        assert!((0.6..=1.0).contains(&conf));
        let xmin = d.get::<f64>("x_min").expect("x_min");
        let xmax = d.get::<f64>("x_max").expect("x_max");
        assert!((xmin * w as f64 - x as f64).abs() <= 1.0 && (0.0..=1.0).contains(&xmax) && xmax > xmin);
        let lm = d.get::<gst::Array>("landmarks").expect("landmarks array");
        assert_eq!(lm.len(), 10);
        assert!(lm.iter().all(|v| v.get::<f64>().is_ok()));
        assert_eq!(d.get::<String>("model_name").expect("model_name"), "yunet");

        let id = roi.param("face-id").expect("face-id structure");
        assert_eq!(id.get::<String>("label").expect("label"), "Barack_Obama", "{format}");
        assert_eq!(id.get::<i32>("label_id").expect("label_id"), 0);
        assert!(id.get::<f64>("confidence").expect("similarity") >= faceengine::gallery::DEFAULT_THRESHOLD as f64);
        assert_eq!(id.get::<String>("attribute_name").expect("attribute_name"), "identity");
        assert_eq!(id.get::<String>("model_name").expect("model_name"), "sface");

        let e = roi.param("emotion").expect("emotion structure");
        let labels: Vec<String> = e
            .get::<gst::Array>("labels")
            .expect("labels")
            .iter()
            .map(|v| v.get::<String>().expect("string"))
            .collect();
        assert_eq!(
            labels,
            ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
        );
        let scores: Vec<f64> = e
            .get::<gst::Array>("scores")
            .expect("scores")
            .iter()
            .map(|v| v.get::<f64>().expect("double"))
            .collect();
        assert_eq!(scores.len(), 7);
        assert!((scores.iter().sum::<f64>() - 1.0).abs() < 1e-3);
        let label_id = e.get::<i32>("label_id").expect("label_id") as usize;
        assert_eq!(e.get::<String>("label").expect("label"), labels[label_id]);
        assert!((e.get::<f64>("confidence").expect("confidence") - scores[label_id]).abs() < 1e-6);
        assert_eq!(e.get::<String>("attribute_name").expect("attribute_name"), "emotion");
    }
}

#[test]
fn faceid_names_obama_and_not_biden() {
    init();
    let gallery = gallery_of("Barack_Obama", "obama.jpg");
    for (photo, want) in [
        ("obama2.jpg", "Barack_Obama"),
        ("obama3.jpg", "Barack_Obama"),
        ("biden.jpg", "unknown"),
    ] {
        let desc = format!(
            "filesrc location=\"{}\" ! decodebin ! videoconvert ! facedetect ! faceid gallery=\"{}\" ! appsink name=sink",
            asset(&format!("photos/{photo}")).display(),
            gallery.display()
        );
        let samples = run_to_eos(&desc).unwrap_or_else(|e| panic!("{photo}: {e}"));
        let buf = samples[0].buffer().expect("buffer");
        let (w, h) = video_size(samples[0].caps().expect("caps"));
        let faces = meta::faces(buf, w, h);
        assert_eq!(faces.len(), 1, "{photo}");
        let (name, id, sim) = faces[0].identity.clone().expect("identity");
        assert_eq!(name, want, "{photo}: similarity {sim}");
        assert_eq!(id, if want == "unknown" { -1 } else { 0 });
    }
}

/// The faces on the first frame out of `chain` fed with one of the test photos.
fn faces_through(photo: &str, chain: &str) -> Vec<meta::FaceInfo> {
    let desc = format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! {chain} ! appsink name=sink",
        asset(&format!("photos/{photo}")).display()
    );
    let samples = run_to_eos(&desc).expect("runs");
    let (w, h) = video_size(samples[0].caps().expect("caps"));
    meta::faces(samples[0].buffer().expect("buffer"), w, h)
}

#[test]
fn faceid_without_a_gallery_calls_every_face_unknown() {
    init();
    let faces = faces_through("sample5.jpg", "facedetect ! faceid");
    assert_eq!(faces.len(), 5, "sample5 has five faces");
    for f in faces {
        assert_eq!(f.identity, Some(("unknown".to_string(), -1, 0.0)), "{f:?}");
    }
}

#[test]
fn faceemotion_labels_subset_is_honoured() {
    init();
    let faces = faces_through(
        "sample2.jpg",
        "facedetect ! faceemotion labels=angry,happy,neutral,sad,surprise",
    );
    assert!(!faces.is_empty());
    for f in faces {
        let e = f.emotion.expect("emotion");
        assert_eq!(e.labels, ["angry", "happy", "sad", "surprise", "neutral"]);
        assert!(e.labels.contains(&e.label));
        assert!((e.scores.iter().sum::<f64>() - 1.0).abs() < 1e-3);
    }
}

#[test]
fn faceannotate_draws_on_the_faces_and_nowhere_else() {
    init();
    let gallery = gallery_of("Barack_Obama", "obama.jpg");
    let photo = asset("photos/obama2.jpg");
    let plain = format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! video/x-raw,format=RGBx ! appsink name=sink",
        photo.display()
    );
    let annotated = format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! video/x-raw,format=RGBx ! facedetect ! faceid gallery=\"{}\" \
         ! faceemotion ! faceannotate ! appsink name=sink",
        photo.display(),
        gallery.display()
    );
    let a = run_to_eos(&plain).expect("plain runs");
    let b = run_to_eos(&annotated).expect("annotated runs");
    let (w, h) = video_size(a[0].caps().expect("caps"));
    let face = meta::faces(b[0].buffer().expect("buffer"), w, h)[0].bbox.xywh();
    let pa = a[0].buffer().expect("buffer").map_readable().expect("map");
    let pb = b[0].buffer().expect("buffer").map_readable().expect("map");
    let stride = (w * 4) as usize;
    let px = |m: &[u8], x: u32, y: u32| {
        let i = y as usize * stride + x as usize * 4;
        [m[i], m[i + 1], m[i + 2]]
    };
    // The box's top edge is drawn in Obama's colour (person 0 of the palette).
    let (cx, top) = ((face[0] + face[2] / 2.0) as u32, face[1] as u32 + 1);
    assert_eq!(px(&pb, cx, top), faceengine::draw::person_colour(0), "box edge colour");
    // The label panel near the bottom of the box is dark with white text pixels.
    let y_text = (face[1] + face[3] * 0.9) as u32;
    let changed_in_panel = (face[0] as u32..(face[0] + face[2]) as u32)
        .filter(|&x| px(&pa, x, y_text) != px(&pb, x, y_text))
        .count();
    assert!(
        changed_in_panel as f32 > face[2] * 0.8,
        "label panel drawn ({changed_in_panel} px changed)"
    );
    // Its text: pixels turned white that were not, in the lower part of the box where
    // the name and emotion are written.
    let white = |m: &[u8], x: u32, y: u32| px(m, x, y).iter().all(|&c| c > 230);
    let text_pixels = ((face[1] + face[3] * 0.6) as u32..(face[1] + face[3]).min(h as f32) as u32)
        .flat_map(|y| (face[0] as u32..(face[0] + face[2]) as u32).map(move |x| (x, y)))
        .filter(|&(x, y)| white(&pb, x, y) && !white(&pa, x, y))
        .count();
    assert!(text_pixels >= 30, "white label text drawn ({text_pixels} px)");
    // Far from the face nothing changed.
    let changed_outside = (0..h)
        .step_by(4)
        .flat_map(|y| (0..w).step_by(4).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let (fx, fy) = (x as f32, y as f32);
            let margin = 4.0;
            let inside = fx >= face[0] - margin
                && fx <= face[0] + face[2] * 2.0
                && fy >= face[1] - margin
                && fy <= face[1] + face[3] * 1.5;
            !inside && px(&pa, x, y) != px(&pb, x, y)
        })
        .count();
    assert_eq!(changed_outside, 0, "pixels changed away from the face");
}

#[test]
fn missing_model_fails_the_state_change_naming_property_and_path() {
    init();
    let (r, _) = play("videotestsrc num-buffers=2 ! facedetect model=/no/such/yunet.onnx ! fakesink");
    let err = r.expect_err("must fail");
    assert!(err.contains("'model'") && err.contains("/no/such/yunet.onnx"), "{err}");
    let (r, _) = play("videotestsrc num-buffers=2 ! facedetect ! faceemotion model=/no/such/emotion.onnx ! fakesink");
    let err = r.expect_err("must fail");
    assert!(
        err.contains("'model'") && err.contains("/no/such/emotion.onnx"),
        "{err}"
    );
    let (r, _) = play("videotestsrc num-buffers=2 ! facedetect ! faceid model=/no/such/sface.onnx ! fakesink");
    let err = r.expect_err("must fail");
    assert!(err.contains("'model'") && err.contains("/no/such/sface.onnx"), "{err}");
    // A model that exists but is not an emotion model (SFace takes colour 112x112).
    let sface = root().join("models/sface.onnx");
    let (r, _) = play(&format!(
        "videotestsrc num-buffers=2 ! facedetect ! faceemotion model=\"{}\" ! fakesink",
        sface.display()
    ));
    let err = r.expect_err("must fail");
    assert!(err.contains("'model'") && err.contains("[N,1,S,S]"), "{err}");
}

#[test]
fn missing_gallery_fails_naming_property_and_path() {
    init();
    let (r, _) = play("videotestsrc num-buffers=2 ! facedetect ! faceid gallery=/no/such/people ! fakesink");
    let err = r.expect_err("must fail");
    assert!(err.contains("'gallery'") && err.contains("/no/such/people"), "{err}");
}

#[test]
fn unreadable_gallery_images_are_skipped_with_a_warning_naming_them() {
    init();
    let d = temp_dir("bad-gallery");
    std::fs::create_dir_all(d.join("Someone")).expect("dir");
    std::fs::write(d.join("Someone/corrupt.jpg"), b"\xff\xd8 truncated").expect("write");
    std::fs::write(d.join("Someone/empty.png"), b"").expect("write");
    let (r, warnings) = play(&format!(
        "videotestsrc num-buffers=3 ! facedetect ! faceid gallery=\"{}\" ! fakesink",
        d.display()
    ));
    r.expect("the stream still runs");
    let all = warnings.join("\n");
    assert!(all.contains("corrupt.jpg") && all.contains("empty.png"), "{all}");
}

#[test]
fn unsupported_caps_are_refused_at_negotiation() {
    init();
    for el in ["facedetect", "faceid", "faceemotion", "faceannotate"] {
        let (r, _) = play(&format!(
            "videotestsrc num-buffers=2 ! video/x-raw,format=GRAY8 ! {el} ! fakesink"
        ));
        let err = r.expect_err("GRAY8 must be refused");
        assert!(
            err.to_lowercase().contains("negotiat") || err.contains("not-linked") || err.contains("link"),
            "{el}: {err}"
        );
    }
}

#[test]
fn bad_properties_are_clear_errors() {
    init();
    let (r, _) = play("videotestsrc num-buffers=2 ! facedetect ! faceemotion labels=happy,bored ! fakesink");
    let err = r.expect_err("must fail");
    assert!(err.contains("'labels'") && err.contains("bored"), "{err}");
    let (r, _) = play("videotestsrc num-buffers=2 ! facejson location=/no/such/dir/out.jsonl ! fakesink");
    let err = r.expect_err("must fail");
    assert!(
        err.contains("'location'") && err.contains("/no/such/dir/out.jsonl"),
        "{err}"
    );
}

#[test]
fn faceannotate_attaches_the_overlay_when_downstream_renders_it() {
    init();
    let (caps, buf) = photo_buffer(&asset("photos/sample4.jpg"), "RGBA");
    let input = buf.map_readable().expect("map").to_vec();
    let mut h = gst_check::Harness::new_parse("facedetect ! faceannotate");
    // The harness's sink answers allocation queries saying it renders overlay metas,
    // as a GL or Wayland sink would.
    h.add_propose_allocation_meta(
        <gst_video::VideoOverlayCompositionMeta as gst::MetaAPI>::meta_api(),
        None,
    );
    h.set_src_caps(caps);
    let out = h.push_and_pull(buf).expect("a buffer comes out");
    let comp = out
        .meta::<gst_video::VideoOverlayCompositionMeta>()
        .expect("overlay attached as meta");
    assert_eq!(comp.overlay().n_rectangles(), 4, "one rectangle per face");
    assert_eq!(
        out.map_readable().expect("map").as_slice(),
        input.as_slice(),
        "pixels untouched when attaching"
    );
}

#[test]
fn faceemotion_reads_a_sad_and_a_laughing_face() {
    init();
    // Stills of the Pexels clip: crying 2 s in, laughing 15 s in.
    for (still, want) in [("video/pexels-02s.png", "sad"), ("video/pexels-15s.png", "happy")] {
        let desc = format!(
            "filesrc location=\"{}\" ! decodebin ! videoconvert ! facedetect ! faceemotion ! appsink name=sink",
            asset(still).display()
        );
        let samples = run_to_eos(&desc).unwrap_or_else(|e| panic!("{still}: {e}"));
        let (w, h) = video_size(samples[0].caps().expect("caps"));
        let faces = meta::faces(samples[0].buffer().expect("buffer"), w, h);
        assert_eq!(faces.len(), 1, "{still}");
        let e = faces[0].emotion.clone().expect("emotion");
        assert_eq!(e.label, want, "{still}: {:?}", e.scores);
    }
}

#[test]
fn faceid_gives_the_same_answers_on_one_thread_and_several() {
    init();
    let gallery = gallery_of("Barack_Obama", "obama.jpg");
    // backend=tract, as in the faceemotion test below: auto would batch on ONNX Runtime.
    let run = |threads: u32| {
        let chain = format!(
            "facedetect ! faceid backend=tract threads={threads} gallery=\"{}\"",
            gallery.display()
        );
        faces_through("sample5.jpg", &chain)
            .into_iter()
            .map(|f| f.identity.expect("identity"))
            .collect::<Vec<_>>()
    };
    let one = run(1);
    assert_eq!(one.len(), 5, "sample5 has five faces");
    assert!(
        one.iter().all(|(name, id, _)| name == "unknown" && *id == -1),
        "{one:?}"
    );
    assert_eq!(
        run(3),
        one,
        "splitting the faces over threads must not change any answer"
    );
}

#[test]
fn faceemotion_gives_the_same_answers_on_one_thread_and_several() {
    init();
    // backend=tract: the runtime that classifies one face per call, spread over threads
    // (auto would pick ONNX Runtime where it is installed, which takes one batch).
    let run = |threads: u32| {
        let chain = format!("facedetect ! faceemotion backend=tract threads={threads}");
        faces_through("sample5.jpg", &chain)
            .into_iter()
            .map(|f| f.emotion.expect("emotion"))
            .collect::<Vec<_>>()
    };
    let one = run(1);
    assert_eq!(one.len(), 5, "sample5 has five faces");
    let labels: std::collections::HashSet<_> = one.iter().map(|e| e.label.clone()).collect();
    assert!(labels.len() > 1, "five different faces, one emotion for all: {one:?}");
    assert_eq!(
        run(3),
        one,
        "splitting the faces over threads must not change any answer"
    );
}

#[test]
fn facedetect_model_mtcnn_finds_the_faces_and_says_so() {
    init();
    // sample4.jpg: four people, all of whom MTCNN scores above 0.99.
    let (caps, buf) = photo_buffer(&asset("photos/sample4.jpg"), "RGB");
    let mut h = gst_check::Harness::new_parse("facedetect model=mtcnn threshold=0.95");
    h.set_src_caps(caps.clone());
    let out = h.push_and_pull(buf).expect("a buffer comes out");
    let expected = expected_faces()
        .into_iter()
        .find(|(n, _)| n == "sample4.jpg")
        .expect("sample4.jpg in expected-faces.json")
        .1;
    if let Err(e) = check_boxes(&found_boxes(&out, &caps), &expected, 0.5) {
        panic!("mtcnn on sample4.jpg: {e}");
    }
    for roi in out.iter_meta::<VideoRegionOfInterestMeta>() {
        let d = roi.param("detection").expect("detection structure");
        assert_eq!(d.get::<String>("model_name").expect("model_name"), "mtcnn");
        assert_eq!(d.get::<gst::Array>("landmarks").expect("landmarks").len(), 10);
    }
}

#[test]
fn facedetect_finds_a_small_dim_covered_face_by_default_and_says_which_property_does() {
    init();
    let (frame, face) = engine_common::small_dim_covered_face();
    let png = temp_dir("small-face").join("frame.png");
    frame.save(&png).expect("png written");
    for format in ["I420", "RGB"] {
        let (caps, buf) = photo_buffer(&png, format);
        let found = |launch: &str| {
            let mut h = gst_check::Harness::new_parse(launch);
            h.set_src_caps(caps.clone());
            let out = h.push_and_pull(buf.clone()).expect("a buffer comes out");
            found_boxes(&out, &caps)
        };
        let boxes = found("facedetect");
        assert_eq!(boxes.len(), 1, "{format}: the face by default: {boxes:?}");
        assert!(
            engine_common::iou(&boxes[0], &face) > 0.6,
            "{format}: {:?} is not the face at {face:?}",
            boxes[0]
        );
        assert!(
            found("facedetect recheck-threshold=1").is_empty(),
            "{format}: found without the recheck"
        );
    }
}
