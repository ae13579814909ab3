//! The metadata contract between the elements (docs/metadata.md): one
//! `GstVideoRegionOfInterestMeta` of type "face" per face, with `detection`,
//! `object_id`, `face-id` and `emotion` parameter structures.
//!
//! Everything that reads or writes those structures goes through here, so the field
//! names and types live in one place.

use faceengine::Face;
use faceengine::emotion::Emotion;
use faceengine::rect::Rect;
use faceengine::stream;
use gst_video::VideoRegionOfInterestMeta;

pub const ROI_TYPE: &str = "face";
pub const DETECTION: &str = "detection";
pub const OBJECT_ID: &str = "object_id";
pub const FACE_ID: &str = "face-id";
pub const EMOTION: &str = "emotion";
pub const REDACTION: &str = "redaction";

/// What a face's metadata says of its track.
pub use faceengine::stream::detection::TrackMark;
/// A face as the downstream elements see it, read back from its meta (the engine's
/// [`faceengine::stream::StreamFace`], which its analysers take).
pub use faceengine::stream::{EmotionInfo, StreamFace as FaceInfo};

fn f64s(s: &gst::StructureRef, field: &str) -> Option<Vec<f64>> {
    let arr = s.get::<gst::Array>(field).ok()?;
    arr.iter().map(|v| v.get::<f64>().ok()).collect()
}

fn strings(s: &gst::StructureRef, field: &str) -> Option<Vec<String>> {
    let arr = s.get::<gst::Array>(field).ok()?;
    arr.iter().map(|v| v.get::<String>().ok()).collect()
}

/// Adds one face meta with its `detection` parameters (and `object_id` when tracked); the
/// box is clamped to the frame.
pub fn add_face(
    buf: &mut gst::BufferRef,
    face: &Face,
    width: u32,
    height: u32,
    model_name: &str,
    track: Option<TrackMark>,
) {
    let corners = stream::clamped_corners(&face.bbox, width, height);
    let [x0, y0, x1, y1] = corners;
    let [x_min, y_min, x_max, y_max] = stream::normalised_corners(corners, width, height);
    let rect = (
        x0.round() as u32,
        y0.round() as u32,
        (x1 - x0).round() as u32,
        (y1 - y0).round() as u32,
    );
    let mut meta = VideoRegionOfInterestMeta::add(buf, ROI_TYPE, rect);
    meta.set_parent_id(-1);
    let landmarks = gst::Array::new(face.landmarks.iter().flat_map(|p| [p[0] as f64, p[1] as f64]));
    meta.add_param(
        gst::Structure::builder(DETECTION)
            .field("label", "face")
            .field("label_id", 0i32)
            .field("confidence", face.score as f64)
            .field("x_min", x_min)
            .field("y_min", y_min)
            .field("x_max", x_max)
            .field("y_max", y_max)
            .field("landmarks", landmarks)
            .field("model_name", model_name)
            .build(),
    );
    if let Some(t) = track {
        // `detected` is ours, beside the contract's `id`: a box the tracker predicted
        // carries the last detection's score and landmarks moved with the box, and a
        // reader that counts, measures or embeds faces needs to tell it from a detection.
        meta.add_param(
            gst::Structure::builder(OBJECT_ID)
                .field("id", t.id)
                .field("detected", t.detected)
                .build(),
        );
    }
}

/// Reads every face meta of a buffer, in meta order.
pub fn faces(buf: &gst::BufferRef, width: u32, height: u32) -> Vec<FaceInfo> {
    buf.iter_meta::<VideoRegionOfInterestMeta>()
        .filter(|m| m.roi_type() == ROI_TYPE)
        .map(|m| read_face(&m, width, height))
        .collect()
}

fn read_face(m: &VideoRegionOfInterestMeta, width: u32, height: u32) -> FaceInfo {
    let (rx, ry, rw, rh) = m.rect();
    let mut info = FaceInfo {
        bbox: Rect::new(rx as f32, ry as f32, rw as f32, rh as f32),
        ..Default::default()
    };
    if let Some(d) = m.param(DETECTION) {
        let get = |f: &str| d.get::<f64>(f).ok();
        if let (Some(x0), Some(y0), Some(x1), Some(y1)) = (get("x_min"), get("y_min"), get("x_max"), get("y_max")) {
            info.bbox = stream::from_normalised([x0, y0, x1, y1], width, height);
        }
        info.confidence = get("confidence");
        if let Some(v) = f64s(d, "landmarks").filter(|v| v.len() == 10) {
            let mut lm = [[0.0f32; 2]; 5];
            for (i, p) in lm.iter_mut().enumerate() {
                *p = [v[2 * i] as f32, v[2 * i + 1] as f32];
            }
            info.landmarks = Some(lm);
        }
    }
    if let Some(o) = m.param(OBJECT_ID) {
        info.track_id = o.get::<u64>("id").ok();
        info.detected = o.get::<bool>("detected").ok();
    }
    if let Some(f) = m.param(FACE_ID)
        && let (Ok(label), Ok(id), Ok(conf)) = (
            f.get::<String>("label"),
            f.get::<i32>("label_id"),
            f.get::<f64>("confidence"),
        )
    {
        info.identity = Some((label, id, conf));
    }
    if let Some(e) = m.param(EMOTION)
        && let (Ok(label), Ok(label_id), Ok(confidence)) = (
            e.get::<String>("label"),
            e.get::<i32>("label_id"),
            e.get::<f64>("confidence"),
        )
    {
        info.emotion = Some(EmotionInfo {
            label,
            label_id,
            confidence,
            labels: strings(e, "labels").unwrap_or_default(),
            scores: f64s(e, "scores").unwrap_or_default(),
        });
    }
    info.redacted = m
        .param(REDACTION)
        .is_some_and(|r| r.get::<bool>("hidden").unwrap_or(false));
    info
}

/// Adds one parameter structure to each face meta, in meta order: `params[i]` goes to
/// the i-th face (`None` leaves that face alone). Metas of other types are untouched.
pub fn add_params(buf: &mut gst::BufferRef, params: Vec<Option<gst::Structure>>) {
    let mut params = params.into_iter();
    for mut m in buf.iter_meta_mut::<VideoRegionOfInterestMeta>() {
        if m.roi_type() != ROI_TYPE {
            continue;
        }
        match params.next() {
            Some(Some(s)) => m.add_param(s),
            Some(None) => {}
            None => break,
        }
    }
}

pub fn identity_params(label: &str, label_id: i32, similarity: f32, model_name: &str) -> gst::Structure {
    gst::Structure::builder(FACE_ID)
        .field("label", label)
        .field("label_id", label_id)
        .field("confidence", similarity as f64)
        .field("attribute_name", "identity")
        .field("model_name", model_name)
        .build()
}

/// Marks a face faceredact hid, so that faceannotate does not write its name or emotion
/// on top of it.
pub fn redaction_params() -> gst::Structure {
    gst::Structure::builder(REDACTION).field("hidden", true).build()
}

pub fn emotion_params(e: &Emotion, model_name: &str) -> gst::Structure {
    gst::Structure::builder(EMOTION)
        .field("label", e.label())
        .field("label_id", e.label_id as i32)
        .field("confidence", e.confidence() as f64)
        .field("scores", gst::Array::new(e.scores.iter().map(|&s| s as f64)))
        .field("labels", gst::Array::new(e.labels.iter().map(String::as_str)))
        .field("attribute_name", "emotion")
        .field("model_name", model_name)
        .build()
}
