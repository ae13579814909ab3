//! faceannotate: draws each face's box with its name and emotion.
//!
//! ```text
//! gst-launch-1.0 filesrc location=in.mp4 ! decodebin ! videoconvert ! facedetect \
//!     ! faceid gallery=people/ ! faceemotion ! faceannotate ! videoconvert ! autovideosink
//! ```
//!
//! The drawing is a `GstVideoOverlayComposition` (one small rectangle per face). When
//! downstream says in the allocation query that it renders that meta (e.g. a GL sink)
//! it is attached and the frame itself stays untouched; otherwise it is blended into
//! the frame, as textoverlay does.

use crate::{meta, video};
use faceengine::draw::{FaceLabel, person_colour, render_face};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::BaseTransformMode;
use gst_base::subclass::prelude::*;
use gst_video::subclass::prelude::*;
use std::sync::{LazyLock, Mutex};

static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("faceannotate", gst::DebugColorFlags::empty(), Some("Face annotation")));

#[derive(Debug, Clone, Copy)]
struct Settings {
    show_confidence: bool,
}

#[allow(clippy::derivable_impls)]
impl Default for Settings {
    fn default() -> Self {
        Self { show_confidence: false }
    }
}

#[derive(Default)]
struct State {
    info: Option<gst_video::VideoInfo>,
    /// Whether downstream renders overlay composition metas; asked once per caps.
    attach: Option<bool>,
}

#[derive(Default)]
pub struct FaceAnnotate {
    settings: Mutex<Settings>,
    state: Mutex<State>,
}

#[glib::object_subclass]
impl ObjectSubclass for FaceAnnotate {
    const NAME: &'static str = "GstFaceAnnotate";
    type Type = super::FaceAnnotate;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for FaceAnnotate {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecBoolean::builder("show-confidence")
                    .nick("Show confidence")
                    .blurb("Append the identity similarity and emotion probability to the labels")
                    .default_value(false)
                    .mutable_playing()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        match pspec.name() {
            "show-confidence" => s.show_confidence = value.get().expect("type checked upstream"),
            other => unreachable!("faceannotate has no property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        match pspec.name() {
            "show-confidence" => s.show_confidence.to_value(),
            other => unreachable!("faceannotate has no property {other}"),
        }
    }
}

impl GstObjectImpl for FaceAnnotate {}

impl ElementImpl for FaceAnnotate {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Face annotation overlay",
                "Filter/Effect/Video",
                "Draws each face's box with its name and emotion underneath, one colour per person",
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

impl FaceAnnotate {
    fn downstream_renders_overlays(&self) -> bool {
        let src = self.obj().static_pad("src").expect("basetransform has a src pad");
        let mut q = gst::query::Allocation::new(src.current_caps().as_ref(), false);
        src.peer_query(&mut q)
            && q.find_allocation_meta::<gst_video::VideoOverlayCompositionMeta>()
                .is_some()
    }

    fn label_lines(face: &meta::FaceInfo, show_confidence: bool) -> Vec<String> {
        let mut lines = Vec::new();
        // A face faceredact hid gets its box only: neither a name nor an expression is
        // written over a face that must not be seen.
        if face.redacted {
            return lines;
        }
        if let Some((name, _, sim)) = &face.identity {
            lines.push(if show_confidence {
                format!("{name} {sim:.2}")
            } else {
                name.clone()
            });
        }
        if let Some(e) = &face.emotion {
            lines.push(if show_confidence {
                format!("{} {:.0}%", e.label, e.confidence * 100.0)
            } else {
                e.label.clone()
            });
        }
        lines
    }
}

impl BaseTransformImpl for FaceAnnotate {
    const MODE: BaseTransformMode = BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = State::default();
        Ok(())
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = *self.settings.lock().unwrap_or_else(|e| e.into_inner());
        let (info, attach) = {
            let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            (st.info.clone().ok_or(gst::FlowError::NotNegotiated)?, st.attach)
        };
        let faces = meta::faces(buf, info.width(), info.height());
        if faces.is_empty() {
            return Ok(gst::FlowSuccess::Ok);
        }
        let attach = match attach {
            Some(a) => a,
            None => {
                let a = self.downstream_renders_overlays();
                gst::debug!(CAT, imp = self, "downstream renders overlay metas: {a}");
                self.state.lock().unwrap_or_else(|e| e.into_inner()).attach = Some(a);
                a
            }
        };
        let (w, h) = (info.width() as usize, info.height() as usize);
        let sprites = faces
            .iter()
            .filter_map(|f| {
                let id = f.identity.as_ref().map_or(-1, |(_, id, _)| *id);
                let label = FaceLabel {
                    bbox: f.bbox,
                    colour: person_colour(id),
                    lines: Self::label_lines(f, settings.show_confidence),
                };
                render_face(&label, w, h)
            })
            .collect();
        let Some(comp) = video::composition(sprites) else {
            return Ok(gst::FlowSuccess::Ok);
        };
        if attach {
            gst_video::VideoOverlayCompositionMeta::add(buf, &comp);
        } else {
            let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(buf, &info).map_err(|_| {
                gst::element_imp_error!(self, gst::StreamError::Failed, ["Cannot map the frame for writing"]);
                gst::FlowError::Error
            })?;
            if comp.blend(&mut frame).is_err() {
                gst::warning!(CAT, imp = self, "blending the overlay failed");
            }
        }
        Ok(gst::FlowSuccess::Ok)
    }
}

impl VideoFilterImpl for FaceAnnotate {
    fn set_info(
        &self,
        incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        outcaps: &gst::Caps,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.info = Some(in_info.clone());
        st.attach = None;
        drop(st);
        self.parent_set_info(incaps, in_info, outcaps, out_info)
    }
}
