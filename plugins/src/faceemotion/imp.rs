//! faceemotion: classifies each detected face's expression (FER2013 classes).
//!
//! ```text
//! gst-launch-1.0 filesrc location=in.mp4 ! decodebin ! videoconvert ! facedetect \
//!     ! faceemotion labels=happy,sad,neutral ! facejson location=faces.jsonl ! fakesink
//! ```
//!
//! Tracked faces (with an `object_id`) are classified every `interval` frames and their
//! probabilities averaged over about `smoothing` frames; untracked faces are classified
//! on every frame. The policy is the engine's [`EmotionAnalyser`]; this element maps the
//! frame, runs it and writes the `emotion` structures.

use crate::backend_props::{self, BackendSettings, Kept};
use crate::{meta, video};
use faceengine::backend::{BackendOptions, Loaded};
use faceengine::emotion::{EmotionClassifier, FER_LABELS, parse_labels};
use faceengine::stream::{EmotionAnalyser, EmotionSettings};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::BaseTransformMode;
use gst_base::subclass::prelude::*;
use gst_video::subclass::prelude::*;
use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};

static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("faceemotion", gst::DebugColorFlags::empty(), Some("Face emotion")));

#[derive(Debug, Clone)]
struct Settings {
    model: PathBuf,
    labels: String,
    threads: u32,
    analysis: EmotionSettings,
    backend: BackendSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            model: faceengine::default_model(faceengine::emotion::DEFAULT_MODEL),
            labels: String::new(),
            threads: 0,
            analysis: EmotionSettings::default(),
            backend: BackendSettings::default(),
        }
    }
}

struct State {
    analyser: EmotionAnalyser,
    model_name: String,
    info: Option<gst_video::VideoInfo>,
    analysis: video::Analysis,
}

#[derive(Default)]
pub struct FaceEmotion {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    /// The classifier loaded for `model` and the backend options, kept across restarts.
    classifier: Kept<(PathBuf, BackendOptions), (EmotionClassifier, Loaded)>,
}

#[glib::object_subclass]
impl ObjectSubclass for FaceEmotion {
    const NAME: &'static str = "GstFaceEmotion";
    type Type = super::FaceEmotion;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for FaceEmotion {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("model")
                    .nick("Model")
                    .blurb("Path of the emotion ONNX model (input [N,1,S,S] grey in -1..1, S read from the model; output 7 FER2013 probabilities)")
                    .default_value(Some(Settings::default().model.to_string_lossy().as_ref()))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("labels")
                    .nick("Labels")
                    .blurb(&format!(
                        "Comma-separated subset of {} to choose among (probabilities renormalised over it); \
                         empty = all seven",
                        FER_LABELS.join(",")
                    ))
                    .default_value(Some(""))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("smoothing")
                    .nick("Smoothing")
                    .blurb(
                        "Tracked faces: average the probabilities over about this many frames \
                         (1 = report each frame's classification as it is)",
                    )
                    .minimum(1)
                    .default_value(Settings::default().analysis.smoothing)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("interval")
                    .nick("Interval")
                    .blurb("Tracked faces: classify every Nth frame, reporting the smoothed emotion in between")
                    .minimum(1)
                    .default_value(Settings::default().analysis.interval)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("threads")
                    .nick("Threads")
                    .blurb("tract: threads that classify the faces of one frame in parallel (0 = one per CPU)")
                    .default_value(Settings::default().threads)
                    .mutable_ready()
                    .build(),
            ]
            .into_iter()
            .chain(backend_props::properties("emotion model"))
            .collect()
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        if s.backend.set(pspec.name(), value) {
            return;
        }
        // GObject has checked each value's type and range against its ParamSpec.
        let text = || {
            value
                .get::<Option<String>>()
                .expect("type checked upstream")
                .unwrap_or_default()
        };
        match pspec.name() {
            "model" => {
                let t = text();
                s.model = if t.is_empty() {
                    Settings::default().model
                } else {
                    PathBuf::from(t)
                }
            }
            "labels" => s.labels = text(),
            "smoothing" => s.analysis.smoothing = value.get().expect("type checked upstream"),
            "interval" => s.analysis.interval = value.get().expect("type checked upstream"),
            "threads" => s.threads = value.get().expect("type checked upstream"),
            other => unreachable!("faceemotion has no property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = s.backend.get(pspec.name()) {
            return v;
        }
        match pspec.name() {
            "model" => s.model.to_string_lossy().to_value(),
            "labels" => s.labels.to_value(),
            "smoothing" => s.analysis.smoothing.to_value(),
            "interval" => s.analysis.interval.to_value(),
            "threads" => s.threads.to_value(),
            other => unreachable!("faceemotion has no property {other}"),
        }
    }
}

impl GstObjectImpl for FaceEmotion {}

impl ElementImpl for FaceEmotion {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Face emotion classifier",
                "Filter/Analyzer/Video",
                "Adds an \"emotion\" structure (label, confidence, scores over the FER2013 classes or a \
                 chosen subset) to each face found by facedetect",
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

impl BaseTransformImpl for FaceEmotion {
    const MODE: BaseTransformMode = BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let s = self.settings.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let subset = parse_labels(&s.labels).map_err(|e| {
            gst::error_msg!(
                gst::LibraryError::Settings,
                ["Invalid property 'labels' ({:?}): {:#}", s.labels, e]
            )
        })?;
        let (classifier, loaded) = self
            .classifier
            .get_or_load((s.model.clone(), s.backend.options.clone()), || {
                let loaded = backend_props::load_model("emotion model", &s.model, &s.backend.options)?;
                let classifier = EmotionClassifier::new(loaded.model.clone(), &s.model).map_err(|e| {
                    backend_props::load_error("emotion model", &s.model.display(), &s.backend.options, &e)
                })?;
                Ok::<_, gst::ErrorMessage>((classifier, loaded))
            })?;
        let in_use = backend_props::describe(&loaded);
        gst::info!(CAT, imp = self, "loaded {} on {}", s.model.display(), in_use);
        self.settings.lock().unwrap_or_else(|e| e.into_inner()).backend.in_use = in_use;
        let classifier = classifier.with_threads(s.threads as usize);
        let model_name = s
            .model
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(State {
            analyser: EmotionAnalyser::new(classifier, subset, s.analysis),
            model_name,
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
        // A seek or a lost source: the faces after it are new tracks.
        if crate::source::starts_afresh(&event)
            && let Some(state) = self.state.lock().unwrap_or_else(|e| e.into_inner()).as_mut()
        {
            state.analyser.restart();
        }
        self.parent_sink_event(event)
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = self.settings.lock().unwrap_or_else(|e| e.into_inner()).analysis.clone();
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        let info = state.info.clone().ok_or(gst::FlowError::NotNegotiated)?;
        let State {
            analyser,
            analysis,
            model_name,
            ..
        } = state;
        analyser.set_settings(settings);
        let faces = meta::faces(buf, info.width(), info.height());
        let emotions = analysis
            .run(self.obj().upcast_ref(), "Emotion classification", buf, &info, |view| {
                analyser.frame(view, &faces)
            })?
            // Classification failed on this frame (warned about): tracks keep theirs.
            .unwrap_or_else(|| analyser.carried(&faces));
        let params = emotions
            .iter()
            .map(|e| e.as_ref().map(|e| meta::emotion_params(e, model_name)))
            .collect();
        meta::add_params(buf, params);
        Ok(gst::FlowSuccess::Ok)
    }
}

impl VideoFilterImpl for FaceEmotion {
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
