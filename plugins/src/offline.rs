//! The element chain without the elements: decodes a video file with GStreamer and runs
//! the engine's stream analysers on each frame, as `facedetect ! faceid ! faceemotion !
//! facejson` would, writing the same JSON lines (`face-eval video`).
//!
//! Faces go from one analyser to the next as the metadata carries them
//! ([`StreamFace::carried`]), so the identity and emotion analysers see the boxes the
//! elements would read back from the metas, to the bit.

use crate::video;
use anyhow::{Context, Result, anyhow, bail};
use faceengine::backend::{self, BackendOptions};
use faceengine::detect::Detector;
use faceengine::embed::Embedder;
use faceengine::emotion::{EmotionClassifier, parse_labels};
use faceengine::record::{FrameRecord, Landmarks};
use faceengine::stream::identity::open_gallery;
use faceengine::stream::{
    DetectionAnalyser, DetectionSettings, EmotionAnalyser, EmotionInfo, EmotionSettings, IdentityAnalyser,
    IdentitySettings, StreamFace,
};
use gst::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What the chain runs: facedetect's, faceid's and faceemotion's settings, with the
/// elements' defaults.
#[derive(Debug, Clone)]
pub struct ChainSettings {
    /// facedetect `model`: "yunet", "mtcnn" or a path.
    pub detector: String,
    pub detection: DetectionSettings,
    /// faceid `gallery`; `None`: no faceid in the chain.
    pub gallery: Option<PathBuf>,
    /// faceid `model` and `detector-model`.
    pub identity_model: PathBuf,
    pub gallery_detector_model: PathBuf,
    pub identity: IdentitySettings,
    /// faceemotion's `model`, `labels` and settings; `None`: no faceemotion.
    pub emotion: Option<(PathBuf, String, EmotionSettings)>,
    pub options: BackendOptions,
    /// facejson `landmarks`: whose landmarks the lines carry.
    pub landmarks: Landmarks,
}

impl Default for ChainSettings {
    fn default() -> Self {
        Self {
            detector: "yunet".into(),
            detection: DetectionSettings::default(),
            gallery: None,
            identity_model: faceengine::default_model("sface.onnx"),
            gallery_detector_model: faceengine::default_model("yunet.onnx"),
            identity: IdentitySettings::default(),
            emotion: None,
            options: BackendOptions::default(),
            landmarks: Landmarks::default(),
        }
    }
}

struct Chain {
    detection: DetectionAnalyser,
    identity: Option<IdentityAnalyser>,
    emotion: Option<EmotionAnalyser>,
    landmarks: Landmarks,
}

impl Chain {
    fn load(s: &ChainSettings) -> Result<Self> {
        let (detector, _) = Detector::load(&s.detector, &s.options)
            .with_context(|| format!("cannot use the detector model {:?}", s.detector))?;
        let identity = match &s.gallery {
            None => None,
            Some(path) => {
                let loaded = backend::load_with(&s.identity_model, &s.options)
                    .with_context(|| format!("cannot use the identity model {}", s.identity_model.display()))?;
                let embedder = Embedder::new(loaded.model);
                let gallery = open_gallery(
                    path,
                    &embedder,
                    &s.identity_model,
                    &s.gallery_detector_model,
                    &s.options,
                )
                .with_context(|| format!("cannot use the gallery {}", path.display()))?;
                for sk in &gallery.skipped {
                    eprintln!("gallery image {} skipped: {}", sk.path.display(), sk.reason);
                }
                Some(IdentityAnalyser::new(embedder, gallery, s.identity.clone()))
            }
        };
        let emotion = match &s.emotion {
            None => None,
            Some((model, labels, settings)) => {
                let subset = parse_labels(labels)?;
                let loaded = backend::load_with(model, &s.options)
                    .with_context(|| format!("cannot use the emotion model {}", model.display()))?;
                let classifier = EmotionClassifier::new(loaded.model, model)?;
                Some(EmotionAnalyser::new(classifier, subset, settings.clone()))
            }
        };
        Ok(Self {
            detection: DetectionAnalyser::new(detector, s.detection.clone()),
            identity,
            emotion,
            landmarks: s.landmarks,
        })
    }

    /// The faces of one frame with everything the chain adds; a stage that fails on the
    /// frame is warned about and gives what its tracks carry, as in the elements.
    fn frame(&mut self, view: &faceengine::FrameView, n: u64) -> Vec<StreamFace> {
        let (w, h) = (view.width as u32, view.height as u32);
        let warn = |what: &str, e: anyhow::Error| eprintln!("frame {n}: {what} failed: {e:#}");
        let found = self.detection.frame(view).unwrap_or_else(|e| {
            warn("face detection", e);
            self.detection.carried()
        });
        let mut faces: Vec<StreamFace> = found.iter().map(|f| StreamFace::carried(f, w, h)).collect();
        if let Some(id) = &mut self.identity {
            let names = id.frame(view, &faces).unwrap_or_else(|e| {
                warn("face identification", e);
                id.carried(&faces)
            });
            for (f, name) in faces.iter_mut().zip(names) {
                f.identity = name.map(|name| {
                    let (label, index) = id.label(&name);
                    (label.to_string(), index, name.similarity as f64)
                });
            }
        }
        if let Some(em) = &mut self.emotion {
            let emotions = em.frame(view, &faces).unwrap_or_else(|e| {
                warn("emotion classification", e);
                em.carried(&faces)
            });
            for (f, e) in faces.iter_mut().zip(emotions) {
                f.emotion = e.as_ref().map(EmotionInfo::of);
            }
        }
        faces
    }
}

/// Decodes `video` and writes one JSON line per frame to `out`, as `facejson` does
/// behind the same elements. Returns the number of frames.
pub fn run(video_path: &Path, settings: &ChainSettings, out: &mut dyn Write) -> Result<u64> {
    gst::init()?;
    if !video_path.is_file() {
        bail!("no such video file: {}", video_path.display());
    }
    let mut chain = Chain::load(settings)?;
    let frames = each_frame(video_path, |n, buf, info, view| {
        let faces = chain.frame(view, n);
        let record = FrameRecord {
            source: None,
            frame: n,
            pts: buf.pts().map(|t| t.nseconds()),
            width: info.width(),
            height: info.height(),
            faces: faces.iter().map(|f| f.to_record(chain.landmarks)).collect(),
        };
        writeln!(out, "{}", record.to_line())?;
        Ok(())
    })?;
    out.flush()?;
    Ok(frames)
}

/// Decodes `video` into the formats the elements accept (the one they would negotiate)
/// and hands `f` each frame: its number, buffer, video info and engine view. Returns the
/// number of frames.
pub fn each_frame(
    video_path: &Path,
    mut f: impl FnMut(u64, &gst::BufferRef, &gst_video::VideoInfo, &faceengine::FrameView) -> Result<()>,
) -> Result<u64> {
    gst::init()?;
    if !video_path.is_file() {
        bail!("no such video file: {}", video_path.display());
    }
    let pipeline = gst::Pipeline::new();
    let src = gst::ElementFactory::make("filesrc")
        .property("location", video_path.to_string_lossy().as_ref())
        .build()?;
    let decode = gst::ElementFactory::make("decodebin").build()?;
    let convert = gst::ElementFactory::make("videoconvert").build()?;
    // The formats the elements accept, in their order: the same one is negotiated.
    let sink = gst::ElementFactory::make("appsink")
        .property("caps", video::caps())
        .property("sync", false)
        .build()?;
    pipeline.add_many([&src, &decode, &convert, &sink])?;
    src.link(&decode)?;
    convert.link(&sink)?;
    let convert_sink = convert
        .static_pad("sink")
        .ok_or_else(|| anyhow!("videoconvert has no sink pad"))?;
    decode.connect_pad_added(move |_, pad| {
        let is_video = pad
            .current_caps()
            .and_then(|c| c.structure(0).map(|s| s.name().starts_with("video/")))
            .unwrap_or(false);
        if is_video && !convert_sink.is_linked() {
            let _ = pad.link(&convert_sink);
        }
    });
    let appsink = sink
        .dynamic_cast::<gst_app::AppSink>()
        .map_err(|_| anyhow!("appsink is not an AppSink"))?;
    pipeline.set_state(gst::State::Playing)?;
    let result = pull_frames(&pipeline, &appsink, &mut f);
    let _ = pipeline.set_state(gst::State::Null);
    result
}

fn pull_frames(
    pipeline: &gst::Pipeline,
    appsink: &gst_app::AppSink,
    f: &mut impl FnMut(u64, &gst::BufferRef, &gst_video::VideoInfo, &faceengine::FrameView) -> Result<()>,
) -> Result<u64> {
    let bus = pipeline.bus().ok_or_else(|| anyhow!("pipeline without a bus"))?;
    let mut n = 0u64;
    while let Ok(sample) = appsink.pull_sample() {
        let caps = sample.caps().ok_or_else(|| anyhow!("frame {n} without caps"))?;
        let info = gst_video::VideoInfo::from_caps(caps)?;
        let buf = sample.buffer().ok_or_else(|| anyhow!("frame {n} without a buffer"))?;
        let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buf, &info)
            .map_err(|_| anyhow!("cannot map frame {n}"))?;
        let view = video::frame_view(&frame)?;
        f(n, buf, &info, &view)?;
        n += 1;
    }
    // The stream ended: at its end, or on an error the bus says.
    if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error])
        && let gst::MessageView::Error(e) = msg.view()
    {
        bail!("cannot decode the video: {} ({:?})", e.error(), e.debug());
    }
    Ok(n)
}
