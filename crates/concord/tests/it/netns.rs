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
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        assert!(line.contains("listening"), "{line}");
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
