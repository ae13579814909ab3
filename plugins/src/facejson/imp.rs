//! facejson: writes the face metadata of every frame as one JSON line.
//!
//! A pure observer: buffers pass through untouched (it runs in passthrough mode and
//! never maps the pixels), so it works on any raw video, NVMM memory included.

use crate::meta;
use faceengine::record::FrameRecord;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::BaseTransformMode;
use gst_base::subclass::prelude::*;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::{LazyLock, Mutex};

static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("facejson", gst::DebugColorFlags::empty(), Some("Face JSON lines")));

const DEFAULT_LOCATION: &str = "-";

struct Settings {
    location: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            location: DEFAULT_LOCATION.into(),
        }
    }
}

struct State {
    out: Box<dyn Write + Send>,
    frame: u64,
    size: Option<(u32, u32)>,
}

#[derive(Default)]
pub struct FaceJson {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

#[glib::object_subclass]
impl ObjectSubclass for FaceJson {
    const NAME: &'static str = "GstFaceJson";
    type Type = super::FaceJson;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for FaceJson {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("location")
                    .nick("Location")
                    .blurb("File to write the JSON lines to (created or truncated), or - for standard output")
                    .default_value(Some(DEFAULT_LOCATION))
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        match pspec.name() {
            "location" => {
                s.location = value
                    .get::<Option<String>>()
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| DEFAULT_LOCATION.into())
            }
            other => gst::warning!(CAT, imp = self, "unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        match pspec.name() {
            "location" => s.location.to_value(),
            _ => pspec.default_value().clone(),
        }
    }
}

impl GstObjectImpl for FaceJson {}

impl ElementImpl for FaceJson {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Face metadata to JSON lines",
                "Sink/Metadata/Video",
                "Writes one JSON line per frame with every face's box, landmarks, track, identity and \
                 emotion; passes buffers through untouched",
                "gst-face developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            // Only metadata is read, so any memory (NVMM included) and any format will do.
            let caps = gst::Caps::builder("video/x-raw").any_features().build();
            vec![
                gst::PadTemplate::new("src", gst::PadDirection::Src, gst::PadPresence::Always, &caps)
                    .expect("valid template"),
                gst::PadTemplate::new("sink", gst::PadDirection::Sink, gst::PadPresence::Always, &caps)
                    .expect("valid template"),
            ]
        });
        TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for FaceJson {
    const MODE: BaseTransformMode = BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = true;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = true;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let location = self.settings.lock().unwrap_or_else(|e| e.into_inner()).location.clone();
        let out: Box<dyn Write + Send> = if location == "-" {
            Box::new(std::io::stdout())
        } else {
            let f = File::create(&location).map_err(|e| {
                gst::error_msg!(
                    gst::ResourceError::OpenWrite,
                    ["Cannot create the file from property 'location' ({location}): {e}"]
                )
            })?;
            Box::new(BufWriter::new(f))
        };
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(State {
            out,
            frame: 0,
            size: None,
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        if let Some(mut st) = self.state.lock().unwrap_or_else(|e| e.into_inner()).take() {
            st.out
                .flush()
                .map_err(|e| gst::error_msg!(gst::ResourceError::Write, ["Cannot write JSON lines: {e}"]))?;
        }
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let s = incaps
            .structure(0)
            .ok_or_else(|| gst::loggable_error!(CAT, "empty caps"))?;
        let size = match (s.get::<i32>("width"), s.get::<i32>("height")) {
            (Ok(w), Ok(h)) if w > 0 && h > 0 => Some((w as u32, h as u32)),
            _ => None,
        };
        if let Some(st) = self.state.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            st.size = size;
        }
        self.parent_set_caps(incaps, outcaps)
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        if let gst::EventView::Eos(_) = event.view()
            && let Some(st) = self.state.lock().unwrap_or_else(|e| e.into_inner()).as_mut()
            && let Err(e) = st.out.flush()
        {
            gst::element_imp_error!(self, gst::ResourceError::Write, ["Cannot write JSON lines: {e}"]);
        }
        self.parent_sink_event(event)
    }

    fn transform_ip_passthrough(&self, buf: &gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let st = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        let (width, height) = st.size.ok_or(gst::FlowError::NotNegotiated)?;
        let record = FrameRecord {
            frame: st.frame,
            pts: buf.pts().map(|t| t.nseconds()),
            width,
            height,
            faces: meta::faces(buf, width, height)
                .iter()
                .map(meta::FaceInfo::to_record)
                .collect(),
        };
        st.frame += 1;
        let mut line = record.to_line();
        line.push('\n');
        if let Err(e) = st.out.write_all(line.as_bytes()) {
            gst::element_imp_error!(self, gst::ResourceError::Write, ["Cannot write JSON lines: {e}"]);
            return Err(gst::FlowError::Error);
        }
        Ok(gst::FlowSuccess::Ok)
    }
}
