//! How to reach a broker: the URL and everything beside it (client id, credentials,
//! QoS, protocol version, TLS files). Checked once, before anything connects.

use crate::tls::{self, TlsFiles};
use crate::url::BrokerUrl;
use std::sync::Arc;
use std::time::Duration;

/// MQTT protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// 3.1.1, what every broker speaks.
    #[default]
    V311,
    V5,
}

/// Names of the settings as the caller exposes them (element properties, command-line
/// flags), so that an error says what to change.
#[derive(Debug, Clone, Copy)]
pub struct Names {
    pub location: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub ca_file: &'static str,
    pub cert_file: &'static str,
    pub key_file: &'static str,
}

#[derive(Clone)]
pub struct Options {
    pub url: BrokerUrl,
    pub client_id: String,
    /// Overrides the URL's user name and password when set.
    pub username: Option<String>,
    pub password: Option<String>,
    /// 0, 1 or 2.
    pub qos: u8,
    pub protocol: Protocol,
    pub tls: TlsFiles,
    pub keep_alive: Duration,
    pub names: Names,
    /// Built from `tls` by [`Options::check`].
    pub(crate) tls_config: Option<Arc<rustls::ClientConfig>>,
}

// The password stays out of debug output.
impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("qos", &self.qos)
            .field("protocol", &self.protocol)
            .field("tls", &self.tls)
            .finish()
    }
}

impl Options {
    /// Parses `location` and checks every setting: a bad URL, QoS or TLS file is an
    /// error naming the setting.
    pub fn new(location: &str, names: Names) -> Result<Self, String> {
        let url = BrokerUrl::parse(location)
            .map_err(|e| format!("{} ({}): {e}", names.location, crate::url::redacted(location)))?;
        Ok(Self {
            url,
            client_id: String::new(),
            username: None,
            password: None,
            qos: 1,
            protocol: Protocol::default(),
            tls: TlsFiles::default(),
            keep_alive: Duration::from_secs(5),
            names,
            tls_config: None,
        })
    }

    /// Reads the TLS files (mqtts://) and checks the rest; call after setting the fields.
    pub fn check(mut self) -> Result<Self, String> {
        if self.qos > 2 {
            return Err(format!("QoS {} is not 0, 1 or 2", self.qos));
        }
        if self.client_id.is_empty() || self.client_id.len() > 65535 {
            return Err("the client id must be 1 to 65535 bytes".into());
        }
        let has_tls_files = self.tls != TlsFiles::default();
        if self.url.tls {
            let n = self.names;
            self.tls_config = Some(tls::client_config(&self.tls, [n.ca_file, n.cert_file, n.key_file])?);
        } else if has_tls_files {
            return Err(format!(
                "{} / {} / {} are set but {} is mqtt://, not mqtts://",
                self.names.ca_file, self.names.cert_file, self.names.key_file, self.names.location
            ));
        }
        if self.username.is_none() && self.password.is_some() && self.url.username.is_none() {
            return Err(format!(
                "{} is set without {}",
                self.names.password, self.names.username
            ));
        }
        Ok(self)
    }

    /// The user name and password to log in with: the settings, else the URL's.
    pub(crate) fn credentials(&self) -> Option<(String, String)> {
        let user = self.username.clone().or_else(|| self.url.username.clone())?;
        let pass = self
            .password
            .clone()
            .or_else(|| self.url.password.clone())
            .unwrap_or_default();
        Some((user, pass))
    }

    /// Whether a password is in play (for the messages that tell a refusal apart).
    pub(crate) fn has_password(&self) -> bool {
        self.password.is_some() || self.url.password.is_some()
    }
}
