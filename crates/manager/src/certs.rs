//! The REST API's certificate: loaded from PEM files, or made self-signed on `init` when
//! none is given (other clusters then pin its fingerprint or trust it explicitly).

use crate::{ManagerError, file_error};
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The directory under a cluster's directory that holds its own certificate and key.
const TLS_DIR: &str = "tls";

/// The crypto provider: ring, as the instances use (aws-lc needs a long C build).
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes a self-signed certificate for `name` (also valid for localhost and 127.0.0.1,
/// so the cluster's own tools reach it, and for `address`, the one the cluster's
/// databases listen on, when it is a particular one) and writes it with its key under
/// `dir/tls/`; the key file is readable by its owner only.
pub(crate) fn self_signed(
    dir: &Path,
    name: &str,
    address: &str,
) -> Result<(PathBuf, PathBuf), ManagerError> {
    let mut names = vec![name.to_string()];
    let particular = !matches!(address, "0.0.0.0" | "::" | "");
    for n in ["localhost", "127.0.0.1", address] {
        if !names.iter().any(|x| x == n) && (n != address || particular) {
            names.push(n.to_string());
        }
    }
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| ManagerError::Certificate(e.to_string()))?;
    let tls = dir.join(TLS_DIR);
    std::fs::create_dir_all(&tls).map_err(file_error(&tls))?;
    let cert = tls.join("api-cert.pem");
    let key = tls.join("api-key.pem");
    std::fs::write(&cert, made.cert.pem()).map_err(file_error(&cert))?;
    write_private(&key, made.signing_key.serialize_pem().as_bytes())?;
    Ok((cert, key))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ManagerError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(file_error(path))?;
    f.write_all(bytes).map_err(file_error(path))?;
    f.sync_all().map_err(file_error(path))
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ManagerError> {
    let bad = |e: String| ManagerError::Certificate(format!("{}: {e}", path.display()));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no certificate in the file".into()));
    }
    Ok(certs)
}

/// The HTTPS server configuration of the API.
pub(crate) fn load_server_config(
    cert: &Path,
    key: &Path,
) -> Result<Arc<rustls::ServerConfig>, ManagerError> {
    let chain = certs(cert)?;
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| ManagerError::Certificate(format!("{}: {e}", key.display())))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ManagerError::Certificate(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| ManagerError::Certificate(format!("{}: {e}", cert.display())))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The certificate authorities in a PEM file.
pub(crate) fn load_roots(ca: &Path) -> Result<RootCertStore, ManagerError> {
    let mut roots = RootCertStore::empty();
    for c in certs(ca)? {
        roots
            .add(c)
            .map_err(|e| ManagerError::Certificate(format!("{}: {e}", ca.display())))?;
    }
    Ok(roots)
}
