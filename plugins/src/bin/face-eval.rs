//! face-eval: accuracy of each stage on public benchmarks, through the same engine code
//! the elements run. Every subcommand prints a table and, as its last line, the headline
//! figures as key=value pairs.
//!
//!   face-eval wider --data DIR [--model yunet|mtcnn|PATH] [--working-size N] [--dump FILE]
//!   face-eval lfw   --data DIR [--model ...] [--pairs 6000] [--seed 1]
//!   face-eval gallery --data DIR [--model ...] [--enrol 2] [--threshold 0.45] [--min-threshold 0.30] [--quality-floor 0.5]
//!   face-eval fer   --data DIR [--model PATH] [--labels a,b,...]
//!   face-eval video VIDEO [--gallery G] [--emotion] [--out FILE]
//!
//! `video` runs the engine's stream analysers, the ones behind facedetect, faceid and
//! faceemotion, on a video file without the elements, and writes the JSON lines that
//! `facedetect ! faceid ! faceemotion ! facejson` would write, byte for byte.
//!
//! Every subcommand takes `--backend auto|tract|onnxruntime|tensorrt` (default auto);
//! `face-eval SUBCOMMAND --help` lists its options. A mistyped option or a bad value is
//! refused (exit status 2), never ignored.

// clap shows the doc comments below as the --help text, as they are: `<Name>/*.jpg` is
// what a user types, not HTML.
#![allow(rustdoc::invalid_html_tags)]

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use faceengine::backend::{self, BackendChoice, BackendOptions, Precision};
use faceengine::detect::{Detector, DetectorConfig};
use faceengine::embed::{Embedder, cosine};
use faceengine::emotion::{EmotionClassifier, FER_LABELS, parse_labels};
use faceengine::eval::openset::{self, Answer, ProbeResult};
use faceengine::eval::pairs::{kfold_accuracy, make_pairs, tar_at_far};
use faceengine::eval::wider::{EvalImage, average_precision};
use faceengine::frame::FrameView;
use faceengine::gallery::{self, DEFAULT_POOR_THRESHOLD, DEFAULT_THRESHOLD, Gallery, MatchThreshold, Person, Side};
use faceengine::stream::DetectionSettings;
use gstface::offline::{self, ChainSettings};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "face-eval",
    about = "Accuracy of each stage on public benchmarks, through the engine code the elements run",
    subcommand_required = true,
    arg_required_else_help = true,
    args_override_self = true
)]
struct Cli {
    #[command(subcommand)]
    command: Eval,
}

#[derive(Subcommand)]
enum Eval {
    /// Face detection on WIDER FACE, AP on easy, medium and hard (--data DIR: images/ + gt.json)
    Wider(WiderArgs),
    /// Face verification on LFW pairs, 10-fold accuracy and TAR at FAR 1e-3 (--data DIR: <Person>/*.jpg)
    Lfw(LfwArgs),
    /// Open-set identification as faceid names people (--data DIR: <Person>/*.jpg)
    Gallery(GalleryArgs),
    /// Emotion classification on FER2013 (--data DIR: <class>/*.jpg)
    Fer(FerArgs),
    /// The element chain's analysers on a video file: the JSON lines facejson writes
    Video(VideoArgs),
    /// Whether faceredact's hiding defeats SFace: each face of a video, hidden as faceredact hides it, against a gallery
    Redaction(RedactionArgs),
}

#[derive(Args)]
#[command(allow_negative_numbers = true)]
struct RedactionArgs {
    /// The video file
    video: PathBuf,
    /// The gallery the hidden faces are compared with
    #[arg(long, value_name = "G")]
    gallery: PathBuf,
    /// faceredact method: blur, pixelate or fill
    #[arg(long, value_name = "M", default_value = "blur", value_parser = redaction_method)]
    method: faceengine::redact::Method,
    /// faceredact margin
    #[arg(long, value_name = "F", default_value_t = faceengine::stream::RedactionSettings::default().margin)]
    margin: f32,
    /// Look at every Nth frame
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    step: u64,
    #[command(flatten)]
    detector: DetectorArgs,
    #[command(flatten)]
    backend: BackendArg,
}

fn redaction_method(s: &str) -> Result<faceengine::redact::Method, String> {
    use faceengine::redact::Method;
    Ok(match s {
        "blur" => Method::Blur,
        "pixelate" => Method::Pixelate,
        "fill" => Method::Fill,
        _ => return Err("expected blur, pixelate or fill".into()),
    })
}

#[derive(Args)]
#[command(allow_negative_numbers = true)]
struct VideoArgs {
    /// The video file (any container and codec GStreamer decodes)
    video: PathBuf,
    /// faceid's gallery (a folder of <Name>/*.jpg or a face-enrol file); without it, no faceid
    #[arg(long, value_name = "G")]
    gallery: Option<PathBuf>,
    /// Also run faceemotion (its default model and settings)
    #[arg(long)]
    emotion: bool,
    /// Write every face's landmarks (facejson landmarks=all); by default only those of the faces faceid names
    #[arg(long)]
    all_landmarks: bool,
    /// Write the lines to FILE instead of standard output
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    detector: DetectorArgs,
    /// facedetect interval: run the detector on every Nth frame
    #[arg(long, value_name = "N", default_value_t = DetectionSettings::default().interval,
          value_parser = clap::value_parser!(u32).range(1..))]
    interval: u32,
    /// facedetect working-size (0 = each frame's own size)
    #[arg(long, value_name = "N", default_value_t = DetectorConfig::default().working_size)]
    working_size: u32,
    /// faceid threshold: similarity a clear face needs to be named
    #[arg(long, value_name = "S", default_value_t = DEFAULT_THRESHOLD)]
    threshold: f32,
    /// faceid min-threshold: similarity the poorest faces need
    #[arg(long, value_name = "S", default_value_t = DEFAULT_POOR_THRESHOLD)]
    min_threshold: f32,
    #[command(flatten)]
    backend: BackendArg,
}

/// The inference backend, as the elements' `backend` property names it.
#[derive(Args)]
struct BackendArg {
    /// Inference backend
    #[arg(
        long = "backend",
        value_name = "auto|tract|onnxruntime|tensorrt",
        default_value_t = BackendOptions::default().choice,
        value_parser = backend_choice
    )]
    choice: BackendChoice,
    /// Numeric precision (auto: int8 on ONNX Runtime where the CPU has VNNI and the int8
    /// model was faster when made, else fp32)
    #[arg(long, value_name = "auto|fp32|int8|fp16", default_value_t = Precision::Auto, value_parser = precision)]
    precision: Precision,
}

impl BackendArg {
    fn options(&self) -> BackendOptions {
        BackendOptions {
            choice: self.choice,
            precision: self.precision,
            ..BackendOptions::default()
        }
    }
}

fn precision(s: &str) -> Result<Precision, String> {
    Precision::parse(s).map_err(|e| e.to_string())
}

/// What every subcommand takes.
#[derive(Args)]
struct Common {
    /// Folder of the data set
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    #[command(flatten)]
    backend: BackendArg,
}

/// The detector, as facedetect's `model` property names it.
#[derive(Args)]
struct DetectorArgs {
    /// Detector: yunet, mtcnn or the path of a model file
    #[arg(long, value_name = "yunet|mtcnn|PATH", default_value = "yunet")]
    model: String,
}

#[derive(Args)]
#[command(allow_negative_numbers = true)]
struct WiderArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    detector: DetectorArgs,
    /// Longer side the detector runs at (0 = each image's own size)
    #[arg(long, value_name = "N", default_value_t = 0)]
    working_size: u32,
    /// Lowest detection score kept (low, so that the whole precision/recall curve is traced)
    #[arg(long, value_name = "S", default_value_t = 0.02)]
    score_threshold: f32,
    /// Smallest face reported, in pixels
    #[arg(long, value_name = "PX", default_value_t = 10.0)]
    min_face_size: f32,
    /// Also write every image's detections to FILE (JSON: image -> [x, y, w, h, score] rows)
    #[arg(long, value_name = "FILE")]
    dump: Option<PathBuf>,
}

#[derive(Args)]
#[command(allow_negative_numbers = true)]
struct LfwArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    detector: DetectorArgs,
    /// Number of pairs drawn, matched and mismatched
    #[arg(long, value_name = "N", default_value_t = 6000)]
    pairs: usize,
    /// Seed of the pair drawing
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
}

#[derive(Args)]
#[command(allow_negative_numbers = true)]
struct GalleryArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    detector: DetectorArgs,
    /// Images enrolled per person (at least 1); the rest are probes
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    enrol: u32,
    /// faceid's threshold for clear faces
    #[arg(long, value_name = "T", default_value_t = DEFAULT_THRESHOLD)]
    threshold: f32,
    /// faceid's threshold for the poorest faces
    #[arg(long, value_name = "T", default_value_t = DEFAULT_POOR_THRESHOLD)]
    min_threshold: f32,
    /// faceid's quality floor: probes of lower quality are not named
    #[arg(long, value_name = "Q", default_value_t = faceengine::quality::DEFAULT_FLOOR)]
    quality_floor: f32,
}

#[derive(Args)]
#[command(allow_negative_numbers = true)]
struct FerArgs {
    #[command(flatten)]
    common: Common,
    /// Emotion model file
    #[arg(long, value_name = "PATH", default_value_os_t = faceengine::default_model(faceengine::emotion::DEFAULT_MODEL))]
    model: PathBuf,
    /// Classes to evaluate, comma-separated (default: all of FER2013's)
    #[arg(long, value_name = "a,b,...", default_value = "", value_parser = labels)]
    labels: String,
}

fn backend_choice(s: &str) -> Result<BackendChoice, String> {
    BackendChoice::parse(s).map_err(|e| e.to_string())
}

/// `--labels`, checked when the command line is read.
fn labels(s: &str) -> Result<String, String> {
    parse_labels(s).map(|_| s.to_string()).map_err(|e| e.to_string())
}

fn rgb_image(path: &Path) -> Result<image::RgbImage> {
    Ok(image::open(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .to_rgb8())
}

/// `--backend auto|tract|onnxruntime|tensorrt` (default auto, as in the elements).
fn backend_options(common: &Common) -> BackendOptions {
    common.backend.options()
}

fn detector(common: &Common, detector: &DetectorArgs) -> Result<Detector> {
    let (det, loaded) = Detector::load(&detector.model, &backend_options(common))?;
    eprintln!("detector backend: {} ({})", loaded.kind, loaded.reason);
    Ok(det)
}

fn wider(args: &WiderArgs) -> Result<()> {
    let data = &args.common.data;
    let det = detector(&args.common, &args.detector)?;
    let working_size = args.working_size;
    // The benchmark's protocol: a low score threshold so the whole precision/recall curve
    // is traced, NMS as OpenCV Zoo evaluates YuNet, and (by default) the image's own size.
    let cfg = DetectorConfig {
        score_threshold: args.score_threshold,
        nms_threshold: 0.45,
        min_size: 0.0,
        max_faces: 0,
        working_size,
        min_face_size: args.min_face_size,
        ..DetectorConfig::default()
    };
    let gt: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(data.join("gt.json"))?)?;
    let images = gt["images"].as_array().context("gt.json has no images array")?;
    let dets_per_image = par_map(images, "images", |entry| {
        let file = data.join(entry["image"].as_str().context("image path")?);
        let img = rgb_image(&file)?;
        let view = FrameView::from_rgb_image(&img)?;
        Ok(det
            .detect(&view, &cfg)?
            .iter()
            .map(|f| (f.bbox.xywh().map(|v| v as f64), f.score as f64))
            .collect::<Vec<([f64; 4], f64)>>())
    })?;
    if let Some(path) = &args.dump {
        // The detections, for checking the AP against another implementation.
        let dump: serde_json::Map<String, serde_json::Value> = images
            .iter()
            .zip(&dets_per_image)
            .map(|(entry, dets)| {
                let rows: Vec<[f64; 5]> = dets.iter().map(|(b, s)| [b[0], b[1], b[2], b[3], *s]).collect();
                (
                    entry["image"].as_str().unwrap_or_default().to_string(),
                    serde_json::json!(rows),
                )
            })
            .collect();
        std::fs::write(path, serde_json::Value::Object(dump).to_string())
            .with_context(|| format!("cannot write --dump file {}", path.display()))?;
    }
    let mut levels: [Vec<EvalImage>; 3] = Default::default();
    for (entry, dets) in images.iter().zip(dets_per_image) {
        let faces = entry["faces"].as_array().context("faces")?;
        let boxes: Vec<[f64; 4]> = faces
            .iter()
            .map(|f| {
                let b: Vec<f64> = f["box"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
                    .unwrap_or_default();
                [
                    b.first().copied().unwrap_or(0.0),
                    b.get(1).copied().unwrap_or(0.0),
                    b.get(2).copied().unwrap_or(0.0),
                    b.get(3).copied().unwrap_or(0.0),
                ]
            })
            .collect();
        for (l, level) in ["easy", "medium", "hard"].iter().enumerate() {
            let counted = faces
                .iter()
                .map(|f| f[*level].as_bool().unwrap_or(false) && !f["invalid"].as_bool().unwrap_or(false))
                .collect();
            levels[l].push(EvalImage {
                faces: boxes.clone(),
                counted,
                detections: dets.clone(),
            });
        }
    }
    let ap: Vec<f64> = levels.iter().map(|l| average_precision(l, 0.5)).collect();
    println!(
        "WIDER FACE ({} images, {}, working size {}):",
        images.len(),
        det.name(),
        if working_size == 0 {
            "native".to_string()
        } else {
            working_size.to_string()
        }
    );
    println!("{:<8} {:>8} {:>10}", "level", "AP", "published");
    // Full WIDER FACE val: OpenCV Zoo's YuNet 2023mar figures; MTCNN's from the WIDER
    // FACE results (Zhang et al. 2016).
    let published = match det.name() {
        "mtcnn" => [0.848, 0.825, 0.598],
        _ => [0.884, 0.866, 0.750],
    };
    for (i, (name, published)) in ["easy", "medium", "hard"].iter().zip(published).enumerate() {
        println!("{name:<8} {:>8.4} {published:>10.3}", ap[i]);
    }
    println!(
        "easy={:.4} medium={:.4} hard={:.4} images={}",
        ap[0],
        ap[1],
        ap[2],
        images.len()
    );
    Ok(())
}

/// `<Person>/<image>` folders with at least one image, people and images sorted by name.
fn list_people(dir: &Path) -> Result<Vec<(String, Vec<PathBuf>)>> {
    let people: Vec<_> = gallery::people_folders(dir)?
        .into_iter()
        .filter(|(_, images)| !images.is_empty())
        .collect();
    if people.is_empty() {
        bail!("{} has no <Person>/<image> folders", dir.display());
    }
    Ok(people)
}

/// `f` over `items` on one thread per CPU, results in order. The models are shared;
/// every run has its own state, so this is how a benchmark uses a small machine fully.
fn par_map<T: Sync, R: Send>(items: &[T], what: &str, f: impl Fn(&T) -> Result<R> + Sync) -> Result<Vec<R>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(1);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total = items.len();
    let results: Vec<Result<Vec<R>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| {
                let (f, done) = (&f, &done);
                scope.spawn(move || {
                    c.iter()
                        .map(|item| {
                            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                            if n.is_multiple_of((total / 10).max(50)) {
                                eprintln!("{n}/{total} {what}");
                            }
                            f(item)
                        })
                        .collect::<Result<Vec<R>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a worker thread panicked")))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(items.len());
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}

fn embedder(common: &Common) -> Result<Embedder> {
    let loaded = backend::load_with(&faceengine::default_model("sface.onnx"), &backend_options(common))?;
    eprintln!("embedder backend: {} ({})", loaded.kind, loaded.reason);
    // One thread per embedding: the images themselves are spread over the CPUs.
    Ok(Embedder::new(loaded.model).with_threads(1))
}

fn lfw(args: &LfwArgs) -> Result<()> {
    let (n_pairs, seed) = (args.pairs, args.seed);
    let people = list_people(&args.common.data)?;
    let counts: Vec<usize> = people.iter().map(|p| p.1.len()).collect();
    let pairs = make_pairs(&counts, n_pairs, seed);
    let det = detector(&args.common, &args.detector)?;
    let emb = embedder(&args.common)?;
    let cfg = DetectorConfig {
        score_threshold: 0.5,
        working_size: 0,
        ..DetectorConfig::default()
    };
    let mut wanted: Vec<(usize, usize)> = pairs.iter().flat_map(|p| [p.a, p.b]).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let embeddings = par_map(&wanted, "images", |&(person, image)| {
        let img = rgb_image(&people[person].1[image])?;
        let (w, h) = (img.width() as f32, img.height() as f32);
        let view = FrameView::from_rgb_image(&img)?;
        let faces = det.detect(&view, &cfg)?;
        // LFW images are centred on the person: take the face nearest the centre.
        let off_centre = |f: &faceengine::Face| {
            let (cx, cy) = (f.bbox.x + f.bbox.w / 2.0 - w / 2.0, f.bbox.y + f.bbox.h / 2.0 - h / 2.0);
            cx * cx + cy * cy
        };
        match faces.iter().min_by(|a, b| off_centre(a).total_cmp(&off_centre(b))) {
            Some(f) => Ok(emb.embed(&view, &[f.landmarks])?.pop()),
            None => Ok(None),
        }
    })?;
    let cache: HashMap<(usize, usize), Option<Vec<f32>>> = wanted.into_iter().zip(embeddings).collect();
    let no_face = cache.values().filter(|e| e.is_none()).count();
    // A pair with an undetected face counts as "different" (score -1).
    let scores: Vec<(f64, bool)> = pairs
        .iter()
        .map(|p| match (&cache[&p.a], &cache[&p.b]) {
            (Some(a), Some(b)) => (cosine(a, b) as f64, p.same),
            _ => (-1.0, p.same),
        })
        .collect();
    let (acc, thresholds) = kfold_accuracy(&scores, 10);
    let tar = tar_at_far(&scores, 1e-3);
    let mean_t = thresholds.iter().sum::<f64>() / thresholds.len() as f64;
    println!(
        "LFW verification ({} pairs: {} matched, {} mismatched; {} images without a face)",
        scores.len(),
        scores.iter().filter(|s| s.1).count(),
        scores.iter().filter(|s| !s.1).count(),
        no_face
    );
    println!(
        "10-fold accuracy {:.4} (mean threshold {mean_t:.3}); TAR@FAR=1e-3 {tar:.4}; published SFace LFW 0.9940",
        acc
    );
    println!("accuracy={acc:.4} tar_at_far_1e-3={tar:.4} pairs={}", scores.len());
    Ok(())
}

fn gallery(args: &GalleryArgs) -> Result<()> {
    // At least 1 (clap refuses 0).
    let enrol = args.enrol as usize;
    let (clear, poor, floor) = (args.threshold, args.min_threshold, args.quality_floor);
    // As faceid does it; raised with the gallery's size below, once it is enrolled.
    let threshold = MatchThreshold::new(clear, poor);
    let people = list_people(&args.common.data)?;
    let counts: Vec<usize> = people.iter().map(|p| p.1.len()).collect();
    let split = openset::split(&counts, enrol);
    let det = detector(&args.common, &args.detector)?;
    let emb = embedder(&args.common)?;
    // Enrolment exactly as faceid does for a gallery folder (largest face, detector at
    // 0.5); probes as faceid sees faces behind a default facedetect (0.8, working size
    // 640), the largest face of the image.
    let enrol_cfg = DetectorConfig {
        score_threshold: 0.5,
        ..DetectorConfig::default()
    };
    let probe_cfg = DetectorConfig::default();
    let embed = |path: &Path, cfg: &DetectorConfig, side: Side| {
        gallery::largest_face(path, |view| det.detect(view, cfg), &emb, side)
            .with_context(|| path.display().to_string())
    };
    let enrol_jobs: Vec<(usize, usize)> = split
        .enrolled
        .iter()
        .flat_map(|(p, imgs)| imgs.iter().map(move |&i| (*p, i)))
        .collect();
    let enrolled = par_map(&enrol_jobs, "enrolment images", |&(p, i)| {
        Ok(embed(&people[p].1[i], &enrol_cfg, Side::Both)?.map(|(_, e)| e))
    })?;
    let mut g = Gallery {
        model: "sface".into(),
        dim: 0,
        people: Vec::new(),
    };
    // person index in the folder -> index in the gallery
    let mut slot: HashMap<usize, usize> = HashMap::new();
    let mut enrol_failed = 0usize;
    for (&(p, i), e) in enrol_jobs.iter().zip(enrolled) {
        let Some(e) = e else {
            enrol_failed += 1;
            continue;
        };
        g.dim = e.vector.len();
        let k = *slot.entry(p).or_insert_with(|| {
            g.people.push(Person {
                name: people[p].0.clone(),
                images: Vec::new(),
                embeddings: Vec::new(),
            });
            g.people.len() - 1
        });
        g.people[k].images.push(people[p].1[i].display().to_string());
        g.people[k].embeddings.push(e.vector);
    }
    let threshold = threshold.for_gallery(g.image_count());
    let answers = par_map(&split.probes, "probes", |&(p, i, _)| {
        embed(&people[p].1[i], &probe_cfg, Side::AsIs)
    })?;
    let results: Vec<ProbeResult> = split
        .probes
        .iter()
        .zip(answers)
        .map(|(&(p, _, known), e)| ProbeResult {
            // A known person whose enrolment images all failed is still a known probe:
            // faceid could not name them either.
            truth: if known {
                Some(slot.get(&p).copied().unwrap_or(usize::MAX))
            } else {
                None
            },
            // A probe photo is named as faceid names an untracked face: at the threshold
            // for its magnitude and quality, and only at or over the quality floor.
            answer: e.map(|(face, e)| {
                let quality = faceengine::quality::of(&face.landmarks, Some(face.score));
                let m = g.best_match(&e.vector, threshold.for_single_check(e.magnitude, quality, floor));
                Answer {
                    nearest: m.nearest.unwrap_or(usize::MAX - 1),
                    similarity: m.similarity,
                    magnitude: e.magnitude,
                }
            }),
        })
        .collect();
    let s = openset::summarise(&results, &threshold);
    println!(
        "Open-set identification: {} people enrolled with {} image(s) each ({} images without a face), \
         {} known probes, {} strangers with a face ({} people unused); threshold {clear} for clear faces, down to {:.3} for poor ones, quality floor {floor}",
        g.people.len(),
        enrol,
        enrol_failed,
        s.known_probes,
        s.stranger_probes,
        split.unused,
        threshold.poor
    );
    println!("{:<28} {:>8}", "rank-1 (nearest is right)", format!("{:.4}", s.rank1));
    println!(
        "{:<28} {:>8}",
        "identified at threshold",
        format!("{:.4}", s.identified)
    );
    println!(
        "{:<28} {:>8}",
        "named as someone else",
        format!("{:.4}", s.misidentified)
    );
    println!(
        "{:<28} {:>8}",
        "strangers left unknown",
        format!("{:.4}", s.stranger_rejection)
    );
    println!("{:<28} {:>8}", "probe images without a face", s.no_face);
    // How the choice of one fixed threshold trades names for rejected strangers here.
    println!(
        "\n{:>9} {:>11} {:>13} {:>10}",
        "threshold", "identified", "someone else", "rejection"
    );
    for t in [0.30f32, 0.363, 0.40, 0.45, 0.50, 0.55, 0.60] {
        let s = openset::summarise(&results, &MatchThreshold::fixed(t));
        println!(
            "{t:>9.3} {:>11.4} {:>13.4} {:>10.4}",
            s.identified, s.misidentified, s.stranger_rejection
        );
    }
    println!(
        "rank1={:.4} identified={:.4} stranger_rejection={:.4} probes={}",
        s.rank1,
        s.identified,
        s.stranger_rejection,
        s.known_probes + s.stranger_probes
    );
    Ok(())
}

fn fer(args: &FerArgs) -> Result<()> {
    let path = &args.model;
    let loaded = backend::load_with(path, &backend_options(&args.common))?;
    eprintln!("emotion backend: {} ({})", loaded.kind, loaded.reason);
    let cls = EmotionClassifier::new(loaded.model, path)?;
    let subset = parse_labels(&args.labels)?;
    let names: Vec<&str> = subset.iter().map(|&i| FER_LABELS[i]).collect();
    let k = names.len();
    let mut confusion = vec![vec![0usize; k]; k];
    for (truth, name) in names.iter().enumerate() {
        let dir = args.common.data.join(name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        for f in files {
            let img = rgb_image(&f)?;
            let (w, h) = (img.width() as usize, img.height() as usize);
            let view = FrameView::from_rgb_image(&img)?;
            // FER images are face crops already: the whole image is the face box.
            let e = cls.classify(
                &view,
                &[faceengine::rect::Rect::new(0.0, 0.0, w as f32, h as f32)],
                &subset,
            )?;
            confusion[truth][e[0].label_id] += 1;
        }
    }
    let total: usize = confusion.iter().flatten().sum();
    let right: usize = (0..k).map(|i| confusion[i][i]).sum();
    println!("FER ({} images, model {}):", total, path.display());
    print!("{:<10}", "truth\\got");
    for n in &names {
        print!("{n:>9}");
    }
    println!("{:>9}", "recall");
    for (i, row) in confusion.iter().enumerate() {
        print!("{:<10}", names[i]);
        for c in row {
            print!("{c:>9}");
        }
        println!("{:>9.3}", row[i] as f64 / row.iter().sum::<usize>().max(1) as f64);
    }
    let acc = right as f64 / total.max(1) as f64;
    println!("accuracy={acc:.4} images={total}");
    Ok(())
}

fn video(a: &VideoArgs) -> Result<()> {
    let mut settings = ChainSettings {
        detector: a.detector.model.clone(),
        gallery: a.gallery.clone(),
        options: a.backend.options(),
        ..ChainSettings::default()
    };
    if a.all_landmarks {
        settings.landmarks = faceengine::record::Landmarks::All;
    }
    settings.detection.interval = a.interval;
    settings.detection.detector.working_size = a.working_size;
    settings.identity.threshold = a.threshold;
    settings.identity.min_threshold = a.min_threshold;
    if a.emotion {
        settings.emotion = Some((
            faceengine::default_model(faceengine::emotion::DEFAULT_MODEL),
            String::new(),
            Default::default(),
        ));
    }
    let frames = match &a.out {
        Some(path) => {
            let file = std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
            offline::run(&a.video, &settings, &mut std::io::BufWriter::new(file))?
        }
        None => offline::run(&a.video, &settings, &mut std::io::stdout().lock())?,
    };
    eprintln!("frames={frames}");
    Ok(())
}

/// Each face the detector finds on every `step`th frame is embedded twice at its own
/// landmarks: as it is, and after faceredact's hiding of its region. The second is the
/// strongest attack on the hiding (the attacker knows exactly where the face was); the
/// detector is also run on the hidden frame, to count the faces it still finds there.
fn redaction(a: &RedactionArgs) -> Result<()> {
    let options = a.backend.options();
    let (det, _) = Detector::load(&a.detector.model, &options)?;
    let sface = faceengine::default_model("sface.onnx");
    let embedder = Embedder::new(backend::load_with(&sface, &options)?.model);
    let opened = faceengine::stream::identity::open_gallery(
        &a.gallery,
        &embedder,
        &sface,
        &faceengine::default_model("yunet.onnx"),
        &options,
    )?;
    let gallery = &opened.gallery;
    let cfg = DetectorConfig::default();
    let thresholds = [gallery::VERIFICATION_THRESHOLD, DEFAULT_THRESHOLD];
    let (mut faces, mut named_before, mut named_after, mut found_after) = (0usize, [0usize; 2], [0usize; 2], 0usize);
    let (mut best_after, mut mean_before) = (f32::NEG_INFINITY, 0.0f64);
    let best = |e: &[f32]| gallery.similarities(e).into_iter().fold(f32::NEG_INFINITY, f32::max);
    offline::each_frame(&a.video, |n, buf, info, view| {
        if n % a.step != 0 {
            return Ok(());
        }
        let found = det.detect(view, &cfg)?;
        if found.is_empty() {
            return Ok(());
        }
        let landmarks: Vec<_> = found.iter().map(|f| f.landmarks).collect();
        let before = embedder.embed(view, &landmarks)?;
        let mut hidden = buf.copy();
        {
            let b = hidden
                .get_mut()
                .ok_or_else(|| anyhow!("frame {n}: copy not writable"))?;
            let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(b, info)
                .map_err(|_| anyhow!("frame {n}: cannot map for writing"))?;
            let mut pixels = gstface::video::frame_mut(&mut frame)?;
            for f in &found {
                let [x, y, w, h] = f.bbox.xywh();
                let m = a.margin;
                let region =
                    faceengine::rect::Rect::new(x - m * w, y - m * h, w * (1.0 + 2.0 * m), h * (1.0 + 2.0 * m));
                pixels.hide(region, a.method, w);
            }
        }
        let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(hidden.as_ref(), info)
            .map_err(|_| anyhow!("frame {n}: cannot map"))?;
        let hidden_view = gstface::video::frame_view(&frame)?;
        let after = embedder.embed(&hidden_view, &landmarks)?;
        let redetected = det.detect(&hidden_view, &cfg)?;
        for (i, f) in found.iter().enumerate() {
            faces += 1;
            let (b, a) = (best(&before[i]), best(&after[i]));
            mean_before += b as f64;
            best_after = best_after.max(a);
            for (k, t) in thresholds.iter().enumerate() {
                named_before[k] += (b >= *t) as usize;
                named_after[k] += (a >= *t) as usize;
            }
            found_after += redetected.iter().any(|r| r.bbox.iou(f.bbox) > 0.3) as usize;
        }
        Ok(())
    })?;
    println!(
        "faces={faces} method={:?} margin={} mean_best_similarity_before={:.3} best_similarity_after={:.3}",
        a.method,
        a.margin,
        mean_before / faces.max(1) as f64,
        best_after
    );
    for (k, t) in thresholds.iter().enumerate() {
        println!(
            "at similarity {t}: named before {} ({:.3}), after {}",
            named_before[k],
            named_before[k] as f64 / faces.max(1) as f64,
            named_after[k]
        );
    }
    println!("faces the detector still finds after hiding: {found_after}");
    Ok(())
}

fn main() -> std::process::ExitCode {
    // A bad command line: clap's message and exit status 2.
    let cli = Cli::parse();
    let result = match &cli.command {
        Eval::Wider(a) => wider(a),
        Eval::Lfw(a) => lfw(a),
        Eval::Gallery(a) => gallery(a),
        Eval::Fer(a) => fer(a),
        Eval::Video(a) => video(a),
        Eval::Redaction(a) => redaction(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("face-eval: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
