//! The people `faceid` can name: embeddings per person, built from a folder of photos
//! (`<Name>/*.jpg|png`) or loaded from the file `face-enrol` writes.

use crate::detect::{DetectorConfig, Face, YuNet};
use crate::embed::{Embedder, Embedding, cosine};
use crate::frame::FrameView;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, Weak};

/// Cosine similarity at which `faceid` names a face.
///
/// SFace's published threshold, 0.363, is for one-to-one verification (are these two
/// photos the same person?). Naming a face is one-to-many: a stranger is compared with
/// every enrolled image and only has to come close to one of them, so false names grow
/// with the gallery. On LFW (`face-eval gallery`) 0.45 leaves far more strangers
/// unknown than the published threshold does and names only a few fewer enrolled
/// people; the classroom video confirms it (EVALUATION.md, "Open-set identification").
pub const DEFAULT_THRESHOLD: f32 = 0.45;

/// SFace's published one-to-one verification threshold (OpenCV Zoo, LFW).
pub const VERIFICATION_THRESHOLD: f32 = 0.363;

/// Cosine similarity at which `faceid` names the poorest faces, for a gallery of up to
/// [`REFERENCE_GALLERY_IMAGES`] images (see [`MatchThreshold::for_gallery`]).
pub const DEFAULT_POOR_THRESHOLD: f32 = 0.30;

/// The gallery size `min-threshold` is meant for: the hard classroom video's 12 people
/// with 2 photos each, on which it was chosen.
pub const REFERENCE_GALLERY_IMAGES: usize = 24;

/// How much the poor-face threshold rises each time the gallery doubles. A stranger is
/// compared with every enrolled image, so the chance that one comes close grows with
/// the gallery; on LFW (`face-eval gallery`, fixed thresholds from 0.363 to 0.45) each
/// small step up halved the strangers given a name (EVALUATION.md, "Face quality").
/// Each doubling asks a little more than such a step (one photo at a time, as
/// `face-eval` names them, has no track to average over).
pub const POOR_THRESHOLD_PER_DOUBLING: f32 = 0.03;

/// The similarity a face needs to be named, by face quality.
///
/// In a dim, blurred room every similarity drops: the right person's as much as a
/// stranger's nearest look-alike. On the hard classroom video known people often
/// average less to their gallery photos over a tracked stretch (strangers there less
/// still) than a stranger can average to a look-alike on clear video, where known
/// people sit well above both (EVALUATION.md, "Face quality"). One threshold cannot
/// serve both, but the embedding's magnitude tells them apart (long for clear faces,
/// short for poor ones), so the threshold slides from `poor` at magnitude
/// [`POOR_MAGNITUDE`] to `clear` at [`CLEAR_MAGNITUDE`] and beyond.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchThreshold {
    pub clear: f32,
    pub poor: f32,
}

/// SFace embedding magnitude of the poorest faces still worth naming.
pub const POOR_MAGNITUDE: f32 = 9.0;
/// SFace embedding magnitude from which a face counts as clear.
pub const CLEAR_MAGNITUDE: f32 = 14.0;

impl Default for MatchThreshold {
    fn default() -> Self {
        Self {
            clear: DEFAULT_THRESHOLD,
            poor: DEFAULT_POOR_THRESHOLD,
        }
    }
}

impl MatchThreshold {
    /// `clear` for clear faces down to `poor` for the poorest; a `poor` above `clear`
    /// is taken as `clear` (the slide only ever lowers the threshold).
    pub fn new(clear: f32, poor: f32) -> Self {
        Self {
            clear,
            poor: poor.min(clear),
        }
    }

    /// One threshold whatever the quality.
    pub fn fixed(threshold: f32) -> Self {
        Self {
            clear: threshold,
            poor: threshold,
        }
    }

    /// The thresholds for a gallery of `images` enrolled images: the poor-face one rises
    /// by [`POOR_THRESHOLD_PER_DOUBLING`] per doubling beyond
    /// [`REFERENCE_GALLERY_IMAGES`], never above the clear-face one, so that strangers
    /// are named about as rarely in a big gallery as in a small one.
    pub fn for_gallery(&self, images: usize) -> Self {
        let doublings = (images as f32 / REFERENCE_GALLERY_IMAGES as f32).log2().max(0.0);
        Self {
            clear: self.clear,
            poor: (self.poor + POOR_THRESHOLD_PER_DOUBLING * doublings).min(self.clear),
        }
    }

    /// The threshold for a face of this embedding magnitude and this quality
    /// ([`crate::quality`], 0..1): the slide towards `poor` that a dim face gets is
    /// granted in full to a face of quality 1 and not at all to one of quality 0, which
    /// needs `clear`. A small or turned face is where strangers come closest to someone
    /// enrolled; a dim one is where everyone's similarity drops.
    pub fn at_quality(&self, magnitude: f32, quality: f32) -> f32 {
        let base = self.at(magnitude);
        base + (self.clear - base) * (1.0 - quality.clamp(0.0, 1.0))
    }

    /// The threshold for a face named on this one check, with no track to have earned a
    /// name on better frames (faceid's untracked faces, `face-eval gallery`'s photos):
    /// [`MatchThreshold::at_quality`] at or over the quality `floor`, out of reach under it.
    pub fn for_single_check(&self, magnitude: f32, quality: f32, floor: f32) -> f32 {
        if quality >= floor {
            self.at_quality(magnitude, quality)
        } else {
            f32::INFINITY
        }
    }

    /// The threshold for a face whose embedding had this magnitude.
    pub fn at(&self, magnitude: f32) -> f32 {
        let t = ((magnitude - POOR_MAGNITUDE) / (CLEAR_MAGNITUDE - POOR_MAGNITUDE)).clamp(0.0, 1.0);
        self.poor + (self.clear - self.poor) * t
    }
}

const FILE_FORMAT: &str = "gst-face-gallery";
const FILE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub name: String,
    /// The images each embedding came from (for reports; may be empty when loaded).
    #[serde(default)]
    pub images: Vec<String>,
    /// Unit-length embeddings, one per enrolled image.
    pub embeddings: Vec<Vec<f32>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Gallery {
    pub model: String,
    pub dim: usize,
    pub people: Vec<Person>,
}

/// An image that could not be enrolled, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// The best gallery match for one face.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    /// Index of the person, or `None` when the best similarity is under the threshold.
    pub person: Option<usize>,
    /// Cosine similarity to the closest enrolled embedding (of anyone).
    pub similarity: f32,
    /// The closest person regardless of the threshold.
    pub nearest: Option<usize>,
}

#[derive(Serialize, Deserialize)]
struct GalleryFile {
    format: String,
    version: u32,
    #[serde(flatten)]
    gallery: Gallery,
}

impl Gallery {
    pub fn name(&self, person: usize) -> &str {
        &self.people[person].name
    }

    pub fn len(&self) -> usize {
        self.people.len()
    }

    /// Enrolled images (embeddings) over all people.
    pub fn image_count(&self) -> usize {
        self.people.iter().map(|p| p.embeddings.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }

    /// Finds the closest enrolled face; it names the person only at or above `threshold`.
    pub fn best_match(&self, embedding: &[f32], threshold: f32) -> Match {
        let mut best = (None, f32::NEG_INFINITY);
        for (i, p) in self.people.iter().enumerate() {
            for e in &p.embeddings {
                let s = cosine(embedding, e);
                if s > best.1 {
                    best = (Some(i), s);
                }
            }
        }
        let similarity = if best.0.is_some() { best.1 } else { 0.0 };
        Match {
            person: best.0.filter(|_| similarity >= threshold),
            similarity,
            nearest: best.0,
        }
    }

    /// The similarity of `embedding` to each person (to their closest enrolled image), in
    /// gallery order.
    pub fn similarities(&self, embedding: &[f32]) -> Vec<f32> {
        self.people
            .iter()
            .map(|p| {
                p.embeddings
                    .iter()
                    .map(|e| cosine(embedding, e))
                    .fold(f32::NEG_INFINITY, f32::max)
            })
            .collect()
    }

    /// Enrols every `<Name>/<image>` under `dir`: the largest face of each image.
    /// Images that cannot be read or hold no face are returned as skipped, not fatal.
    pub fn build_from_dir(dir: &Path, detector: &YuNet, embedder: &Embedder) -> Result<(Gallery, Vec<Skipped>)> {
        if !dir.is_dir() {
            bail!("gallery folder {} does not exist or is not a folder", dir.display());
        }
        let cfg = DetectorConfig {
            score_threshold: 0.5,
            ..DetectorConfig::default()
        };
        let mut gallery = Gallery {
            model: "sface".into(),
            dim: 0,
            people: Vec::new(),
        };
        let mut skipped = Vec::new();
        for (name, images) in people_folders(dir)? {
            let mut person = Person {
                name,
                images: Vec::new(),
                embeddings: Vec::new(),
            };
            for img in images {
                match enrol_image(&img, detector, &cfg, embedder) {
                    Ok(e) => {
                        gallery.dim = e.len();
                        person.images.push(img.display().to_string());
                        person.embeddings.push(e);
                    }
                    Err(reason) => skipped.push(Skipped {
                        path: img,
                        reason: format!("{reason:#}"),
                    }),
                }
            }
            if !person.embeddings.is_empty() {
                gallery.people.push(person);
            }
        }
        Ok((gallery, skipped))
    }

    /// Forgets `name`: their embeddings and image names. False when nobody of that name
    /// is enrolled.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.people.len();
        self.people.retain(|p| p.name != name);
        self.people.len() != before
    }

    /// Writes the gallery file. It goes to a new file renamed over `path`, so that a
    /// reader never sees half a gallery and a person removed is gone from the file
    /// entirely, not left in a tail an interrupted write did not reach.
    pub fn save(&self, path: &Path) -> Result<()> {
        let file = GalleryFile {
            format: FILE_FORMAT.into(),
            version: FILE_VERSION,
            gallery: self.clone(),
        };
        let text = serde_json::to_string(&file)?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".new");
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, path))
            .with_context(|| format!("cannot write gallery file {}", path.display()))
    }

    pub fn load(path: &Path) -> Result<Gallery> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read gallery file {}", path.display()))?;
        let file: GalleryFile = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a gallery file written by face-enrol", path.display()))?;
        if file.format != FILE_FORMAT || file.version != FILE_VERSION {
            bail!(
                "{} is a '{}' v{} file, expected {FILE_FORMAT} v{FILE_VERSION}",
                path.display(),
                file.format,
                file.version
            );
        }
        let g = file.gallery;
        for p in &g.people {
            if p.embeddings.iter().any(|e| e.len() != g.dim) {
                bail!(
                    "{}: embeddings of '{}' are not {}-dimensional",
                    path.display(),
                    p.name,
                    g.dim
                );
            }
        }
        Ok(g)
    }
}

/// A gallery as opened from a folder (enrolled) or a file, with the photos it skipped.
#[derive(Debug)]
pub struct Opened {
    pub gallery: Gallery,
    pub skipped: Vec<Skipped>,
}

#[derive(PartialEq, Eq, Hash)]
struct OpenedKey {
    path: PathBuf,
    /// What the files looked like (names, sizes, modification times).
    fingerprint: u64,
    /// Which models enrolled it (a folder enrolled with another embedder is another gallery).
    models: String,
}

static OPENED: LazyLock<Mutex<HashMap<OpenedKey, Weak<Opened>>>> = LazyLock::new(Default::default);

/// A hash of the names, sizes and modification times of `path` (a file) or of the files
/// one and two levels under it (a gallery folder): it changes when a photo is added,
/// removed or replaced.
pub fn fingerprint(path: &Path) -> Result<u64> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let add = |h: &mut std::collections::hash_map::DefaultHasher, p: &Path| -> Result<()> {
        let m = std::fs::metadata(p).with_context(|| format!("cannot read {}", p.display()))?;
        p.hash(h);
        m.len().hash(h);
        m.modified().ok().hash(h);
        Ok(())
    };
    add(&mut h, path)?;
    if path.is_dir() {
        for (name, images) in people_folders(path)? {
            name.hash(&mut h);
            for img in images {
                add(&mut h, &img)?;
            }
        }
    }
    Ok(h.finish())
}

/// Opens `path` (a folder of `<Name>/*.jpg|png`, enrolled with `detector()` and
/// `embedder`, or a file from face-enrol), or returns the gallery this process already
/// opened from it, unchanged since, for the same `models` (a description of the
/// embedder's and detector's files and backend). Galleries are read-only once made, so
/// ten cameras' faceid elements share one, and enrol a folder once.
pub fn open_shared(
    path: &Path,
    models: &str,
    embedder: &Embedder,
    detector: impl FnOnce() -> Result<YuNet>,
) -> Result<Arc<Opened>> {
    let key = OpenedKey {
        path: path.canonicalize().unwrap_or_else(|_| path.to_path_buf()),
        fingerprint: fingerprint(path)?,
        models: models.to_string(),
    };
    // Held while enrolling: two elements starting together enrol once.
    let mut cache = OPENED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(opened) = cache.get(&key).and_then(Weak::upgrade) {
        return Ok(opened);
    }
    let (gallery, skipped) = if path.is_dir() {
        Gallery::build_from_dir(path, &detector()?, embedder)?
    } else if path.is_file() {
        (Gallery::load(path)?, Vec::new())
    } else {
        bail!("no such file or folder (give a folder of <Name>/*.jpg or a file from face-enrol)");
    };
    let opened = Arc::new(Opened { gallery, skipped });
    cache.retain(|_, g| g.strong_count() > 0);
    cache.insert(key, Arc::downgrade(&opened));
    Ok(opened)
}

/// The `<Name>/<image>` layout under `dir`: every person folder, sorted by name, with
/// its image files (jpg, jpeg, png), sorted.
pub fn people_folders(dir: &Path) -> Result<Vec<(String, Vec<PathBuf>)>> {
    let mut people_dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    people_dirs.sort();
    let mut people = Vec::with_capacity(people_dirs.len());
    for pdir in people_dirs {
        let name = pdir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut images: Vec<PathBuf> = std::fs::read_dir(&pdir)
            .with_context(|| format!("cannot list {}", pdir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_image(p))
            .collect();
        images.sort();
        people.push((name, images));
    }
    Ok(people)
}

fn is_image(p: &Path) -> bool {
    p.is_file()
        && p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
}

/// Embedding of the largest face in one image file.
pub fn enrol_image(path: &Path, detector: &YuNet, cfg: &DetectorConfig, embedder: &Embedder) -> Result<Vec<f32>> {
    largest_face_embedding(path, |view| detector.detect(view, cfg), embedder, Side::Both)?
        .map(|e| e.vector)
        .context("no face found")
}

/// Which view of a face to embed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The face as it is, as `faceid` embeds video.
    AsIs,
    /// The mean of the face and its mirror image, as enrolment embeds gallery photos.
    Both,
}

/// Embedding of the largest face `detect` finds in an image file; `None` when it finds
/// none. Enrolment and the open-set evaluation both pick faces this way.
pub fn largest_face_embedding(
    path: &Path,
    detect: impl FnOnce(&FrameView) -> Result<Vec<Face>>,
    embedder: &Embedder,
    side: Side,
) -> Result<Option<Embedding>> {
    Ok(largest_face(path, detect, embedder, side)?.map(|(_, e)| e))
}

/// [`largest_face_embedding`] with the face it was made from (its landmarks and
/// detector score give its quality, see [`crate::quality`]).
pub fn largest_face(
    path: &Path,
    detect: impl FnOnce(&FrameView) -> Result<Vec<Face>>,
    embedder: &Embedder,
    side: Side,
) -> Result<Option<(Face, Embedding)>> {
    let img = image::open(path).context("cannot decode image")?.to_rgb8();
    let view = FrameView::from_rgb_image(&img)?;
    let faces = detect(&view)?;
    let Some(face) = faces.into_iter().max_by(|a, b| a.area().total_cmp(&b.area())) else {
        return Ok(None);
    };
    let e = match side {
        Side::Both => embedder.embed_mirror_averaged(&view, &face.landmarks)?,
        Side::AsIs => embedder
            .embed_with_magnitude(&view, &[face.landmarks])?
            .pop()
            .context("no embedding")?,
    };
    Ok(Some((face, e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        crate::embed::normalise(v)
    }

    #[test]
    fn matching_uses_the_threshold_and_reports_the_nearest() {
        let g = Gallery {
            model: "sface".into(),
            dim: 2,
            people: vec![
                Person {
                    name: "A".into(),
                    images: vec![],
                    embeddings: vec![unit(&[1.0, 0.0])],
                },
                Person {
                    name: "B".into(),
                    images: vec![],
                    embeddings: vec![unit(&[0.0, 1.0]), unit(&[1.0, 1.0])],
                },
            ],
        };
        let m = g.best_match(&unit(&[0.9, 0.1]), 0.5);
        assert_eq!(m.person, Some(0));
        // Closest to B's second image, but under a high threshold: unknown.
        let m = g.best_match(&unit(&[0.6, 0.8]), 0.999);
        assert_eq!((m.person, m.nearest), (None, Some(1)));
    }

    #[test]
    fn the_threshold_slides_with_face_quality() {
        let t = MatchThreshold { clear: 0.45, poor: 0.3 };
        assert_eq!(t.at(5.0), 0.3);
        assert_eq!(t.at(POOR_MAGNITUDE), 0.3);
        assert!((t.at((POOR_MAGNITUDE + CLEAR_MAGNITUDE) / 2.0) - 0.375).abs() < 1e-6);
        assert_eq!(t.at(CLEAR_MAGNITUDE), 0.45);
        assert_eq!(t.at(20.0), 0.45);
        assert_eq!(MatchThreshold::fixed(0.4).at(7.0), 0.4);
        // A poor-face threshold above the clear one is the clear one.
        assert_eq!(MatchThreshold::new(0.4, 0.5), MatchThreshold::fixed(0.4));
        // Small galleries keep min-threshold; 4 times the images, +2 doublings.
        assert_eq!(t.for_gallery(10), t);
        assert!((t.for_gallery(4 * REFERENCE_GALLERY_IMAGES).poor - 0.36).abs() < 1e-6);
        assert_eq!(t.for_gallery(1_000_000).poor, 0.45);
        // A face of full quality gets the whole slide, one of no quality none of it.
        assert_eq!(t.at_quality(POOR_MAGNITUDE, 1.0), 0.3);
        assert_eq!(t.at_quality(POOR_MAGNITUDE, 0.0), 0.45);
        assert!((t.at_quality(POOR_MAGNITUDE, 0.5) - 0.375).abs() < 1e-6);
        assert_eq!(t.at_quality(CLEAR_MAGNITUDE, 0.2), 0.45);
        // Named on one check: as by quality at or over the floor, never under it.
        assert_eq!(
            t.for_single_check(POOR_MAGNITUDE, 0.5, 0.5),
            t.at_quality(POOR_MAGNITUDE, 0.5)
        );
        assert_eq!(t.for_single_check(CLEAR_MAGNITUDE, 0.49, 0.5), f32::INFINITY);
    }

    #[test]
    fn saved_gallery_loads_back_and_bad_files_are_refused() {
        let dir = std::env::temp_dir().join(format!("gallery-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let g = Gallery {
            model: "sface".into(),
            dim: 2,
            people: vec![Person {
                name: "A".into(),
                images: vec!["a.jpg".into()],
                embeddings: vec![vec![1.0, 0.0]],
            }],
        };
        let path = dir.join("g.json");
        g.save(&path).expect("save");
        assert_eq!(Gallery::load(&path).expect("load"), g);
        // Saved over the old file, with nothing left beside it.
        let mut smaller = g.clone();
        assert!(smaller.remove("A") && !smaller.remove("A"));
        smaller.save(&path).expect("save");
        assert!(Gallery::load(&path).expect("load").is_empty());
        assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 1);
        std::fs::write(&path, "{\"hello\": 1}").expect("write");
        assert!(Gallery::load(&path).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
