//! Detects the faces in photos and prints their boxes as JSON; with `--draw DIR` also
//! writes each photo with its boxes and landmarks drawn, for checking them by eye.
//!
//!   cargo run --release --example detect_image -- [--draw DIR] PHOTO...

use anyhow::{Context, Result};
use faceengine::backend::{self, BackendKind};
use faceengine::detect::{DetectorConfig, YuNet};
use faceengine::draw::{FaceLabel, person_colour, render_face};
use faceengine::frame::{FrameView, PixelFormat};

fn main() -> Result<()> {
    let mut draw = None;
    let mut photos = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--draw" {
            draw = Some(std::path::PathBuf::from(args.next().context("--draw needs a folder")?));
        } else {
            photos.push(a);
        }
    }
    let det = YuNet::new(backend::load(
        &faceengine::default_model("yunet.onnx"),
        BackendKind::Tract,
    )?)?;
    for p in photos {
        let mut img = image::open(&p).with_context(|| p.clone())?.to_rgba8();
        let (w, h) = (img.width() as usize, img.height() as usize);
        let rgb: Vec<u8> = img.pixels().flat_map(|px| [px[0], px[1], px[2]]).collect();
        let view = FrameView::packed(PixelFormat::Rgb, w, h, &rgb, w * 3)?;
        let faces = det.detect(&view, &DetectorConfig::default())?;
        let boxes: Vec<String> = faces
            .iter()
            .map(|f| format!("[{:.0}, {:.0}, {:.0}, {:.0}]", f.bbox.x, f.bbox.y, f.bbox.w, f.bbox.h))
            .collect();
        let name = std::path::Path::new(&p)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        println!("\"{name}\": [{}],", boxes.join(", "));
        if let Some(dir) = &draw {
            for (i, f) in faces.iter().enumerate() {
                let label = FaceLabel {
                    bbox: f.bbox,
                    colour: person_colour(i as i32),
                    lines: vec![format!("{:.2}", f.score)],
                };
                if let Some(s) = render_face(&label, w, h) {
                    for y in 0..s.height {
                        for x in 0..s.width {
                            let q = &s.bgra[(y * s.width + x) * 4..][..4];
                            let a = q[3] as f32 / 255.0;
                            let px = img.get_pixel_mut(s.x as u32 + x as u32, s.y as u32 + y as u32);
                            for (c, v) in [q[2], q[1], q[0]].iter().enumerate() {
                                px[c] = (*v as f32 * a + px[c] as f32 * (1.0 - a)) as u8;
                            }
                        }
                    }
                }
                for l in &f.landmarks {
                    let (lx, ly) = (l[0].round() as i64, l[1].round() as i64);
                    for dy in -2..=2 {
                        for dx in -2..=2 {
                            let (x, y) = (lx + dx, ly + dy);
                            if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
                                img.put_pixel(x as u32, y as u32, image::Rgba([0, 255, 0, 255]));
                            }
                        }
                    }
                }
            }
            std::fs::create_dir_all(dir)?;
            img.save(dir.join(name).with_extension("png"))?;
        }
    }
    Ok(())
}
