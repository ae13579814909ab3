//! Broker locations: `mqtt://[user[:password]@]host[:port]/topic` and `mqtts://…` (TLS).
//!
//! The topic may hold `{source}` (the stream's source name) and `{event}` (the event's
//! kind, or `frame` for frame lines), so one location serves many cameras. A URL is
//! shown with its password replaced by `***` wherever it is printed.

use std::fmt;

/// Where the messages go (or come from).
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// `mqtts://`: TLS.
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// The topic (or topic filter, to subscribe), placeholders left in.
    pub topic: String,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Default ports of the two schemes.
pub const PORT: u16 = 1883;
pub const TLS_PORT: u16 = 8883;

/// Whether `location` names a broker rather than a file.
pub fn is_broker(location: &str) -> bool {
    location.starts_with("mqtt://") || location.starts_with("mqtts://")
}

impl BrokerUrl {
    pub fn parse(s: &str) -> Result<Self, String> {
        let (tls, rest) = if let Some(r) = s.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("mqtt://") {
            (false, r)
        } else {
            return Err("must start with mqtt:// or mqtts://".into());
        };
        let (authority, topic) = rest.split_once('/').unwrap_or((rest, ""));
        // The password may hold '@': the host starts after the last one.
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            Some(u) => {
                let (name, pass) = match u.split_once(':') {
                    Some((n, p)) => (n, Some(percent_decode(p)?)),
                    None => (u, None),
                };
                (Some(percent_decode(name)?).filter(|n| !n.is_empty()), pass)
            }
            None => (None, None),
        };
        let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
            // An IPv6 literal: [::1]:1883.
            let (h, after) = bracketed
                .split_once(']')
                .ok_or_else(|| "an IPv6 host needs its closing ']'".to_string())?;
            (h.to_string(), after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err("no host".into());
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("port '{p}' is not a number from 1 to 65535"))?,
            None if tls => TLS_PORT,
            None => PORT,
        };
        let topic = percent_decode(topic)?;
        if topic.is_empty() {
            return Err("no topic after the host (mqtt://host:port/TOPIC)".into());
        }
        if topic.contains('\0') {
            return Err("the topic holds a NUL character".into());
        }
        Ok(Self {
            tls,
            host,
            port,
            topic,
            username,
            password,
        })
    }

    /// The topic for one message: `{source}` and `{event}` filled in. A topic level
    /// cannot hold the wildcards or a slash, so those become '_' in the values.
    pub fn topic_for(&self, source: &str, event: &str) -> String {
        let clean = |v: &str| v.replace(['/', '+', '#', '\t', '\n', '\r'], "_");
        self.topic
            .replace("{source}", &clean(source))
            .replace("{event}", &clean(event))
    }

    /// The retained online/offline status topic: the topic with `{event}` as `status`,
    /// or the topic with `/status` appended when it has no `{event}`.
    pub fn status_topic(&self, source: &str) -> String {
        if self.topic.contains("{event}") {
            self.topic_for(source, "status")
        } else {
            format!("{}/status", self.topic_for(source, ""))
        }
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", if self.tls { "mqtts" } else { "mqtt" })?;
        if let Some(u) = &self.username {
            write!(f, "{u}")?;
            if self.password.is_some() {
                write!(f, ":***")?;
            }
            write!(f, "@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}/{}", self.host, self.port, self.topic)
        } else {
            write!(f, "{}:{}/{}", self.host, self.port, self.topic)
        }
    }
}

// Never print the password, not even in a debug dump.
impl fmt::Debug for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BrokerUrl({self})")
    }
}

/// `location` as it may be shown: a broker URL without its password, a path as it is.
pub fn redacted(location: &str) -> String {
    match BrokerUrl::parse(location) {
        Ok(u) => u.to_string(),
        Err(_) if is_broker(location) => {
            // Unparsable, but may still hold a password: keep only the scheme.
            location
                .split("://")
                .next()
                .map(|s| format!("{s}://…"))
                .unwrap_or_default()
        }
        Err(_) => location.to_string(),
    }
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| "a '%' must be followed by two hex digits".to_string())?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent-escapes that are not UTF-8".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        let u = BrokerUrl::parse("mqtt://127.0.0.1:1884/faces/{source}").unwrap();
        assert_eq!(
            (u.tls, u.host.as_str(), u.port, u.topic.as_str()),
            (false, "127.0.0.1", 1884, "faces/{source}")
        );
        assert_eq!(u.username, None);
        let u = BrokerUrl::parse("mqtts://cam:p%40ss@broker.local/a/b").unwrap();
        assert_eq!((u.tls, u.port), (true, TLS_PORT));
        assert_eq!(u.username.as_deref(), Some("cam"));
        assert_eq!(u.password.as_deref(), Some("p@ss"));
        let u = BrokerUrl::parse("mqtt://[::1]/t").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", PORT));
    }

    #[test]
    fn refuses_what_is_not_a_broker_url() {
        for bad in [
            "http://h/t",
            "mqtt://h:port/t",
            "mqtt://h:0/t",
            "mqtt://h",
            "mqtt:///t",
            "mqtt://h/%zz",
            "mqtt://[::1/t",
        ] {
            assert!(BrokerUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_password_is_never_shown() {
        let loc = "mqtts://cam:secret@h:8883/faces";
        let u = BrokerUrl::parse(loc).unwrap();
        assert!(!u.to_string().contains("secret"));
        assert!(!format!("{u:?}").contains("secret"));
        assert!(!redacted(loc).contains("secret"));
        assert!(!redacted("mqtt://cam:secret@h:port/x").contains("secret"));
        assert_eq!(redacted("/tmp/events.jsonl"), "/tmp/events.jsonl");
    }

    #[test]
    fn topics_fill_their_placeholders() {
        let u = BrokerUrl::parse("mqtt://h/site/{source}/{event}").unwrap();
        assert_eq!(u.topic_for("room 1", "left"), "site/room 1/left");
        assert_eq!(u.topic_for("a/b+#", "left"), "site/a_b__/left");
        assert_eq!(u.status_topic("r1"), "site/r1/status");
        let u = BrokerUrl::parse("mqtt://h/faces/{source}").unwrap();
        assert_eq!(u.status_topic("r1"), "faces/r1/status");
    }
}
