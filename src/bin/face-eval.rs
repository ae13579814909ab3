//! face-eval: accuracy of each stage on public benchmarks, through the same engine code
//! the elements run. Every subcommand prints a table and, as its last line, the headline
//! figures as key=value pairs.
//!
//!   face-eval wider --data DIR [--model PATH] [--working-size N]
//!   face-eval lfw   --data DIR [--pairs 6000] [--seed 1]
//!   face-eval fer   --data DIR [--model PATH] [--labels a,b,...]

use anyhow::{Context, Result, bail};
use faceengine::backend::{self, BackendKind};
use faceengine::detect::{DetectorConfig, YuNet};
use faceengine::embed::{Embedder, cosine};
use faceengine::emotion::{EmotionClassifier, FER_LABELS, parse_labels};
use faceengine::eval::pairs::{kfold_accuracy, make_pairs, tar_at_far};
use faceengine::eval::wider::{EvalImage, average_precision};
use faceengine::frame::FrameView;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const USAGE: &str = "usage:
  face-eval wider --data DIR [--model PATH] [--working-size N]   (DIR: images/ + gt.json)
  face-eval lfw   --data DIR [--pairs N] [--seed S]              (DIR: <Person>/*.jpg)
  face-eval fer   --data DIR [--model PATH] [--labels a,b,...]   (DIR: <class>/*.jpg)";

struct Args {
    data: PathBuf,
    opts: HashMap<String, String>,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args> {
    let mut data = None;
    let mut opts = HashMap::new();
    while let Some(a) = it.next() {
        let Some(key) = a.strip_prefix("--") else {
            bail!("unexpected argument {a}\n{USAGE}");
        };
        let value = it.next().with_context(|| format!("--{key} needs a value"))?;
        if key == "data" {
            data = Some(PathBuf::from(value));
        } else {
            opts.insert(key.to_string(), value);
        }
    }
    Ok(Args {
        data: data.with_context(|| format!("--data is required\n{USAGE}"))?,
        opts,
    })
}

fn rgb_image(path: &Path) -> Result<image::RgbImage> {
    Ok(image::open(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .to_rgb8())
}

fn detector(opts: &HashMap<String, String>) -> Result<YuNet> {
    let path = opts
        .get("model")
        .map(PathBuf::from)
        .unwrap_or_else(|| faceengine::default_model("yunet.onnx"));
    YuNet::new(backend::load(&path, BackendKind::Tract)?)
}

fn wider(args: &Args) -> Result<()> {
    let det = detector(&args.opts)?;
    let working_size: u32 = args.opts.get("working-size").map_or(Ok(0), |v| v.parse())?;
    // The benchmark's protocol: a low score threshold so the whole precision/recall curve
    // is traced, NMS as OpenCV Zoo evaluates YuNet, and (by default) the image's own size.
    let cfg = DetectorConfig {
        score_threshold: 0.02,
        nms_threshold: 0.45,
        min_size: 0.0,
        max_faces: 0,
        working_size,
    };
    let gt: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(args.data.join("gt.json"))?)?;
    let images = gt["images"].as_array().context("gt.json has no images array")?;
    let mut levels: [Vec<EvalImage>; 3] = Default::default();
    for (n, entry) in images.iter().enumerate() {
        let file = args.data.join(entry["image"].as_str().context("image path")?);
        let img = rgb_image(&file)?;
        let view = FrameView::from_rgb_image(&img)?;
        let dets: Vec<([f64; 4], f64)> = det
            .detect(&view, &cfg)?
            .iter()
            .map(|f| (f.bbox.map(|v| v as f64), f.score as f64))
            .collect();
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
        if (n + 1) % 50 == 0 {
            eprintln!("{}/{} images", n + 1, images.len());
        }
    }
    let ap: Vec<f64> = levels.iter().map(|l| average_precision(l, 0.5)).collect();
    println!(
        "WIDER FACE ({} images, working size {}):",
        images.len(),
        if working_size == 0 {
            "native".to_string()
        } else {
            working_size.to_string()
        }
    );
    println!("{:<8} {:>8} {:>10}", "level", "AP", "published");
    for (i, (name, published)) in [("easy", 0.884), ("medium", 0.866), ("hard", 0.750)].iter().enumerate() {
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

fn lfw(args: &Args) -> Result<()> {
    let n_pairs: usize = args.opts.get("pairs").map_or(Ok(6000), |v| v.parse())?;
    let seed: u64 = args.opts.get("seed").map_or(Ok(1), |v| v.parse())?;
    let mut people: Vec<(String, Vec<PathBuf>)> = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&args.data)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for d in dirs {
        let mut imgs: Vec<PathBuf> = std::fs::read_dir(&d)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        imgs.sort();
        if !imgs.is_empty() {
            people.push((
                d.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                imgs,
            ));
        }
    }
    let counts: Vec<usize> = people.iter().map(|p| p.1.len()).collect();
    let pairs = make_pairs(&counts, n_pairs, seed);
    let det = detector(&args.opts)?;
    let emb = Embedder::new(backend::load(
        &faceengine::default_model("sface.onnx"),
        BackendKind::Tract,
    )?);
    let cfg = DetectorConfig {
        score_threshold: 0.5,
        working_size: 0,
        ..DetectorConfig::default()
    };
    let mut cache: HashMap<(usize, usize), Option<Vec<f32>>> = HashMap::new();
    let mut no_face = 0usize;
    let mut scores = Vec::with_capacity(pairs.len());
    for (n, p) in pairs.iter().enumerate() {
        for r in [p.a, p.b] {
            if let std::collections::hash_map::Entry::Vacant(slot) = cache.entry(r) {
                let img = rgb_image(&people[r.0].1[r.1])?;
                let (w, h) = (img.width() as usize, img.height() as usize);
                let view = FrameView::from_rgb_image(&img)?;
                let faces = det.detect(&view, &cfg)?;
                // LFW images are centred on the person: take the face nearest the centre.
                let centre = |f: &faceengine::Face| {
                    let (cx, cy) = (
                        f.bbox[0] + f.bbox[2] / 2.0 - w as f32 / 2.0,
                        f.bbox[1] + f.bbox[3] / 2.0 - h as f32 / 2.0,
                    );
                    cx * cx + cy * cy
                };
                let e = match faces.iter().min_by(|a, b| centre(a).total_cmp(&centre(b))) {
                    Some(f) => emb.embed(&view, &[f.landmarks])?.pop(),
                    None => {
                        no_face += 1;
                        None
                    }
                };
                slot.insert(e);
            }
        }
        // A pair with an undetected face counts as "different" (score -1).
        let s = match (&cache[&p.a], &cache[&p.b]) {
            (Some(a), Some(b)) => cosine(a, b) as f64,
            _ => -1.0,
        };
        scores.push((s, p.same));
        if (n + 1) % 500 == 0 {
            eprintln!("{}/{} pairs", n + 1, pairs.len());
        }
    }
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

fn fer(args: &Args) -> Result<()> {
    let path = args
        .opts
        .get("model")
        .map(PathBuf::from)
        .unwrap_or_else(|| faceengine::default_model("emotion-minixception.onnx"));
    let cls = EmotionClassifier::new(backend::load(&path, BackendKind::Tract)?);
    let subset = parse_labels(args.opts.get("labels").map_or("", String::as_str))?;
    let names: Vec<&str> = subset.iter().map(|&i| FER_LABELS[i]).collect();
    let k = names.len();
    let mut confusion = vec![vec![0usize; k]; k];
    for (truth, name) in names.iter().enumerate() {
        let dir = args.data.join(name);
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
            let e = cls.classify(&view, &[[0.0, 0.0, w as f32, h as f32]], &subset)?;
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

fn main() -> std::process::ExitCode {
    let mut it = std::env::args().skip(1);
    let cmd = it.next().unwrap_or_default();
    let result = parse(it).and_then(|args| match cmd.as_str() {
        "wider" => wider(&args),
        "lfw" => lfw(&args),
        "fer" => fer(&args),
        _ => bail!("unknown subcommand '{cmd}'\n{USAGE}"),
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("face-eval: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
