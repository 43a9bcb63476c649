//! TLS with rustls, configured with Redis's settings: the certificate clients see, whether
//! and how they must present one, the protocol versions and cipher suites; and the client
//! side peer links use with `tls-replication yes` (mutual authentication against the CA).
//! The server side is rebuilt on CONFIG SET of any TLS setting: new connections use the
//! new certificates, established ones keep theirs.

use crate::settings::{ServerConfig, TlsAuthClients};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, SupportedCipherSuite, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::{Arc, RwLock};

/// The TLS side of an instance: what accepts clients and what dials peers.
#[derive(Default)]
pub(crate) struct Tls {
    server: RwLock<Option<Arc<rustls::ServerConfig>>>,
    client: RwLock<Option<Arc<rustls::ClientConfig>>>,
}

impl Tls {
    /// Builds both sides from the settings; errors name the setting and the file.
    pub fn new(c: &ServerConfig) -> Result<Tls, String> {
        let t = Tls::default();
        t.reload(c)?;
        Ok(t)
    }

    /// Rebuilds both sides (CONFIG SET of a TLS setting); on error nothing changes.
    pub fn reload(&self, c: &ServerConfig) -> Result<(), String> {
        let server = if c.tls_port != 0 {
            Some(Arc::new(server_config(c)?))
        } else {
            None
        };
        let client = if c.tls_replication || c.replicaof_tls {
            Some(Arc::new(client_config(c)?))
        } else {
            None
        };
        *self.server.write().unwrap_or_else(|p| p.into_inner()) = server;
        *self.client.write().unwrap_or_else(|p| p.into_inner()) = client;
        Ok(())
    }

    /// What accepts TLS clients now.
    pub fn acceptor(&self) -> Option<tokio_rustls::TlsAcceptor> {
        let c = self.server.read().unwrap_or_else(|p| p.into_inner());
        c.as_ref()
            .map(|c| tokio_rustls::TlsAcceptor::from(Arc::clone(c)))
    }

    /// What dials peers (`tls-replication yes`) and a followed primary (`replicaof-tls
    /// yes`) over TLS now.
    pub fn connector(&self) -> Option<tokio_rustls::TlsConnector> {
        let c = self.client.read().unwrap_or_else(|p| p.into_inner());
        c.as_ref()
            .map(|c| tokio_rustls::TlsConnector::from(Arc::clone(c)))
    }
}

/// The protocol versions `tls-protocols` names (empty: TLS 1.2 and 1.3).
fn versions(text: &str) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    if text.trim().is_empty() {
        return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]);
    }
    let mut v = Vec::new();
    for w in text.split_whitespace() {
        match w.to_ascii_lowercase().as_str() {
            "tlsv1.2" => v.push(&rustls::version::TLS12),
            "tlsv1.3" => v.push(&rustls::version::TLS13),
            "tlsv1" | "tlsv1.1" => {
                return Err(format!(
                    "tls-protocols: {w} is not supported (it is not safe); use TLSv1.2 and/or TLSv1.3"
                ));
            }
            _ => return Err(format!("tls-protocols: unknown protocol '{w}'")),
        }
    }
    Ok(v)
}

/// OpenSSL's names of the TLS 1.2 suites rustls offers (for TLS 1.3 OpenSSL uses IANA's).
const OPENSSL_NAMES: [(&str, &str); 6] = [
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-ECDSA-AES128-GCM-SHA256",
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "ECDHE-RSA-CHACHA20-POLY1305",
    ),
];

/// A suite's names: IANA's, and OpenSSL's where it differs.
fn suite_names(s: &SupportedCipherSuite) -> [String; 2] {
    let iana = s
        .suite()
        .as_str()
        .unwrap_or_default()
        .replace("TLS13_", "TLS_");
    let openssl = OPENSSL_NAMES
        .iter()
        .find(|(i, _)| *i == iana)
        .map_or(iana.clone(), |(_, o)| o.to_string());
    [iana, openssl]
}

/// The suites of one protocol version a `tls-ciphersuites` (TLS 1.3) or `tls-ciphers`
/// (TLS 1.2) list names, colon-separated (empty: all of them).
fn suites(text: &str, setting: &str, tls13: bool) -> Result<Vec<SupportedCipherSuite>, String> {
    let all: Vec<SupportedCipherSuite> = rustls::crypto::ring::ALL_CIPHER_SUITES
        .iter()
        .copied()
        .filter(|s| (s.version() == &rustls::version::TLS13) == tls13)
        .collect();
    if text.trim().is_empty() || text.trim().eq_ignore_ascii_case("DEFAULT") {
        return Ok(all);
    }
    let mut chosen = Vec::new();
    for name in text.split([':', ' ', ',']).filter(|n| !n.is_empty()) {
        let found = all
            .iter()
            .find(|s| suite_names(s).iter().any(|n| n.eq_ignore_ascii_case(name)))
            .ok_or_else(|| {
                let known: Vec<String> = all.iter().map(|s| suite_names(s)[0].clone()).collect();
                format!(
                    "{setting}: unknown or unsupported suite '{name}' (supported: {})",
                    known.join(", ")
                )
            })?;
        chosen.push(*found);
    }
    Ok(chosen)
}

/// The crypto provider with the suites the settings allow. It is *ring*'s: rustls marks
/// it deprecated because it offers no post-quantum key exchange, but the alternative
/// (aws-lc) needs cmake and a long C build on every machine that builds Concord.
fn provider(c: &ServerConfig) -> Result<CryptoProvider, String> {
    #[allow(deprecated)]
    let mut p = rustls::crypto::ring::default_provider();
    let mut chosen = suites(&c.tls_ciphersuites, "tls-ciphersuites", true)?;
    chosen.extend(suites(&c.tls_ciphers, "tls-ciphers", false)?);
    p.cipher_suites = chosen;
    Ok(p)
}

fn certs(path: &str, setting: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{setting}: {path}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{setting}: {path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{setting}: {path}: no certificate in the file"));
    }
    Ok(certs)
}

fn key(path: &str, setting: &str) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| format!("{setting}: {path}: {e}"))
}

/// The certificate authorities of `tls-ca-cert-file` and `tls-ca-cert-dir`.
fn roots(c: &ServerConfig) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    let mut add = |path: &str, setting: &str| -> Result<(), String> {
        for cert in certs(path, setting)? {
            store
                .add(cert)
                .map_err(|e| format!("{setting}: {path}: {e}"))?;
        }
        Ok(())
    };
    if !c.tls_ca_cert_file.is_empty() {
        add(&c.tls_ca_cert_file, "tls-ca-cert-file")?;
    }
    if !c.tls_ca_cert_dir.is_empty() {
        let dir = Path::new(&c.tls_ca_cert_dir);
        let entries = std::fs::read_dir(dir)
            .map_err(|e| format!("tls-ca-cert-dir: {}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_file() && p.extension().is_some_and(|x| x == "pem" || x == "crt") {
                add(&p.display().to_string(), "tls-ca-cert-dir")?;
            }
        }
    }
    Ok(store)
}

/// The server side: this instance's certificate, and the client verifier that
/// `tls-auth-clients` asks for.
fn server_config(c: &ServerConfig) -> Result<rustls::ServerConfig, String> {
    if c.tls_cert_file.is_empty() || c.tls_key_file.is_empty() {
        return Err("tls-port needs tls-cert-file and tls-key-file".into());
    }
    let provider = Arc::new(provider(c)?);
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions(&c.tls_protocols)?)
        .map_err(|e| format!("tls-protocols: {e}"))?;
    let builder = match c.tls_auth_clients {
        TlsAuthClients::No => builder.with_no_client_auth(),
        auth => {
            let roots = roots(c)?;
            if roots.is_empty() {
                return Err(
                    "tls-auth-clients needs tls-ca-cert-file or tls-ca-cert-dir (or set it to no)"
                        .into(),
                );
            }
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let v = if auth == TlsAuthClients::Optional {
                v.allow_unauthenticated()
            } else {
                v
            };
            builder.with_client_cert_verifier(v.build().map_err(|e| format!("tls-ca-cert: {e}"))?)
        }
    };
    let mut cfg = builder
        .with_single_cert(
            certs(&c.tls_cert_file, "tls-cert-file")?,
            key(&c.tls_key_file, "tls-key-file")?,
        )
        .map_err(|e| format!("tls-cert-file/tls-key-file: {e}"))?;
    cfg.ignore_client_order = c.tls_prefer_server_ciphers;
    cfg.session_storage = if c.tls_session_caching {
        rustls::server::ServerSessionMemoryCache::new(
            usize::try_from(c.tls_session_cache_size).unwrap_or(usize::MAX),
        )
    } else {
        Arc::new(rustls::server::NoServerSessionStorage {})
    };
    if !c.tls_session_caching {
        cfg.send_tls13_tickets = 0;
    }
    Ok(cfg)
}

/// The client side of peer links: peers are verified against the CA, and this instance
/// shows `tls-client-cert-file` (or else `tls-cert-file`).
fn client_config(c: &ServerConfig) -> Result<rustls::ClientConfig, String> {
    let roots = roots(c)?;
    if roots.is_empty() {
        return Err(
            "tls-replication and replicaof-tls need tls-ca-cert-file or tls-ca-cert-dir".into(),
        );
    }
    let (cert, key_file, cert_setting, key_setting) = if !c.tls_client_cert_file.is_empty() {
        (
            &c.tls_client_cert_file,
            &c.tls_client_key_file,
            "tls-client-cert-file",
            "tls-client-key-file",
        )
    } else {
        (
            &c.tls_cert_file,
            &c.tls_key_file,
            "tls-cert-file",
            "tls-key-file",
        )
    };
    if cert.is_empty() || key_file.is_empty() {
        return Err("tls-replication and replicaof-tls need a certificate to show (tls-client-cert-file and tls-client-key-file, or tls-cert-file and tls-key-file)".into());
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(provider(c)?))
        .with_protocol_versions(&versions(&c.tls_protocols)?)
        .map_err(|e| format!("tls-protocols: {e}"))?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs(cert, cert_setting)?, key(key_file, key_setting)?)
        .map_err(|e| format!("{cert_setting}: {e}"))
}

/// CONFIG SET of a TLS setting: rebuild, or refuse the change.
pub(crate) fn apply(
    sh: &crate::Shared,
    _: &mut concord_engine::Engine,
    c: &ServerConfig,
) -> Result<(), String> {
    sh.tls.reload(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_by_either_name() {
        let all13 = suites("", "x", true).expect("all");
        assert_eq!(all13.len(), 3);
        let one = suites("TLS_AES_128_GCM_SHA256", "x", true).expect("iana");
        assert_eq!(one.len(), 1);
        let two = suites(
            "ECDHE-RSA-AES128-GCM-SHA256:TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "x",
            false,
        )
        .expect("openssl and iana");
        assert_eq!(two.len(), 2);
        assert!(suites("RC4-MD5", "tls-ciphers", false).is_err());
        assert!(versions("TLSv1.1").is_err());
        assert_eq!(versions("TLSv1.3").expect("1.3").len(), 1);
    }
}
