//! faceemotion: classifies each detected face's expression (FER2013 classes).

use crate::{meta, video};
use faceengine::backend::{self, BackendKind};
use faceengine::emotion::{EmotionClassifier, FER_LABELS, parse_labels};
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

const DEFAULT_MODEL: &str = "emotion-minixception.onnx";

#[derive(Debug, Clone)]
struct Settings {
    model: PathBuf,
    labels: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            model: faceengine::default_model(DEFAULT_MODEL),
            labels: String::new(),
        }
    }
}

struct State {
    classifier: EmotionClassifier,
    subset: Vec<usize>,
    model_name: String,
    info: Option<gst_video::VideoInfo>,
    analysis: video::Analysis,
}

#[derive(Default)]
pub struct FaceEmotion {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
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
                    .blurb("Path of the emotion ONNX model (input [N,1,64,64] grey in -1..1, output 7 FER2013 probabilities)")
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
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
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
            other => gst::warning!(CAT, imp = self, "unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        match pspec.name() {
            "model" => s.model.to_string_lossy().to_value(),
            "labels" => s.labels.to_value(),
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
        let classifier = backend::load(&s.model, BackendKind::Tract)
            .map(EmotionClassifier::new)
            .map_err(|e| {
                gst::error_msg!(
                    gst::ResourceError::OpenRead,
                    [
                        "Cannot use the emotion model from property 'model' ({}): {:#}",
                        s.model.display(),
                        e
                    ]
                )
            })?;
        let model_name = s
            .model
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(State {
            classifier,
            subset,
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

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        let info = state.info.clone().ok_or(gst::FlowError::NotNegotiated)?;
        let faces = meta::faces(buf, info.width(), info.height());
        if faces.is_empty() {
            return Ok(gst::FlowSuccess::Ok);
        }
        let boxes: Vec<[f32; 4]> = faces.iter().map(|f| f.bbox).collect();
        let element = self.obj();
        let (classifier, subset) = (&state.classifier, &state.subset);
        let found = state
            .analysis
            .run(element.upcast_ref(), "Emotion classification", buf, &info, |view| {
                classifier.classify(view, &boxes, subset)
            })?;
        if let Some(emotions) = found {
            let params = emotions
                .iter()
                .map(|e| Some(meta::emotion_params(e, &state.model_name)))
                .collect();
            meta::add_params(buf, params);
        }
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
