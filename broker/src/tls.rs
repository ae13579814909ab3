//! TLS settings for `mqtts://`: the certificates that may sign the broker's (a CA file,
//! or the system's store), and optionally a client certificate and key. Files are read
//! when the options are checked, so an unreadable or invalid file fails at once with the
//! property's name, not later inside a reconnect loop.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// Files behind a TLS connection; `None` for the CA: the system's certificates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
}

/// The rustls client configuration for `files`; errors name the property (`names`
/// gives the property names the caller uses for the three files).
pub fn client_config(files: &TlsFiles, names: [&str; 3]) -> Result<Arc<rustls::ClientConfig>, String> {
    let [ca_name, cert_name, key_name] = names;
    let mut roots = rustls::RootCertStore::empty();
    match &files.ca_file {
        Some(path) => {
            let certs = read_certs(path, ca_name)?;
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("{ca_name} ({path}): not a CA certificate rustls accepts: {e}"))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for c in found.certs {
                // A system store may hold a certificate rustls does not parse; the
                // others still serve.
                let _ = roots.add(c);
            }
            if roots.is_empty() {
                return Err(format!(
                    "mqtts:// without {ca_name}: the system has no CA certificates to check the broker's with"
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_root_certificates(roots);
    let config = match (&files.cert_file, &files.key_file) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert, cert_name)?;
            let key_der = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("{key_name} ({key}): no private key in PEM form: {e}"))?;
            builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                format!("{cert_name} ({cert}) and {key_name} ({key}) do not make a client identity: {e}")
            })?
        }
        (None, None) => builder.with_no_client_auth(),
        (Some(_), None) => return Err(format!("{cert_name} is set but {key_name} is not: both or neither")),
        (None, Some(_)) => return Err(format!("{key_name} is set but {cert_name} is not: both or neither")),
    };
    Ok(Arc::new(config))
}

fn read_certs(path: &str, property: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    if !Path::new(path).is_file() {
        return Err(format!("{property} ({path}): no such file"));
    }
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{property} ({path}): cannot read it: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{property} ({path}): not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{property} ({path}): holds no PEM certificate"));
    }
    Ok(certs)
}

/// Why a TLS connection failed, when it is a setting to fix rather than an outage to
/// wait out.
#[derive(Debug, Clone, PartialEq)]
pub enum Rejection {
    /// The broker's certificate failed verification (a wrong CA, an expired
    /// certificate, a host name it was not made for).
    Untrusted(String),
    /// The broker ended the handshake with an alert: most often it wants a client
    /// certificate it was not given, or does not accept the one it got.
    Alert(String),
}

/// The TLS rejection behind a connection error, if that is what it is.
pub fn rejection(e: &(dyn std::error::Error + 'static)) -> Option<Rejection> {
    let sort = |r: &rustls::Error| match r {
        rustls::Error::InvalidCertificate(c) => Some(Rejection::Untrusted(format!("{c:?}"))),
        rustls::Error::NoCertificatesPresented => Some(Rejection::Untrusted("no certificate".into())),
        rustls::Error::AlertReceived(a) => Some(Rejection::Alert(format!("{a:?}"))),
        _ => None,
    };
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return sort(r);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(r) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return sort(r);
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 3] = ["ca-file", "cert-file", "key-file"];

    #[test]
    fn missing_or_bad_files_name_the_property() {
        let files = TlsFiles {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        };
        let e = client_config(&files, NAMES).unwrap_err();
        assert!(e.contains("ca-file") && e.contains("/nonexistent/ca.pem"), "{e}");

        let dir = std::env::temp_dir().join(format!("facebroker-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        let files = TlsFiles {
            ca_file: Some(junk.display().to_string()),
            ..Default::default()
        };
        let e = client_config(&files, NAMES).unwrap_err();
        assert!(e.contains("ca-file") && e.contains("no PEM certificate"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_certificate_needs_its_key() {
        let files = TlsFiles {
            cert_file: Some("/x.pem".into()),
            ..Default::default()
        };
        // The CA comes from the system; the pairing check is what fails (or, on a
        // machine without CA certificates, the check before it).
        let e = client_config(&files, NAMES).unwrap_err();
        assert!(e.contains("key-file") || e.contains("system has no CA"), "{e}");
    }
}
