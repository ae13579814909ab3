//! facedetect: finds faces with YuNet (default) or MTCNN and attaches one ROI meta per face.
//!
//! ```text
//! gst-launch-1.0 filesrc location=in.mp4 ! decodebin ! videoconvert ! facedetect interval=2 \
//!     ! facejson location=faces.jsonl ! fakesink
//! ```
//!
//! With tracking on (the default) every face also carries its track id, and with
//! `interval=N` the detector runs on every Nth frame only. The policy (the interval, the
//! stale-prediction check, the closer looks, holding missed faces) is the engine's
//! [`DetectionAnalyser`]; this element maps the frame, runs it and writes the metadata.

use crate::backend_props::{self, BackendSettings, Kept};
use crate::{meta, video};
use faceengine::backend::{BackendOptions, Loaded};
use faceengine::detect::Detector;
use faceengine::stream::{DetectionAnalyser, DetectionSettings};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::BaseTransformMode;
use gst_base::subclass::prelude::*;
use gst_video::subclass::prelude::*;
use std::sync::{LazyLock, Mutex};

static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("facedetect", gst::DebugColorFlags::empty(), Some("Face detection")));

#[derive(Debug, Clone)]
struct Settings {
    /// "yunet", "mtcnn" or a model path (see `Detector::load`).
    model: String,
    analysis: DetectionSettings,
    backend: BackendSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            model: DEFAULT_MODEL.into(),
            analysis: DetectionSettings::default(),
            backend: BackendSettings::default(),
        }
    }
}

const DEFAULT_MODEL: &str = "yunet";

struct State {
    analyser: DetectionAnalyser,
    info: Option<gst_video::VideoInfo>,
    analysis: video::Analysis,
}

#[derive(Default)]
pub struct FaceDetect {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    /// The detector loaded for `model` and the backend options, kept across restarts.
    detector: Kept<(String, BackendOptions), (Detector, Loaded)>,
}

#[glib::object_subclass]
impl ObjectSubclass for FaceDetect {
    const NAME: &'static str = "GstFaceDetect";
    type Type = super::FaceDetect;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for FaceDetect {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let a = DetectionSettings::default();
            let d = &a.detector;
            vec![
                glib::ParamSpecString::builder("model")
                    .nick("Model")
                    .blurb(
                        "Detector: \"yunet\" or \"mtcnn\" (the bundled models), or the path of a YuNet \
                         ONNX model, or of an MTCNN P-Net whose file name contains \"pnet\" with its \
                         R-Net and O-Net beside it (same name with \"rnet\" / \"onet\")",
                    )
                    .default_value(Some(DEFAULT_MODEL))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("threshold")
                    .nick("Score threshold")
                    .blurb("Minimum detector confidence for a face")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(d.score_threshold as f64)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("track-threshold")
                    .nick("Track score threshold")
                    .blurb(
                        "Detector confidence at which a face already tracked stays found (through dim \
                         or blurred stretches); new faces still need threshold. With tracking only; \
                         at or above threshold: threshold for all",
                    )
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(a.track_threshold as f64)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("nms-threshold")
                    .nick("NMS threshold")
                    .blurb("IoU above which the weaker of two overlapping faces is dropped")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(d.nms_threshold as f64)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("min-size")
                    .nick("Minimum face size")
                    .blurb("Faces whose longer side is smaller than this many frame pixels are dropped")
                    .default_value(d.min_size as u32)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("max-faces")
                    .nick("Maximum faces")
                    .blurb("Keep at most this many faces per frame, most confident first (0 = no limit)")
                    .default_value(d.max_faces as u32)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("working-size")
                    .nick("Working size")
                    .blurb(
                        "The frame's longer side is scaled down to this many pixels (aspect kept) \
                         before detection; 0 runs at the frame's own size. Larger finds smaller faces, slower",
                    )
                    .default_value(d.working_size)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("recheck-threshold")
                    .nick("Recheck threshold")
                    .blurb(
                        "YuNet only: a small face scoring this or more at working-size, but under \
                         threshold, is looked at again on a crop at up to twice working-size's scale, and \
                         counts with the better look's score, box and landmarks; so is the place where a \
                         tracked small face is expected but none was found. Finds small dim or \
                         half-covered faces without a larger working-size; 1 = off",
                    )
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(d.recheck_threshold as f64)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("tracking")
                    .nick("Tracking")
                    .blurb(
                        "Follow each face from frame to frame and give it a track id (object_id); \
                         needed by interval, and by faceid/faceemotion to work per face rather than per frame",
                    )
                    .default_value(a.tracking)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("interval")
                    .nick("Detection interval")
                    .blurb(
                        "Run the detector on every Nth frame; on the frames between, faces are where \
                         their tracks predict them, unless a predicted box no longer shows its face \
                         (needs tracking; 1 = every frame)",
                    )
                    .minimum(1)
                    .default_value(a.interval)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("keep-lost")
                    .nick("Keep lost faces")
                    .blurb(
                        "Frames a tracked face the detector stops finding is kept: found again in \
                         that time it keeps its track id, and meanwhile it is reported where its track \
                         predicts it for as long as its box still looks like its last detection (a \
                         hand passing, a turn, a dim moment). At least one detection frame whatever \
                         the value; needs tracking",
                    )
                    .default_value(a.keep_lost)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("min-face-size")
                    .nick("MTCNN minimum face size")
                    .blurb(
                        "MTCNN only: the smallest face its image pyramid looks for, in frame pixels \
                         (with working-size, never below 12 working-size pixels). Smaller is slower",
                    )
                    .minimum(1)
                    .default_value(d.min_face_size as u32)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("scale-factor")
                    .nick("MTCNN pyramid scale factor")
                    .blurb("MTCNN only: each pyramid level is this much smaller than the previous one")
                    .minimum(0.1)
                    .maximum(0.95)
                    .default_value(d.scale_factor as f64)
                    .mutable_playing()
                    .build(),
            ]
            .into_iter()
            .chain(backend_props::properties("face detector"))
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
        let a = &mut s.analysis;
        let d = &mut a.detector;
        // GObject has checked each value's type and range against its ParamSpec.
        match pspec.name() {
            "model" => {
                s.model = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .unwrap_or_else(|| DEFAULT_MODEL.into())
            }
            "tracking" => a.tracking = value.get().expect("type checked upstream"),
            "interval" => a.interval = value.get().expect("type checked upstream"),
            "min-face-size" => d.min_face_size = value.get::<u32>().expect("type checked upstream") as f32,
            "scale-factor" => d.scale_factor = value.get::<f64>().expect("type checked upstream") as f32,
            "threshold" => d.score_threshold = value.get::<f64>().expect("type checked upstream") as f32,
            "track-threshold" => a.track_threshold = value.get::<f64>().expect("type checked upstream") as f32,
            "keep-lost" => a.keep_lost = value.get().expect("type checked upstream"),
            "nms-threshold" => d.nms_threshold = value.get::<f64>().expect("type checked upstream") as f32,
            "min-size" => d.min_size = value.get::<u32>().expect("type checked upstream") as f32,
            "max-faces" => d.max_faces = value.get::<u32>().expect("type checked upstream") as usize,
            "working-size" => d.working_size = value.get().expect("type checked upstream"),
            "recheck-threshold" => d.recheck_threshold = value.get::<f64>().expect("type checked upstream") as f32,
            other => unreachable!("facedetect has no property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = s.backend.get(pspec.name()) {
            return v;
        }
        let (a, d) = (&s.analysis, &s.analysis.detector);
        match pspec.name() {
            "model" => s.model.to_value(),
            "tracking" => a.tracking.to_value(),
            "interval" => a.interval.to_value(),
            "min-face-size" => (d.min_face_size as u32).to_value(),
            "scale-factor" => (d.scale_factor as f64).to_value(),
            "threshold" => (d.score_threshold as f64).to_value(),
            "track-threshold" => (a.track_threshold as f64).to_value(),
            "keep-lost" => a.keep_lost.to_value(),
            "nms-threshold" => (d.nms_threshold as f64).to_value(),
            "min-size" => (d.min_size as u32).to_value(),
            "max-faces" => (d.max_faces as u32).to_value(),
            "working-size" => d.working_size.to_value(),
            "recheck-threshold" => (d.recheck_threshold as f64).to_value(),
            other => unreachable!("facedetect has no property {other}"),
        }
    }
}

impl GstObjectImpl for FaceDetect {}

impl ElementImpl for FaceDetect {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Face detector (YuNet, MTCNN)",
                "Filter/Analyzer/Video",
                "Finds faces and attaches a GstVideoRegionOfInterestMeta of type \"face\" with a \
                 \"detection\" structure (score, normalised box, five landmarks) per face",
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

impl BaseTransformImpl for FaceDetect {
    const MODE: BaseTransformMode = BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let (model, options, settings) = {
            let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
            (s.model.clone(), s.backend.options.clone(), s.analysis.clone())
        };
        let (detector, loaded) = self.detector.get_or_load((model.clone(), options.clone()), || {
            Detector::load(&model, &options)
                .map_err(|e| backend_props::load_error("detector model", &model, &options, &e))
        })?;
        let in_use = backend_props::describe(&loaded);
        gst::info!(CAT, imp = self, "loaded {} ({}) on {}", model, detector.name(), in_use);
        self.settings.lock().unwrap_or_else(|e| e.into_inner()).backend.in_use = in_use;
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(State {
            analyser: DetectionAnalyser::new(detector, settings),
            info: None,
            analysis: video::Analysis::default(),
        });
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        // After a seek, or a source that dropped out and came back, the faces are
        // elsewhere: start the tracks afresh (ids keep counting).
        if crate::source::starts_afresh(&event)
            && let Some(state) = self.state.lock().unwrap_or_else(|e| e.into_inner()).as_mut()
        {
            state.analyser.restart();
        }
        self.parent_sink_event(event)
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = None;
        // The chain's streams stop downstream first, so this is the last of our elements
        // to stop: what they all freed goes back to the system (see crate::memory).
        crate::memory::trim();
        Ok(())
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = self.settings.lock().unwrap_or_else(|e| e.into_inner()).analysis.clone();
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        let info = state.info.clone().ok_or(gst::FlowError::NotNegotiated)?;
        let State { analyser, analysis, .. } = state;
        analyser.set_settings(settings);
        let found = analysis
            .run(self.obj().upcast_ref(), "Face detection", buf, &info, |view| {
                analyser.frame(view)
            })?
            // Detection failed on this frame (warned about): the tracks carry the faces.
            .unwrap_or_else(|| analyser.carried());
        gst::trace!(CAT, imp = self, "{} face(s)", found.len());
        for f in &found {
            meta::add_face(
                buf,
                &f.face,
                info.width(),
                info.height(),
                analyser.detector_name(),
                f.track,
            );
        }
        Ok(gst::FlowSuccess::Ok)
    }
}

impl VideoFilterImpl for FaceDetect {
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
