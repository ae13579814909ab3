//! faceemotion: classifies each detected face's expression (FER2013 classes).
//!
//! Tracked faces (with an `object_id`) are classified every `interval` frames and their
//! probabilities averaged over about `smoothing` frames (faceengine::smoothing);
//! untracked faces are classified on every frame as they are.

use crate::backend_props::{self, BackendSettings, Kept};
use crate::{meta, video};
use faceengine::backend::{BackendOptions, Loaded};
use faceengine::emotion::{EmotionClassifier, FER_LABELS, parse_labels};
use faceengine::smoothing::{EmotionSmoother, SmoothingConfig};
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
    smoothing: u32,
    interval: u32,
    threads: u32,
    backend: BackendSettings,
}

impl Default for Settings {
    fn default() -> Self {
        let d = SmoothingConfig::default();
        Self {
            model: faceengine::default_model(faceengine::emotion::DEFAULT_MODEL),
            labels: String::new(),
            smoothing: d.window,
            interval: d.interval,
            threads: 0,
            backend: BackendSettings::default(),
        }
    }
}

impl Settings {
    fn smoothing_config(&self) -> SmoothingConfig {
        SmoothingConfig {
            window: self.smoothing,
            interval: self.interval,
            ..SmoothingConfig::default()
        }
    }
}

struct State {
    classifier: EmotionClassifier,
    subset: Vec<usize>,
    model_name: String,
    smoother: EmotionSmoother,
    frame: u64,
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
                    .default_value(Settings::default().smoothing)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("interval")
                    .nick("Interval")
                    .blurb("Tracked faces: classify every Nth frame, reporting the smoothed emotion in between")
                    .minimum(1)
                    .default_value(Settings::default().interval)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("threads")
                    .nick("Threads")
                    .blurb("tract: threads that classify the faces of one frame in parallel (0 = one per CPU)")
                    .default_value(0)
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
        let text = || value.get::<Option<String>>().ok().flatten().unwrap_or_default();
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
            "smoothing" => s.smoothing = value.get::<u32>().unwrap_or(15).max(1),
            "interval" => s.interval = value.get::<u32>().unwrap_or(3).max(1),
            "threads" => s.threads = value.get::<u32>().unwrap_or(0),
            other => gst::warning!(CAT, imp = self, "unknown property {other}"),
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
            "smoothing" => s.smoothing.to_value(),
            "interval" => s.interval.to_value(),
            "threads" => s.threads.to_value(),
            _ => pspec.default_value().clone(),
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
            classifier,
            subset,
            model_name,
            smoother: EmotionSmoother::new(SmoothingConfig::default()),
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
        // A seek or a lost source: the faces after it are new tracks.
        if crate::source::starts_afresh(&event)
            && let Some(state) = self.state.lock().unwrap_or_else(|e| e.into_inner()).as_mut()
        {
            state.smoother.clear();
        }
        self.parent_sink_event(event)
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let cfg = self
            .settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .smoothing_config();
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        let info = state.info.clone().ok_or(gst::FlowError::NotNegotiated)?;
        state.smoother.set_config(cfg);
        let frame = state.frame;
        state.frame += 1;
        if frame.is_multiple_of(64) {
            state.smoother.forget_old(frame);
        }
        let faces = meta::faces(buf, info.width(), info.height());
        if faces.is_empty() {
            return Ok(gst::FlowSuccess::Ok);
        }
        let mut params = vec![None; faces.len()];
        let mut wanted: Vec<usize> = Vec::new();
        for (i, f) in faces.iter().enumerate() {
            match f.track_id {
                Some(t) if !state.smoother.needs_check(t, frame) => {
                    params[i] = state
                        .smoother
                        .current(t, frame)
                        .map(|e| meta::emotion_params(&e, &state.model_name));
                }
                _ => wanted.push(i),
            }
        }
        if !wanted.is_empty() {
            let boxes: Vec<[f32; 4]> = wanted.iter().map(|&i| faces[i].bbox).collect();
            let element = self.obj();
            let (classifier, subset) = (&state.classifier, &state.subset);
            let found = state
                .analysis
                .run(element.upcast_ref(), "Emotion classification", buf, &info, |view| {
                    classifier.classify(view, &boxes, subset)
                })?;
            for (n, &i) in wanted.iter().enumerate() {
                let track = faces[i].track_id;
                let e = match (found.as_ref().and_then(|all| all.get(n)), track) {
                    (Some(e), Some(t)) => Some(state.smoother.observe(t, frame, e.clone())),
                    (Some(e), None) => Some(e.clone()),
                    // Classification failed on this frame (warned about): keep the track's.
                    (None, Some(t)) => state.smoother.current(t, frame),
                    (None, None) => None,
                };
                params[i] = e.map(|e| meta::emotion_params(&e, &state.model_name));
            }
        }
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
