//! Shared by the integration tests: where the real photos are, and their known faces.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The workspace root (these helpers are compiled into both the engine's and the
/// plugin's tests, whose manifests sit at the root and in plugins/).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if manifest.join("models").is_dir() {
        manifest
    } else {
        manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
    }
}

/// A photo or clip fetched by scripts/fetch-assets.sh; a clear failure if it is missing.
pub fn asset(rel: &str) -> PathBuf {
    let p = root().join("assets").join(rel);
    assert!(
        p.is_file(),
        "{} is missing: run scripts/fetch-assets.sh first (the README's test command does)",
        p.display()
    );
    p
}

pub fn model(file: &str) -> PathBuf {
    root().join("models").join(file)
}

/// Hand-checked face boxes [x, y, w, h] per photo (tests/data/expected-faces.json).
pub fn expected_faces() -> Vec<(String, Vec<[f32; 4]>)> {
    let text = std::fs::read_to_string(root().join("tests/data/expected-faces.json")).expect("expected-faces.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let mut out = Vec::new();
    for (name, boxes) in v["photos"].as_object().expect("photos object") {
        let boxes = boxes
            .as_array()
            .expect("array of boxes")
            .iter()
            .map(|b| {
                let a: Vec<f32> = b
                    .as_array()
                    .expect("box")
                    .iter()
                    .map(|x| x.as_f64().expect("number") as f32)
                    .collect();
                [a[0], a[1], a[2], a[3]]
            })
            .collect();
        out.push((name.clone(), boxes));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    faceengine::rect::Rect::from_xywh(*a).iou(faceengine::rect::Rect::from_xywh(*b))
}

/// Every expected box is matched by exactly one found box at IoU ≥ `min_iou`, and
/// nothing else was found. Returns a description of the first mismatch.
pub fn check_boxes(found: &[[f32; 4]], expected: &[[f32; 4]], min_iou: f32) -> Result<(), String> {
    let mut used = vec![false; found.len()];
    for e in expected {
        let best = found
            .iter()
            .enumerate()
            .filter(|(i, _)| !used[*i])
            .map(|(i, f)| (i, iou(e, f)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((i, v)) if v >= min_iou => used[i] = true,
            Some((_, v)) => return Err(format!("face {e:?} found only at IoU {v:.2}; found {found:?}")),
            None => return Err(format!("face {e:?} not found; found {found:?}")),
        }
    }
    if let Some(i) = used.iter().position(|u| !u) {
        return Err(format!("unexpected face {:?}", found[i]));
    }
    Ok(())
}

pub fn load_rgb(path: &Path) -> (Vec<u8>, usize, usize) {
    let img = image::open(path).expect("decodable photo").to_rgb8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    (img.into_raw(), w, h)
}

/// A 1920x1080 frame holding one small, dim, half-covered face, as a classroom camera
/// sees a back row: obama.jpg scaled so that the face is 56 pixels tall (19 at the
/// default working size), at 60% brightness, a skin-coloured patch over nose and
/// mouth. Returns the frame and the face's box.
///
/// YuNet scores it about 0.71 at working size 640 (under the default threshold, 0.8)
/// and about 0.89 on a crop at twice that scale.
pub fn small_dim_covered_face() -> (image::RgbImage, [f32; 4]) {
    covered_face(56.0, 0.6, 0.55)
}

/// [`small_dim_covered_face`] with the face `height` pixels tall, at `light` times its
/// brightness, and the patch's top `patch_top` face heights below the box's top.
pub fn covered_face(height: f32, light: f32, patch_top: f32) -> (image::RgbImage, [f32; 4]) {
    let photo = image::open(asset("photos/obama.jpg"))
        .expect("decodable photo")
        .to_rgb8();
    let face = expected_faces()
        .into_iter()
        .find(|(name, _)| name == "obama.jpg")
        .and_then(|(_, boxes)| boxes.first().copied())
        .expect("obama.jpg's face in expected-faces.json");
    let k = height / face[3];
    let (pw, ph) = (
        (photo.width() as f32 * k).round() as u32,
        (photo.height() as f32 * k).round() as u32,
    );
    let small = image::imageops::resize(&photo, pw, ph, image::imageops::FilterType::Triangle);
    let mut frame = image::RgbImage::from_pixel(1920, 1080, image::Rgb([90, 90, 90]));
    let (ox, oy) = (900u32, 500u32);
    for (x, y, p) in small.enumerate_pixels() {
        let dim = |v: u8| (v as f32 * light) as u8;
        frame.put_pixel(ox + x, oy + y, image::Rgb([dim(p[0]), dim(p[1]), dim(p[2])]));
    }
    let bbox = [
        ox as f32 + face[0] * k,
        oy as f32 + face[1] * k,
        face[2] * k,
        face[3] * k,
    ];
    let (x0, x1) = ((bbox[0] + 0.2 * bbox[2]) as u32, (bbox[0] + 0.8 * bbox[2]) as u32);
    let (y0, y1) = (
        (bbox[1] + patch_top * bbox[3]) as u32,
        (bbox[1] + (patch_top + 0.25) * bbox[3]) as u32,
    );
    for y in y0..y1 {
        for x in x0..x1 {
            frame.put_pixel(x, y, image::Rgb([196, 150, 120]));
        }
    }
    (frame, bbox)
}

/// The ONNX Runtime library the tests run on: `ORT_DYLIB_PATH`, which must name an
/// existing file. A run without it must say so with `GST_FACE_TEST_BACKENDS=tract`
/// (the README's test command does for its tract run), so that a missing library fails
/// the ONNX Runtime run rather than skipping its checks.
pub fn onnxruntime_library() -> Option<PathBuf> {
    if std::env::var("GST_FACE_TEST_BACKENDS").is_ok_and(|b| b == "tract") {
        assert!(
            std::env::var_os("ORT_DYLIB_PATH").is_none(),
            "GST_FACE_TEST_BACKENDS=tract with ORT_DYLIB_PATH set: unset one"
        );
        eprintln!("GST_FACE_TEST_BACKENDS=tract: the ONNX Runtime checks are not run");
        return None;
    }
    let path = std::env::var_os("ORT_DYLIB_PATH")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    match path {
        Some(p) if p.is_file() => Some(p),
        Some(p) => panic!("ORT_DYLIB_PATH names {}, which does not exist", p.display()),
        None => panic!(
            "ORT_DYLIB_PATH is not set: set it to libonnxruntime (scripts/fetch-onnxruntime.sh prints it), \
             or run with GST_FACE_TEST_BACKENDS=tract to test tract alone"
        ),
    }
}
