//! Face events to and from an MQTT broker (3.1.1 or 5): broker URLs, TLS, a publisher
//! that never blocks and loses nothing while the broker is away (an on-disk spool,
//! sent in order once it is back), and a subscription that survives the broker going
//! away. The client protocol itself is rumqttc's.

pub mod options;
pub mod publisher;
mod session;
pub mod spool;
pub mod subscriber;
pub mod tls;
pub mod url;

pub use options::{Names, Options, Protocol};
pub use publisher::{Notice, Publisher, SpoolSettings, Summary};
pub use subscriber::{Ack, Received, Subscription};
pub use url::{BrokerUrl, is_broker, redacted};
