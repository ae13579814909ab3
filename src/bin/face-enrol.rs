//! face-enrol: builds a gallery file from a folder of `<Name>/*.jpg|png` ahead of time,
//! so `faceid gallery=FILE` starts instantly and the same embeddings are used everywhere.

use anyhow::{Context, Result, bail};
use faceengine::backend::{self, BackendOptions};
use faceengine::detect::YuNet;
use faceengine::embed::Embedder;
use faceengine::gallery::Gallery;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: face-enrol PEOPLE_DIR -o GALLERY_FILE [--detector-model PATH] [--model PATH]

Enrols the largest face of every image in PEOPLE_DIR/<Name>/ (jpg, jpeg, png) and
writes the gallery file that faceid's `gallery` property reads. Images without a
usable face are listed on stderr; the exit status is non-zero when nobody was enrolled.";

struct Args {
    people: PathBuf,
    out: PathBuf,
    detector: PathBuf,
    model: PathBuf,
}

fn parse_args() -> Result<Args> {
    let mut people = None;
    let mut out = None;
    let mut detector = faceengine::default_model("yunet.onnx");
    let mut model = faceengine::default_model("sface.onnx");
    let mut it = std::env::args_os().skip(1);
    while let Some(a) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .map(PathBuf::from)
                .with_context(|| format!("{flag} needs a value"))
        };
        match a.to_str() {
            Some("-o" | "--output") => out = Some(value("-o")?),
            Some("--detector-model") => detector = value("--detector-model")?,
            Some("--model") => model = value("--model")?,
            Some("-h" | "--help") => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            Some(s) if s.starts_with('-') => bail!("unknown option {s}\n{USAGE}"),
            _ if people.is_none() => people = Some(PathBuf::from(a)),
            _ => bail!("unexpected argument {}\n{USAGE}", a.to_string_lossy()),
        }
    }
    Ok(Args {
        people: people.with_context(|| format!("missing PEOPLE_DIR\n{USAGE}"))?,
        out: out.with_context(|| format!("missing -o GALLERY_FILE\n{USAGE}"))?,
        detector,
        model,
    })
}

fn run() -> Result<bool> {
    let args = parse_args()?;
    let detector = YuNet::new(
        backend::load_with(&args.detector, &BackendOptions::default())
            .map(|l| l.model)
            .context("detector model")?,
    )?;
    let embedder = Embedder::new(
        backend::load_with(&args.model, &BackendOptions::default())
            .map(|l| l.model)
            .context("identity model")?,
    );
    let (gallery, skipped) = Gallery::build_from_dir(&args.people, &detector, &embedder)?;
    for s in &skipped {
        eprintln!("skipped {}: {}", s.path.display(), s.reason);
    }
    for p in &gallery.people {
        println!("{}: {} image(s)", p.name, p.embeddings.len());
    }
    if gallery.is_empty() {
        eprintln!("nobody could be enrolled from {}", args.people.display());
        return Ok(false);
    }
    gallery.save(&args.out)?;
    println!(
        "wrote {} ({} people, {} images, {} skipped)",
        args.out.display(),
        gallery.len(),
        gallery.people.iter().map(|p| p.embeddings.len()).sum::<usize>(),
        skipped.len()
    );
    Ok(true)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("face-enrol: {e:#}");
            ExitCode::from(2)
        }
    }
}
