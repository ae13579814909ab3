//! facejson: writes the face metadata of every frame as one JSON line, and/or face
//! events (a tracked face appeared, was identified, left: `faceengine::events`) as JSON
//! lines and as element messages on the bus.
//!
//! ```text
//! gst-launch-1.0 filesrc location=in.mp4 ! decodebin ! videoconvert ! facedetect \
//!     ! faceid gallery=people/ ! facejson location=events.jsonl mode=events ! fakesink
//! ```
//!
//! A pure observer: buffers pass through untouched (it runs in passthrough mode and
//! never maps the pixels), so it works on any raw video, NVMM memory included.
//!
//! When the stream's source drops out and comes back (the custom events of
//! [`crate::source`], sent by a supervisor such as face-rtsp), every track leaves at the
//! loss and `source-lost` / `source-restored` events are written and posted. With
//! `source` set, every line and message names the camera.

use super::output::{self, BrokerSettings, Output, ProtocolProp};
use crate::meta;
use crate::source::{self, Change};
use faceengine::events::{self, Event, FaceEvents};
use faceengine::record::{FrameRecord, Landmarks};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::BaseTransformMode;
use gst_base::subclass::prelude::*;
use std::sync::{LazyLock, Mutex};

pub(super) static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("facejson", gst::DebugColorFlags::empty(), Some("Face JSON lines")));

const DEFAULT_LOCATION: &str = "-";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstFaceJsonMode")]
pub enum Mode {
    #[default]
    #[enum_value(name = "One line per frame with every face", nick = "frames")]
    Frames = 0,
    #[enum_value(name = "One line per event: appeared, identified, left", nick = "events")]
    Events = 1,
    #[enum_value(name = "Frame lines and event lines, interleaved in stream order", nick = "both")]
    Both = 2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstFaceJsonLandmarks")]
pub enum LandmarksProp {
    #[default]
    #[enum_value(name = "Only of the faces faceid names", nick = "named")]
    Named = 0,
    #[enum_value(name = "Of every face", nick = "all")]
    All = 1,
    #[enum_value(name = "Of no face", nick = "none")]
    None = 2,
}

impl From<LandmarksProp> for Landmarks {
    fn from(l: LandmarksProp) -> Self {
        match l {
            LandmarksProp::Named => Landmarks::Named,
            LandmarksProp::All => Landmarks::All,
            LandmarksProp::None => Landmarks::None,
        }
    }
}

struct Settings {
    location: String,
    mode: Mode,
    leave_after: u32,
    messages: bool,
    source: Option<String>,
    identities: bool,
    landmarks: LandmarksProp,
    broker: BrokerSettings,
    protocol: ProtocolProp,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            location: DEFAULT_LOCATION.into(),
            mode: Mode::default(),
            leave_after: events::DEFAULT_LEAVE_AFTER,
            messages: true,
            source: None,
            identities: true,
            landmarks: LandmarksProp::default(),
            broker: BrokerSettings::default(),
            protocol: ProtocolProp::default(),
        }
    }
}

struct State {
    out: Output,
    frame: u64,
    size: Option<(u32, u32)>,
    events: FaceEvents,
    mode: Mode,
    messages: bool,
    source: Option<String>,
    identities: bool,
    landmarks: Landmarks,
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
                    .blurb(
                        "Where the JSON lines go: a file (created or truncated), - for standard output, \
                         or an MQTT broker: mqtt://[user@]host[:port]/topic or mqtts:// (TLS), the topic \
                         may hold {source} and {event}; read back without its password",
                    )
                    .default_value(Some(DEFAULT_LOCATION))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder::<Mode>("mode")
                    .nick("Mode")
                    .blurb(
                        "What to write: a line per frame, a line per face event (tracked faces: \
                         appeared, identified, left with time in view and emotion shares), or both",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("leave-after")
                    .nick("Leave after")
                    .blurb("Frames a track must be missing before its \"left\" event")
                    .minimum(1)
                    .default_value(events::DEFAULT_LEAVE_AFTER)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("messages")
                    .nick("Messages")
                    .blurb(
                        "Also post each event on the bus as an element message (face-appeared, \
                         face-identified, face-left, face-source-lost, face-source-restored), whatever the mode",
                    )
                    .default_value(true)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("identities")
                    .nick("Identities")
                    .blurb(
                        "Write who each face is: the identity of frame lines, identified events and \
                         the name of left events, also on the bus. false: none of them, for a stream \
                         that must keep only counts and times",
                    )
                    .default_value(Settings::default().identities)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder::<LandmarksProp>("landmarks")
                    .nick("Landmarks")
                    .blurb(
                        "Whose five landmarks frame lines carry: named (only of the faces faceid names; \
                         nothing of a stranger's face is written), all, or none",
                    )
                    .default_value(Settings::default().landmarks)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("mqtt-client-id")
                    .nick("MQTT client id")
                    .blurb("Client id at the broker; unset: gst-face-HOST-SOURCE-PID-N, unique per element")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("mqtt-username")
                    .nick("MQTT user name")
                    .blurb("User name at the broker (overrides the location's)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("mqtt-password")
                    .nick("MQTT password")
                    .blurb(
                        "Password at the broker (overrides the location's; else the environment's \
                         FACE_MQTT_PASSWORD); write-only, never logged",
                    )
                    .write_only()
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("mqtt-ca-file")
                    .nick("MQTT CA file")
                    .blurb("PEM certificates that may sign the broker's (mqtts://); unset: the system's")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("mqtt-cert-file")
                    .nick("MQTT client certificate")
                    .blurb("PEM client certificate for brokers that ask for one (with mqtt-key-file)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("mqtt-key-file")
                    .nick("MQTT client key")
                    .blurb("PEM private key of mqtt-cert-file")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("mqtt-qos")
                    .nick("MQTT QoS")
                    .blurb("0: at most once, 1: at least once (duplicates carry the same event id), 2: exactly once")
                    .maximum(2)
                    .default_value(1)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder::<ProtocolProp>("mqtt-protocol")
                    .nick("MQTT protocol")
                    .blurb("MQTT version to speak: 3.1.1 or 5")
                    .default_value(ProtocolProp::default())
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("spool")
                    .nick("Spool")
                    .blurb(
                        "Directory where messages wait for the broker (kept across runs, sent first \
                         on the next start); unset: $XDG_STATE_HOME/gst-face/spool/SOURCE",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt64::builder("spool-size")
                    .nick("Spool size")
                    .blurb("Bytes the spool may hold; past it the oldest messages are dropped, with a warning")
                    .minimum(4096)
                    .default_value(output::DEFAULT_SPOOL_SIZE)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("linger")
                    .nick("Linger")
                    .blurb(
                        "Seconds the element waits when it stops for the broker to acknowledge what is \
                         spooled (only while connected); the rest goes out on the next start",
                    )
                    .default_value(output::DEFAULT_LINGER)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("source")
                    .nick("Source")
                    .blurb(
                        "Name of the stream's source (e.g. a camera), written as \"source\" in every \
                         line and bus message; unset: none",
                    )
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
                    .expect("type checked upstream")
                    .unwrap_or_else(|| DEFAULT_LOCATION.into())
            }
            "mode" => s.mode = value.get().expect("type checked upstream"),
            "leave-after" => s.leave_after = value.get().expect("type checked upstream"),
            "messages" => s.messages = value.get().expect("type checked upstream"),
            "identities" => s.identities = value.get().expect("type checked upstream"),
            "landmarks" => s.landmarks = value.get().expect("type checked upstream"),
            "source" => {
                s.source = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .filter(|v| !v.is_empty())
            }
            "mqtt-client-id" => s.broker.client_id = optional(value),
            "mqtt-username" => s.broker.username = optional(value),
            "mqtt-password" => s.broker.password = optional(value),
            "mqtt-ca-file" => s.broker.ca_file = optional(value),
            "mqtt-cert-file" => s.broker.cert_file = optional(value),
            "mqtt-key-file" => s.broker.key_file = optional(value),
            "mqtt-qos" => s.broker.qos = value.get().expect("type checked upstream"),
            "mqtt-protocol" => {
                s.protocol = value.get().expect("type checked upstream");
                s.broker.protocol = s.protocol.into();
            }
            "spool" => s.broker.spool = optional(value),
            "spool-size" => s.broker.spool_size = value.get().expect("type checked upstream"),
            "linger" => s.broker.linger = value.get().expect("type checked upstream"),
            other => unreachable!("facejson has no property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        match pspec.name() {
            // A password in a broker URL is never read back.
            "location" => facebroker::redacted(&s.location).to_value(),
            "mode" => s.mode.to_value(),
            "leave-after" => s.leave_after.to_value(),
            "messages" => s.messages.to_value(),
            "identities" => s.identities.to_value(),
            "landmarks" => s.landmarks.to_value(),
            "source" => s.source.to_value(),
            "mqtt-client-id" => s.broker.client_id.to_value(),
            "mqtt-username" => s.broker.username.to_value(),
            "mqtt-ca-file" => s.broker.ca_file.to_value(),
            "mqtt-cert-file" => s.broker.cert_file.to_value(),
            "mqtt-key-file" => s.broker.key_file.to_value(),
            "mqtt-qos" => s.broker.qos.to_value(),
            "mqtt-protocol" => s.protocol.to_value(),
            "spool" => s.broker.spool.to_value(),
            "spool-size" => s.broker.spool_size.to_value(),
            "linger" => s.broker.linger.to_value(),
            other => unreachable!("facejson has no property {other}"),
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
        let (location, mode, leave_after, messages, source, identities, landmarks, broker) = {
            let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
            (
                s.location.clone(),
                s.mode,
                s.leave_after,
                s.messages,
                s.source.clone(),
                s.identities,
                s.landmarks.into(),
                s.broker.clone(),
            )
        };
        let out = Output::open(self.obj().upcast_ref(), &location, source.as_deref(), &broker)?;
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(State {
            out,
            frame: 0,
            size: None,
            events: FaceEvents::new(leave_after)
                .with_source(source.clone())
                .with_identities(identities)
                .with_stamps(true),
            mode,
            messages,
            source,
            identities,
            landmarks,
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        if let Some(mut st) = self.state.lock().unwrap_or_else(|e| e.into_inner()).take() {
            // Stopped without an end of stream: the faces still in view leave now.
            let left = st.events.finish();
            write_events(&mut st, &left)
                .map_err(|e| gst::error_msg!(gst::ResourceError::Write, ["Cannot write JSON lines: {e}"]))?;
            self.post(st.messages, &left);
            st.out
                .close(self.obj().upcast_ref())
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
        // End of stream, or a seek (the faces after it are other visits): every face in
        // view leaves. A lost source: they leave too, and the loss is an event.
        let lost = match source::change(&event) {
            Some(Change::Lost { reason }) => Some(reason),
            _ => None,
        };
        if lost.is_some() || matches!(event.view(), gst::EventView::Eos(_) | gst::EventView::FlushStop(_)) {
            let finished = self.state.lock().unwrap_or_else(|e| e.into_inner()).as_mut().map(|st| {
                let left = match &lost {
                    Some(reason) => st.events.source_lost(reason),
                    None => st.events.finish(),
                };
                let written = write_events(st, &left).and_then(|_| st.out.flush());
                (written, st.messages, left)
            });
            // The state lock is released: the messages and any error go out without it.
            match finished {
                Some((Err(e), ..)) => {
                    gst::element_imp_error!(self, gst::ResourceError::Write, ["Cannot write JSON lines: {e}"]);
                }
                Some((Ok(()), messages, left)) => self.post(messages, &left),
                None => {}
            }
        }
        self.parent_sink_event(event)
    }

    fn transform_ip_passthrough(&self, buf: &gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        let (written, messages, happened) = self.record(buf)?;
        // Posted after the state lock is released: a synchronous bus handler may call
        // back into the element (stop it, for one) without deadlocking.
        if let Err(e) = written {
            gst::element_imp_error!(self, gst::ResourceError::Write, ["Cannot write JSON lines: {e}"]);
            return Err(gst::FlowError::Error);
        }
        self.post(messages, &happened);
        Ok(gst::FlowSuccess::Ok)
    }
}

impl FaceJson {
    /// Writes the frame's line (unless mode=events) and the events it causes; returns the
    /// outcome of the writing, whether to post messages, and the events.
    fn record(&self, buf: &gst::Buffer) -> Result<(std::io::Result<()>, bool, Vec<Event>), gst::FlowError> {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let st = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        let (width, height) = st.size.ok_or(gst::FlowError::NotNegotiated)?;
        let record = FrameRecord {
            source: st.source.clone(),
            frame: st.frame,
            pts: buf.pts().map(|t| t.nseconds()),
            width,
            height,
            faces: meta::faces(buf, width, height)
                .iter()
                .map(|f| {
                    let mut r = f.to_record(st.landmarks);
                    // Who a face is never leaves this element when identities are off.
                    if !st.identities {
                        r.identity = None;
                    }
                    r
                })
                .collect(),
        };
        st.frame += 1;
        let happened = st.events.frame(record.frame, record.pts, &record.faces);
        let written = if st.mode == Mode::Events {
            Ok(())
        } else {
            st.out.line("frame", record.to_line())
        };
        let written = written.and_then(|_| write_events(st, &happened));
        // Events are few and someone may be waiting for them (tail -f, a log shipper):
        // they leave the buffer at once. Frame lines stay buffered.
        let written = match (written, happened.is_empty() || st.mode == Mode::Frames) {
            (Ok(()), false) => st.out.flush(),
            (w, _) => w,
        };
        Ok((written, st.messages, happened))
    }

    /// Posts the events on the bus (property `messages`); call without the state lock.
    fn post(&self, messages: bool, happened: &[Event]) {
        if !messages {
            return;
        }
        for event in happened {
            let _ = self
                .obj()
                .post_message(gst::message::Element::builder(message(event)).src(&*self.obj()).build());
        }
    }
}

/// Writes the events as lines (modes events and both).
fn write_events(st: &mut State, happened: &[Event]) -> std::io::Result<()> {
    if st.mode == Mode::Frames {
        return Ok(());
    }
    for event in happened {
        st.out.line(event.kind(), event.to_line())?;
    }
    Ok(())
}

/// The bus message for an event: structure `face-appeared`, `face-identified`,
/// `face-left`, `face-source-lost` or `face-source-restored`, with the event's fields
/// (dashes for underscores) and the JSON line.
fn message(event: &Event) -> gst::Structure {
    let mut s = gst::Structure::builder(format!("face-{}", event.kind()))
        .field("json", event.to_line())
        .build();
    if let Some(id) = event.id() {
        s.set("id", id);
    }
    if let Some(track) = event.track_id() {
        s.set("track-id", track);
    }
    if let Some(source) = &event.at().source {
        s.set("source", source);
    }
    let mut when = |at: &events::When| {
        s.set("frame", at.frame);
        if let Some(pts) = at.pts {
            s.set("pts", gst::ClockTime::from_nseconds(pts));
        }
    };
    match event {
        Event::Appeared { at, bbox, .. } => {
            when(at);
            s.set("x", bbox[0]);
            s.set("y", bbox[1]);
            s.set("width", bbox[2]);
            s.set("height", bbox[3]);
        }
        Event::Identified {
            at, name, similarity, ..
        } => {
            when(at);
            s.set("name", name);
            s.set("similarity", similarity);
        }
        Event::Left {
            at,
            duration,
            frames,
            name,
            emotions,
            reason,
            ..
        } => {
            when(at);
            if let Some(name) = name {
                s.set("name", name);
            }
            s.set("frames", frames);
            if let Some(d) = duration {
                s.set("duration", d);
            }
            let mut shares = gst::Structure::new_empty("emotions");
            for (label, share) in emotions {
                shares.set(label.as_str(), share);
            }
            s.set("emotions", shares);
            s.set("reason", *reason);
        }
        Event::SourceLost { at, reason } => {
            when(at);
            s.set("reason", reason);
        }
        Event::SourceRestored { at, lost_for } => {
            when(at);
            if let Some(d) = lost_for {
                s.set("lost-for", d);
            }
        }
    }
    s
}

fn optional(value: &glib::Value) -> Option<String> {
    value
        .get::<Option<String>>()
        .expect("type checked upstream")
        .filter(|v| !v.is_empty())
}
