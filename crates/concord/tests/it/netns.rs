//! What only a client on another host sees, tried from inside a network namespace of the
//! test's own (two addresses on a veth pair, nothing reachable outside it): protected
//! mode, and peer links that must prove who they are.
//!
//! Needs root and `ip` (iproute2). Where a namespace cannot be made the tests say so and
//! pass, unless `CONCORD_REQUIRE_NETNS=1` asks for them to fail instead.

use crate::support::{TempDir, concord_bin, free_port, wait_for};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const HOST: &str = "10.213.0.1";

/// A network namespace, deleted when dropped.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Option<Netns> {
        let name = format!("concord-{tag}-{}", std::process::id());
        let ip = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !ip(&["netns", "add", &name]) {
            let must = std::env::var("CONCORD_REQUIRE_NETNS").is_ok_and(|v| v == "1");
            assert!(
                !must,
                "cannot create a network namespace (root and iproute2 needed)"
            );
            eprintln!("skipped: cannot create a network namespace (root and iproute2 needed)");
            return None;
        }
        let ns = Netns(name);
        let n = ns.0.as_str();
        for args in [
            vec!["-n", n, "link", "set", "lo", "up"],
            vec![
                "-n", n, "link", "add", "v0", "type", "veth", "peer", "name", "v1",
            ],
            vec!["-n", n, "addr", "add", "10.213.0.1/24", "dev", "v0"],
            vec!["-n", n, "addr", "add", "10.213.0.2/24", "dev", "v1"],
            vec!["-n", n, "link", "set", "v0", "up"],
            vec!["-n", n, "link", "set", "v1", "up"],
        ] {
            assert!(ip(&args), "ip {args:?}");
        }
        Some(ns)
    }

    /// A command run inside the namespace.
    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0, program]);
        c
    }

    /// redis-cli inside the namespace; its output.
    fn cli(&self, host: &str, port: u16, args: &[&str]) -> String {
        let out = self
            .cmd("redis-cli")
            .args(["-h", host, "-p", &port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Starts Concord inside the namespace, once it listens.
    fn concord(&self, dir: &TempDir, port: u16, args: &[&str]) -> Server {
        let mut child = self
            .cmd(&concord_bin())
            .args(["server", "--port", &port.to_string(), "--dir"])
            .arg(&dir.0)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn concord");
        // The log shares standard output: wait for the line that says "listening".
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        while out.read_line(&mut line).expect("read") > 0 && !line.contains("listening") {
            line.clear();
        }
        assert!(line.contains("listening"), "{line}");
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        Server(child)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A server process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn protected_mode_serves_only_loopback_without_a_password() {
    let Some(ns) = Netns::new("protected") else {
        return;
    };
    let dir = TempDir::new("protected");
    let port = free_port();
    let _s = ns.concord(&dir, port, &["--bind", "0.0.0.0"]);
    assert!(ns.cli(HOST, port, &["PING"]).starts_with("DENIED"));
    assert_eq!(ns.cli("127.0.0.1", port, &["PING"]), "PONG");
    // A password lifts it, for clients that know it.
    assert_eq!(
        ns.cli("127.0.0.1", port, &["CONFIG", "SET", "requirepass", "pw"]),
        "OK"
    );
    assert_eq!(
        ns.cli(HOST, port, &["-a", "pw", "--no-auth-warning", "PING"]),
        "PONG"
    );
    assert_eq!(
        ns.cli(
            HOST,
            port,
            &[
                "-a",
                "pw",
                "--no-auth-warning",
                "CONFIG",
                "SET",
                "requirepass",
                ""
            ]
        ),
        "OK"
    );
    assert!(ns.cli(HOST, port, &["PING"]).starts_with("DENIED"));
    // So does turning it off, or binding to a chosen address.
    assert_eq!(
        ns.cli(
            "127.0.0.1",
            port,
            &["CONFIG", "SET", "protected-mode", "no"]
        ),
        "OK"
    );
    assert_eq!(ns.cli(HOST, port, &["PING"]), "PONG");
    let dir2 = TempDir::new("protected2");
    let port2 = free_port();
    let _s2 = ns.concord(&dir2, port2, &["--bind", HOST]);
    assert_eq!(ns.cli(HOST, port2, &["PING"]), "PONG");
}

#[test]
fn peers_on_other_hosts_must_prove_who_they_are() {
    let Some(ns) = Netns::new("identity") else {
        return;
    };
    let (d1, d2) = (TempDir::new("id1"), TempDir::new("id2"));
    let (p1, p2) = (free_port(), free_port());
    let peer1 = format!("1={HOST}:{p1}");
    let peer2 = format!("2={HOST}:{p2}");
    // Without passwords or TLS, the link between two addresses that are not loopback is
    // refused, and the dialing side says why.
    let common = ["--bind", HOST, "--db-name", "idtest"];
    let s1 = ns.concord(
        &d1,
        p1,
        &[&common[..], &["--replica-id", "1", "--peer", &peer2]].concat(),
    );
    let s2 = ns.concord(
        &d2,
        p2,
        &[&common[..], &["--replica-id", "2", "--peer", &peer1]].concat(),
    );
    wait_for(20, "the refusal to show in INFO crdt", || {
        ns.cli(HOST, p2, &["INFO", "crdt"])
            .lines()
            .any(|l| l.starts_with("crdt_peer1:") && l.contains("must authenticate"))
    });
    assert_eq!(ns.cli(HOST, p1, &["SET", "k", "v"]), "OK");
    assert_eq!(ns.cli(HOST, p2, &["GET", "k"]), "");
    drop((s1, s2));
    // With a password the same link is accepted.
    let (d3, d4) = (TempDir::new("id3"), TempDir::new("id4"));
    let auth = ["--requirepass", "pw"];
    let _s3 = ns.concord(
        &d3,
        p1,
        &[&common[..], &auth, &["--replica-id", "1", "--peer", &peer2]].concat(),
    );
    let _s4 = ns.concord(
        &d4,
        p2,
        &[&common[..], &auth, &["--replica-id", "2", "--peer", &peer1]].concat(),
    );
    let a = ["-a", "pw", "--no-auth-warning"];
    assert_eq!(
        ns.cli(HOST, p1, &[&a[..], &["SET", "k", "v"]].concat()),
        "OK"
    );
    wait_for(20, "the write to replicate", || {
        ns.cli(HOST, p2, &[&a[..], &["GET", "k"]].concat()) == "v"
    });
}

/// Two participating clusters on two addresses (as on two hosts): the database made with
/// a password through the CLI, its instances listening on each cluster's address and
/// linking with that password; a client on one reads what a client on the other wrote.
#[test]
fn clusters_on_two_hosts_make_one_database_with_a_password() {
    let Some(ns) = Netns::new("clusters") else {
        return;
    };
    const ADMIN: (&str, &str) = ("admin@example.com", "admin-password");
    let hosts = [HOST, "10.213.0.2"];
    let dirs = [TempDir::new("host1"), TempDir::new("host2")];
    let rest = [free_port(), free_port()];
    let db = [free_port(), free_port()];
    let mut managers = Vec::new();
    for i in 0..2 {
        let name = format!("host{}.example.com", i + 1);
        let out = Command::new(concord_bin())
            .args(["cluster", "init", "--dir"])
            .arg(dirs[i].0.join("c"))
            .args([
                "--name",
                &name,
                "--admin-user",
                ADMIN.0,
                "--admin-password",
                ADMIN.1,
            ])
            .args(["--rest-port", &rest[i].to_string(), "--bind", hosts[i]])
            .args(["--console-port", &free_port().to_string()])
            .args(["--ports", &format!("{}-{}", db[i], db[i])])
            .output()
            .expect("init");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let child = ns
            .cmd(&concord_bin())
            .args(["cluster", "start", "--dir"])
            .arg(dirs[i].0.join("c"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start");
        managers.push(Server(child));
    }
    let fingerprint = |i: usize| -> String {
        use rustls_pki_types::pem::PemObject as _;
        use sha2::Digest as _;
        let der =
            rustls_pki_types::CertificateDer::from_pem_file(dirs[i].0.join("c/tls/api-cert.pem"))
                .expect("certificate");
        sha2::Sha256::digest(der.as_ref())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let mut create = ns.cmd(&concord_bin());
    create.args(["crdb", "create", "--name", "shop"]);
    create.args(["--default-db-config", r#"{"password": "db-password"}"#]);
    for i in 0..2 {
        create.arg("--instance").arg(format!(
            "fqdn=host{}.example.com,url=https://{}:{},username={},password={},fingerprint={}",
            i + 1,
            hosts[i],
            rest[i],
            ADMIN.0,
            ADMIN.1,
            fingerprint(i)
        ));
    }
    let mut last = String::new();
    wait_for(30, "the create to succeed", || {
        let out = create.output().expect("concord crdb create");
        last = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            eprintln!("create: {last}");
        }
        out.status.success()
    });
    assert!(last.contains("Created database shop"), "{last}");
    let a = ["-a", "db-password", "--no-auth-warning"];
    wait_for(20, "the write on host 1", || {
        ns.cli(hosts[0], db[0], &[&a[..], &["SET", "k", "v"]].concat()) == "OK"
    });
    wait_for(20, "the write read on host 2", || {
        ns.cli(hosts[1], db[1], &[&a[..], &["GET", "k"]].concat()) == "v"
    });
    assert!(
        ns.cli(hosts[1], db[1], &["GET", "k"]).starts_with("NOAUTH"),
        "a client without the password is refused"
    );
}
