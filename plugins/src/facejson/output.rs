//! Where facejson's lines go: a file, standard output, or an MQTT broker (through
//! `facebroker`'s publisher: spooled on disk, sent in order, never blocking the stream).

use facebroker::{Names, Notice, Options, Protocol, Publisher, SpoolSettings};
use gst::glib;
use gst::prelude::*;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// The broker settings of the element, as its properties hold them.
#[derive(Debug, Clone)]
pub struct BrokerSettings {
    pub client_id: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub qos: u32,
    pub protocol: Protocol,
    pub spool: Option<String>,
    pub spool_size: u64,
    pub linger: u32,
}

pub const DEFAULT_SPOOL_SIZE: u64 = 64 << 20;
pub const DEFAULT_LINGER: u32 = 5;

impl Default for BrokerSettings {
    fn default() -> Self {
        Self {
            client_id: None,
            username: None,
            password: None,
            ca_file: None,
            cert_file: None,
            key_file: None,
            qos: 1,
            protocol: Protocol::V311,
            spool: None,
            spool_size: DEFAULT_SPOOL_SIZE,
            linger: DEFAULT_LINGER,
        }
    }
}

const NAMES: Names = Names {
    location: "location",
    username: "mqtt-username",
    password: "mqtt-password",
    ca_file: "mqtt-ca-file",
    cert_file: "mqtt-cert-file",
    key_file: "mqtt-key-file",
};

pub enum Output {
    Lines(Box<dyn Write + Send>),
    Broker { publisher: Publisher, linger: Duration },
}

impl Output {
    /// Opens `location` for `element`; errors name the property to fix.
    pub fn open(
        element: &gst::Element,
        location: &str,
        source: Option<&str>,
        b: &BrokerSettings,
    ) -> Result<Self, gst::ErrorMessage> {
        if location == "-" {
            return Ok(Self::Lines(Box::new(std::io::stdout())));
        }
        if !facebroker::is_broker(location) {
            let f = std::fs::File::create(location).map_err(|e| {
                gst::error_msg!(
                    gst::ResourceError::OpenWrite,
                    ["Cannot create the file from property 'location' ({location}): {e}"]
                )
            })?;
            return Ok(Self::Lines(Box::new(std::io::BufWriter::new(f))));
        }
        let settings = |e: String| gst::error_msg!(gst::ResourceError::Settings, ["facejson: {e}"]);
        let source_name = source.unwrap_or("default");
        let mut o = Options::new(location, NAMES).map_err(settings)?;
        o.client_id = b.client_id.clone().unwrap_or_else(|| default_client_id(source_name));
        o.username = b.username.clone();
        o.password = b
            .password
            .clone()
            .or_else(|| std::env::var("FACE_MQTT_PASSWORD").ok().filter(|p| !p.is_empty()));
        o.qos = b.qos as u8;
        o.protocol = b.protocol;
        o.tls = facebroker::tls::TlsFiles {
            ca_file: b.ca_file.clone(),
            cert_file: b.cert_file.clone(),
            key_file: b.key_file.clone(),
        };
        let o = o.check().map_err(settings)?;
        let dir = match &b.spool {
            Some(d) => PathBuf::from(d),
            None => default_spool_dir(source_name),
        };
        let spool = SpoolSettings {
            dir: dir.clone(),
            limit: b.spool_size,
        };
        let weak = element.downgrade();
        let notify = Box::new(move |n: Notice| {
            if let Some(e) = weak.upgrade() {
                tell(&e, n);
            }
        });
        let publisher = Publisher::start(o, spool, source_name, notify).map_err(|e| {
            gst::error_msg!(
                gst::ResourceError::OpenWrite,
                ["facejson: property 'spool' ({}): {e}", dir.display()]
            )
        })?;
        Ok(Self::Broker {
            publisher,
            linger: Duration::from_secs(u64::from(b.linger)),
        })
    }

    /// One line (no newline) of kind `kind`: an event's kind, or "frame".
    pub fn line(&mut self, kind: &str, line: String) -> std::io::Result<()> {
        match self {
            Self::Lines(w) => {
                w.write_all(line.as_bytes())?;
                w.write_all(b"\n")
            }
            Self::Broker { publisher, .. } => {
                publisher.publish(kind, line);
                Ok(())
            }
        }
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Lines(w) => w.flush(),
            Self::Broker { .. } => Ok(()),
        }
    }

    /// Ends the output: a broker gets up to `linger` to acknowledge what is spooled.
    pub fn close(self, element: &gst::Element) -> std::io::Result<()> {
        match self {
            Self::Lines(mut w) => w.flush(),
            Self::Broker { publisher, linger } => {
                let s = publisher.stop(linger);
                if s.waiting > 0 {
                    gst::warning!(
                        super::imp::CAT,
                        obj = element,
                        "{} messages stay in the spool for the next start ({} delivered)",
                        s.waiting,
                        s.delivered
                    );
                } else {
                    gst::info!(super::imp::CAT, obj = element, "{} messages delivered", s.delivered);
                }
                Ok(())
            }
        }
    }
}

/// A notice of the publisher as the bus carries it: a `face-broker` element message
/// for every change of connection, a warning while the broker is away or when messages
/// had to be dropped, an error when the broker refuses us.
fn tell(e: &gst::Element, n: Notice) {
    let msg = |state: &str| gst::Structure::builder("face-broker").field("state", state);
    match n {
        Notice::Connected { broker, waiting } => {
            gst::info!(
                super::imp::CAT,
                obj = e,
                "connected to {broker}; {waiting} spooled messages go first"
            );
            let s = msg("connected")
                .field("broker", broker)
                .field("waiting", waiting)
                .build();
            let _ = e.post_message(gst::message::Element::builder(s).src(e).build());
        }
        Notice::Away { reason, waiting } => {
            gst::element_warning!(
                e,
                gst::ResourceError::Write,
                ("MQTT broker away: {reason}; spooling ({waiting} waiting) and connecting again")
            );
            let s = msg("away").field("reason", reason).field("waiting", waiting).build();
            let _ = e.post_message(gst::message::Element::builder(s).src(e).build());
        }
        Notice::Dropped { count, total } => {
            gst::element_warning!(
                e,
                gst::ResourceError::NoSpaceLeft,
                ("The spool is full (property 'spool-size'): dropped the {count} oldest messages, {total} in all")
            );
        }
        Notice::Refused(reason) => {
            gst::element_error!(e, gst::ResourceError::NotAuthorized, ("facejson: {reason}"));
        }
        Notice::SpoolFailed(reason) => {
            gst::element_warning!(
                e,
                gst::ResourceError::Write,
                ("The spool (property 'spool') cannot be written: {reason}; messages are being lost")
            );
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into())
}

/// Unique per element: the broker drops a connection when another takes its id.
fn default_client_id(source: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("gst-face-{}-{source}-{}-{n}", hostname(), std::process::id())
}

/// Per source, so the spool a camera's pipeline left behind is sent by its next run.
fn default_spool_dir(source: &str) -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    let name: String = source
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    base.join("gst-face").join("spool").join(name)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstFaceJsonMqttProtocol")]
pub enum ProtocolProp {
    #[default]
    #[enum_value(name = "MQTT 3.1.1", nick = "3.1.1")]
    V311 = 0,
    #[enum_value(name = "MQTT 5", nick = "5")]
    V5 = 1,
}

impl From<ProtocolProp> for Protocol {
    fn from(p: ProtocolProp) -> Self {
        match p {
            ProtocolProp::V311 => Protocol::V311,
            ProtocolProp::V5 => Protocol::V5,
        }
    }
}
