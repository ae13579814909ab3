//! faceid's per-frame policy: which faces are embedded on this frame, how a track's
//! checks add up to a name, and opening the gallery.
//!
//! A tracked face is named per track: it is embedded on its first frames and then every
//! `reidentify_interval` frames (at once when it grows a lot or its look changes), and
//! its name comes from the evidence of all those checks (crate::identity), given on
//! every frame. Untracked faces are named per frame, at the same threshold, and only
//! on frames good enough to give a name.

use super::StreamFace;
use crate::backend::{self, BackendOptions};
use crate::detect::YuNet;
use crate::embed::Embedder;
use crate::frame::FrameView;
use crate::gallery::{self, Gallery, MatchThreshold, Opened};
use crate::identity::{Identities, IdentityConfig};
use crate::track::Appearance;
use anyhow::{Result, anyhow};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub struct IdentitySettings {
    /// Similarity a clear face needs to be named.
    pub threshold: f32,
    /// Similarity the poorest faces need, in a gallery of up to
    /// [`gallery::REFERENCE_GALLERY_IMAGES`] images.
    pub min_threshold: f32,
    pub reidentify_interval: u32,
    pub quality_floor: f32,
    pub min_sightings: u32,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        let d = IdentityConfig::default();
        Self {
            threshold: gallery::DEFAULT_THRESHOLD,
            min_threshold: gallery::DEFAULT_POOR_THRESHOLD,
            reidentify_interval: d.reidentify_interval,
            quality_floor: d.quality_floor,
            min_sightings: d.min_sightings,
        }
    }
}

impl IdentitySettings {
    /// The identity settings for a gallery of `gallery_images` enrolled images (the
    /// poor-face threshold rises with the gallery, see `MatchThreshold::for_gallery`).
    pub fn identity_config(&self, gallery_images: usize) -> IdentityConfig {
        IdentityConfig {
            threshold: MatchThreshold::new(self.threshold, self.min_threshold).for_gallery(gallery_images),
            reidentify_interval: self.reidentify_interval,
            quality_floor: self.quality_floor,
            min_sightings: self.min_sightings,
            ..IdentityConfig::default()
        }
    }
}

/// What a face is called on this frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Name {
    /// The gallery person, or `None` for unknown.
    pub person: Option<usize>,
    /// Similarity to that person (to the closest one when unknown).
    pub similarity: f32,
}

/// Opens the gallery at `path` (a folder of `<Name>/*.jpg|png`, enrolled with the
/// YuNet at `detector_model`, or a file from face-enrol), shared with every other
/// element of this process that opened it with the same models. Errors name the
/// detector model when that is what failed.
pub fn open_gallery(
    path: &Path,
    embedder: &Embedder,
    embedder_model: &Path,
    detector_model: &Path,
    options: &BackendOptions,
) -> Result<Arc<Opened>> {
    let detector_options = options.without_engine();
    let models = format!(
        "{} {} {:?}",
        embedder_model.display(),
        detector_model.display(),
        detector_options
    );
    let detector = || {
        backend::load_with(detector_model, &detector_options)
            .and_then(|l| YuNet::new(l.model))
            .map_err(|e| {
                anyhow!(
                    "cannot use the detector model from property 'detector-model' ({}): {e:#}",
                    detector_model.display()
                )
            })
    };
    gallery::open_shared(path, &models, embedder, detector)
}

pub struct IdentityAnalyser {
    embedder: Embedder,
    gallery: Arc<Opened>,
    identities: Identities,
    settings: IdentitySettings,
    /// Frames since the start, for the re-identification interval.
    frame: u64,
}

impl IdentityAnalyser {
    pub fn new(embedder: Embedder, gallery: Arc<Opened>, settings: IdentitySettings) -> Self {
        let cfg = settings.identity_config(gallery.gallery.image_count());
        Self {
            embedder,
            gallery,
            identities: Identities::new(cfg),
            settings,
            frame: 0,
        }
    }

    pub fn gallery(&self) -> &Gallery {
        &self.gallery.gallery
    }

    /// The identity configuration in force (thresholds for this gallery's size).
    pub fn config(&self) -> &IdentityConfig {
        self.identities.config()
    }

    /// New settings, from the next frame on; the evidence is kept.
    pub fn set_settings(&mut self, settings: IdentitySettings) {
        self.settings = settings;
    }

    /// Track ids start afresh after a seek or a lost source.
    pub fn restart(&mut self) {
        self.identities.clear();
    }

    /// The name (or "unknown") and gallery index (-1 for unknown) of `name`.
    pub fn label(&self, name: &Name) -> (&str, i32) {
        match name.person {
            Some(p) => (self.gallery.gallery.name(p), p as i32),
            None => ("unknown", -1),
        }
    }

    /// The names of this frame's `faces` (`None`: the face is left alone, as one
    /// without landmarks, which cannot be aligned).
    pub fn frame(&mut self, view: &FrameView, faces: &[StreamFace]) -> Result<Vec<Option<Name>>> {
        let cfg = self.settings.identity_config(self.gallery.gallery.image_count());
        let (threshold, floor) = (cfg.threshold, cfg.quality_floor);
        self.identities.set_config(cfg);
        let frame = self.frame;
        self.frame += 1;
        if frame.is_multiple_of(64) {
            self.identities.forget_old(frame);
        }
        let gallery = &self.gallery.gallery;
        if gallery.is_empty() {
            // Nobody to compare with: every face is unknown whatever its embedding, so
            // SFace is not run at all.
            let unknown = Name {
                person: None,
                similarity: 0.0,
            };
            return Ok(faces.iter().map(|f| f.landmarks.map(|_| unknown)).collect());
        }
        let identities = &mut self.identities;
        // What each tracked face looks like now (a cut under an unchanged track id asks
        // for a check), then the embeddings of the faces due.
        let mut wanted: Vec<usize> = Vec::new();
        for (i, f) in faces.iter().enumerate() {
            if f.landmarks.is_none() {
                continue;
            }
            if let Some(track) = f.track_id {
                identities.seen(track, frame, f.bbox);
                identities.look(track, Appearance::of(view, &f.bbox));
                let due = identities.needs_check(track, frame, f.bbox.area());
                if !due && identities.answer(track).is_some() {
                    continue;
                }
            }
            wanted.push(i);
        }
        let landmarks: Vec<_> = wanted.iter().filter_map(|&i| faces[i].landmarks).collect();
        let embeddings = if landmarks.is_empty() {
            Vec::new()
        } else {
            self.embedder.embed_with_magnitude(view, &landmarks)?
        };
        let mut names = vec![None; faces.len()];
        for (&i, e) in wanted.iter().zip(&embeddings) {
            let f = &faces[i];
            let quality = f
                .landmarks
                .map_or(0.0, |lm| crate::quality::of(&lm, f.confidence.map(|c| c as f32)));
            names[i] = Some(match f.track_id {
                Some(track) => {
                    let sims = gallery.similarities(&e.vector);
                    let a = identities.observe_with_quality(track, frame, f.bbox, e, quality, &sims);
                    Name {
                        person: a.person,
                        similarity: a.similarity,
                    }
                }
                None => {
                    let m = gallery.best_match(&e.vector, threshold.for_single_check(e.magnitude, quality, floor));
                    Name {
                        person: m.person,
                        similarity: m.similarity,
                    }
                }
            });
        }
        // Tracked faces not checked on this frame show their track's answer.
        Ok(self.fill_from_tracks(faces, names))
    }

    /// The names of a frame that could not be looked at: each track's answer.
    pub fn carried(&self, faces: &[StreamFace]) -> Vec<Option<Name>> {
        if self.gallery.gallery.is_empty() {
            return vec![None; faces.len()];
        }
        self.fill_from_tracks(faces, vec![None; faces.len()])
    }

    fn fill_from_tracks(&self, faces: &[StreamFace], mut names: Vec<Option<Name>>) -> Vec<Option<Name>> {
        for (name, f) in names.iter_mut().zip(faces) {
            if name.is_none()
                && let Some(a) = f.track_id.and_then(|t| self.identities.answer(t))
            {
                *name = Some(Name {
                    person: a.person,
                    similarity: a.similarity,
                });
            }
        }
        names
    }
}
