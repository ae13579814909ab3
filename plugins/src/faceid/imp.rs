//! faceid: names each detected face from a gallery (SFace embeddings, cosine match).
//!
//! A tracked face (one with an `object_id`, from `facedetect tracking=true`) is named per
//! track: it is embedded on its first frames and then every `reidentify-interval` frames
//! (or at once when it grows), and its name comes from the evidence of all those checks
//! (faceengine::identity), shown on every frame. Untracked faces are named per frame.

use crate::backend_props::{self, BackendSettings, Kept};
use crate::{meta, video};
use faceengine::backend::{BackendOptions, Loaded};
use faceengine::detect::YuNet;
use faceengine::embed::Embedder;
use faceengine::gallery::{self, Gallery, MatchThreshold, Opened};
use faceengine::identity::{Identities, IdentityConfig};
use faceengine::track::Appearance;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::BaseTransformMode;
use gst_base::subclass::prelude::*;
use gst_video::subclass::prelude::*;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("faceid", gst::DebugColorFlags::empty(), Some("Face identification")));

#[derive(Debug, Clone)]
struct Settings {
    gallery: Option<PathBuf>,
    threshold: f32,
    min_threshold: f32,
    model: PathBuf,
    detector_model: PathBuf,
    threads: u32,
    reidentify_interval: u32,
    quality_floor: f32,
    min_sightings: u32,
    backend: BackendSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            gallery: None,
            threshold: gallery::DEFAULT_THRESHOLD,
            min_threshold: gallery::DEFAULT_POOR_THRESHOLD,
            model: faceengine::default_model("sface.onnx"),
            detector_model: faceengine::default_model("yunet.onnx"),
            threads: 0,
            reidentify_interval: IdentityConfig::default().reidentify_interval,
            quality_floor: IdentityConfig::default().quality_floor,
            min_sightings: IdentityConfig::default().min_sightings,
            backend: BackendSettings::default(),
        }
    }
}

impl Settings {
    /// The identity settings for a gallery of `gallery_images` enrolled images (the
    /// poor-face threshold rises with the gallery, see `MatchThreshold::for_gallery`).
    fn identity_config(&self, gallery_images: usize) -> IdentityConfig {
        IdentityConfig {
            threshold: MatchThreshold::new(self.threshold, self.min_threshold).for_gallery(gallery_images),
            reidentify_interval: self.reidentify_interval,
            quality_floor: self.quality_floor,
            min_sightings: self.min_sightings,
            ..IdentityConfig::default()
        }
    }
}

struct State {
    embedder: Embedder,
    gallery: Arc<Opened>,
    identities: Identities,
    /// Frames since start (for the re-identification interval).
    frame: u64,
    info: Option<gst_video::VideoInfo>,
    analysis: video::Analysis,
}

#[derive(Default)]
pub struct FaceId {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    /// The SFace model loaded for `model` and the backend options, kept across restarts.
    embedder: Kept<(PathBuf, BackendOptions), Loaded>,
    /// The gallery of the last start, kept so that a restart finds it shared
    /// (`gallery::open_shared`) rather than enrolling the folder again.
    gallery: Mutex<Option<Arc<Opened>>>,
}

#[glib::object_subclass]
impl ObjectSubclass for FaceId {
    const NAME: &'static str = "GstFaceId";
    type Type = super::FaceId;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for FaceId {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let d = Settings::default();
            vec![
                glib::ParamSpecString::builder("gallery")
                    .nick("Gallery")
                    .blurb(
                        "Folder of <Name>/*.jpg|png photos to enrol at start-up, or a gallery file written \
                         by face-enrol. Unset: every face is \"unknown\"",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("threshold")
                    .nick("Match threshold")
                    .blurb(
                        "Cosine similarity a clear face needs to be named; below it the face is \"unknown\" \
                         (poorer faces need less, down to min-threshold)",
                    )
                    .minimum(-1.0)
                    .maximum(1.0)
                    .default_value(d.threshold as f64)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("min-threshold")
                    .nick("Match threshold for poor faces")
                    .blurb(
                        "Cosine similarity the poorest faces need to be named (dim, blurred, tiny: SFace \
                         embedding magnitude 9 or less) in a gallery of up to 24 images; it rises with the \
                         magnitude to threshold at 14, and by 0.02 per doubling of a bigger gallery. \
                         Equal to threshold: one threshold for all faces",
                    )
                    .minimum(-1.0)
                    .maximum(1.0)
                    .default_value(d.min_threshold as f64)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("model")
                    .nick("Model")
                    .blurb("Path of the SFace ONNX model (default: the bundled sface.onnx)")
                    .default_value(Some(d.model.to_string_lossy().as_ref()))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("threads")
                    .nick("Threads")
                    .blurb("Threads that embed the faces of one frame in parallel (0 = one per CPU)")
                    .default_value(0)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("reidentify-interval")
                    .nick("Re-identification interval")
                    .blurb(
                        "Frames between two identity checks of a tracked face once it is settled \
                         (1 = every frame); a new face is checked on its first frames, a face that \
                         grows a lot at once",
                    )
                    .minimum(1)
                    .default_value(d.reidentify_interval)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("quality-floor")
                    .nick("Quality floor")
                    .blurb(
                        "Face quality (0..1: the weakest of eye distance, 14 to 24 px; pose; detector \
                         confidence) a frame needs to count towards a name; poorer frames keep a \
                         track's name but never give or change one, and need more similarity \
                         (0 = every frame counts)",
                    )
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(d.quality_floor as f64)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("min-sightings")
                    .nick("Minimum sightings")
                    .blurb("Checks at or over quality-floor a tracked face needs before it is named")
                    .minimum(1)
                    .default_value(d.min_sightings)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("detector-model")
                    .nick("Detector model")
                    .blurb("YuNet model used to find the face in each gallery photo when enrolling a folder")
                    .default_value(Some(d.detector_model.to_string_lossy().as_ref()))
                    .mutable_ready()
                    .build(),
            ]
            .into_iter()
            .chain(backend_props::properties("identity model"))
            .collect()
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        if s.backend.set(pspec.name(), value) {
            return;
        }
        let path = || {
            value
                .get::<Option<String>>()
                .ok()
                .flatten()
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
        };
        match pspec.name() {
            "gallery" => s.gallery = path(),
            "threshold" => s.threshold = value.get::<f64>().unwrap_or(gallery::DEFAULT_THRESHOLD as f64) as f32,
            "min-threshold" => {
                s.min_threshold = value.get::<f64>().unwrap_or(gallery::DEFAULT_POOR_THRESHOLD as f64) as f32
            }
            "model" => s.model = path().unwrap_or_else(|| Settings::default().model),
            "detector-model" => s.detector_model = path().unwrap_or_else(|| Settings::default().detector_model),
            "threads" => s.threads = value.get::<u32>().unwrap_or(0),
            "reidentify-interval" => s.reidentify_interval = value.get::<u32>().unwrap_or(10).max(1),
            "quality-floor" => {
                s.quality_floor = value.get::<f64>().unwrap_or(faceengine::quality::DEFAULT_FLOOR as f64) as f32
            }
            "min-sightings" => {
                s.min_sightings = value
                    .get::<u32>()
                    .unwrap_or(IdentityConfig::default().min_sightings)
                    .max(1)
            }
            other => gst::warning!(CAT, imp = self, "unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = s.backend.get(pspec.name()) {
            return v;
        }
        match pspec.name() {
            "gallery" => s.gallery.as_ref().map(|p| p.to_string_lossy().into_owned()).to_value(),
            "threshold" => (s.threshold as f64).to_value(),
            "min-threshold" => (s.min_threshold as f64).to_value(),
            "model" => s.model.to_string_lossy().to_value(),
            "detector-model" => s.detector_model.to_string_lossy().to_value(),
            "threads" => s.threads.to_value(),
            "reidentify-interval" => s.reidentify_interval.to_value(),
            "quality-floor" => (s.quality_floor as f64).to_value(),
            "min-sightings" => s.min_sightings.to_value(),
            _ => pspec.default_value().clone(),
        }
    }
}

impl GstObjectImpl for FaceId {}

impl ElementImpl for FaceId {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Face identification (SFace)",
                "Filter/Analyzer/Video",
                "Aligns each face found by facedetect, embeds it with SFace and adds a \"face-id\" \
                 structure naming the closest gallery person, or \"unknown\"",
                "gst-face developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(video::pad_templates);
        TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for FaceId {
    const MODE: BaseTransformMode = BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let s = self.settings.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let threads = s.threads as usize;
        let loaded = self
            .embedder
            .get_or_load((s.model.clone(), s.backend.options.clone()), || {
                backend_props::load_model("identity model", &s.model, &s.backend.options)
            })?;
        let in_use = backend_props::describe(&loaded);
        gst::info!(CAT, imp = self, "loaded {} on {}", s.model.display(), in_use);
        self.settings.lock().unwrap_or_else(|e| e.into_inner()).backend.in_use = in_use;
        let embedder = Embedder::new(loaded.model).with_threads(threads);
        let gallery = match &s.gallery {
            None => {
                gst::element_imp_warning!(
                    self,
                    gst::ResourceError::NotFound,
                    ["Property 'gallery' is not set: every face will be \"unknown\""]
                );
                Arc::new(Opened {
                    gallery: Gallery::default(),
                    skipped: Vec::new(),
                })
            }
            Some(path) => {
                let detector_options = s.backend.options.without_engine();
                let models = format!(
                    "{} {} {:?}",
                    s.model.display(),
                    s.detector_model.display(),
                    detector_options
                );
                let detector = || {
                    faceengine::backend::load_with(&s.detector_model, &detector_options)
                        .and_then(|l| YuNet::new(l.model))
                        .map_err(|e| {
                            anyhow::anyhow!(
                                "cannot use the detector model from property 'detector-model' ({}): {e:#}",
                                s.detector_model.display()
                            )
                        })
                };
                let opened = gallery::open_shared(path, &models, &embedder, detector).map_err(|e| {
                    gst::error_msg!(
                        gst::ResourceError::NotFound,
                        [
                            "Cannot use the gallery from property 'gallery' ({}): {:#}",
                            path.display(),
                            e
                        ]
                    )
                })?;
                for sk in &opened.skipped {
                    gst::element_imp_warning!(
                        self,
                        gst::ResourceError::Read,
                        ["Gallery image {} skipped: {}", sk.path.display(), sk.reason]
                    );
                }
                if opened.gallery.is_empty() {
                    gst::element_imp_warning!(
                        self,
                        gst::ResourceError::NotFound,
                        [
                            "Gallery {} holds nobody: every face will be \"unknown\"",
                            path.display()
                        ]
                    );
                }
                gst::info!(
                    CAT,
                    imp = self,
                    "gallery {}: {} people, {} images",
                    path.display(),
                    opened.gallery.len(),
                    opened.gallery.image_count()
                );
                opened
            }
        };
        *self.gallery.lock().unwrap_or_else(|e| e.into_inner()) = Some(gallery.clone());
        let cfg = s.identity_config(gallery.gallery.image_count());
        gst::info!(
            CAT,
            imp = self,
            "faces named at similarity {} (clear) down to {} (poorest)",
            cfg.threshold.clear,
            cfg.threshold.poor
        );
        let identities = Identities::new(cfg);
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(State {
            embedder,
            gallery,
            identities,
            frame: 0,
            info: None,
            analysis: video::Analysis::default(),
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        // Track ids start afresh after a seek or a lost source (facedetect clears its tracks).
        if crate::source::starts_afresh(&event)
            && let Some(state) = self.state.lock().unwrap_or_else(|e| e.into_inner()).as_mut()
        {
            state.identities.clear();
        }
        self.parent_sink_event(event)
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        // Settings, then state: no code path holds the state while taking the settings.
        let settings = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        let info = state.info.clone().ok_or(gst::FlowError::NotNegotiated)?;
        let cfg = settings.identity_config(state.gallery.gallery.image_count());
        drop(settings);
        // Untracked faces are named per frame at the same threshold as tracks, and only
        // on frames good enough to give a name.
        let (threshold, floor) = (cfg.threshold, cfg.quality_floor);
        state.identities.set_config(cfg);
        let frame = state.frame;
        state.frame += 1;
        if frame.is_multiple_of(64) {
            state.identities.forget_old(frame);
        }
        let faces = meta::faces(buf, info.width(), info.height());
        if faces.is_empty() {
            return Ok(gst::FlowSuccess::Ok);
        }
        let answer = |gallery: &Gallery, person: Option<usize>, similarity: f32| {
            let (label, id) = match person {
                Some(p) => (gallery.name(p), p as i32),
                None => ("unknown", -1),
            };
            Some(meta::identity_params(label, id, similarity, "sface"))
        };
        if state.gallery.gallery.is_empty() {
            // Nobody to compare with: every face is unknown whatever its embedding, so
            // SFace is not run at all (as before, faces without landmarks get nothing).
            let params = faces
                .iter()
                .map(|f| f.landmarks.and(answer(&state.gallery.gallery, None, 0.0)))
                .collect();
            meta::add_params(buf, params);
            return Ok(gst::FlowSuccess::Ok);
        }
        let element = self.obj();
        let State {
            embedder,
            gallery,
            identities,
            analysis,
            ..
        } = state;
        let gallery = &gallery.gallery;
        // One look at the frame: what each tracked face looks like now (a cut under an
        // unchanged track id asks for a check), then the embeddings of the faces due.
        // Faces from a detector without landmarks cannot be aligned: they are left alone.
        let found = analysis.run(element.upcast_ref(), "Face identification", buf, &info, |view| {
            let mut wanted: Vec<usize> = Vec::new();
            for (i, f) in faces.iter().enumerate() {
                if f.landmarks.is_none() {
                    continue;
                }
                if let Some(track) = f.track_id {
                    identities.seen(track, frame, f.bbox);
                    identities.look(track, Appearance::of(view, &f.bbox));
                    let due = identities.needs_check(track, frame, f.bbox[2] * f.bbox[3]);
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
                embedder.embed_with_magnitude(view, &landmarks)?
            };
            Ok((wanted, embeddings))
        })?;
        let mut params = vec![None; faces.len()];
        let (wanted, embeddings) = found.unwrap_or_default();
        for (i, e) in wanted.iter().zip(&embeddings) {
            let f = &faces[*i];
            let quality = f
                .landmarks
                .map_or(0.0, |lm| faceengine::quality::of(&lm, f.confidence.map(|c| c as f32)));
            params[*i] = match f.track_id {
                Some(track) => {
                    let sims = gallery.similarities(&e.vector);
                    let a = identities.observe_with_quality(track, frame, f.bbox, e, quality, &sims);
                    answer(gallery, a.person, a.similarity)
                }
                None => {
                    let m = gallery.best_match(&e.vector, threshold.for_single_check(e.magnitude, quality, floor));
                    answer(gallery, m.person, m.similarity)
                }
            };
        }
        // Tracked faces not checked on this frame (or whose check failed, which was
        // warned about) show their track's answer.
        for (i, f) in faces.iter().enumerate() {
            if params[i].is_none()
                && let Some(a) = f.track_id.and_then(|t| identities.answer(t))
            {
                params[i] = answer(gallery, a.person, a.similarity);
            }
        }
        meta::add_params(buf, params);
        Ok(gst::FlowSuccess::Ok)
    }
}

impl VideoFilterImpl for FaceId {
    fn set_info(
        &self,
        incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        outcaps: &gst::Caps,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        if let Some(state) = self.state.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            state.info = Some(in_info.clone());
        }
        self.parent_set_info(incaps, in_info, outcaps, out_info)
    }
}
