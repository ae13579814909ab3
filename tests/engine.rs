//! The engine on real photos: faces found where they are, in every pixel format;
//! identities right; emotions produced; the enrolment tool's report.
//!
//! Models load with backend `auto`, as the elements do: ONNX Runtime when
//! `ORT_DYLIB_PATH` names its library (the README's test command runs this file both
//! ways), tract otherwise.

mod common;

use faceengine::backend::{self, BackendOptions};
use faceengine::detect::{DetectorConfig, Face, YuNet};
use faceengine::embed::Embedder;
use faceengine::emotion::{self, EmotionClassifier, parse_labels};
use faceengine::frame::{FrameView, PixelFormat};
use faceengine::gallery::{self, Gallery, Side};
use faceengine::rect::Rect;

fn load(file: &str) -> std::sync::Arc<dyn backend::Backend> {
    backend::load_with(&common::model(file), &BackendOptions::default())
        .unwrap_or_else(|e| panic!("{file}: {e:#}"))
        .model
}

fn detector() -> YuNet {
    YuNet::new(load("yunet.onnx")).expect("yunet heads")
}

fn embedder() -> Embedder {
    Embedder::new(load("sface.onnx"))
}

/// The RGB photo re-encoded in `format` (BT.709 limited range for YUV, as decoders give).
fn convert(rgb: &[u8], w: usize, h: usize, format: PixelFormat) -> (Vec<Vec<u8>>, Vec<usize>) {
    let px = |x: usize, y: usize| {
        let i = (y * w + x) * 3;
        [rgb[i] as f32, rgb[i + 1] as f32, rgb[i + 2] as f32]
    };
    let packed = |order: [usize; 3], size: usize| {
        let mut out = vec![0u8; w * h * size];
        for y in 0..h {
            for x in 0..w {
                let p = px(x, y);
                for c in 0..3 {
                    out[(y * w + x) * size + c] = p[order[c]] as u8;
                }
                if size == 4 {
                    out[(y * w + x) * 4 + 3] = 255;
                }
            }
        }
        (vec![out], vec![w * size])
    };
    let yuv = |nv12: bool| {
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let (kr, kb) = (0.2126f32, 0.0722f32);
        let luma = |p: [f32; 3]| kr * p[0] + (1.0 - kr - kb) * p[1] + kb * p[2];
        let mut yp = vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                yp[y * w + x] = (16.0 + luma(px(x, y)) * 219.0 / 255.0).round() as u8;
            }
        }
        let (mut u, mut v) = (vec![0u8; cw * ch], vec![0u8; cw * ch]);
        for y in 0..ch {
            for x in 0..cw {
                let p = px((2 * x).min(w - 1), (2 * y).min(h - 1));
                let l = luma(p);
                u[y * cw + x] = (128.0 + (p[2] - l) / (2.0 * (1.0 - kb)) * 224.0 / 255.0).round() as u8;
                v[y * cw + x] = (128.0 + (p[0] - l) / (2.0 * (1.0 - kr)) * 224.0 / 255.0).round() as u8;
            }
        }
        if nv12 {
            let uv = u.iter().zip(&v).flat_map(|(a, b)| [*a, *b]).collect();
            (vec![yp, uv], vec![w, 2 * cw])
        } else {
            (vec![yp, u, v], vec![w, cw, cw])
        }
    };
    match format {
        PixelFormat::Rgb => packed([0, 1, 2], 3),
        PixelFormat::Bgr => packed([2, 1, 0], 3),
        PixelFormat::Rgba | PixelFormat::Rgbx => packed([0, 1, 2], 4),
        PixelFormat::Bgra | PixelFormat::Bgrx => packed([2, 1, 0], 4),
        PixelFormat::I420 => yuv(false),
        PixelFormat::Nv12 => yuv(true),
    }
}

#[test]
fn faces_are_found_where_they_are_in_every_format() {
    let det = detector();
    let cfg = DetectorConfig::default();
    for (photo, expected) in common::expected_faces() {
        let (rgb, w, h) = common::load_rgb(&common::asset(&format!("photos/{photo}")));
        for format in PixelFormat::ALL {
            let (planes, strides) = convert(&rgb, w, h, format);
            let p: Vec<&[u8]> = planes.iter().map(Vec::as_slice).collect();
            let view = FrameView::new(format, w, h, &p, &strides)
                .expect("frame")
                .with_yuv(faceengine::frame::YuvMatrix::Bt709, false);
            let faces = det.detect(&view, &cfg).expect("detection runs");
            let found: Vec<[f32; 4]> = faces.iter().map(|f| f.bbox.xywh()).collect();
            if let Err(e) = common::check_boxes(&found, &expected, 0.6) {
                panic!("{photo} as {format:?}: {e}");
            }
            // Landmarks sit inside their face: eyes in the top half, mouth in the bottom.
            for f in &faces {
                let [x, y, bw, bh] = f.bbox.xywh();
                for (i, p) in f.landmarks.iter().enumerate() {
                    assert!(
                        p[0] > x - 0.1 * bw && p[0] < x + 1.1 * bw,
                        "{photo}: landmark {i} outside its box"
                    );
                    let upper = i < 2;
                    assert!(
                        if upper {
                            p[1] < y + 0.65 * bh
                        } else {
                            p[1] > y + 0.35 * bh
                        },
                        "{photo}: landmark {i} misplaced"
                    );
                }
                assert!(
                    f.landmarks[0][0] < f.landmarks[1][0],
                    "{photo}: right eye must be on the image's left"
                );
            }
        }
    }
}

#[test]
fn a_small_dim_covered_face_is_found_by_a_closer_look() {
    let det = detector();
    let (frame, face) = common::small_dim_covered_face();
    let view = FrameView::from_rgb_image(&frame).expect("frame");
    let without = DetectorConfig {
        recheck_threshold: 1.0,
        ..DetectorConfig::default()
    };
    assert!(
        det.detect(&view, &without).expect("detection runs").is_empty(),
        "at working size 640 alone the face scores under 0.8: this frame no longer tests the recheck"
    );
    let found = det.detect(&view, &DetectorConfig::default()).expect("detection runs");
    assert_eq!(found.len(), 1, "one face, found by the recheck: {found:?}");
    let f = &found[0];
    assert!(f.score >= 0.8, "it counts with the closer look's score: {}", f.score);
    assert!(
        common::iou(&f.bbox.xywh(), &face) > 0.6,
        "{:?} is not the face at {face:?}",
        f.bbox
    );
    // The landmarks are the closer look's: the eyes level and inside the box's top half.
    let [x, y, w, h] = f.bbox.xywh();
    for eye in &f.landmarks[..2] {
        assert!(
            eye[0] > x && eye[0] < x + w && eye[1] > y && eye[1] < y + 0.6 * h,
            "{eye:?} in {:?}",
            f.bbox
        );
    }
    assert!((f.landmarks[0][1] - f.landmarks[1][1]).abs() < 0.1 * h);
    // At the frame's own size there is nothing closer to look from.
    let full = DetectorConfig {
        working_size: 0,
        ..DetectorConfig::default()
    };
    let at_full = det.detect(&view, &full).expect("detection runs");
    assert_eq!(at_full.len(), 1);
}

#[test]
fn detector_options_limit_the_faces() {
    let det = detector();
    let (rgb, w, h) = common::load_rgb(&common::asset("photos/sample1.jpg"));
    let view = FrameView::packed(PixelFormat::Rgb, w, h, &rgb, w * 3).expect("frame");
    let all = det.detect(&view, &DetectorConfig::default()).expect("runs");
    assert!(all.len() >= 3, "sample1 has several faces, found {}", all.len());
    let two = det
        .detect(
            &view,
            &DetectorConfig {
                max_faces: 2,
                ..Default::default()
            },
        )
        .expect("runs");
    assert_eq!(two.len(), 2);
    assert!(two[0].score >= two[1].score && two[1].score >= all.iter().map(|f| f.score).fold(f32::MAX, f32::min));
    let smallest = all.iter().map(|f| f.bbox.w.max(f.bbox.h)).fold(f32::MAX, f32::min);
    let big = det
        .detect(
            &view,
            &DetectorConfig {
                min_size: smallest + 1.0,
                ..Default::default()
            },
        )
        .expect("runs");
    assert_eq!(
        big.len(),
        all.len() - all.iter().filter(|f| f.bbox.w.max(f.bbox.h) <= smallest).count()
    );
}

#[test]
fn a_gallery_of_one_obama_photo_names_obama_and_not_biden() {
    let det = detector();
    let emb = embedder();
    let dir = std::env::temp_dir().join(format!("obama-gallery-{}", std::process::id()));
    let person = dir.join("Barack_Obama");
    std::fs::create_dir_all(&person).expect("temp gallery");
    std::fs::copy(common::asset("photos/obama.jpg"), person.join("obama.jpg")).expect("copy");
    let (g, skipped) = Gallery::build_from_dir(&dir, &det, &emb).expect("gallery builds");
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(g.len(), 1);
    let cfg = DetectorConfig::default();
    let mut sims = Vec::new();
    for (photo, is_obama) in [("obama2.jpg", true), ("obama3.jpg", true), ("biden.jpg", false)] {
        let e = gallery::enrol_image(&common::asset(&format!("photos/{photo}")), &det, &cfg, &emb).expect("a face");
        let m = g.best_match(&e, gallery::DEFAULT_THRESHOLD);
        assert_eq!(m.person.is_some(), is_obama, "{photo}: similarity {}", m.similarity);
        sims.push((photo, m.similarity));
    }
    eprintln!("similarities to obama.jpg: {sims:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_gallery_folder_is_enrolled_once_and_again_when_it_changes() {
    let emb = embedder();
    let dir = std::env::temp_dir().join(format!("shared-gallery-{}", std::process::id()));
    let person = dir.join("Barack_Obama");
    std::fs::create_dir_all(&person).expect("temp gallery");
    std::fs::copy(common::asset("photos/obama.jpg"), person.join("obama.jpg")).expect("copy");
    let enrolled = std::sync::atomic::AtomicUsize::new(0);
    let open = || {
        gallery::open_shared(&dir, "sface yunet", &emb, || {
            enrolled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(detector())
        })
        .expect("gallery opens")
    };
    // Two elements (two cameras) opening the same folder share one enrolment.
    let (a, b) = (open(), open());
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    assert_eq!(enrolled.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(a.gallery.len(), 1);
    // A photo added: a new gallery, enrolled again.
    let joe = dir.join("Joe_Biden");
    std::fs::create_dir_all(&joe).expect("second person");
    std::fs::copy(common::asset("photos/biden.jpg"), joe.join("biden.jpg")).expect("copy");
    let c = open();
    assert!(!std::sync::Arc::ptr_eq(&a, &c));
    assert_eq!(
        (c.gallery.len(), enrolled.load(std::sync::atomic::Ordering::Relaxed)),
        (2, 2)
    );
    // Other models: another gallery.
    let d = gallery::open_shared(&dir, "other models", &emb, || Ok(detector())).expect("opens");
    assert!(!std::sync::Arc::ptr_eq(&c, &d));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_photo_and_its_mirror_image_enrol_as_the_same_template() {
    // Enrolment averages each face with its mirror image, so which way a gallery photo
    // faces (or whether a phone mirrored the selfie) does not change what is stored.
    let det = detector();
    let emb = embedder();
    let photo = common::asset("photos/obama.jpg");
    let mirrored = std::env::temp_dir().join(format!("obama-mirrored-{}.png", std::process::id()));
    image::imageops::flip_horizontal(&image::open(&photo).expect("photo decodes").to_rgb8())
        .save(&mirrored)
        .expect("png");
    let cfg = DetectorConfig::default();
    let template = |path: &std::path::Path, side| {
        gallery::largest_face_embedding(path, |view| det.detect(view, &cfg), &emb, side)
            .expect("embeds")
            .expect("a face")
            .vector
    };
    let both = faceengine::embed::cosine(&template(&photo, Side::Both), &template(&mirrored, Side::Both));
    let as_is = faceengine::embed::cosine(&template(&photo, Side::AsIs), &template(&mirrored, Side::AsIs));
    let _ = std::fs::remove_file(&mirrored);
    eprintln!("photo vs mirror image: templates {both:.4}, single views {as_is:.4}");
    assert!(
        both > 0.975,
        "templates of a photo and its mirror image differ: cosine {both}"
    );
    assert!(
        both > as_is,
        "averaging with the mirror image should bring them closer: {both} vs {as_is}"
    );
}

#[test]
fn emotions_are_probabilities_over_the_chosen_labels() {
    let det = detector();
    let (rgb, w, h) = common::load_rgb(&common::asset("photos/sample1.jpg"));
    let view = FrameView::packed(PixelFormat::Rgb, w, h, &rgb, w * 3).expect("frame");
    let boxes: Vec<Rect> = det
        .detect(&view, &DetectorConfig::default())
        .expect("runs")
        .iter()
        .map(|f| f.bbox)
        .collect();
    // The default model and the mini-Xception baseline, each at its own input size.
    for (file, side) in [(emotion::DEFAULT_MODEL, 48), ("emotion-minixception.onnx", 64)] {
        let path = common::model(file);
        let cls = EmotionClassifier::new(load(file), &path).expect("an emotion model");
        assert_eq!(cls.side(), side, "{file}");
        for subset in [
            parse_labels("").expect("all"),
            parse_labels("angry,happy,neutral,sad,surprise").expect("five"),
        ] {
            let out = cls.classify(&view, &boxes, &subset).expect("classifies");
            assert_eq!(out.len(), boxes.len());
            for e in &out {
                assert_eq!(e.labels.len(), subset.len());
                assert!((e.scores.iter().sum::<f32>() - 1.0).abs() < 1e-4);
                assert!(e.scores.iter().all(|s| (0.0..=1.0).contains(s)));
                assert_eq!(e.confidence(), e.scores.iter().cloned().fold(0.0, f32::max));
            }
        }
    }
}

#[test]
fn a_model_that_is_not_an_emotion_model_is_a_clear_error() {
    // SFace takes colour 112x112 faces: not something faceemotion can feed.
    let path = common::model("sface.onnx");
    let err = match EmotionClassifier::new(load("sface.onnx"), &path) {
        Ok(_) => panic!("SFace must not be accepted as an emotion model"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("sface.onnx") && err.contains("[N,1,S,S]"), "{err}");
}

/// Where a track expects it: the covered face's box, a little off as predictions are.
fn predicted(face: &[f32; 4]) -> [f32; 4] {
    [face[0] + 4.0, face[1] - 3.0, face[2] * 1.1, face[3] * 1.1]
}

/// An empty place, away from the covered face, the face's size.
fn elsewhere(face: &[f32; 4]) -> Vec<[f32; 4]> {
    vec![[200.0, 200.0, face[2], face[3]]]
}

/// The faces found on the small covered face at `light` (`common::covered_face` at 56
/// px), with facedetect's threshold for continuing a track (track-threshold) and its
/// recheck of weak candidates, where `places` (given the face's box) are expected.
fn detect_covered(
    det: &YuNet,
    light: f32,
    cfg: &DetectorConfig,
    places: impl Fn(&[f32; 4]) -> Vec<[f32; 4]>,
) -> (Vec<Face>, [f32; 4]) {
    let (frame, face) = common::covered_face(56.0, light, 0.55);
    let view = FrameView::from_rgb_image(&frame).expect("frame");
    let found = det
        .detect_rechecking(
            &view,
            cfg,
            |f: &Face| f.score < 0.8,
            &places(&face).into_iter().map(Rect::from_xywh).collect::<Vec<_>>(),
        )
        .expect("runs");
    (found, face)
}

fn continuing_a_track() -> DetectorConfig {
    DetectorConfig {
        score_threshold: 0.5,
        ..DetectorConfig::default()
    }
}

#[test]
fn a_followed_face_in_the_dark_is_found_where_it_is_expected() {
    let det = detector();
    let cfg = continuing_a_track();
    // At 15% brightness YuNet finds nothing even on the closer crop as the frame shows
    // it; with the crop's contrast stretched it scores 0.86.
    assert!(detect_covered(&det, 0.15, &cfg, |_| vec![]).0.is_empty());
    let (found, face) = detect_covered(&det, 0.15, &cfg, |f| vec![predicted(f)]);
    assert_eq!(found.len(), 1, "the dark face was not found where expected: {found:?}");
    assert!(
        common::iou(&found[0].bbox.xywh(), &face) > 0.6,
        "{:?} is not the face at {face:?}",
        found[0].bbox
    );
    // Stretching does not make a face out of a dark empty place.
    assert!(detect_covered(&det, 0.15, &cfg, elsewhere).0.is_empty());
}

#[test]
fn a_followed_face_too_dim_to_be_a_candidate_is_found_where_it_is_expected() {
    let det = detector();
    let cfg = continuing_a_track();
    // At 30% brightness YuNet scores the face about 0.07 at working size 640, under
    // recheck-threshold, so nothing draws a closer look to it.
    assert!(
        detect_covered(&det, 0.3, &cfg, |_| vec![]).0.is_empty(),
        "found with no face expected: this frame no longer tests the look where one is"
    );
    // Where a track expects the face, YuNet looks closer and finds it.
    let (found, face) = detect_covered(&det, 0.3, &cfg, |f| vec![predicted(f)]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].score >= 0.5, "{}", found[0].score);
    assert!(
        common::iou(&found[0].bbox.xywh(), &face) > 0.6,
        "{:?} is not the face at {face:?}",
        found[0].bbox
    );
    // An expected place with no face in it stays empty.
    assert!(detect_covered(&det, 0.3, &cfg, elsewhere).0.is_empty());
    // With the closer looks off (recheck-threshold=1) nothing is looked for.
    let off = DetectorConfig {
        recheck_threshold: 1.0,
        ..cfg
    };
    assert!(detect_covered(&det, 0.3, &off, |f| vec![predicted(f)]).0.is_empty());
}
