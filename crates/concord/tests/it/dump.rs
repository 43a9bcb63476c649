//! DUMP and RESTORE against Debian's redis-server: every type and encoding dumped by
//! Redis restores on Concord and the other way round, value for value; RESTORE's options
//! and errors answer as Redis's do.

use crate::replicaof::{canon, fill};
use crate::support::{Conn, Reply, bulks, concord, redis};

#[test]
fn values_dumped_by_either_restore_on_the_other() {
    let r = redis();
    let c = concord(&[]);
    let (mut rc, mut cc) = (Conn::open(r.port), Conn::open(c.port));
    fill(&mut rc);
    let mut keys = bulks(rc.cmd(&["KEYS", "*"]));
    keys.sort();
    assert!(keys.len() > 15);
    for k in &keys {
        let name = String::from_utf8_lossy(k).into_owned();
        let Reply::Bulk(payload) = rc.call(&[b"DUMP".to_vec(), k.clone()]) else {
            panic!("DUMP {name} on redis")
        };
        // RESTORE keeps the time to live it is given: the source's, in ms.
        let ttl = match rc.call(&[b"PTTL".to_vec(), k.clone()]) {
            Reply::Int(n) if n > 0 => n.to_string(),
            _ => "0".into(),
        };
        let restore = |c: &mut Conn, key: &[u8], p: Vec<u8>| {
            c.call(&[
                b"RESTORE".to_vec(),
                key.to_vec(),
                ttl.clone().into_bytes(),
                p,
            ])
        };
        assert_eq!(
            restore(&mut cc, k, payload),
            Reply::Status("OK".into()),
            "{name}"
        );
        assert_eq!(
            canon(&mut rc, k),
            canon(&mut cc, k),
            "{name}: Redis's DUMP on Concord"
        );
        let Reply::Bulk(back) = cc.call(&[b"DUMP".to_vec(), k.clone()]) else {
            panic!("DUMP {name} on concord")
        };
        let copy = [b"copy:".to_vec(), k.clone()].concat();
        assert_eq!(
            restore(&mut rc, &copy, back),
            Reply::Status("OK".into()),
            "{name}"
        );
        let (a, b) = (canon(&mut rc, k), canon(&mut rc, &copy));
        assert_eq!(a, b, "{name}: Concord's DUMP on Redis");
    }
    // A HyperLogLog stays one: PFADD and PFCOUNT on the restored key.
    assert_eq!(
        cc.cmd(&["PFADD", "hll", "new"]),
        rc.cmd(&["PFADD", "hll", "new"])
    );
    assert_eq!(cc.cmd(&["PFCOUNT", "hll"]), rc.cmd(&["PFCOUNT", "hll"]));
    assert_eq!(cc.cmd(&["DUMP", "missing"]), Reply::Nil);
}

#[test]
fn restore_options_and_errors_answer_as_redis() {
    let r = redis();
    let c = concord(&[]);
    let (mut rc, mut cc) = (Conn::open(r.port), Conn::open(c.port));
    rc.cmd(&["RPUSH", "src", "a", "b"]);
    let Reply::Bulk(p) = rc.cmd(&["DUMP", "src"]) else {
        panic!("DUMP")
    };
    let mut damaged = p.clone();
    damaged[1] ^= 1;
    let mut newer = p.clone();
    let n = newer.len();
    newer[n - 10] = 99;
    let case = |args: &[&str], payload: &[u8]| -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        v.insert(3, payload.to_vec());
        v
    };
    let cases: Vec<Vec<Vec<u8>>> = vec![
        case(&["RESTORE", "k", "0"], &p),
        case(&["RESTORE", "k", "0"], &p),
        case(&["RESTORE", "k", "0", "REPLACE"], &p),
        case(&["RESTORE", "t", "-1"], &p),
        case(&["RESTORE", "t", "x"], &p),
        case(&["RESTORE", "t", "0"], &damaged),
        case(&["RESTORE", "t", "0"], &newer),
        case(&["RESTORE", "t", "0"], b"tiny"),
        case(&["RESTORE", "t", "0", "IDLETIME", "-1"], &p),
        case(&["RESTORE", "t", "0", "FREQ", "256"], &p),
        case(&["RESTORE", "t", "0", "IDLETIME", "5", "FREQ", "5"], &p),
        case(&["RESTORE", "t", "0", "BOGUS"], &p),
        case(&["RESTORE", "t", "0", "IDLETIME"], &p),
        case(&["RESTORE", "t", "0", "IDLETIME", "100"], &p),
        case(&["RESTORE", "old", "1000", "ABSTTL"], &p),
        case(&["RESTORE", "k", "1", "ABSTTL", "REPLACE"], &p),
        case(&["RESTORE", "ttl", "100000"], &p),
        case(&["RESTORE-ASKING", "asking", "0"], &p),
    ];
    for args in cases {
        let (a, b) = (rc.call(&args), cc.call(&args));
        let shown: Vec<String> = args
            .iter()
            .take(3)
            .map(|x| String::from_utf8_lossy(x).into_owned())
            .collect();
        assert_eq!(a, b, "{shown:?}");
    }
    for probe in [
        ["EXISTS", "k"],
        ["EXISTS", "old"],
        ["LRANGE", "asking"],
        ["OBJECT", "IDLETIME"],
    ] {
        let mut args: Vec<&str> = probe.to_vec();
        match probe[0] {
            "LRANGE" => args.extend(["0", "-1"]),
            "OBJECT" => args.push("t"),
            _ => {}
        }
        let (a, b) = (rc.cmd(&args), cc.cmd(&args));
        match probe[0] {
            // The idle time given, give or take the second the test took.
            "OBJECT" => match (a, b) {
                (Reply::Int(x), Reply::Int(y)) => {
                    assert!((x - y).abs() <= 1 && x >= 100, "{x} {y}")
                }
                (x, y) => panic!("OBJECT IDLETIME: {x} {y}"),
            },
            _ => assert_eq!(a, b, "{args:?}"),
        }
    }
    let (Reply::Int(a), Reply::Int(b)) = (rc.cmd(&["PTTL", "ttl"]), cc.cmd(&["PTTL", "ttl"]))
    else {
        panic!("PTTL")
    };
    assert!(
        a > 90_000 && b > 90_000 && a <= 100_000 && b <= 100_000,
        "{a} {b}"
    );
}

/// MIGRATE from Concord answers as MIGRATE from Redis does, each towards a Redis target of
/// its own: moved, copied, replaced, refused by the target, nothing to move, a target
/// that asks for a password, a target that is not there, bad arguments.
#[test]
fn migrate_moves_keys_as_redis_does() {
    let (ra, rt, ct) = (redis(), crate::support::redis(), crate::support::redis());
    let c = concord(&[]);
    let (mut from_r, mut from_c) = (Conn::open(ra.port), Conn::open(c.port));
    for src in [&mut from_r, &mut from_c] {
        for cmd in [
            vec!["SET", "a", "1"],
            vec!["RPUSH", "l", "x", "y"],
            vec!["SET", "t", "v", "PX", "100000"],
            vec!["HSET", "h", "f", "v"],
            vec!["SET", "busy", "mine"],
            vec!["SET", "k1", "1"],
            vec!["SET", "k2", "2"],
            vec!["SET", "c", "copied"],
        ] {
            src.cmd(&cmd);
        }
    }
    let (mut tr, mut tc) = (Conn::open(rt.port), Conn::open(ct.port));
    for t in [&mut tr, &mut tc] {
        t.cmd(&["SET", "busy", "theirs"]);
    }
    let cases: Vec<Vec<String>> = [
        "MIGRATE 127.0.0.1 {T} a 0 1000",
        "MIGRATE 127.0.0.1 {T} t 0 1000",
        "MIGRATE 127.0.0.1 {T} l 0 1000 REPLACE",
        "MIGRATE 127.0.0.1 {T} c 0 1000 COPY",
        "MIGRATE 127.0.0.1 {T} busy 0 1000",
        "MIGRATE 127.0.0.1 {T} missing 0 1000",
        "MIGRATE 127.0.0.1 {T} \"\" 0 1000 KEYS k1 missing k2",
        "MIGRATE 127.0.0.1 {T} h 0 1000 KEYS h",
        "MIGRATE 127.0.0.1 {T} h 0 x",
        "MIGRATE 127.0.0.1 {T} h x 1000",
        "MIGRATE 127.0.0.1 {T} h 0 1000 BOGUS",
        "MIGRATE 127.0.0.1 {T} h 0 1000 AUTH",
        "MIGRATE 127.0.0.1 {T} h 0 1000 AUTH wrong",
        "MIGRATE 127.0.0.1 1 h 0 200",
    ]
    .iter()
    .map(|s| s.split(' ').map(|w| w.replace("\"\"", "")).collect())
    .collect();
    for case in &cases {
        let with = |port: u16| -> Vec<String> {
            case.iter()
                .map(|w| w.replace("{T}", &port.to_string()))
                .collect()
        };
        let args_r = with(rt.port);
        let args_c = with(ct.port);
        let a: Vec<&str> = args_r.iter().map(String::as_str).collect();
        let b: Vec<&str> = args_c.iter().map(String::as_str).collect();
        assert_eq!(from_r.cmd(&a), from_c.cmd(&b), "{case:?}");
    }
    // What each source kept and each target got.
    for key in ["a", "t", "l", "c", "busy", "k1", "k2", "h"] {
        assert_eq!(
            canon_or_none(&mut from_r, key),
            canon_or_none(&mut from_c, key),
            "source {key}"
        );
        assert_eq!(
            canon_or_none(&mut tr, key),
            canon_or_none(&mut tc, key),
            "target {key}"
        );
    }
    // Towards this instance itself: refused, the key kept (Redis blocks until the timeout).
    from_c.cmd(&["SET", "self", "1"]);
    let own = c.port.to_string();
    let r = from_c.cmd(&["MIGRATE", "127.0.0.1", &own, "self", "0", "100", "REPLACE"]);
    assert!(
        matches!(&r, Reply::Error(e) if e.starts_with("IOERR")),
        "{r}"
    );
    assert_eq!(from_c.cmd(&["GET", "self"]), Reply::Bulk(b"1".to_vec()));
    // CLIENT REPLY SKIP drops MIGRATE's own reply only; the move happens.
    from_c.cmd(&["SET", "skipped", "1"]);
    from_c.send_raw(b"CLIENT REPLY SKIP\r\n");
    let port = ct.port.to_string();
    from_c.send_raw(format!("MIGRATE 127.0.0.1 {port} skipped 0 1000\r\n").as_bytes());
    assert_eq!(from_c.cmd(&["PING"]), Reply::Status("PONG".into()));
    assert_eq!(tc.cmd(&["GET", "skipped"]), Reply::Bulk(b"1".to_vec()));
    // Inside a transaction it is refused here (Redis would block its whole server).
    from_c.cmd(&["MULTI"]);
    from_c.cmd(&[
        "MIGRATE",
        "127.0.0.1",
        &ct.port.to_string(),
        "h",
        "0",
        "1000",
    ]);
    match from_c.cmd(&["EXEC"]) {
        Reply::Array(v) => assert!(
            matches!(&v[0], Reply::Error(e) if e.contains("transaction")),
            "{v:?}"
        ),
        r => panic!("EXEC: {r}"),
    }
}

fn canon_or_none(c: &mut Conn, key: &str) -> String {
    match c.cmd(&["EXISTS", key]) {
        Reply::Int(1) => canon(c, key.as_bytes()),
        _ => "none".into(),
    }
}
