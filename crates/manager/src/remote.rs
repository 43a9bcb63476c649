//! Talking to another participating cluster's REST API, with its certificate verified:
//! against the CA given at init (`--ca`), or pinned by the SHA-256 fingerprint of its
//! certificate. Blocking (ureq): callers run it off the event loop.

use crate::model::ClusterRef;
use base64::Engine as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The most characters of another cluster's error description kept.
pub(crate) const MAX_REMOTE_ERROR: usize = 1024;

/// How long a call to another cluster may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The SHA-256 fingerprint of a certificate, as lower-case hex.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A cluster's REST API, reachable and trusted.
pub struct Remote {
    agent: ureq::Agent,
    base: String,
    auth: String,
}

/// Records the certificate a server shows, trusting nothing: only used to read a
/// fingerprint that is then compared with the pinned one.
#[derive(Debug)]
struct Capture {
    seen: Mutex<Option<Vec<u8>>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(end_entity.to_vec());
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Host and port of an `https://host:port` URL.
fn host_port(url: &str) -> Result<(String, u16), String> {
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| format!("cluster URL {url:?} must start with https://"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("cluster URL {url:?} has a bad port"))?,
        ),
        None => (authority, 443),
    };
    if host.is_empty() {
        return Err(format!("cluster URL {url:?} has no host"));
    }
    Ok((host.trim_matches(['[', ']']).to_string(), port))
}

/// The host part of a cluster's URL (where its instances are reached too).
pub fn url_host(url: &str) -> Result<String, String> {
    host_port(url).map(|(h, _)| h)
}

/// The certificate `url` shows, read in a TLS handshake that trusts nothing.
pub fn certificate_of(url: &str) -> Result<Vec<u8>, String> {
    let (host, port) = host_port(url)?;
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let capture = Arc::new(Capture {
        seen: Mutex::new(None),
        provider: Arc::clone(&provider),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(capture.clone())
        .with_no_client_auth();
    let name = ServerName::try_from(host.clone()).map_err(|e| format!("{host}: {e}"))?;
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
        .map_err(|e| format!("{url}: {e}"))?
        .next()
        .ok_or_else(|| format!("{url}: no address"))?;
    let mut tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .map_err(|e| format!("{url}: {e}"))?;
    tcp.set_read_timeout(Some(Duration::from_secs(10))).ok();
    tcp.set_write_timeout(Some(Duration::from_secs(10))).ok();
    let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
    // Any I/O completes the handshake; the server's answer does not matter.
    let _ = tls.write_all(b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let _ = tls.read(&mut [0u8; 1]);
    let seen = capture
        .seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    seen.ok_or_else(|| format!("{url}: no certificate received"))
}

impl Remote {
    /// Connects to `cluster`, trusting the certificates in `ca` when given, else its
    /// pinned fingerprint; a cluster with neither is refused with its fingerprint, so a
    /// person can check and pin it.
    pub fn new(cluster: &ClusterRef, ca: Option<&Path>) -> Result<Remote, String> {
        // The certificate shown is read for a pin, or to report its fingerprint.
        let shown = if cluster.fingerprint.is_some() || ca.is_none() {
            Some(certificate_of(&cluster.url)?)
        } else {
            None
        };
        Remote::trusting(cluster, ca, shown)
    }

    /// As [`Remote::new`], with the certificate the cluster showed already read (it must
    /// be, unless `ca` is given and nothing is pinned).
    pub fn trusting(
        cluster: &ClusterRef,
        ca: Option<&Path>,
        shown: Option<Vec<u8>>,
    ) -> Result<Remote, String> {
        // A pin is checked on the certificate the cluster shows; with a CA as well, both
        // must hold.
        let pinned = match (&cluster.fingerprint, shown) {
            (Some(p), Some(der)) => {
                let seen = fingerprint(&der);
                if !p.eq_ignore_ascii_case(&seen) {
                    return Err(format!(
                        "cluster {}: its certificate's fingerprint is {seen}, not the pinned {p}",
                        cluster.name
                    ));
                }
                Some(der)
            }
            (None, shown) if ca.is_none() => {
                let seen = shown.map_or_else(|| "unknown".into(), |der| fingerprint(&der));
                return Err(format!(
                    "cluster {}: its certificate is not trusted (no CA given at init); its SHA-256 fingerprint is {seen}: check it and give it as the cluster's fingerprint",
                    cluster.name
                ));
            }
            (Some(_), None) => {
                return Err(format!("cluster {}: no certificate to check", cluster.name));
            }
            (None, _) => None,
        };
        let roots: Vec<ureq::tls::Certificate<'static>> = match (ca, pinned) {
            (Some(ca), _) => {
                let pem = std::fs::read(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
                ureq::tls::parse_pem(&pem)
                    .filter_map(|i| match i {
                        Ok(ureq::tls::PemItem::Certificate(c)) => Some(c.to_owned()),
                        _ => None,
                    })
                    .collect()
            }
            (None, pinned) => pinned
                .map(|der| ureq::tls::Certificate::from_der(&der).to_owned())
                .into_iter()
                .collect(),
        };
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::Specific(Arc::new(roots)))
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .https_only(true)
            .max_redirects(0)
            .timeout_global(Some(TIMEOUT))
            .build()
            .into();
        let creds = &cluster.credentials;
        let auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", creds.username, creds.password))
        );
        Ok(Remote {
            agent,
            base: cluster.url.trim_end_matches('/').to_string(),
            auth,
        })
    }

    /// POSTs `body` to `path`; the JSON answer, or the error the cluster gave.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value, String> {
        self.request("POST", path, Some(body))
    }

    /// GETs `path`.
    pub fn get(&self, path: &str) -> Result<Value, String> {
        self.request("GET", path, None)
    }

    /// DELETEs `path`.
    pub fn delete(&self, path: &str) -> Result<Value, String> {
        self.request("DELETE", path, None)
    }

    /// PUTs `body` to `path`.
    pub fn put(&self, path: &str, body: &Value) -> Result<Value, String> {
        self.request("PUT", path, Some(body))
    }

    /// PATCHes `path` with `body`.
    pub fn patch(&self, path: &str, body: &Value) -> Result<Value, String> {
        self.request("PATCH", path, Some(body))
    }

    /// GETs `path`, answering its status with its JSON whatever the status (the caller
    /// tells a refusal from other failures).
    pub fn get_status(&self, path: &str) -> Result<(u16, Value), String> {
        self.send("GET", path, None)
    }

    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let (status, json) = self.send(method, path, body)?;
        if (200..300).contains(&status) {
            Ok(json)
        } else {
            let why = json["description"].as_str().unwrap_or("no description");
            // Another cluster's words go into task records: kept short.
            let why: String = why.chars().take(MAX_REMOTE_ERROR).collect();
            Err(format!("{}{path}: {status}: {why}", self.base))
        }
    }

    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value), String> {
        let url = format!("{}{path}", self.base);
        let sent = match (method, body) {
            ("POST", Some(b)) => self
                .agent
                .post(&url)
                .header("Authorization", &self.auth)
                .send_json(b),
            ("PUT", Some(b)) => self
                .agent
                .put(&url)
                .header("Authorization", &self.auth)
                .send_json(b),
            ("PATCH", Some(b)) => self
                .agent
                .patch(&url)
                .header("Authorization", &self.auth)
                .send_json(b),
            ("DELETE", _) => self
                .agent
                .delete(&url)
                .header("Authorization", &self.auth)
                .call(),
            _ => self
                .agent
                .get(&url)
                .header("Authorization", &self.auth)
                .call(),
        };
        let mut r = sent.map_err(|e| format!("{url}: {e}"))?;
        let status = r.status().as_u16();
        let text = r
            .body_mut()
            .with_config()
            .limit(16 << 20)
            .read_to_string()
            .map_err(|e| format!("{url}: {e}"))?;
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, json))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_and_port() {
        assert_eq!(
            host_port("https://a.example:9443"),
            Ok(("a.example".into(), 9443))
        );
        assert_eq!(
            host_port("https://127.0.0.1:1/v1"),
            Ok(("127.0.0.1".into(), 1))
        );
        assert_eq!(host_port("https://[::1]:9443"), Ok(("::1".into(), 9443)));
        assert_eq!(host_port("https://h"), Ok(("h".into(), 443)));
        for bad in ["http://h:1", "https://:1", "https://h:x", "h:1"] {
            assert!(host_port(bad).is_err(), "{bad}");
        }
    }
}
