//! TLS with certificates made here: clients (redis-cli, redis-py and a rustls client),
//! certificate reloads, and peer links with mutual authentication where a peer with a
//! wrong CA, an expired certificate or no TLS at all never links.

use crate::support::{Conn, Proc, Reply, TempDir, concord_on, free_port, start, wait_for};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// A certificate authority and the files of what it signed.
pub struct Pki {
    dir: TempDir,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and its key, as files.
#[derive(Clone)]
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub der: Vec<u8>,
}

impl Pki {
    pub fn new(tag: &str) -> Pki {
        let dir = TempDir::new(tag);
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(DnType::CommonName, format!("Concord test CA {tag}"));
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("ca key");
        let cert = p.self_signed(&key).expect("ca cert");
        std::fs::write(dir.0.join("ca.pem"), cert.pem()).expect("write ca");
        Pki {
            dir,
            issuer: Issuer::new(p, key),
        }
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.0.join("ca.pem")
    }

    /// A certificate for `name` (valid for localhost and 127.0.0.1), for servers and
    /// clients alike; `expired` makes one that ended in 2021.
    pub fn issue(&self, name: &str, expired: bool) -> Pair {
        self.issue_for(name, &["localhost", "127.0.0.1"], expired)
    }

    /// A certificate for `name` valid for the host names `sans` only.
    pub fn issue_for(&self, name: &str, sans: &[&str], expired: bool) -> Pair {
        let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
        let mut p = CertificateParams::new(sans).expect("params");
        p.distinguished_name.push(DnType::CommonName, name);
        p.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        if expired {
            p.not_before = rcgen::date_time_ymd(2020, 1, 1);
            p.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().expect("key");
        let cert = p.signed_by(&key, &self.issuer).expect("sign");
        let pair = Pair {
            cert: self.dir.0.join(format!("{name}.pem")),
            key: self.dir.0.join(format!("{name}.key")),
            der: cert.der().to_vec(),
        };
        std::fs::write(&pair.cert, cert.pem()).expect("write cert");
        std::fs::write(&pair.key, key.serialize_pem()).expect("write key");
        pair
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// A TLS-only instance (plain port 0) with `server` as its certificate.
fn tls_server(pki: &Pki, server: &Pair, extra: &[&str]) -> Proc {
    let (ca, cert, key) = (s(&pki.ca()), s(&server.cert), s(&server.key));
    let extra: Vec<String> = extra.iter().map(|x| x.to_string()).collect();
    start("concord-tls", move |port, dir| {
        let mut c = Command::new(crate::support::concord_bin());
        c.args(["server", "--port", "0", "--tls-port", &port.to_string()])
            .args(["--tls-cert-file", &cert, "--tls-key-file", &key])
            .args(["--tls-ca-cert-file", &ca, "--dir"])
            .arg(dir)
            .args(&extra);
        c
    })
}

/// A rustls client connection, optionally showing `client`'s certificate.
pub(crate) fn tls_conn(
    port: u16,
    ca: &Path,
    client: Option<&Pair>,
) -> Result<(Conn, Vec<u8>), String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).expect("ca") {
        roots.add(c.expect("ca cert")).expect("add ca");
    }
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let cfg = match client {
        Some(p) => b
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_file(&p.cert).expect("cert")],
                PrivateKeyDer::from_pem_file(&p.key).expect("key"),
            )
            .expect("client auth"),
        None => b.with_no_client_auth(),
    };
    let sock = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok();
    let name = ServerName::try_from("localhost").expect("name");
    let mut tls = rustls::ClientConnection::new(Arc::new(cfg), name).expect("client");
    let mut raw = sock.try_clone().expect("clone");
    while tls.is_handshaking() {
        tls.complete_io(&mut raw).map_err(|e| e.to_string())?;
    }
    let seen = tls
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .unwrap_or_default();
    let stream = rustls::StreamOwned::new(tls, raw);
    Ok((Conn::over(Box::new(stream), sock), seen))
}

fn redis_cli(port: u16, pki: &Pki, client: Option<&Pair>, args: &[&str]) -> (bool, String) {
    let mut c = Command::new("redis-cli");
    c.args([
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "--tls",
        "--cacert",
    ])
    .arg(pki.ca());
    if let Some(p) = client {
        c.arg("--cert").arg(&p.cert).arg("--key").arg(&p.key);
    }
    let out = c.args(args).output().expect("run redis-cli");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.success() && !text.contains("ERR"),
        text.trim().to_string(),
    )
}

#[test]
fn tls_clients_redis_cli_redis_py_and_client_certificates() {
    let pki = Pki::new("clients");
    let server = pki.issue("server", false);
    let client = pki.issue("client", false);
    let p = tls_server(&pki, &server, &[]);
    // tls-auth-clients defaults to yes: a client certificate is required.
    assert_eq!(
        redis_cli(p.port, &pki, Some(&client), &["SET", "k", "v"]),
        (true, "OK".into())
    );
    assert_eq!(
        redis_cli(p.port, &pki, Some(&client), &["GET", "k"]),
        (true, "v".into())
    );
    let (ok, text) = redis_cli(p.port, &pki, None, &["GET", "k"]);
    assert!(!ok || text.is_empty() || !text.contains('v'), "{text}");
    assert!(
        tls_conn(p.port, &pki.ca(), None)
            .map(|(mut c, _)| c.try_read())
            .map_or(true, |r| r.is_none())
    );
    let py = Command::new("python3")
        .args([
            "-c",
            "import redis, sys; r = redis.Redis(host='127.0.0.1', port=int(sys.argv[1]), ssl=True, \
             ssl_ca_certs=sys.argv[2], ssl_certfile=sys.argv[3], ssl_keyfile=sys.argv[4]); \
             print(r.get('k').decode())",
            &p.port.to_string(),
            &s(&pki.ca()),
            &s(&client.cert),
            &s(&client.key),
        ])
        .output()
        .expect("python3");
    assert_eq!(
        String::from_utf8_lossy(&py.stdout).trim(),
        "v",
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    // Optional: no certificate is fine, and redis-cli connects without one.
    assert_eq!(
        redis_cli(
            p.port,
            &pki,
            Some(&client),
            &["CONFIG", "SET", "tls-auth-clients", "optional"]
        ),
        (true, "OK".into())
    );
    assert_eq!(
        redis_cli(p.port, &pki, None, &["GET", "k"]),
        (true, "v".into())
    );
    // A plain-text client on the TLS port gets nowhere, and the server goes on.
    let mut plain = Conn::open(p.port);
    plain.send_raw(b"PING\r\n");
    let mut buf = [0u8; 256];
    while let Some(n) = plain.read_some(&mut buf) {
        assert!(
            !buf[..n].starts_with(b"+PONG"),
            "plain text answered on the TLS port"
        );
    }
    let (mut c, _) = tls_conn(p.port, &pki.ca(), None).expect("tls");
    assert_eq!(c.cmd(&["PING"]), Reply::Status("PONG".into()));
}

#[test]
fn certificates_reload_without_dropping_established_connections() {
    let pki = Pki::new("reload");
    let first = pki.issue("first", false);
    let second = pki.issue("second", false);
    let p = tls_server(&pki, &first, &["--tls-auth-clients", "no"]);
    let (mut old, seen) = tls_conn(p.port, &pki.ca(), None).expect("tls");
    assert_eq!(seen, first.der);
    assert_eq!(old.cmd(&["SET", "k", "1"]), Reply::Status("OK".into()));
    // A file that is not a certificate is refused, and nothing changes.
    let bogus = pki.dir.0.join("bogus.pem");
    std::fs::write(&bogus, "not a certificate").expect("write");
    assert!(matches!(
        old.cmd(&["CONFIG", "SET", "tls-cert-file", &s(&bogus)]),
        Reply::Error(e) if e.contains("tls-cert-file")
    ));
    // With another setting whose effect was already applied: that effect is undone too
    // (strict stream ids still refuse a full id afterwards).
    assert!(matches!(
        old.cmd(&["CONFIG", "SET", "stream-id-mode", "liberal", "maxclients", "50", "tls-cert-file", &s(&bogus)]),
        Reply::Error(e) if e.starts_with("ERR CONFIG SET failed (possibly related to argument 'tls-cert-file')")
    ));
    let get = |c: &mut Conn, name: &str| match c.cmd(&["CONFIG", "GET", name]) {
        Reply::Array(v) => v[1].clone(),
        other => panic!("{other}"),
    };
    assert_eq!(
        get(&mut old, "stream-id-mode"),
        Reply::Bulk(b"strict".to_vec())
    );
    assert_eq!(get(&mut old, "maxclients"), Reply::Bulk(b"10000".to_vec()));
    assert!(matches!(
        old.cmd(&["XADD", "s", "5-1", "f", "v"]),
        Reply::Error(_)
    ));
    assert_eq!(
        old.cmd(&[
            "CONFIG",
            "SET",
            "tls-cert-file",
            &s(&second.cert),
            "tls-key-file",
            &s(&second.key)
        ]),
        Reply::Status("OK".into())
    );
    let (mut new, seen) = tls_conn(p.port, &pki.ca(), None).expect("tls");
    assert_eq!(seen, second.der, "new connections see the new certificate");
    assert_eq!(new.cmd(&["GET", "k"]), Reply::Bulk(b"1".to_vec()));
    assert_eq!(
        old.cmd(&["INCR", "k"]),
        Reply::Int(2),
        "the established connection goes on"
    );
}

/// One instance of a TLS database: its plain port (for probing) and process.
struct Node {
    port: u16,
    _proc: Proc,
    _dir: TempDir,
}

fn node(id: u16, port: u16, peers: &[(u16, u16)], args: &[String]) -> Option<Node> {
    let dir = TempDir::new(&format!("mtls{id}"));
    let mut a: Vec<String> = vec!["--replica-id".into(), id.to_string()];
    for (pid, pport) in peers {
        a.push("--peer".into());
        a.push(format!("{pid}=127.0.0.1:{pport}"));
    }
    a.extend(args.iter().cloned());
    let proc = concord_on(port, &dir.0, &a)?;
    Some(Node {
        port,
        _proc: proc,
        _dir: dir,
    })
}

fn info_field(c: &mut Conn, line_prefix: &str) -> String {
    let info = match c.cmd(&["INFO", "crdt"]) {
        Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO: {other}"),
    };
    info.lines()
        .find(|l| l.starts_with(line_prefix))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn peers_link_over_mutual_tls_and_bad_certificates_never_link() {
    let good = Pki::new("db");
    let other = Pki::new("other");
    let client = good.issue("operator", false);
    // Instances 1-3 are good; 4 has a certificate of another CA, 5 an expired one, 6 no
    // TLS at all (plain links to TLS ports). Peers dial the TLS ports (6: its plain one);
    // the tests probe every instance on its plain port.
    let ports: Vec<u16> = (0..6).map(|_| free_port()).collect();
    let tls_ports: Vec<u16> = (0..6).map(|_| free_port()).collect();
    let dial = |i: u16| {
        if i == 6 {
            ports[5]
        } else {
            tls_ports[i as usize - 1]
        }
    };
    let all: Vec<(u16, u16)> = (1..=6).map(|i| (i, dial(i))).collect();
    let tls_args = |pki: &Pki, pair: &Pair| -> Vec<String> {
        vec![
            "--tls-port".into(),
            "PORT".into(),
            "--tls-cert-file".into(),
            s(&pair.cert),
            "--tls-key-file".into(),
            s(&pair.key),
            "--tls-ca-cert-file".into(),
            s(&pki.ca()),
            "--tls-replication".into(),
            "yes".into(),
        ]
    };
    let certs = [
        tls_args(&good, &good.issue("node1", false)),
        tls_args(&good, &good.issue("node2", false)),
        tls_args(&good, &good.issue("node3", false)),
        tls_args(&other, &other.issue("node4", false)),
        tls_args(&good, &good.issue("node5", true)),
    ];
    let mut nodes = Vec::new();
    for id in 1..=6u16 {
        let port = ports[id as usize - 1];
        let peers: Vec<(u16, u16)> = all.iter().copied().filter(|(p, _)| *p != id).collect();
        let mut args: Vec<String> = certs.get(id as usize - 1).cloned().unwrap_or_default();
        for a in &mut args {
            if a == "PORT" {
                *a = tls_ports[id as usize - 1].to_string();
            }
        }
        let n = node(id, port, &peers, &args).unwrap_or_else(|| panic!("start node {id}"));
        nodes.push(n);
    }
    // Clients reach the good instances over TLS too.
    let mut c1 = tls_conn(tls_ports[0], &good.ca(), Some(&client))
        .expect("node 1")
        .0;
    let mut c2 = Conn::open(nodes[1].port);
    let mut c3 = Conn::open(nodes[2].port);
    assert_eq!(c1.cmd(&["SET", "k", "from-1"]), Reply::Status("OK".into()));
    assert_eq!(c3.cmd(&["SADD", "s", "from-3"]), Reply::Int(1));
    wait_for(30, "the good instances to converge", || {
        let d: Vec<Reply> = [&mut c1, &mut c2, &mut c3]
            .into_iter()
            .map(|c| c.cmd(&["CRDT.DIGEST"]))
            .collect();
        c2.cmd(&["GET", "k"]) == Reply::Bulk(b"from-1".to_vec()) && d[0] == d[1] && d[1] == d[2]
    });
    // The bad ones never linked: each good instance reports why for each of them (once
    // they listen: an attempt before that is refused, and retried within a second).
    wait_for(30, "link errors to be reported", || {
        (4..=6).all(|id| {
            let l = info_field(&mut c1, &format!("crdt_peer{id}:"));
            !l.contains("link_errors=0")
                && !l.ends_with("last_error=")
                && !l.contains("Connection refused")
                && l.contains("state=down")
        })
    });
    let l4 = info_field(&mut c1, "crdt_peer4:");
    assert!(
        l4.contains("certificate") || l4.contains("UnknownIssuer"),
        "{l4}"
    );
    let l5 = info_field(&mut c1, "crdt_peer5:");
    assert!(l5.contains("certificate") || l5.contains("Expired"), "{l5}");
    for (i, n) in nodes.iter().enumerate().skip(3) {
        let mut c = Conn::open(n.port);
        assert_eq!(c.cmd(&["GET", "k"]), Reply::Nil, "node {} got data", i + 1);
        assert_eq!(
            c.cmd(&["SCARD", "s"]),
            Reply::Int(0),
            "node {} got data",
            i + 1
        );
    }
    drop(nodes);
}

/// A peer's certificate names a host, not the address peers dial: the link works when
/// the peer is given that name (`--peer ID=HOST:PORT,sni=NAME`) and fails without it.
#[test]
fn peer_links_check_the_name_given_per_peer() {
    let pki = Pki::new("sni");
    for with_sni in [true, false] {
        let ports = [free_port(), free_port()];
        let tls_ports = [free_port(), free_port()];
        let names = ["a.concord.test", "b.concord.test"];
        let mut nodes = Vec::new();
        for i in 0..2usize {
            let pair = pki.issue_for(&format!("n{i}{with_sni}"), &[names[i]], false);
            let j = 1 - i;
            let peer = if with_sni {
                format!("{}=127.0.0.1:{},sni={}", j + 1, tls_ports[j], names[j])
            } else {
                format!("{}=127.0.0.1:{}", j + 1, tls_ports[j])
            };
            let args: Vec<String> = [
                "--tls-port",
                &tls_ports[i].to_string(),
                "--tls-cert-file",
                &s(&pair.cert),
                "--tls-key-file",
                &s(&pair.key),
                "--tls-ca-cert-file",
                &s(&pki.ca()),
                "--tls-replication",
                "yes",
                "--peer",
                &peer,
            ]
            .iter()
            .map(|x| x.to_string())
            .collect();
            nodes.push(
                node(i as u16 + 1, ports[i], &[], &args).unwrap_or_else(|| panic!("node {i}")),
            );
        }
        let mut a = Conn::open(ports[0]);
        let mut b = Conn::open(ports[1]);
        if with_sni {
            assert_eq!(a.cmd(&["SET", "k", "v"]), Reply::Status("OK".into()));
            wait_for(20, "the write to replicate", || {
                b.cmd(&["GET", "k"]) == Reply::Bulk(b"v".to_vec())
            });
        } else {
            wait_for(20, "the name mismatch to be reported", || {
                let l = info_field(&mut b, "crdt_peer1:");
                l.contains("NotValidForName") || l.contains("not valid for")
            });
        }
    }
}

/// A certificate the CA signed links only as the peer it names: every peer's certificate
/// comes from the same CA, so one peer (or a client holding a certificate) cannot claim
/// to be another.
#[test]
fn a_peer_certificate_links_only_as_the_peer_it_names() {
    let pki = Pki::new("impostor");
    let server = pki.issue_for("srv", &["localhost"], false);
    let b = pki.issue_for("b", &["b.concord.test"], false);
    let peers = [
        format!("2=127.0.0.1:{},sni=b.concord.test", free_port()),
        format!("3=127.0.0.1:{},sni=c.concord.test", free_port()),
    ];
    let p = tls_server(
        &pki,
        &server,
        &[
            "--replica-id",
            "1",
            "--tls-replication",
            "yes",
            "--peer",
            &peers[0],
            "--peer",
            &peers[1],
        ],
    );
    let (mut c, _) = tls_conn(p.port, &pki.ca(), Some(&b)).expect("tls");
    match c.cmd(&["CRDT.LINK", "1", "concord", "3", "1"]) {
        Reply::Error(e) => assert!(e.contains("does not name peer 3"), "{e}"),
        other => panic!("linked as another peer: {other}"),
    }
    let (mut c, _) = tls_conn(p.port, &pki.ca(), Some(&b)).expect("tls");
    assert_eq!(
        c.cmd(&["CRDT.LINK", "1", "concord", "2", "1"]),
        Reply::Status("OK".into())
    );
}

/// A client that opens the TLS port and never finishes its handshake is dropped (after
/// 10 s), and holds nothing meanwhile.
#[test]
fn a_handshake_that_never_finishes_is_dropped() {
    let pki = Pki::new("stall");
    let server = pki.issue("server", false);
    let p = tls_server(&pki, &server, &["--tls-auth-clients", "no"]);
    let mut stalled = Conn::open(p.port);
    stalled.send_raw(&[0x16, 0x03, 0x01]);
    let started = std::time::Instant::now();
    stalled.set_timeout(Some(std::time::Duration::from_secs(30)));
    let mut buf = [0u8; 64];
    assert_eq!(stalled.read_some(&mut buf), None);
    assert!(
        !stalled.timed_out(),
        "closed by the server, not by our timeout"
    );
    assert!(started.elapsed() >= std::time::Duration::from_secs(9));
    let (mut c, _) = tls_conn(p.port, &pki.ca(), None).expect("tls");
    assert_eq!(c.cmd(&["PING"]), Reply::Status("PONG".into()));
}

/// Connections still in their TLS handshake count against maxclients, and a refused TLS
/// client reads the refusal over TLS.
#[test]
fn tls_handshakes_count_against_maxclients() {
    let pki = Pki::new("maxclients");
    let server = pki.issue("server", false);
    let p = tls_server(
        &pki,
        &server,
        &["--tls-auth-clients", "no", "--maxclients", "2"],
    );
    let stalled: Vec<Conn> = (0..2).map(|_| Conn::open(p.port)).collect();
    let (mut refused, _) = tls_conn(p.port, &pki.ca(), None).expect("tls");
    assert_eq!(
        refused.try_read(),
        Some(Reply::Error("ERR max number of clients reached".into()))
    );
    drop(stalled);
    wait_for(10, "room for a TLS client", || {
        tls_conn(p.port, &pki.ca(), None)
            .map(|(mut c, _)| c.cmd(&["PING"]) == Reply::Status("PONG".into()))
            .unwrap_or(false)
    });
}

/// A large reply to a TLS client that reads slowly arrives whole: the records the TLS
/// stream holds back while the socket is full are flushed, not left for the next reply.
#[test]
fn large_replies_reach_slow_tls_readers_whole() {
    let pki = Pki::new("large");
    let server = pki.issue("server", false);
    let p = tls_server(&pki, &server, &["--tls-auth-clients", "no"]);
    let (mut c, _) = tls_conn(p.port, &pki.ca(), None).expect("tls");
    let value = "v".repeat(4 << 20);
    assert_eq!(c.cmd(&["SET", "big", &value]), Reply::Status("OK".into()));
    for _ in 0..3 {
        c.send_raw(&Conn::encode(&[b"GET".to_vec(), b"big".to_vec()]));
        // Let the server fill the socket before reading anything.
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert_eq!(c.read(), Reply::Bulk(value.as_bytes().to_vec()));
    }
    assert_eq!(c.cmd(&["PING"]), Reply::Status("PONG".into()));
}
