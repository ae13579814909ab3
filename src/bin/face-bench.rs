//! face-bench: per-stage cost of the engine on real frames, in this build and backend.
//!
//!   face-bench [--iterations N] [--backend auto|tract|onnxruntime|tensorrt]
//!              [--emotion-model PATH] [--batches] IMAGE...
//!
//! For each image (a still from a video), times YuNet detection with the default working
//! size and at full size, MTCNN with the element's defaults (working size 640, minimum
//! face 20), then SFace and the emotion model per face (all faces of the image at once,
//! as the elements run them: one batch on ONNX Runtime and TensorRT, one call per face
//! spread over threads on tract), and faceredact's hiding of all the image's faces (blur,
//! default margin), and prints milliseconds. With `--batches`, also SFace
//! and the emotion model per face in batches of 1 to 16 (the image's faces repeated):
//! what putting the faces of several cameras into one batch would gain.
//! Run it from a release build: `cargo run --release --bin face-bench -- frame.png`.

use anyhow::{Context, Result};
use clap::Parser;
use faceengine::backend::{self, BackendChoice, BackendOptions, Precision};
use faceengine::detect::{Detector, DetectorConfig, YuNet};
use faceengine::embed::Embedder;
use faceengine::emotion::{EmotionClassifier, parse_labels};
use faceengine::frame::FrameView;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "face-bench",
    about = "Per-stage cost of the engine on real frames, in this build and backend (milliseconds)",
    args_override_self = true
)]
struct Cli {
    /// Timed runs of each stage (detection at full size and MTCNN: a quarter of them)
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    iterations: u32,
    /// Inference backend
    #[arg(
        long,
        value_name = "auto|tract|onnxruntime|tensorrt",
        default_value_t = BackendOptions::default().choice,
        value_parser = backend_choice
    )]
    backend: BackendChoice,
    /// Numeric precision, as the elements' precision property
    #[arg(long, value_name = "auto|fp32|int8|fp16", default_value_t = Precision::Auto, value_parser = precision)]
    precision: Precision,
    /// Emotion model file
    #[arg(long, value_name = "PATH", default_value_os_t = faceengine::default_model(faceengine::emotion::DEFAULT_MODEL))]
    emotion_model: PathBuf,
    /// Also time SFace and the emotion model per face in batches of 1 to 16
    #[arg(long)]
    batches: bool,
    /// Still frames to time the stages on
    #[arg(value_name = "IMAGE", required = true)]
    images: Vec<String>,
}

fn precision(s: &str) -> Result<Precision, String> {
    Precision::parse(s).map_err(|e| e.to_string())
}

fn backend_choice(s: &str) -> Result<BackendChoice, String> {
    BackendChoice::parse(s).map_err(|e| e.to_string())
}

/// Batch sizes `--batches` times.
const BATCHES: [usize; 5] = [1, 2, 4, 8, 16];

fn time_ms<T>(iterations: usize, mut f: impl FnMut() -> Result<T>) -> Result<(f64, T)> {
    // One untimed run builds and caches the plan for this shape.
    let mut last = f()?;
    let start = Instant::now();
    for _ in 0..iterations {
        last = f()?;
    }
    Ok((start.elapsed().as_secs_f64() * 1000.0 / iterations as f64, last))
}

fn main() -> Result<()> {
    // A bad command line: clap's message and exit status 2.
    let cli = Cli::parse();
    let iterations = cli.iterations as usize;
    let options = BackendOptions {
        choice: cli.backend,
        precision: cli.precision,
        ..BackendOptions::default()
    };
    let (images, emo_path, batches) = (cli.images, cli.emotion_model, cli.batches);
    let load = |file: &str| backend::load_with(&faceengine::default_model(file), &options);
    let yunet = load("yunet.onnx")?;
    let det = YuNet::new(yunet.model)?;
    // MTCNN has no int8 files: its column stays at the backend's own choice.
    let mtcnn_options = BackendOptions {
        precision: Precision::Auto,
        ..options.clone()
    };
    let (mtcnn, _) = Detector::load("mtcnn", &mtcnn_options)?;
    let sface = load("sface.onnx")?;
    let emb = Embedder::new(sface.model);
    let emotion = backend::load_with(&emo_path, &options)?;
    let emo = EmotionClassifier::new(emotion.model, &emo_path)?;
    let all = parse_labels("")?;
    println!(
        "backend={} iterations={iterations} emotion={} ({})",
        yunet.kind,
        emo_path.display(),
        yunet.reason
    );
    println!(
        "precision: yunet {}, sface {}, emotion {}",
        yunet.precision, sface.precision, emotion.precision
    );
    println!(
        "{:<28} {:>10} {:>6} {:>12} {:>12} {:>12} {:>10} {:>14} {:>14} {:>14}",
        "image",
        "size",
        "faces",
        "detect ms",
        "no recheck",
        "detect@full",
        "mtcnn ms",
        "sface ms/face",
        "emotion ms/face",
        "redact ms/frame"
    );
    for path in images {
        let img = image::open(&path)
            .with_context(|| format!("cannot read {path}"))?
            .to_rgb8();
        let (w, h) = (img.width() as usize, img.height() as usize);
        let view = FrameView::from_rgb_image(&img)?;
        let cfg = DetectorConfig::default();
        let (det_ms, faces) = time_ms(iterations, || det.detect(&view, &cfg))?;
        // What the recheck of small weak faces adds to the default.
        let plain = DetectorConfig {
            recheck_threshold: 1.0,
            ..cfg.clone()
        };
        let (det_plain_ms, _) = time_ms(iterations, || det.detect(&view, &plain))?;
        let full = DetectorConfig {
            working_size: 0,
            ..cfg.clone()
        };
        let (det_full_ms, _) = time_ms(iterations.div_ceil(4), || det.detect(&view, &full))?;
        let (mtcnn_ms, _) = time_ms(iterations.div_ceil(4), || mtcnn.detect(&view, &cfg))?;
        let n = faces.len().max(1);
        let lms: Vec<_> = faces.iter().map(|f| f.landmarks).collect();
        let boxes: Vec<_> = faces.iter().map(|f| f.bbox).collect();
        let (id_ms, _) = time_ms(iterations, || emb.embed(&view, &lms))?;
        let (emo_ms, _) = time_ms(iterations, || emo.classify(&view, &boxes, &all))?;
        // faceredact's work on a frame with these faces hidden: its policy, then the blur
        // of each face's region with the default margin, in place.
        let mut pixels = img.as_raw().clone();
        let stream_faces: Vec<_> = boxes
            .iter()
            .map(|&bbox| faceengine::stream::StreamFace {
                bbox,
                ..Default::default()
            })
            .collect();
        let mut redaction = faceengine::stream::RedactionAnalyser::default();
        let (redact_ms, _) = time_ms(iterations, || {
            let r = redaction.frame(&stream_faces);
            let mut frame = faceengine::redact::FrameMut::new(
                faceengine::frame::PixelFormat::Rgb,
                w,
                h,
                vec![pixels.as_mut_slice()],
                vec![w * 3],
            )?;
            for region in &r.regions {
                frame.hide_except(
                    region.rect,
                    faceengine::redact::Method::Blur,
                    region.face_width,
                    &r.keep,
                );
            }
            Ok(())
        })?;
        let name = std::path::Path::new(&path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or(path.clone());
        println!(
            "{:<28} {:>10} {:>6} {:>12.2} {:>12.2} {:>12.2} {:>10.2} {:>14.2} {:>14.2} {:>14.2}",
            name,
            format!("{w}x{h}"),
            faces.len(),
            det_ms,
            det_plain_ms,
            det_full_ms,
            mtcnn_ms,
            if faces.is_empty() { 0.0 } else { id_ms / n as f64 },
            if faces.is_empty() { 0.0 } else { emo_ms / n as f64 },
            redact_ms
        );
        if batches && !faces.is_empty() {
            for b in BATCHES {
                let lms_b: Vec<_> = lms.iter().cycle().take(b).cloned().collect();
                let boxes_b: Vec<_> = boxes.iter().cycle().take(b).cloned().collect();
                let (id_ms, _) = time_ms(iterations, || emb.embed(&view, &lms_b))?;
                let (emo_ms, _) = time_ms(iterations, || emo.classify(&view, &boxes_b, &all))?;
                println!(
                    "{:<28} batch {b:>2}: sface {:.2} ms/face, emotion {:.2} ms/face",
                    "",
                    id_ms / b as f64,
                    emo_ms / b as f64
                );
            }
        }
    }
    Ok(())
}
