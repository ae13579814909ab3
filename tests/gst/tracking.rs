//! Tracking through the elements (issue 4): ids that stay with a face, faces carried
//! through the frames the detector skips, new ids for new people, and per-track identity.

mod util;

use gstface::meta;
use util::*;

/// Every frame's faces from a launch line ending in `appsink name=sink`.
fn tracked_faces(desc: &str) -> Vec<Vec<meta::FaceInfo>> {
    run_to_eos(desc)
        .unwrap_or_else(|e| panic!("{desc}: {e}"))
        .iter()
        .map(|s| {
            let (w, h) = video_size(s.caps().expect("caps"));
            meta::faces(s.buffer().expect("buffer"), w, h)
        })
        .collect()
}

#[test]
fn a_face_keeps_its_id_and_skipped_detection_frames_still_carry_it() {
    init();
    let clip = asset("video/single_face.mp4");
    for interval in [1u32, 5] {
        let frames = tracked_faces(&format!(
            "filesrc location=\"{}\" ! decodebin ! videoconvert ! facedetect interval={interval} ! appsink name=sink",
            clip.display()
        ));
        assert!(frames.len() > 50);
        let with_face = frames.iter().filter(|f| f.len() == 1).count();
        assert!(
            with_face as f64 >= 0.95 * frames.len() as f64,
            "interval {interval}: one face in only {with_face} of {} frames",
            frames.len()
        );
        // Frames the detector skipped carry the face too, marked as carried by its track
        // (but where a prediction went stale and the detector ran at once); on detection
        // frames the face is found, and marked as seen.
        let on = |skipped: bool| {
            frames
                .iter()
                .enumerate()
                .filter(move |(i, _)| (*i as u32).is_multiple_of(interval) != skipped)
                .flat_map(|(_, f)| f)
        };
        let carried = on(true).filter(|f| f.detected == Some(false)).count();
        assert!(
            on(false).all(|f| f.detected == Some(true)),
            "interval {interval}: a face of a detection frame is marked as carried"
        );
        if interval > 1 {
            let skipped_with_face = on(true).count();
            assert!(
                skipped_with_face as f64 >= 0.9 * (frames.len() as f64 * 0.8),
                "{skipped_with_face}"
            );
            assert!(
                carried as f64 >= 0.9 * skipped_with_face as f64,
                "interval {interval}: {carried} of {skipped_with_face} faces on skipped frames marked as carried"
            );
        }
        let mut ids: Vec<u64> = frames
            .iter()
            .flatten()
            .map(|f| f.track_id.expect("every face has a track id"))
            .collect();
        ids.dedup();
        assert_eq!(ids.len(), 1, "interval {interval}: the one person got ids {ids:?}");
        // Between detections the box moves smoothly: no jump of more than a quarter of
        // the face from one frame to the next.
        for pair in frames.windows(2) {
            if let ([a], [b]) = (pair[0].as_slice(), pair[1].as_slice()) {
                let (a, b) = (a.bbox.xywh(), b.bbox.xywh());
                assert!(
                    (a[0] - b[0]).abs() < a[2] * 0.25 && (a[1] - b[1]).abs() < a[3] * 0.25,
                    "{a:?} -> {b:?}"
                );
            }
        }
    }
    // tracking=false: no ids.
    let frames = tracked_faces(&format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! facedetect tracking=false ! appsink name=sink",
        clip.display()
    ));
    assert!(
        frames
            .iter()
            .flatten()
            .all(|f| f.track_id.is_none() && f.detected.is_none())
    );
}

/// `photo` cropped to `crop` (x, y, side) and scaled to 480x480 RGB.
fn square_frame(photo: &str, crop: [u32; 3]) -> Vec<u8> {
    let img = image::open(asset(&format!("photos/{photo}"))).expect("photo");
    img.crop_imm(crop[0], crop[1], crop[2], crop[2])
        .resize_exact(480, 480, image::imageops::FilterType::Triangle)
        .to_rgb8()
        .into_raw()
}

/// Caps of packed RGB frames of this size at 25 fps (`square_frame` makes 480x480).
fn rgb_caps(width: i32, height: i32) -> gst::Caps {
    gst::Caps::builder("video/x-raw")
        .field("format", "RGB")
        .field("width", width)
        .field("height", height)
        .field("framerate", gst::Fraction::new(25, 1))
        .build()
}

/// `data` as the `n`th frame of a 25 fps stream.
fn frame_buffer(data: &[u8], n: u64) -> gst::Buffer {
    let mut buf = gst::Buffer::from_slice(data.to_vec());
    buf.get_mut()
        .expect("writable")
        .set_pts(gst::ClockTime::from_mseconds(40 * n));
    buf
}

#[test]
fn a_person_leaving_and_another_arriving_in_the_same_place_get_a_new_id() {
    init();
    // Obama's and Biden's faces cropped to about the same place and size.
    let obama = square_frame("obama.jpg", [190, 0, 600]);
    let biden = square_frame("biden.jpg", [270, 76, 600]);
    let empty = vec![40u8; 480 * 480 * 3];
    // Detection on every frame, so that each face counts from its first frame (with the
    // default interval 2 a face arriving on an odd frame shows up one frame later).
    let mut h = gst_check::Harness::new_parse("facedetect interval=1 ! faceid");
    h.set_src_caps(rgb_caps(480, 480));
    let mut ids = Vec::new();
    // 5 frames of Obama, 30 empty (he has left; his track is still kept, so it is how
    // the place looks that tells Biden from him), 5 of Biden.
    let frames = std::iter::repeat_n(&obama, 5)
        .chain(std::iter::repeat_n(&empty, 30))
        .chain(std::iter::repeat_n(&biden, 5));
    for (n, data) in frames.enumerate() {
        let out = h
            .push_and_pull(frame_buffer(data, n as u64))
            .expect("a buffer comes out");
        let faces = meta::faces(&out, 480, 480);
        assert!(faces.len() <= 1, "frame {n}: {faces:?}");
        // Nobody is held in the empty place.
        assert!((5..35).contains(&n) == faces.is_empty(), "frame {n}: {faces:?}");
        if let Some(f) = faces.first() {
            ids.push((n, f.track_id.expect("track id")));
        }
    }
    let obama_ids: Vec<u64> = ids.iter().filter(|(n, _)| *n < 5).map(|(_, id)| *id).collect();
    let biden_ids: Vec<u64> = ids.iter().filter(|(n, _)| *n >= 35).map(|(_, id)| *id).collect();
    assert_eq!(obama_ids.len(), 5, "{ids:?}");
    assert_eq!(biden_ids.len(), 5, "{ids:?}");
    assert!(obama_ids.iter().all(|i| *i == obama_ids[0]) && biden_ids.iter().all(|i| *i == biden_ids[0]));
    assert_ne!(obama_ids[0], biden_ids[0]);
}

#[test]
fn faceid_names_a_track_and_keeps_the_name_between_checks() {
    init();
    let gallery = gallery_of("Barack_Obama", "obama.jpg");
    let obama = square_frame("obama2.jpg", [100, 150, 500]);
    let mut h = gst_check::Harness::new_parse(&format!(
        "facedetect ! faceid gallery=\"{}\" reidentify-interval=4",
        gallery.display()
    ));
    h.set_src_caps(rgb_caps(480, 480));
    for n in 0..12u64 {
        let out = h.push_and_pull(frame_buffer(&obama, n)).expect("a buffer comes out");
        let faces = meta::faces(&out, 480, 480);
        assert_eq!(faces.len(), 1, "frame {n}");
        // Every frame carries the track's name, checked or not.
        let (name, id, similarity) = faces[0].identity.clone().expect("identity on every frame");
        assert_eq!((name.as_str(), id), ("Barack_Obama", 0), "frame {n}");
        assert!(similarity >= faceengine::gallery::DEFAULT_THRESHOLD as f64);
    }
}

/// Obama's face from `square_frame("obama2.jpg", ..)` shrunk to `side` pixels on a grey
/// 480x480 frame: at 48, about 14 pixels between the eyes, a seat photo's bystander's size.
fn small_face_frame(side: u32) -> Vec<u8> {
    let photo = image::open(asset("photos/obama2.jpg")).expect("photo");
    let face = photo
        .crop_imm(100, 150, 500, 500)
        .resize_exact(side, side, image::imageops::FilterType::Triangle)
        .to_rgb8();
    let mut frame = image::RgbImage::from_pixel(480, 480, image::Rgb([90, 90, 90]));
    image::imageops::overlay(&mut frame, &face, 200, 150);
    frame.into_raw()
}

#[test]
fn a_face_too_small_to_trust_is_not_named_until_seen_well_and_then_keeps_its_name() {
    init();
    let gallery = gallery_of("Barack_Obama", "obama.jpg");
    // Name and quality of the face on each frame, through facedetect ! faceid with these
    // faceid properties.
    let run = |props: &str, frames: &[Vec<u8>]| -> Vec<(String, f32)> {
        let mut h = gst_check::Harness::new_parse(&format!(
            "facedetect ! faceid gallery=\"{}\" {props}",
            gallery.display()
        ));
        h.set_src_caps(rgb_caps(480, 480));
        frames
            .iter()
            .enumerate()
            .map(|(n, data)| {
                let out = h
                    .push_and_pull(frame_buffer(data, n as u64))
                    .expect("a buffer comes out");
                let faces = meta::faces(&out, 480, 480);
                assert_eq!(faces.len(), 1, "{props}, frame {n}: {faces:?}");
                let lm = faces[0].landmarks.expect("landmarks");
                let name = faces[0].identity.clone().map_or("none".into(), |i| i.0);
                (name, faceengine::quality::of(&lm, None))
            })
            .collect()
    };
    let floor = faceengine::quality::DEFAULT_FLOOR;
    // The small face alone: close enough to Obama's photo to be named at any threshold,
    // yet too small to be trusted, so it stays unknown ...
    let small = vec![small_face_frame(48); 30];
    let seen = run("", &small);
    assert!(seen.iter().all(|(n, q)| n == "unknown" && *q < floor), "{seen:?}");
    // ... which only the quality floor decides: without it, it is named.
    let seen = run("quality-floor=0", &small);
    assert!(seen.iter().all(|(n, _)| n == "Barack_Obama"), "{seen:?}");
    // Seen well first and then moving away (shrinking a little each frame, one track),
    // the face keeps the name it earned once it is that small.
    let mut away: Vec<Vec<u8>> = vec![small_face_frame(96); 6];
    away.extend([88, 80, 72, 64, 56].iter().flat_map(|&s| vec![small_face_frame(s); 2]));
    away.extend(vec![small_face_frame(48); 12]);
    let seen = run("", &away);
    assert_eq!(seen[3].0, "Barack_Obama", "{seen:?}");
    let last = &seen[seen.len() - 12..];
    assert!(last.iter().all(|(n, q)| n == "Barack_Obama" && *q < floor), "{seen:?}");
}

#[test]
fn a_followed_face_stays_found_when_dim_or_blurred_and_not_after_it_left() {
    init();
    // The small face of the recheck test (56 pixels tall in 1080p, its mouth covered),
    // at 60% light; then either at 30%, where YuNet scores it about 0.07 at working
    // size 640 and the closer look where its track expects it finds it, or blurred
    // past finding (about 0.19 even on the closer look) but still looking like itself,
    // so that it is held where its track predicts it; then gone.
    let (clear, face) = engine_common::covered_face(56.0, 0.6, 0.55);
    let (dim, _) = engine_common::covered_face(56.0, 0.3, 0.55);
    let blurred = image::imageops::blur(&clear, 8.0);
    let empty = image::RgbImage::from_pixel(1920, 1080, image::Rgb([90, 90, 90]));
    let caps = rgb_caps(1920, 1080);
    // keep-lost=2 for the dim stretch: a face missed for longer is dropped, so only the
    // detector finding it keeps it.
    for (launch, middle) in [
        ("facedetect keep-lost=2", ("dim", &dim)),
        ("facedetect", ("blurred", &blurred)),
    ] {
        let mut h = gst_check::Harness::new_parse(launch);
        h.set_src_caps(caps.clone());
        let mut ids = Vec::new();
        let mut n = 0u64;
        for (what, frame) in [("clear", &clear), middle, ("gone", &empty)] {
            for _ in 0..8 {
                let out = h
                    .push_and_pull(frame_buffer(frame.as_raw(), n))
                    .expect("a buffer comes out");
                n += 1;
                let faces = meta::faces(&out, 1920, 1080);
                if what == "gone" {
                    assert!(faces.is_empty(), "{launch}, frame {n}, face gone: {faces:?}");
                    continue;
                }
                assert_eq!(faces.len(), 1, "{launch}, frame {n}, {what}: {faces:?}");
                assert!(
                    engine_common::iou(&faces[0].bbox.xywh(), &face) > 0.5,
                    "{launch}, frame {n}, {what}: {:?} is not the face at {face:?}",
                    faces[0].bbox
                );
                ids.push(faces[0].track_id.expect("a track id"));
                // The metadata says how the face was kept: found by the detector on the
                // detection frames (every other one) while dim, held where its track
                // predicts it while blurred.
                let detection_frame = (n - 1).is_multiple_of(2);
                let expected = match what {
                    "blurred" => false,
                    _ => detection_frame,
                };
                assert_eq!(faces[0].detected, Some(expected), "{launch}, frame {n}, {what}");
            }
        }
        assert!(
            ids.iter().all(|id| *id == ids[0]),
            "{launch}: one face, one track: {ids:?}"
        );
    }
}
