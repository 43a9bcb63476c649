//! Hostile requests against a running instance: each gets a clear answer in bounded time
//! and memory, and the instance keeps serving everyone else.

use crate::support::{Conn, Reply, concord, redis};
use std::time::{Duration, Instant};

/// A backtracking glob matcher takes exponential time on this pattern (the class of
/// CVE-2022-36021); matching is bounded, so KEYS answers at once and other clients are
/// not stalled.
#[test]
fn pathological_glob_patterns_answer_at_once() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    let key = "a".repeat(40);
    assert_eq!(c.cmd(&["SET", &key, "v"]), Reply::Status("OK".into()));
    let pat = "a*a*a*a*a*a*a*a*a*a*a*a*b";
    let started = Instant::now();
    assert_eq!(c.cmd(&["KEYS", pat]), Reply::Array(vec![]));
    assert_eq!(
        c.cmd(&["SCAN", "0", "MATCH", pat, "COUNT", "100"]),
        Reply::Array(vec![Reply::Bulk(b"0".to_vec()), Reply::Array(vec![])])
    );
    assert_eq!(c.cmd(&["SADD", "s", &key]), Reply::Int(1));
    assert_eq!(
        c.cmd(&["SSCAN", "s", "0", "MATCH", pat]),
        Reply::Array(vec![Reply::Bulk(b"0".to_vec()), Reply::Array(vec![])])
    );
    // A liveness bound, not a speed measurement: the exponential matcher needed hours.
    assert!(started.elapsed() < Duration::from_secs(10));
    let mut other = Conn::open(s.port);
    assert_eq!(other.cmd(&["PING"]), Reply::Status("PONG".into()));
}

/// Counts near `i64::MIN` get Redis's range error instead of an endless reply.
#[test]
fn random_member_counts_out_of_range_get_redis_errors() {
    let r = redis();
    let s = concord(&[]);
    let setup: &[&[&str]] = &[
        &["SADD", "s", "a", "b"],
        &["HSET", "h", "f", "v"],
        &["ZADD", "z", "1", "m"],
    ];
    let probes: &[&[&str]] = &[
        &["SRANDMEMBER", "s", "-9223372036854775808"],
        &["HRANDFIELD", "h", "-9223372036854775808"],
        &["HRANDFIELD", "h", "-9223372036854775808", "WITHVALUES"],
        &["HRANDFIELD", "h", "-5000000000000000000", "WITHVALUES"],
        &["ZRANDMEMBER", "z", "-9223372036854775808"],
        &["ZRANDMEMBER", "z", "-9223372036854775808", "WITHSCORES"],
        &["SRANDMEMBER", "s", "9223372036854775807"],
        &["SPOP", "s", "-1"],
        &["SRANDMEMBER", "s", "-3"],
    ];
    let mut rc = Conn::open(r.port);
    let mut cc = Conn::open(s.port);
    for cmd in setup {
        assert_eq!(rc.cmd(cmd), cc.cmd(cmd));
    }
    for cmd in probes {
        let (want, got) = (rc.cmd(cmd), cc.cmd(cmd));
        match (&want, &got) {
            // Random picks differ; their shape must not.
            (Reply::Array(w), Reply::Array(g)) => assert_eq!(w.len(), g.len(), "{cmd:?}"),
            _ => assert_eq!(want, got, "{cmd:?}"),
        }
    }
}

/// Random choices are seeded from the operating system: a restart does not replay them.
#[test]
fn random_choices_differ_between_runs() {
    let picks = || {
        let s = concord(&[]);
        let mut c = Conn::open(s.port);
        let mut add = vec!["SADD", "s"];
        let members: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
        add.extend(members.iter().map(String::as_str));
        assert_eq!(c.cmd(&add), Reply::Int(200));
        c.cmd(&["SRANDMEMBER", "s", "-20"])
    };
    assert_ne!(picks(), picks());
}

/// A RESP3 client may subscribe and then block: a message and the reply that ends its
/// wait can arrive together, and both are delivered, in order.
#[test]
fn a_subscribed_resp3_client_can_block_and_be_served() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    assert!(matches!(c.cmd(&["HELLO", "3"]), Reply::Other(b'%', _, _)));
    assert!(matches!(
        c.cmd(&["SUBSCRIBE", "ch"]),
        Reply::Other(b'>', _, _)
    ));
    c.send_raw(&Conn::encode(&[
        b"BLPOP".to_vec(),
        b"k".to_vec(),
        b"0".to_vec(),
    ]));
    let mut other = Conn::open(s.port);
    crate::support::wait_for(10, "the client to block", || {
        format!("{}", other.cmd(&["INFO", "clients"])).contains("blocked_clients:1")
    });
    // Both in one pipeline, so the message and the reply land in the queue together.
    other.send_raw(
        &[
            Conn::encode(&[b"PUBLISH".to_vec(), b"ch".to_vec(), b"x".to_vec()]),
            Conn::encode(&[b"LPUSH".to_vec(), b"k".to_vec(), b"v".to_vec()]),
        ]
        .concat(),
    );
    assert_eq!(other.read(), Reply::Int(1));
    assert_eq!(other.read(), Reply::Int(1));
    assert!(matches!(c.read(), Reply::Other(b'>', _, _)), "the message");
    assert_eq!(
        c.read(),
        Reply::Array(vec![Reply::Bulk(b"k".to_vec()), Reply::Bulk(b"v".to_vec())])
    );
    assert_eq!(c.cmd(&["PING"]), Reply::Status("PONG".into()));
}
