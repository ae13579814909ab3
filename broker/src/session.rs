//! One connection to the broker, in either protocol version, seen through the few
//! things the publisher and the subscriber need: connected, a message handed to the
//! socket, a message acknowledged, a message received, and why a connection failed.

use crate::options::{Options, Protocol};
use crate::tls;
use rumqttc::{Outgoing, TlsConfiguration, Transport};

/// What one poll of the connection brought.
pub enum Happened {
    /// The broker accepted the connection.
    Connected,
    /// A publish went out with this packet id (0: QoS 0, nothing will acknowledge it).
    Sent(u16),
    /// The broker acknowledged the publish with this packet id (QoS 1 PUBACK, QoS 2 PUBCOMP).
    Acked(u16),
    /// A message arrived on a subscription; with manual acknowledgements the broker
    /// holds it as unacknowledged until [`Session::try_ack`] is given `delivery`.
    Message {
        topic: String,
        payload: Vec<u8>,
        delivery: Delivery,
    },
    Other,
}

/// Why the connection ended, sorted by what to do about it.
#[derive(Debug)]
pub enum Failure {
    /// The broker is away or the network is: wait and connect again.
    Away(String),
    /// A setting is wrong (credentials, the CA): waiting will not help.
    Refused(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Away(m) | Self::Refused(m) => f.write_str(m),
        }
    }
}

/// What acknowledging a received message needs (its packet id and QoS).
#[derive(Debug, Clone)]
pub enum Delivery {
    V4(Box<rumqttc::Publish>),
    V5(Box<rumqttc::v5::mqttbytes::v5::Publish>),
}

pub enum Session {
    V4(rumqttc::AsyncClient, Box<rumqttc::EventLoop>),
    V5(rumqttc::v5::AsyncClient, Box<rumqttc::v5::EventLoop>),
}

/// Room in the client's request queue: the publisher keeps fewer than this in flight.
const REQUESTS: usize = 256;
/// Largest message either way: a frame line with many faces is a few kilobytes.
const MAX_PACKET: usize = 1 << 20;

fn transport(o: &Options) -> Transport {
    match &o.tls_config {
        Some(c) => Transport::tls_with_config(TlsConfiguration::Rustls(c.clone())),
        None => Transport::tcp(),
    }
}

impl Session {
    /// A new connection (made on the first poll), with `will` as the last will: a
    /// retained (topic, payload) the broker publishes if the connection dies. `clean`:
    /// a fresh session; otherwise the broker keeps the client's subscriptions and
    /// queues its QoS 1 messages while it is away (a subscriber that must miss nothing).
    /// `manual_acks`: a received message is acknowledged only by [`Session::try_ack`],
    /// once the consumer has it safe; until then the broker sends it again after a
    /// reconnect.
    pub fn new(o: &Options, will: Option<(String, String)>, clean: bool, manual_acks: bool) -> Self {
        match o.protocol {
            Protocol::V311 => {
                let mut m = rumqttc::MqttOptions::new(&o.client_id, &o.url.host, o.url.port);
                m.set_keep_alive(o.keep_alive)
                    .set_clean_session(clean)
                    .set_manual_acks(manual_acks)
                    .set_max_packet_size(MAX_PACKET, MAX_PACKET)
                    .set_transport(transport(o));
                if let Some((u, p)) = o.credentials() {
                    m.set_credentials(u, p);
                }
                if let Some((topic, payload)) = will {
                    m.set_last_will(rumqttc::LastWill::new(topic, payload, rumqttc::QoS::AtLeastOnce, true));
                }
                let (c, e) = rumqttc::AsyncClient::new(m, REQUESTS);
                Self::V4(c, Box::new(e))
            }
            Protocol::V5 => {
                use rumqttc::v5::mqttbytes;
                let mut m = rumqttc::v5::MqttOptions::new(&o.client_id, &o.url.host, o.url.port);
                m.set_keep_alive(o.keep_alive)
                    .set_clean_start(clean)
                    .set_manual_acks(manual_acks)
                    .set_max_packet_size(Some(MAX_PACKET as u32))
                    .set_transport(transport(o));
                if let Some((u, p)) = o.credentials() {
                    m.set_credentials(u, p);
                }
                if let Some((topic, payload)) = will {
                    m.set_last_will(mqttbytes::v5::LastWill::new(
                        topic,
                        payload,
                        mqttbytes::QoS::AtLeastOnce,
                        true,
                        None,
                    ));
                }
                let (c, e) = rumqttc::v5::AsyncClient::new(m, REQUESTS);
                Self::V5(c, Box::new(e))
            }
        }
    }

    /// Queues a publish; false when the client's queue is full (call again later).
    pub fn try_publish(&self, topic: &str, qos: u8, retain: bool, payload: Vec<u8>) -> bool {
        match self {
            Self::V4(c, _) => c.try_publish(topic, qos4(qos), retain, payload).is_ok(),
            Self::V5(c, _) => c.try_publish(topic, qos5(qos), retain, payload).is_ok(),
        }
    }

    pub fn try_subscribe(&self, filter: &str, qos: u8) -> bool {
        match self {
            Self::V4(c, _) => c.try_subscribe(filter, qos4(qos)).is_ok(),
            Self::V5(c, _) => c.try_subscribe(filter, qos5(qos)).is_ok(),
        }
    }

    /// Acknowledges a message received with manual acknowledgements.
    pub fn try_ack(&self, d: &Delivery) {
        match (self, d) {
            (Self::V4(c, _), Delivery::V4(p)) => {
                let _ = c.try_ack(p);
            }
            (Self::V5(c, _), Delivery::V5(p)) => {
                let _ = c.try_ack(p);
            }
            // Received on a session of the other version: nothing to acknowledge here.
            _ => {}
        }
    }

    pub fn try_disconnect(&self) {
        match self {
            Self::V4(c, _) => {
                let _ = c.try_disconnect();
            }
            Self::V5(c, _) => {
                let _ = c.try_disconnect();
            }
        }
    }

    /// Drives the connection until something happens.
    pub async fn poll(&mut self, o: &Options) -> Result<Happened, Failure> {
        match self {
            Self::V4(_, e) => {
                use rumqttc::{Event, Packet};
                match e.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => Ok(Happened::Connected),
                    Ok(Event::Incoming(Packet::PubAck(a))) => Ok(Happened::Acked(a.pkid)),
                    Ok(Event::Incoming(Packet::PubComp(a))) => Ok(Happened::Acked(a.pkid)),
                    Ok(Event::Incoming(Packet::Publish(p))) => Ok(Happened::Message {
                        topic: p.topic.clone(),
                        payload: p.payload.to_vec(),
                        delivery: Delivery::V4(Box::new(p)),
                    }),
                    Ok(Event::Outgoing(Outgoing::Publish(id))) => Ok(Happened::Sent(id)),
                    Ok(_) => Ok(Happened::Other),
                    Err(rumqttc::ConnectionError::ConnectionRefused(code)) => {
                        use rumqttc::ConnectReturnCode as C;
                        Err(refused(
                            o,
                            matches!(code, C::BadUserNamePassword),
                            matches!(code, C::NotAuthorized),
                            &format!("{code:?}"),
                        ))
                    }
                    Err(err) => Err(failure(o, &err)),
                }
            }
            Self::V5(_, e) => {
                use rumqttc::v5::Event;
                use rumqttc::v5::mqttbytes::v5::Packet;
                match e.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => Ok(Happened::Connected),
                    Ok(Event::Incoming(Packet::PubAck(a))) => Ok(Happened::Acked(a.pkid)),
                    Ok(Event::Incoming(Packet::PubComp(a))) => Ok(Happened::Acked(a.pkid)),
                    Ok(Event::Incoming(Packet::Publish(p))) => Ok(Happened::Message {
                        topic: String::from_utf8_lossy(&p.topic).into_owned(),
                        payload: p.payload.to_vec(),
                        delivery: Delivery::V5(Box::new(p)),
                    }),
                    Ok(Event::Outgoing(Outgoing::Publish(id))) => Ok(Happened::Sent(id)),
                    Ok(_) => Ok(Happened::Other),
                    Err(rumqttc::v5::ConnectionError::ConnectionRefused(code)) => {
                        use rumqttc::v5::mqttbytes::v5::ConnectReturnCode as C;
                        Err(refused(
                            o,
                            matches!(code, C::BadUserNamePassword | C::BadAuthenticationMethod),
                            matches!(code, C::NotAuthorized | C::Banned),
                            &format!("{code:?}"),
                        ))
                    }
                    Err(err) => Err(failure(o, &err)),
                }
            }
        }
    }
}

fn qos4(q: u8) -> rumqttc::QoS {
    match q {
        0 => rumqttc::QoS::AtMostOnce,
        1 => rumqttc::QoS::AtLeastOnce,
        _ => rumqttc::QoS::ExactlyOnce,
    }
}

fn qos5(q: u8) -> rumqttc::v5::mqttbytes::QoS {
    use rumqttc::v5::mqttbytes::QoS;
    match q {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

fn refused(o: &Options, bad_login: bool, not_authorised: bool, code: &str) -> Failure {
    let n = o.names;
    // Brokers answer a wrong password with either code (mosquitto: "not authorised").
    if bad_login || not_authorised {
        let who = match o.credentials() {
            Some((u, _)) if o.has_password() => format!("user '{u}'"),
            Some((u, _)) => format!("user '{u}' without a password"),
            None => "a client without a user name".to_string(),
        };
        Failure::Refused(format!(
            "the broker {} refused {who}: a wrong user name or password, or one not allowed in \
             ({} / {}, or the location's user:password@)",
            o.url, n.username, n.password
        ))
    } else {
        Failure::Away(format!("the broker {} refused the connection for now ({code})", o.url))
    }
}

fn failure(o: &Options, err: &(dyn std::error::Error + 'static)) -> Failure {
    let n = o.names;
    match tls::rejection(err).filter(|_| o.url.tls) {
        Some(tls::Rejection::Untrusted(why)) => {
            let ca = match &o.tls.ca_file {
                Some(p) => format!("{} ({p})", n.ca_file),
                None => format!("the system's CA certificates (set {})", n.ca_file),
            };
            Failure::Refused(format!(
                "TLS with {}: the broker's certificate is not trusted by {ca} ({why}): {err}",
                o.url
            ))
        }
        Some(tls::Rejection::Alert(alert)) => {
            let mine = match &o.tls.cert_file {
                Some(p) => format!("does not accept the client certificate {} ({p})", n.cert_file),
                None => format!("may want a client certificate ({} and {})", n.cert_file, n.key_file),
            };
            Failure::Refused(format!(
                "TLS with {}: the broker ended the handshake ({alert}); it {mine}: {err}",
                o.url
            ))
        }
        None => Failure::Away(format!("{}: {err}", o.url)),
    }
}
