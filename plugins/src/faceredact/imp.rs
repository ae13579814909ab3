//! faceredact: hides the faces that must not be seen, in the frame itself.
//!
//! ```text
//! gst-launch-1.0 filesrc location=in.mp4 ! decodebin ! videoconvert ! facedetect \
//!     ! faceid gallery=people/ ! faceredact who=unknown ! videoconvert ! x264enc ! mp4mux \
//!     ! filesink location=out.mp4
//! ```
//!
//! Placed after `faceid` (and before `faceannotate`, whose labels would otherwise sit on
//! a hidden face). Which faces are hidden, and for how long a face that vanished stays
//! hidden, is the engine's [`RedactionAnalyser`]; this element reads the faces' metas,
//! runs it and hides its regions in place, so no unredacted copy of the frame leaves it.

use crate::{meta, video};
use faceengine::stream::redaction::Method;
use faceengine::stream::{RedactionAnalyser, RedactionSettings, Who};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::BaseTransformMode;
use gst_base::subclass::prelude::*;
use gst_video::subclass::prelude::*;
use std::sync::{LazyLock, Mutex};

static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("faceredact", gst::DebugColorFlags::empty(), Some("Face redaction")));

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstFaceRedactMethod")]
pub enum MethodProp {
    #[default]
    #[enum_value(name = "Blur strong enough that the face cannot be recognised", nick = "blur")]
    Blur = 0,
    #[enum_value(name = "Coarse blocks, four across the face", nick = "pixelate")]
    Pixelate = 1,
    #[enum_value(name = "A black box", nick = "fill")]
    Fill = 2,
}

impl From<MethodProp> for Method {
    fn from(m: MethodProp) -> Self {
        match m {
            MethodProp::Blur => Method::Blur,
            MethodProp::Pixelate => Method::Pixelate,
            MethodProp::Fill => Method::Fill,
        }
    }
}

impl From<Method> for MethodProp {
    fn from(m: Method) -> Self {
        match m {
            Method::Blur => MethodProp::Blur,
            Method::Pixelate => MethodProp::Pixelate,
            Method::Fill => MethodProp::Fill,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstFaceRedactWho")]
pub enum WhoProp {
    #[default]
    #[enum_value(name = "Everyone faceid does not name (and the names in hide)", nick = "unknown")]
    Unknown = 0,
    #[enum_value(name = "Every face", nick = "all")]
    All = 1,
    #[enum_value(name = "The people faceid names; strangers stay visible", nick = "known")]
    Known = 2,
    #[enum_value(name = "Only the names in hide", nick = "listed")]
    Listed = 3,
}

impl From<WhoProp> for Who {
    fn from(w: WhoProp) -> Self {
        match w {
            WhoProp::Unknown => Who::Unknown,
            WhoProp::All => Who::All,
            WhoProp::Known => Who::Known,
            WhoProp::Listed => Who::Listed,
        }
    }
}

impl From<Who> for WhoProp {
    fn from(w: Who) -> Self {
        match w {
            Who::Unknown => WhoProp::Unknown,
            Who::All => WhoProp::All,
            Who::Known => WhoProp::Known,
            Who::Listed => WhoProp::Listed,
        }
    }
}

/// "Ada, Bob" as its names; empty parts are dropped.
fn names(list: Option<String>) -> Vec<String> {
    list.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect()
}

fn joined(names: &[String]) -> Option<String> {
    (!names.is_empty()).then(|| names.join(","))
}

#[derive(Default)]
struct State {
    analyser: RedactionAnalyser,
    info: Option<gst_video::VideoInfo>,
}

#[derive(Default)]
pub struct FaceRedact {
    settings: Mutex<RedactionSettings>,
    state: Mutex<State>,
}

#[glib::object_subclass]
impl ObjectSubclass for FaceRedact {
    const NAME: &'static str = "GstFaceRedact";
    type Type = super::FaceRedact;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for FaceRedact {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let d = RedactionSettings::default();
            vec![
                glib::ParamSpecEnum::builder::<MethodProp>("method")
                    .nick("Method")
                    .blurb("How a face is hidden: blur, pixelate or fill")
                    .default_value(d.method.into())
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder::<WhoProp>("who")
                    .nick("Who")
                    .blurb(
                        "Whose faces are hidden: unknown (everyone faceid does not name), all, known \
                         (the named; strangers show) or listed (only the names in hide). A face whose \
                         name has not settled is hidden in every mode",
                    )
                    .default_value(d.who.into())
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("hide")
                    .nick("Hide")
                    .blurb("Comma-separated gallery names that are always hidden (with who=listed: the only ones)")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("show")
                    .nick("Show")
                    .blurb("Comma-separated gallery names: when set, the only people who may show")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("margin")
                    .nick("Margin")
                    .blurb("Added on each side of a face's box, as a fraction of its size (hair, ears, a turned head)")
                    .minimum(0.0)
                    .maximum(2.0)
                    .default_value(d.margin as f64)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("hold")
                    .nick("Hold")
                    .blurb(
                        "Frames a hidden face stays hidden at its last place after it vanished from the \
                         metadata (the detector missed it, or failed), its margin growing",
                    )
                    .default_value(d.hold)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("settle")
                    .nick("Settle")
                    .blurb(
                        "Frames in a row faceid must call a tracked face unknown before it shows as a \
                         stranger (who=known or listed); a named face shows once faceid names it",
                    )
                    .minimum(1)
                    .default_value(d.settle)
                    .mutable_playing()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        // GObject has checked each value's type and range against its ParamSpec.
        match pspec.name() {
            "method" => s.method = value.get::<MethodProp>().expect("type checked upstream").into(),
            "who" => s.who = value.get::<WhoProp>().expect("type checked upstream").into(),
            "hide" => s.hide = names(value.get().expect("type checked upstream")),
            "show" => s.show = names(value.get().expect("type checked upstream")),
            "margin" => s.margin = value.get::<f64>().expect("type checked upstream") as f32,
            "hold" => s.hold = value.get().expect("type checked upstream"),
            "settle" => s.settle = value.get().expect("type checked upstream"),
            other => unreachable!("faceredact has no property {other}"),
        }
        gst::debug!(CAT, imp = self, "{} = {:?}", pspec.name(), value);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        match pspec.name() {
            "method" => MethodProp::from(s.method).to_value(),
            "who" => WhoProp::from(s.who).to_value(),
            "hide" => joined(&s.hide).to_value(),
            "show" => joined(&s.show).to_value(),
            "margin" => (s.margin as f64).to_value(),
            "hold" => s.hold.to_value(),
            "settle" => s.settle.to_value(),
            other => unreachable!("faceredact has no property {other}"),
        }
    }
}

impl GstObjectImpl for FaceRedact {}

impl ElementImpl for FaceRedact {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Face redaction",
                "Filter/Effect/Video",
                "Blurs, pixelates or fills the faces that must not be seen, and keeps a face hidden \
                 where its track says it is while the detector misses it",
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

impl BaseTransformImpl for FaceRedact {
    const MODE: BaseTransformMode = BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = State::default();
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        // After a seek the faces are elsewhere; a source that dropped out and came back
        // is held like a detector that failed, so nothing is cleared then.
        if let gst::EventView::FlushStop(_) = event.view() {
            self.state.lock().unwrap_or_else(|e| e.into_inner()).analyser.restart();
        }
        self.parent_sink_event(event)
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        // Settings, then state: no code path holds the state while taking the settings.
        let settings = self.settings.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let info = state.info.clone().ok_or(gst::FlowError::NotNegotiated)?;
        let method = settings.method;
        state.analyser.set_settings(settings);
        let faces = meta::faces(buf, info.width(), info.height());
        let redaction = state.analyser.frame(&faces);
        drop(state);
        let regions = &redaction.regions;
        if regions.is_empty() {
            return Ok(gst::FlowSuccess::Ok);
        }
        meta::add_params(
            buf,
            redaction
                .hidden
                .iter()
                .map(|&h| h.then(meta::redaction_params))
                .collect(),
        );
        gst::trace!(CAT, imp = self, "hiding {} region(s)", regions.len());
        // Failing to hide is an error, not a warning: passing the frame on would show
        // the faces this element is there to hide.
        let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(buf, &info).map_err(|_| {
            gst::element_imp_error!(self, gst::StreamError::Failed, ["Cannot map the frame for writing"]);
            gst::FlowError::Error
        })?;
        let mut pixels = video::frame_mut(&mut frame).map_err(|e| {
            gst::element_imp_error!(
                self,
                gst::StreamError::Failed,
                ["Cannot hide faces in this frame: {e:#}"]
            );
            gst::FlowError::Error
        })?;
        for r in regions {
            pixels.hide_except(r.rect, method, r.face_width, &redaction.keep);
        }
        Ok(gst::FlowSuccess::Ok)
    }
}

impl VideoFilterImpl for FaceRedact {
    fn set_info(
        &self,
        incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        outcaps: &gst::Caps,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).info = Some(in_info.clone());
        self.parent_set_info(incaps, in_info, outcaps, out_info)
    }
}
