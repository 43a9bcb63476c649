//! Peers that are not what they claim: links from other databases or unknown replicas,
//! a wrong password, garbage and lies on an established link, and random handshakes
//! from either side. None of them may link or change data.

use crate::cluster::{Cluster, bulk};
use crate::support::{Conn, Proc, Reply, Rng, TempDir, concord_on, free_port, seed, wait_for};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

#[test]
fn links_to_other_databases_and_unknown_replicas_are_refused() {
    let c = Cluster::start(2, &[]);
    let mut k = c.conn(0);
    let before = k.cmd(&["CRDT.DIGEST"]);
    for (args, why) in [
        (["CRDT.LINK", "1", "otherdb", "2", "1"], "database"),
        (["CRDT.LINK", "1", "itest", "9", "1"], "not a peer"),
        (["CRDT.LINK", "0", "itest", "2", "1"], "protocol version"),
        (["CRDT.LINK", "two", "itest", "2", "1"], "protocol version"),
        (["CRDT.LINK", "1", "itest", "2", "5"], "addressed to"),
    ] {
        let mut p = c.conn(0);
        match p.cmd(&args) {
            Reply::Error(e) => assert!(e.contains(why), "{e}"),
            r => panic!("link accepted: {r}"),
        }
    }
    // A dialer newer than this instance links at the newest version this one speaks.
    let newest = concord_replication::PROTO_VERSION.to_string();
    assert_eq!(
        c.conn(0).cmd(&["CRDT.LINK", "99", "itest", "2", "1"]),
        Reply::Status(format!("OK {newest}"))
    );
    // A link cannot hide in a transaction (the connection would become a link mid-EXEC).
    let mut t = c.conn(0);
    assert_eq!(t.cmd(&["MULTI"]), Reply::Status("OK".into()));
    assert_eq!(
        t.cmd(&["CRDT.LINK", "1", "itest", "2", "1"]),
        Reply::Error("ERR Command not allowed inside a transaction".into())
    );
    assert_eq!(k.cmd(&["CRDT.DIGEST"]), before);
}

/// One link per peer: a connection claiming to be instance 2 replaces instance 2's link,
/// and is replaced in turn when instance 2 links again.
#[test]
fn a_newer_link_from_a_peer_replaces_the_older() {
    let c = Cluster::start(2, &[]);
    c.converged(30);
    let mut fake = c.conn(0);
    assert_eq!(
        fake.cmd(&["CRDT.LINK", "1", "itest", "2", "1"]),
        Reply::Status("OK".into())
    );
    // Instance 2 notices its link ended, dials again and displaces the impostor.
    fake.set_timeout(Some(Duration::from_secs(30)));
    let mut buf = [0u8; 4096];
    let mut closed = false;
    for _ in 0..100_000 {
        if fake.read_some(&mut buf).is_none() {
            closed = !fake.timed_out();
            break;
        }
    }
    assert!(closed, "the older link was closed by the server");
    let mut k = c.conn(0);
    assert_eq!(k.cmd(&["SET", "after", "v"]), Reply::Status("OK".into()));
    c.converged(30);
}

/// Instance 1 of database "itest", whose only peer (2) is a fake listening on `port`.
/// Tests with it write nothing: a starting instance holds writes until it has caught up
/// with its peers (10 s at most), and this peer lies.
fn instance_of_a_liar(port: u16) -> (Proc, TempDir) {
    let dir = TempDir::new("liar");
    let args: Vec<String> = ["--replica-id", "1", "--db-name", "itest", "--peer"]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("2=127.0.0.1:{port}")])
        .collect();
    let inst = (0..5)
        .find_map(|_| concord_on(free_port(), &dir.0, &args))
        .expect("start");
    (inst, dir)
}

/// A fake upstream peer: instance 1 links to it and receives whatever it sends.
fn fake_upstream(send: Vec<u8>) -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let h = std::thread::spawn(move || {
        let Ok((mut s, _)) = l.accept() else {
            return;
        };
        s.set_read_timeout(Some(Duration::from_secs(5))).ok();
        let mut buf = [0u8; 4096];
        // The handshake command, then accept it.
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"+OK\r\n");
        let _ = s.write_all(&send);
        let _ = s.shutdown(Shutdown::Write);
        // Wait for the instance to drop the link.
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    });
    (port, h)
}

#[test]
fn garbage_and_lies_from_a_peer_drop_the_link_and_change_nothing() {
    use concord_crdt::{Dot, Hlc, Op, OpKind, Origin, Stamp, VersionVector};
    use concord_replication::{Msg, PROTO_VERSION};
    let op = |id: u16, seq: u64| Op {
        stamp: Stamp::new(Dot::new(Origin::new(id, u32::MAX), seq), Hlc::new(1, 0)),
        deps: Arc::new(VersionVector::new()),
        key: b"evil".to_vec().into(),
        kind: OpKind::SetStr(b"x".to_vec().into(), concord_crdt::Ttl::Keep),
    };
    let frames = |m: Msg| {
        let mut b = Vec::new();
        // The fake answers the handshake with +OK: the version asked, the newest.
        Msg::Partial.encode(PROTO_VERSION, false, &mut b);
        m.encode(PROTO_VERSION, false, &mut b);
        b
    };
    let mut truncated = frames(Msg::Ops(vec![Arc::from(vec![op(2, 1)])]));
    truncated.truncate(truncated.len() - 3);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "garbage",
            b"\x05\x00\x00\x00\x00hello world, not a frame".to_vec(),
        ),
        ("truncated batch", truncated),
        (
            "unknown replica",
            frames(Msg::Ops(vec![Arc::from(vec![op(9, 1)])])),
        ),
        (
            "an op claiming to be the instance's own",
            frames(Msg::Ops(vec![Arc::from(vec![op(1, 1)])])),
        ),
        (
            "a gap that never fills",
            frames(Msg::Ops(vec![Arc::from(vec![op(2, 5)])])),
        ),
        ("huge length", b"\xff\xff\xff\x7f\x00".to_vec()),
    ];
    for (what, bytes) in cases {
        let (port, h) = fake_upstream(bytes);
        let (inst, _dir) = instance_of_a_liar(port);
        let mut k = Conn::open(inst.port);
        let before = k.cmd(&["CRDT.DIGEST"]);
        h.join().expect("fake peer");
        wait_for(10, "link dropped", || {
            let info = match k.cmd(&["INFO", "crdt"]) {
                Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
                r => format!("{r}"),
            };
            !info.contains("state=up") || info.contains("crdt_waiting_ops:1")
        });
        assert_eq!(k.cmd(&["CRDT.DIGEST"]), before, "{what} changed the data");
        assert_eq!(k.cmd(&["EXISTS", "evil"]), Reply::Int(0), "{what}");
        assert_eq!(k.cmd(&["DBSIZE"]), Reply::Int(0), "{what}");
    }
}

/// A fake peer that answers each handshake of the instance dialing it with random bytes
/// (or a refusal, an endless line, nothing); counts the handshakes it answered.
fn lying_peer(seed: u64) -> (u16, Arc<AtomicUsize>, Arc<AtomicBool>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.set_nonblocking(true).expect("nonblocking");
    let port = l.local_addr().expect("addr").port();
    let (answered, stop) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let (a, st) = (answered.clone(), stop.clone());
    std::thread::spawn(move || {
        let mut rng = Rng::new(seed);
        while !st.load(Ordering::Acquire) {
            let Ok((mut s, _)) = l.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            let _ = s.set_nonblocking(false);
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let reply: Vec<u8> = match rng.below(5) {
                0 => (0..rng.below(200)).map(|_| rng.next() as u8).collect(),
                1 => b"-ERR go away\r\n".to_vec(),
                // A line longer than any handshake reply, never ended.
                2 => vec![b'+'; 100_000],
                3 => Vec::new(),
                _ => {
                    let mut r = b"+OK\r\n".to_vec();
                    r.extend((0..rng.below(64)).map(|_| rng.next() as u8));
                    r
                }
            };
            let _ = s.write_all(&reply);
            let _ = s.shutdown(Shutdown::Write);
            a.fetch_add(1, Ordering::AcqRel);
        }
    });
    (port, answered, stop)
}

/// Fuzzes the link handshake from both sides: random CRDT.LINK arguments from clients,
/// and random answers to the instance's own handshake from a lying peer. Only a valid
/// hello links; nothing changes the data and the instance keeps serving.
#[test]
fn random_handshakes_from_either_side_link_nothing_and_change_nothing() {
    let seed = seed();
    let mut rng = Rng::new(seed);
    let (peer_port, answered, stop) = lying_peer(seed ^ 0x5eed);
    let (inst, _dir) = instance_of_a_liar(peer_port);
    let mut k = Conn::open(inst.port);
    let before = k.cmd(&["CRDT.DIGEST"]);
    let words: [&[u8]; 12] = [
        b"1",
        b"itest",
        b"2",
        b"01",
        b"0",
        b"-1",
        b"",
        b"ITEST",
        b"65538",
        b"18446744073709551617",
        b"1\x00",
        b"\xff\xfe",
    ];
    let number = |b: &[u8]| {
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
    };
    for _ in 0..300 {
        let mut req = vec![b"CRDT.LINK".to_vec()];
        for _ in 0..rng.below(7) {
            req.push(if rng.chance(30) {
                (0..rng.below(64)).map(|_| rng.next() as u8).collect()
            } else {
                rng.pick(&words).to_vec()
            });
        }
        let mut p = Conn::open(inst.port);
        match p.call(&req) {
            Reply::Error(_) => {}
            Reply::Status(s) if s == "OK" || s.starts_with("OK ") => {
                // Only the hello of peer 2 to instance 1 of "itest" links, at a protocol
                // version this instance speaks: the one asked (OK) or, for a dialer that
                // names another, the newest both speak (OK <version>).
                let asked = number(&req[1]);
                let valid = req.len() == 5
                    && asked.is_some_and(|v| v >= u64::from(concord_replication::PROTO_MIN))
                    && req[2] == b"itest"
                    && number(&req[3]) == Some(2)
                    && number(&req[4]) == Some(1);
                assert!(valid, "seed {seed}: {req:?} linked");
                if let Some(v) = s.strip_prefix("OK ") {
                    let v: u64 = v.parse().expect("a version");
                    assert!(
                        v <= u64::from(concord_replication::PROTO_VERSION),
                        "seed {seed}: {req:?} linked at {v}"
                    );
                }
            }
            r => panic!("seed {seed}: {req:?} answered {r}"),
        }
    }
    wait_for(30, "the lying peer answered 4 handshakes", || {
        answered.load(Ordering::Acquire) >= 4
    });
    stop.store(true, Ordering::Release);
    // A liar that said +OK may be linked for the moment until its garbage arrives.
    wait_for(10, "no link to the lying peer", || {
        match k.cmd(&["INFO", "crdt"]) {
            Reply::Bulk(b) => !String::from_utf8_lossy(&b).contains("state=up"),
            _ => false,
        }
    });
    assert_eq!(k.cmd(&["CRDT.DIGEST"]), before, "seed {seed}");
    assert_eq!(k.cmd(&["DBSIZE"]), Reply::Int(0), "seed {seed}");
    assert_eq!(k.cmd(&["PING"]), Reply::Status("PONG".into()));
}

#[test]
fn peers_authenticate_with_the_password() {
    let ports = [free_port(), free_port()];
    let dir = TempDir::new("auth");
    let args = |i: usize, pw: &str| -> Vec<String> {
        let j = 1 - i;
        [
            "--replica-id".to_string(),
            (i + 1).to_string(),
            "--requirepass".into(),
            "s3cret".into(),
            "--peer-password".into(),
            pw.into(),
            "--peer".into(),
            format!("{}=127.0.0.1:{}", j + 1, ports[j]),
        ]
        .to_vec()
    };
    // Instance 2 uses a wrong password: its link to 1 is refused; 1's link to 2 works.
    let _a = concord_on(ports[0], &dir.0, &args(0, "s3cret")).expect("start 1");
    let _b = concord_on(ports[1], &dir.0, &args(1, "wrong")).expect("start 2");
    let auth = |i: usize| {
        let mut k = Conn::open(ports[i]);
        assert_eq!(k.cmd(&["AUTH", "s3cret"]), Reply::Status("OK".into()));
        k
    };
    auth(1).cmd(&["SET", "from2", "x"]);
    wait_for(10, "1 pulls from 2", || {
        auth(0).cmd(&["GET", "from2"]) == bulk("x")
    });
    auth(0).cmd(&["SET", "from1", "y"]);
    wait_for(10, "2's link to 1 refused", || {
        match auth(1).cmd(&["INFO", "crdt"]) {
            Reply::Bulk(b) => String::from_utf8_lossy(&b).contains("authentication refused"),
            _ => false,
        }
    });
    assert_eq!(
        auth(1).cmd(&["GET", "from1"]),
        Reply::Nil,
        "a wrong password must not link"
    );
    let info = match auth(1).cmd(&["INFO", "crdt"]) {
        Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        r => format!("{r}"),
    };
    assert!(!info.contains("state=up"), "{info}");
}
