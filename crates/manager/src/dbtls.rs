//! TLS between the instances of a database (`encryption`): a certificate authority made
//! for the database when it is created, and a certificate per instance that it signs,
//! naming the host the other instances reach it by. Every participating cluster holds
//! the authority, so any of them can issue the certificate of an instance it adds.

use crate::model::DbCa;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// The authority's parameters: the same for a database every time, so an authority
/// rebuilt from its key signs certificates that chain to the one made at create.
fn ca_params(guid: &str) -> Result<CertificateParams, String> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(DnType::CommonName, format!("Concord database {guid}"));
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

/// A new authority for database `guid`.
pub fn new_ca(guid: &str) -> Result<DbCa, String> {
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let cert = ca_params(guid)?
        .self_signed(&key)
        .map_err(|e| e.to_string())?;
    Ok(DbCa {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// A certificate and key (PEM) for an instance of database `guid` reached by `names`
/// (host names or addresses), for its server side and its links alike.
pub fn issue(ca: &DbCa, guid: &str, names: &[String]) -> Result<(String, String), String> {
    let ca_key = KeyPair::from_pem(&ca.key).map_err(|e| format!("the database's CA key: {e}"))?;
    let issuer = Issuer::new(ca_params(guid)?, ca_key);
    let mut p = CertificateParams::new(names.to_vec()).map_err(|e| e.to_string())?;
    p.distinguished_name.push(
        DnType::CommonName,
        names.first().cloned().unwrap_or_default(),
    );
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let cert = p.signed_by(&key, &issuer).map_err(|e| e.to_string())?;
    Ok((cert.pem(), key.serialize_pem()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

    #[test]
    fn an_issued_certificate_chains_to_the_authority_and_names_its_host() {
        let ca = new_ca("g").expect("ca");
        let (cert, _) =
            issue(&ca, "g", &["10.0.0.7".into(), "east.example.com".into()]).expect("issue");
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(ca.cert.as_bytes()).expect("ca pem"))
            .expect("root");
        #[allow(deprecated)]
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let v = rustls::client::WebPkiServerVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            provider,
        )
        .build()
        .expect("verifier");
        let leaf = CertificateDer::from_pem_slice(cert.as_bytes()).expect("pem");
        use rustls::client::danger::ServerCertVerifier as _;
        for name in ["10.0.0.7", "east.example.com"] {
            let n = ServerName::try_from(name).expect("name");
            assert!(
                v.verify_server_cert(&leaf, &[], &n, &[], UnixTime::now())
                    .is_ok(),
                "{name}"
            );
        }
        let other = ServerName::try_from("west.example.com").expect("name");
        assert!(
            v.verify_server_cert(&leaf, &[], &other, &[], UnixTime::now())
                .is_err()
        );
        // Another database's authority does not sign for this one.
        let (foreign, _) =
            issue(&new_ca("h").expect("ca"), "h", &["10.0.0.7".into()]).expect("issue");
        let foreign = CertificateDer::from_pem_slice(foreign.as_bytes()).expect("pem");
        let n = ServerName::try_from("10.0.0.7").expect("name");
        assert!(
            v.verify_server_cert(&foreign, &[], &n, &[], UnixTime::now())
                .is_err()
        );
    }
}
