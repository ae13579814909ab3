//! Ingesting from an MQTT broker: subscribes (a persistent session at QoS 1, so the
//! broker keeps what arrives while this tool is not running) and records each message
//! in its own transaction, acknowledging it to the broker only after the commit: a kill
//! (SIGINT, SIGTERM, or worse) at any moment loses nothing, and what the broker sends
//! again is recorded once by its id.

use crate::ingest;
use crate::store::Store;
use clap::{Args, ValueEnum};
use facebroker::{Notice, Received, Subscription};
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct MqttArgs {
    /// Subscribe to a broker instead of reading files: `mqtt://[user[:password]@]host[:port]/topic-filter`
    /// (mqtts:// for TLS), e.g. mqtt://127.0.0.1:1883/faces/#
    #[arg(long, value_name = "URL")]
    pub mqtt: Option<String>,
    /// User name to log in with (overrides the URL's).
    #[arg(long, value_name = "USER", requires = "mqtt")]
    pub mqtt_username: Option<String>,
    /// Password to log in with (overrides the URL's; default: $FACE_MQTT_PASSWORD).
    #[arg(long, value_name = "PASSWORD", requires = "mqtt")]
    pub mqtt_password: Option<String>,
    /// CA certificates (PEM) that sign the broker's, for mqtts:// (default: the system's).
    #[arg(long, value_name = "FILE", requires = "mqtt")]
    pub mqtt_ca_file: Option<String>,
    /// Client certificate (PEM), for brokers that ask for one.
    #[arg(long, value_name = "FILE", requires = "mqtt_key_file")]
    pub mqtt_cert_file: Option<String>,
    /// The client certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "mqtt_cert_file")]
    pub mqtt_key_file: Option<String>,
    /// MQTT client id; must stay the same from run to run, since the broker keeps the
    /// session under it [default: face-attendance-HOSTNAME]
    #[arg(long, value_name = "ID", requires = "mqtt")]
    pub client_id: Option<String>,
    /// MQTT protocol version.
    #[arg(long, value_enum, default_value_t = ProtocolArg::V311, requires = "mqtt")]
    pub protocol: ProtocolArg,
    /// Stop once no message has come for this many seconds (default: run until killed).
    #[arg(long, value_name = "SECS", requires = "mqtt")]
    pub idle_exit: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProtocolArg {
    #[value(name = "3.1.1")]
    V311,
    #[value(name = "5")]
    V5,
}

/// Subscribes and ingests until killed, the broker refuses us, or `--idle-exit` passes.
pub fn run(store: &mut dyn Store, args: &MqttArgs, location: &str) -> Result<(), String> {
    let idle = args
        .idle_exit
        .map(|s| Duration::try_from_secs_f64(s).map_err(|_| format!("--idle-exit {s}: not a number of seconds")))
        .transpose()?;
    let names = facebroker::Names {
        location: "--mqtt",
        username: "--mqtt-username",
        password: "--mqtt-password",
        ca_file: "--mqtt-ca-file",
        cert_file: "--mqtt-cert-file",
        key_file: "--mqtt-key-file",
    };
    let mut options = facebroker::Options::new(location, names)?;
    options.client_id = args.client_id.clone().unwrap_or_else(default_client_id);
    options.username = args.mqtt_username.clone();
    options.password = args
        .mqtt_password
        .clone()
        .or_else(|| std::env::var("FACE_MQTT_PASSWORD").ok().filter(|p| !p.is_empty()));
    options.qos = 1;
    options.protocol = match args.protocol {
        ProtocolArg::V311 => facebroker::Protocol::V311,
        ProtocolArg::V5 => facebroker::Protocol::V5,
    };
    options.tls = facebroker::tls::TlsFiles {
        ca_file: args.mqtt_ca_file.clone(),
        cert_file: args.mqtt_cert_file.clone(),
        key_file: args.mqtt_key_file.clone(),
    };
    let options = options.check()?;
    // Shown without its password (BrokerUrl's Display hides it).
    let broker = options.url.to_string();
    let topic = options.url.topic.clone();
    let subscription = Subscription::start(options, vec![topic], true)?;
    eprintln!("subscribing to {broker}");
    let mut last_message = Instant::now();
    let mut messages = 0u64;
    loop {
        // Wake at least once a second, so that --idle-exit is kept to the second.
        let wait = match idle {
            Some(limit) => match limit.checked_sub(last_message.elapsed()) {
                Some(left) if !left.is_zero() => left.min(Duration::from_secs(1)),
                _ => break,
            },
            None => Duration::from_secs(1),
        };
        match subscription.recv_timeout(wait) {
            Some(Received::Message { topic, payload, ack }) => {
                last_message = Instant::now();
                messages += 1;
                // A topic is the camera of the events that do not name theirs.
                let name = format!("message {messages} on {topic}");
                ingest::read(store, payload.as_slice(), &name, &topic)?;
                // Committed: only now may the broker forget it.
                ack.done();
            }
            Some(Received::Notice(Notice::Refused(why))) => {
                return Err(format!("--mqtt: {why}"));
            }
            Some(Received::Notice(Notice::Connected { broker, .. })) => eprintln!("connected to {broker}"),
            Some(Received::Notice(Notice::Away { reason, .. })) => {
                eprintln!("the broker is away ({reason}); connecting again")
            }
            Some(Received::Notice(other)) => eprintln!("{other:?}"),
            None => {}
        }
    }
    eprintln!(
        "no message for {:?}: {messages} messages ingested",
        idle.unwrap_or_default()
    );
    Ok(())
}

/// `face-attendance-<hostname>`: stable from run to run on one machine, and different
/// between machines, so that two hosts do not take over each other's session.
fn default_client_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()));
    match host {
        Some(h) => format!("face-attendance-{h}"),
        None => "face-attendance".into(),
    }
}
