//! facedetect: finds faces with YuNet (default) or MTCNN and attaches one ROI meta per face.
//!
//! With tracking on (the default) every face also carries its track id, and with
//! `interval=N` the detector runs on every Nth frame only: on the frames between, the
//! faces are where their tracks predict them. On those frames only a 16x16 thumbnail
//! of each predicted box is read: when one no longer looks like the face it follows (a
//! cut, a face that jumped), the detector runs on that frame after all, so that no
//! element downstream embeds, classifies or draws a box in a stale place.
//!
//! With YuNet, a small face that scores too little at the working size to start a
//! track gets a second look on a crop at twice the scale (`recheck-threshold`): a dim
//! or half-covered face in a back row scores far higher at 60 pixels than at 30. So
//! does the place where a tracked face should be when the working size shows none
//! there at all.
//!
//! A tracked face the detector misses is kept for `keep-lost` frames, and reported
//! where its track predicts it for as long as that box still looks like its last
//! detection: a hand passing in front of it or a dim moment does not make its box, name
//! and emotion blink out of the metadata while the face is still there.

use crate::backend_props::{self, BackendSettings, Kept};
use crate::{meta, video};
use faceengine::backend::{BackendOptions, Loaded};
use faceengine::detect::{Detector, DetectorConfig, Face};
use faceengine::track::{Appearance, Tracked, Tracker, TrackerConfig};
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
    config: DetectorConfig,
    tracking: bool,
    interval: u32,
    /// Score at which a detection continues a track (new faces need the threshold).
    track_threshold: f32,
    /// Frames a track is kept after its face's last detection.
    keep_lost: u32,
    backend: BackendSettings,
}

/// What the face's metadata says of its track.
fn mark(t: &Tracked) -> meta::TrackMark {
    meta::TrackMark {
        id: t.id,
        detected: t.detected,
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            model: "yunet".into(),
            config: DetectorConfig::default(),
            tracking: true,
            // Every other frame: the tracker carries faces over one frame with little
            // error, and detection is the largest cost left once identity is per track.
            interval: 2,
            track_threshold: 0.5,
            keep_lost: TrackerConfig::default().max_lost,
            backend: BackendSettings::default(),
        }
    }
}

struct State {
    detector: Detector,
    tracker: Tracker,
    /// Frames since start, for the detection interval.
    frame: u64,
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
            let d = DetectorConfig::default();
            vec![
                glib::ParamSpecString::builder("model")
                    .nick("Model")
                    .blurb(
                        "Detector: \"yunet\" or \"mtcnn\" (the bundled models), or the path of a YuNet \
                         ONNX model, or of an MTCNN P-Net whose file name contains \"pnet\" with its \
                         R-Net and O-Net beside it (same name with \"rnet\" / \"onet\")",
                    )
                    .default_value(Some("yunet"))
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
                    .default_value(Settings::default().track_threshold as f64)
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
                    .default_value(0)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("max-faces")
                    .nick("Maximum faces")
                    .blurb("Keep at most this many faces per frame, most confident first (0 = no limit)")
                    .default_value(0)
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
                    .default_value(true)
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
                    .default_value(Settings::default().interval)
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
                    .default_value(Settings::default().keep_lost)
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
        let mut s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        if s.backend.set(pspec.name(), value) {
            return;
        }
        match pspec.name() {
            "model" => {
                s.model = value
                    .get::<Option<String>>()
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| Settings::default().model)
            }
            "tracking" => s.tracking = value.get::<bool>().unwrap_or(true),
            "interval" => s.interval = value.get::<u32>().unwrap_or(2).max(1),
            "min-face-size" => s.config.min_face_size = value.get::<u32>().unwrap_or(20) as f32,
            "scale-factor" => s.config.scale_factor = value.get::<f64>().unwrap_or(0.709) as f32,
            "threshold" => s.config.score_threshold = value.get::<f64>().unwrap_or(0.8) as f32,
            "track-threshold" => s.track_threshold = value.get::<f64>().unwrap_or(0.5) as f32,
            "keep-lost" => s.keep_lost = value.get::<u32>().unwrap_or(Settings::default().keep_lost),
            "nms-threshold" => s.config.nms_threshold = value.get::<f64>().unwrap_or(0.3) as f32,
            "min-size" => s.config.min_size = value.get::<u32>().unwrap_or(0) as f32,
            "max-faces" => s.config.max_faces = value.get::<u32>().unwrap_or(0) as usize,
            "working-size" => s.config.working_size = value.get::<u32>().unwrap_or(640),
            "recheck-threshold" => s.config.recheck_threshold = value.get::<f64>().unwrap_or(0.3) as f32,
            other => gst::warning!(CAT, imp = self, "unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = s.backend.get(pspec.name()) {
            return v;
        }
        match pspec.name() {
            "model" => s.model.to_value(),
            "tracking" => s.tracking.to_value(),
            "interval" => s.interval.to_value(),
            "min-face-size" => (s.config.min_face_size as u32).to_value(),
            "scale-factor" => (s.config.scale_factor as f64).to_value(),
            "threshold" => (s.config.score_threshold as f64).to_value(),
            "track-threshold" => (s.track_threshold as f64).to_value(),
            "keep-lost" => s.keep_lost.to_value(),
            "nms-threshold" => (s.config.nms_threshold as f64).to_value(),
            "min-size" => (s.config.min_size as u32).to_value(),
            "max-faces" => (s.config.max_faces as u32).to_value(),
            "working-size" => s.config.working_size.to_value(),
            "recheck-threshold" => (s.config.recheck_threshold as f64).to_value(),
            _ => pspec.default_value().clone(),
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
        let (model, options) = {
            let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
            (s.model.clone(), s.backend.options.clone())
        };
        let (detector, loaded) = self.detector.get_or_load((model.clone(), options.clone()), || {
            Detector::load(&model, &options)
                .map_err(|e| backend_props::load_error("detector model", &model, &options, &e))
        })?;
        let in_use = backend_props::describe(&loaded);
        gst::info!(CAT, imp = self, "loaded {} ({}) on {}", model, detector.name(), in_use);
        self.settings.lock().unwrap_or_else(|e| e.into_inner()).backend.in_use = in_use;
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(State {
            detector,
            tracker: Tracker::new(TrackerConfig::default()),
            frame: 0,
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
            state.tracker.clear();
            state.frame = 0;
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
        let (mut config, tracking, interval, track_threshold, keep_lost) = {
            let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
            (
                s.config.clone(),
                s.tracking,
                s.interval as u64,
                s.track_threshold,
                s.keep_lost,
            )
        };
        let new_track_score = config.score_threshold;
        if tracking {
            // The detector reports the weaker faces too; the tracker keeps those only
            // where they continue a track.
            config.score_threshold = config.score_threshold.min(track_threshold);
        }
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        let info = state.info.clone().ok_or(gst::FlowError::NotNegotiated)?;
        state.tracker.set_new_track_score(new_track_score);
        state.tracker.set_max_lost(keep_lost);
        state.tracker.set_overlap_limit(config.nms_threshold);
        let (w, h) = (info.width(), info.height());
        let mut detect_now = !tracking || state.frame.is_multiple_of(interval);
        state.frame += 1;
        let name = state.detector.name();
        if !detect_now {
            let tracker = &mut state.tracker;
            detect_now = state
                .analysis
                .run(self.obj().upcast_ref(), "Face tracking", buf, &info, |view| {
                    Ok(tracker.prediction_is_stale(view))
                })?
                .unwrap_or(false);
        }
        if !detect_now {
            for t in state.tracker.predict() {
                meta::add_face(buf, &t.face, w, h, name, Some(mark(&t)));
            }
            return Ok(gst::FlowSuccess::Ok);
        }
        let element = self.obj();
        // A small face under the score a new track needs gets a closer look, even where
        // it would continue a track with what it has: the closer look's landmarks align
        // it better for faceid (hard classroom video: 0.929 with 28 label changes a
        // minute, 0.920 with 44 when faces continuing a track were not looked at again).
        // Looking again at every small face was slower and no better (0.926).
        let needs_recheck = |f: &Face| f.score < new_track_score;
        // Where a followed face should be but the working size shows none, YuNet looks
        // closer too: a face half behind a hand or a cup stays found.
        let expected = if tracking {
            state.tracker.expected_boxes()
        } else {
            Vec::new()
        };
        let State {
            detector,
            tracker,
            analysis,
            ..
        } = &mut *state;
        let found = analysis.run(element.upcast_ref(), "Face detection", buf, &info, |view| {
            let faces = detector.detect_rechecking(view, &config, needs_recheck, &expected)?;
            if !tracking {
                return Ok(faces.into_iter().map(|f| (f, None)).collect::<Vec<_>>());
            }
            // The tracker tells a cut from motion by what the box looks like.
            let looks = faces.iter().map(|f| Some(Appearance::of(view, &f.bbox))).collect();
            let mut tracked = tracker.update_with_appearance(faces, looks);
            // A face the detector missed but whose place still shows it stays reported.
            tracked.extend(tracker.hold_missed(view));
            Ok(tracked
                .into_iter()
                .map(|t| {
                    let track = mark(&t);
                    (t.face, Some(track))
                })
                .collect())
        })?;
        match found {
            Some(faces) => {
                gst::trace!(CAT, imp = self, "{} face(s)", faces.len());
                for (face, id) in &faces {
                    meta::add_face(buf, face, w, h, name, *id);
                }
            }
            // Detection failed on this frame (warned about): the tracks carry the faces.
            None if tracking => {
                for t in state.tracker.predict() {
                    meta::add_face(buf, &t.face, w, h, name, Some(mark(&t)));
                }
            }
            None => {}
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
