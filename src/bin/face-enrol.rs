//! face-enrol: builds a gallery file from a folder of `<Name>/*.jpg|png` ahead of time,
//! so `faceid gallery=FILE` starts instantly and the same embeddings are used everywhere;
//! `--remove NAME` deletes a person (their embeddings) from a gallery file.

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
usable face are listed on stderr; the exit status is non-zero when nobody was enrolled.\n\n\
face-enrol --remove NAME GALLERY_FILE deletes NAME (every embedding of theirs) from the file.",
    override_usage = "face-enrol PEOPLE_DIR -o GALLERY_FILE [OPTIONS]\n       face-enrol --remove NAME [--remove NAME]... GALLERY_FILE",
    args_override_self = true
)]
struct Args {
    /// Folder of <Name>/ folders of photos (with --remove: the gallery file to remove from)
    #[arg(value_name = "PEOPLE_DIR")]
    people: PathBuf,
    /// Gallery file to write
    #[arg(
        short = 'o',
        long = "output",
        value_name = "GALLERY_FILE",
        required_unless_present = "remove"
    )]
    out: Option<PathBuf>,
    /// Delete this person from the gallery file given instead of PEOPLE_DIR (repeatable)
    #[arg(long, value_name = "NAME", conflicts_with = "out")]
    remove: Vec<String>,
    /// YuNet detector model
    #[arg(long = "detector-model", value_name = "PATH", default_value_os_t = faceengine::default_model("yunet.onnx"))]
    detector: PathBuf,
    /// SFace identity model
    #[arg(long, value_name = "PATH", default_value_os_t = faceengine::default_model("sface.onnx"))]
    model: PathBuf,
}

/// Deletes `names` from the gallery file at `path`; every name must be enrolled there.
fn remove(path: &std::path::Path, names: &[String]) -> Result<bool> {
    let mut gallery = Gallery::load(path)?;
    for name in names {
        if !gallery.remove(name) {
            let enrolled: Vec<&str> = gallery.people.iter().map(|p| p.name.as_str()).collect();
            eprintln!(
                "{} holds nobody called {name:?} (enrolled: {}); nothing was changed",
                path.display(),
                enrolled.join(", ")
            );
            return Ok(false);
        }
    }
    gallery.save(path)?;
    println!(
        "removed {} from {} ({} people left)",
        names.join(", "),
        path.display(),
        gallery.len()
    );
    Ok(true)
}

fn run(args: &Args) -> Result<bool> {
    let Some(out) = &args.out else {
        return remove(&args.people, &args.remove);
    };
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
    gallery.save(out)?;
    println!(
        "wrote {} ({} people, {} images, {} skipped)",
        out.display(),
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
