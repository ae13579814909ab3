//! faceid: names each detected face from a gallery (SFace embeddings, cosine match).
//!
//! ```text
//! gst-launch-1.0 filesrc location=in.mp4 ! decodebin ! videoconvert ! facedetect \
//!     ! faceid gallery=people/ ! faceannotate ! videoconvert ! autovideosink
//! ```
//!
//! A tracked face (one with an `object_id`, from `facedetect tracking=true`) is named per
//! track from the evidence of all its checks; untracked faces are named per frame. The
//! policy is the engine's [`IdentityAnalyser`]; this element opens the gallery, maps the
//! frame, runs the analyser and writes the `face-id` structures.

use crate::backend_props::{self, BackendSettings, Kept};
use crate::{meta, video};
use faceengine::backend::{BackendOptions, Loaded};
use faceengine::embed::Embedder;
use faceengine::gallery::{self, Gallery, Opened};
use faceengine::stream::identity::open_gallery;
use faceengine::stream::{IdentityAnalyser, IdentitySettings};
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
    model: PathBuf,
    detector_model: PathBuf,
    threads: u32,
    analysis: IdentitySettings,
    backend: BackendSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            gallery: None,
            model: faceengine::default_model("sface.onnx"),
            detector_model: faceengine::default_model("yunet.onnx"),
            threads: 0,
            analysis: IdentitySettings::default(),
            backend: BackendSettings::default(),
        }
    }
}

struct State {
    analyser: IdentityAnalyser,
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
            let a = &d.analysis;
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
                    .default_value(a.threshold as f64)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("min-threshold")
                    .nick("Match threshold for poor faces")
                    .blurb(&format!(
                        "Cosine similarity the poorest faces need to be named (dim, blurred, tiny: SFace \
                         embedding magnitude {} or less) in a gallery of up to {} images; it rises with the \
                         magnitude to threshold at {}, and by {} per doubling of a bigger gallery. \
                         Equal to threshold: one threshold for all faces",
                        gallery::POOR_MAGNITUDE,
                        gallery::REFERENCE_GALLERY_IMAGES,
                        gallery::CLEAR_MAGNITUDE,
                        gallery::POOR_THRESHOLD_PER_DOUBLING
                    ))
                    .minimum(-1.0)
                    .maximum(1.0)
                    .default_value(a.min_threshold as f64)
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
                    .default_value(d.threads)
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
                    .default_value(a.reidentify_interval)
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
                    .default_value(a.quality_floor as f64)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("min-sightings")
                    .nick("Minimum sightings")
                    .blurb("Checks at or over quality-floor a tracked face needs before it is named")
                    .minimum(1)
                    .default_value(a.min_sightings)
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
        let mut guard = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        let s = &mut *guard;
        if s.backend.set(pspec.name(), value) {
            return;
        }
        // GObject has checked each value's type and range against its ParamSpec.
        let path = || {
            value
                .get::<Option<String>>()
                .expect("type checked upstream")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
        };
        let f32_of = |v: &glib::Value| v.get::<f64>().expect("type checked upstream") as f32;
        let a = &mut s.analysis;
        match pspec.name() {
            "gallery" => s.gallery = path(),
            "threshold" => a.threshold = f32_of(value),
            "min-threshold" => a.min_threshold = f32_of(value),
            "model" => s.model = path().unwrap_or_else(|| Settings::default().model),
            "detector-model" => s.detector_model = path().unwrap_or_else(|| Settings::default().detector_model),
            "threads" => s.threads = value.get().expect("type checked upstream"),
            "reidentify-interval" => a.reidentify_interval = value.get().expect("type checked upstream"),
            "quality-floor" => a.quality_floor = f32_of(value),
            "min-sightings" => a.min_sightings = value.get().expect("type checked upstream"),
            other => unreachable!("faceid has no property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = s.backend.get(pspec.name()) {
            return v;
        }
        let a = &s.analysis;
        match pspec.name() {
            "gallery" => s.gallery.as_ref().map(|p| p.to_string_lossy().into_owned()).to_value(),
            "threshold" => (a.threshold as f64).to_value(),
            "min-threshold" => (a.min_threshold as f64).to_value(),
            "model" => s.model.to_string_lossy().to_value(),
            "detector-model" => s.detector_model.to_string_lossy().to_value(),
            "threads" => s.threads.to_value(),
            "reidentify-interval" => a.reidentify_interval.to_value(),
            "quality-floor" => (a.quality_floor as f64).to_value(),
            "min-sightings" => a.min_sightings.to_value(),
            other => unreachable!("faceid has no property {other}"),
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
                let opened =
                    open_gallery(path, &embedder, &s.model, &s.detector_model, &s.backend.options).map_err(|e| {
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
        let analyser = IdentityAnalyser::new(embedder, gallery, s.analysis);
        let cfg = analyser.config();
        gst::info!(
            CAT,
            imp = self,
            "faces named at similarity {} (clear) down to {} (poorest)",
            cfg.threshold.clear,
            cfg.threshold.poor
        );
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(State {
            analyser,
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
            state.analyser.restart();
        }
        self.parent_sink_event(event)
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        // Settings, then state: no code path holds the state while taking the settings.
        let settings = self.settings.lock().unwrap_or_else(|e| e.into_inner()).analysis.clone();
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        let info = state.info.clone().ok_or(gst::FlowError::NotNegotiated)?;
        let State { analyser, analysis, .. } = state;
        analyser.set_settings(settings);
        let faces = meta::faces(buf, info.width(), info.height());
        let names = analysis
            .run(self.obj().upcast_ref(), "Face identification", buf, &info, |view| {
                analyser.frame(view, &faces)
            })?
            // The check failed on this frame (warned about): tracks keep their names.
            .unwrap_or_else(|| analyser.carried(&faces));
        let params = names
            .iter()
            .map(|n| {
                n.map(|n| {
                    let (label, id) = analyser.label(&n);
                    meta::identity_params(label, id, n.similarity, "sface")
                })
            })
            .collect();
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
