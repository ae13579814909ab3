//! face-enrol: builds a gallery file from a folder of `<Name>/*.jpg|png` ahead of time,
//! so `faceid gallery=FILE` starts instantly and the same embeddings are used everywhere.

// clap shows the doc comments below as the --help text, as they are: `<Name>` is what
// a user types, not HTML.
#![allow(rustdoc::invalid_html_tags)]

use anyhow::{Context, Result};
use clap::Parser;
use faceengine::backend::{self, BackendOptions};
use faceengine::detect::YuNet;
use faceengine::embed::Embedder;
use faceengine::gallery::Gallery;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "face-enrol",
    about = "Builds the gallery file that faceid's `gallery` property reads",
    long_about = "Enrols the largest face of every image in PEOPLE_DIR/<Name>/ (jpg, jpeg, png) and \
writes the gallery file that faceid's `gallery` property reads. Images without a \
usable face are listed on stderr; the exit status is non-zero when nobody was enrolled.",
    args_override_self = true
)]
struct Args {
    /// Folder of <Name>/ folders of photos
    #[arg(value_name = "PEOPLE_DIR")]
    people: PathBuf,
    /// Gallery file to write
    #[arg(short = 'o', long = "output", value_name = "GALLERY_FILE")]
    out: PathBuf,
    /// YuNet detector model
    #[arg(long = "detector-model", value_name = "PATH", default_value_os_t = faceengine::default_model("yunet.onnx"))]
    detector: PathBuf,
    /// SFace identity model
    #[arg(long, value_name = "PATH", default_value_os_t = faceengine::default_model("sface.onnx"))]
    model: PathBuf,
}

fn run(args: &Args) -> Result<bool> {
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
    // A bad command line: clap's message and exit status 2.
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("face-enrol: {e:#}");
            ExitCode::from(2)
        }
    }
}
