//! Keyspace notifications: for each class, the exact events a subscriber sees for the same
//! commands on Concord and on Debian's redis-server; expired events from lazy and active
//! expiry; events of a peer's writes on a two-instance database; events of a script's writes.

use crate::cluster::Cluster;
use crate::support::{Conn, Reply, concord, redis, wait_for};
use std::time::Duration;

/// Every pattern keyspace events go to.
const PATTERN: &str = "__key*@*__:*";
/// The channel a run ends on: its message comes after every event of the run.
const DONE: &str = "notify-test-done";

/// Commands touching every class; deterministic (explicit stream ids, one-member SPOP).
const CORPUS: &[&[&str]] = &[
    // Strings.
    &["SET", "k", "v"],
    &["SET", "k", "v2", "EX", "100"],
    &["SETNX", "k", "x"],
    &["SETNX", "k2", "v"],
    &["SETEX", "k3", "100", "v"],
    &["PSETEX", "k4", "100000", "v"],
    &["GETSET", "k", "v3"],
    &["MSET", "a", "1", "b", "2"],
    &["MSETNX", "c", "1", "d", "2"],
    &["MSETNX", "c", "1", "e", "2"],
    &["APPEND", "k", "x"],
    &["APPEND", "k5", "x"],
    &["SETRANGE", "k", "1", "yy"],
    &["INCR", "n"],
    &["INCRBY", "n", "5"],
    &["DECR", "n"],
    &["DECRBY", "n", "2"],
    &["INCRBYFLOAT", "f", "1.5"],
    &["GETDEL", "k2"],
    &["GETDEL", "k2"],
    &["GETEX", "k3", "PERSIST"],
    &["GETEX", "k3", "EX", "100"],
    &["GET", "nope"],
    &["MGET", "nope1", "k", "nope2"],
    &["STRLEN", "nope"],
    &["SETBIT", "bits", "3", "1"],
    &["BITOP", "OR", "dest", "bits", "bits"],
    &["BITFIELD", "bf", "SET", "u8", "0", "255"],
    &["PFADD", "hll", "a", "b"],
    &["PFADD", "hll", "a"],
    &["PFMERGE", "hll2", "hll"],
    // Generic.
    &["DEL", "a", "b", "nope"],
    &["UNLINK", "d"],
    &["EXPIRE", "c", "100"],
    &["PERSIST", "c"],
    &["PERSIST", "c"],
    &["RENAME", "c", "c2"],
    &["SET", "c3", "x"],
    &["RENAME", "c2", "c3"],
    &["RENAMENX", "c3", "k"],
    &["COPY", "c3", "c4"],
    &["COPY", "c3", "c4", "REPLACE"],
    &["EXPIRE", "c4", "0"],
    &["PEXPIREAT", "k5", "1"],
    &["EXISTS", "nope", "k"],
    &["TYPE", "nope"],
    &["TTL", "nope"],
    // Lists.
    &["RPUSH", "l", "a", "b", "c"],
    &["LPUSH", "l", "z"],
    &["LINSERT", "l", "BEFORE", "b", "x"],
    &["LINSERT", "l", "BEFORE", "nope", "x"],
    &["LSET", "l", "0", "y"],
    &["LREM", "l", "1", "x"],
    &["LREM", "l", "1", "nope"],
    &["LTRIM", "l", "0", "1"],
    &["LPOP", "l"],
    &["RPOP", "l"],
    &["LPUSHX", "l", "a"],
    &["RPUSH", "l2", "a", "b", "c"],
    &["LMOVE", "l2", "l3", "LEFT", "RIGHT"],
    &["RPOPLPUSH", "l2", "l3"],
    &["LMPOP", "2", "l2", "l3", "LEFT", "COUNT", "1"],
    &["BLPOP", "l2", "l3", "0"],
    &["LRANGE", "nope", "0", "-1"],
    // Sets.
    &["SADD", "s1", "a", "b", "c", "d"],
    &["SADD", "s1", "a"],
    &["SREM", "s1", "a", "nope"],
    &["SREM", "s1", "nope"],
    &["SMOVE", "s1", "s2", "b"],
    &["SINTERSTORE", "s3", "s1", "s2"],
    &["SUNIONSTORE", "s4", "s1", "s2"],
    &["SDIFFSTORE", "s5", "s1", "s2"],
    &["SINTERSTORE", "s4", "s1", "s2"],
    &["SPOP", "s2"],
    &["SREM", "s1", "c", "d"],
    &["SMEMBERS", "nope"],
    // Hashes.
    &["HSET", "h", "f", "v", "g", "w"],
    &["HSETNX", "h", "f", "x"],
    &["HSETNX", "h", "z", "1"],
    &["HINCRBY", "h", "n", "5"],
    &["HINCRBYFLOAT", "h", "fl", "1.5"],
    &["HDEL", "h", "f", "nope"],
    &["HDEL", "h", "nope"],
    &["HDEL", "h", "g", "z", "n", "fl"],
    &["HGET", "nope", "f"],
    // Sorted sets.
    &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
    &["ZADD", "z", "1", "a"],
    &["ZADD", "z", "INCR", "5", "a"],
    &["ZINCRBY", "z", "1", "b"],
    &["ZREM", "z", "c", "nope"],
    &["ZPOPMIN", "z"],
    &["ZPOPMAX", "z"],
    &["ZADD", "z2", "1", "a", "2", "b", "3", "c", "4", "d"],
    &["ZREMRANGEBYSCORE", "z2", "1", "1"],
    &["ZREMRANGEBYRANK", "z2", "0", "0"],
    &["ZADD", "z3", "0", "a", "0", "b"],
    &["ZREMRANGEBYLEX", "z3", "[a", "[a"],
    &["ZUNIONSTORE", "zu", "2", "z2", "z3"],
    &["ZINTERSTORE", "zi", "2", "z2", "z3"],
    &["ZDIFFSTORE", "zd", "1", "z2"],
    &["ZRANGESTORE", "zr", "z2", "0", "-1"],
    &["ZINTERSTORE", "zu", "2", "z2", "z3"],
    &["ZADD", "zp", "1", "a", "2", "b", "3", "c", "4", "d"],
    &["ZMPOP", "2", "nope", "zp", "MIN", "COUNT", "2"],
    &["BZPOPMAX", "nope", "zp", "0"],
    &["BZMPOP", "0", "1", "zp", "MAX"],
    &["ZSCORE", "nope", "a"],
    // SORT ... STORE: a new list, then an empty result deleting it.
    &["RPUSH", "unsorted", "3", "1", "2"],
    &["SORT", "unsorted", "STORE", "sorted"],
    &["SORT", "nope", "STORE", "sorted"],
    &["SORT", "nope", "STORE", "sorted"],
    // Streams.
    &["XADD", "x", "1-1", "f", "v"],
    &["XADD", "x", "MAXLEN", "1", "2-1", "f", "v"],
    &["XADD", "x", "3-1", "f", "v"],
    &["XDEL", "x", "3-1", "9-9"],
    &["XGROUP", "CREATE", "x", "g", "0"],
    &["XGROUP", "CREATE", "x2", "g", "$", "MKSTREAM"],
    &["XGROUP", "CREATECONSUMER", "x", "g", "c"],
    &[
        "XREADGROUP",
        "GROUP",
        "g",
        "c2",
        "COUNT",
        "1",
        "STREAMS",
        "x",
        ">",
    ],
    &["XGROUP", "DELCONSUMER", "x", "g", "c"],
    &["XGROUP", "SETID", "x", "g", "0"],
    &["XSETID", "x", "5-0"],
    &["XGROUP", "DESTROY", "x", "g"],
    &["XTRIM", "x", "MAXLEN", "0"],
    &["XLEN", "nope"],
    // Nothing announced.
    &["FLUSHALL"],
    &["SET", "last", "v"],
];

/// The text of a bulk reply.
fn text(r: &Reply) -> String {
    match r {
        Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("not a bulk: {other:?}"),
    }
}

/// Runs `cmds` on the server at `port` with `flags` and returns the events a pattern
/// subscriber saw, as (channel, message), in order.
fn events(port: u16, flags: &str, cmds: &[&[&str]]) -> Vec<(String, String)> {
    let mut c = Conn::open(port);
    assert_eq!(c.cmd(&["FLUSHALL"]), Reply::Status("OK".into()));
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "notify-keyspace-events", flags]),
        Reply::Status("OK".into())
    );
    let mut sub = subscriber(port);
    for cmd in cmds {
        c.cmd(cmd);
    }
    collect(&mut c, &mut sub)
}

/// A connection subscribed to every keyspace event and to [`DONE`].
fn subscriber(port: u16) -> Conn {
    let mut sub = Conn::open(port);
    sub.set_timeout(Some(Duration::from_secs(10)));
    sub.cmd(&["PSUBSCRIBE", PATTERN]);
    sub.cmd(&["SUBSCRIBE", DONE]);
    sub
}

/// Ends a run (a PUBLISH on [`DONE`] through `c`) and returns the events `sub` saw before.
fn collect(c: &mut Conn, sub: &mut Conn) -> Vec<(String, String)> {
    c.cmd(&["PUBLISH", DONE, "end"]);
    let mut seen = Vec::new();
    loop {
        let Reply::Array(m) = sub.read() else {
            panic!("not a push");
        };
        match text(&m[0]).as_str() {
            "message" => return seen,
            "pmessage" => seen.push((text(&m[2]), text(&m[3]))),
            other => panic!("unexpected {other}"),
        }
    }
}

/// Runs the corpus with `flags` on Concord and Redis and compares what subscribers saw.
fn same_as_redis(flags: &str) {
    // Explicit stream ids, as Redis takes them.
    let (s, r) = (concord(&["--stream-id-mode", "liberal"]), redis());
    let ours = events(s.port, flags, CORPUS);
    let theirs = events(r.port, flags, CORPUS);
    let show = |v: &[(String, String)]| {
        v.iter()
            .map(|(c, m)| format!("{c} {m}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(!theirs.is_empty() || !flags.contains(['K', 'E']), "{flags}");
    assert_eq!(
        show(&ours),
        show(&theirs),
        "events for '{flags}' differ (left: Concord, right: Redis)"
    );
}

#[test]
fn generic_events_match_redis() {
    same_as_redis("KEg");
}

#[test]
fn string_events_match_redis() {
    same_as_redis("KE$");
}

#[test]
fn list_events_match_redis() {
    same_as_redis("KEl");
}

#[test]
fn set_events_match_redis() {
    same_as_redis("KEs");
}

#[test]
fn hash_events_match_redis() {
    same_as_redis("KEh");
}

#[test]
fn zset_events_match_redis() {
    same_as_redis("KEz");
}

#[test]
fn stream_events_match_redis() {
    same_as_redis("KEt");
}

#[test]
fn new_key_events_match_redis() {
    same_as_redis("KEn");
}

#[test]
fn keymiss_events_match_redis() {
    same_as_redis("KEm");
}

#[test]
fn every_class_on_one_channel_kind_matches_redis() {
    same_as_redis("KA");
    same_as_redis("EA");
    same_as_redis("A");
}

#[test]
fn the_setting_reads_back_as_redis_shows_it() {
    let (s, r) = (concord(&[]), redis());
    for port in [s.port, r.port] {
        let mut c = Conn::open(port);
        for (set, shown) in [
            ("", ""),
            ("KEA", "AKE"),
            ("Ex$lg", "g$lxE"),
            ("mnK", "nKm"),
            ("g$lshzxetdK", "AK"),
            ("KEAnm", "AKEm"),
            ("Kte", "etK"),
        ] {
            assert_eq!(
                c.cmd(&["CONFIG", "SET", "notify-keyspace-events", set]),
                Reply::Status("OK".into()),
                "{set}"
            );
            assert_eq!(
                c.cmd(&["CONFIG", "GET", "notify-keyspace-events"]),
                Reply::Array(vec![
                    Reply::Bulk(b"notify-keyspace-events".to_vec()),
                    Reply::Bulk(shown.as_bytes().to_vec())
                ]),
                "{set} on port {port}"
            );
        }
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEQ"]),
            Reply::Error(
                "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
                    .into()
            ),
            "port {port}"
        );
    }
}

/// Waits until the server's clock is `ms` past what it was when called.
fn let_time_pass(c: &mut Conn, ms: u64) {
    let now = |c: &mut Conn| match c.cmd(&["TIME"]) {
        Reply::Array(v) => match (&v[0], &v[1]) {
            (Reply::Bulk(s), Reply::Bulk(u)) => {
                let s: u64 = String::from_utf8_lossy(s).parse().expect("secs");
                let u: u64 = String::from_utf8_lossy(u).parse().expect("usecs");
                s * 1000 + u / 1000
            }
            other => panic!("TIME: {other:?}"),
        },
        other => panic!("TIME: {other:?}"),
    };
    let start = now(c);
    wait_for(5, "the clock to pass", || now(c) >= start + ms);
}

#[test]
fn lazy_expiry_is_announced_as_redis_does() {
    let (s, r) = (concord(&[]), redis());
    let run = |port: u16| {
        let mut c = Conn::open(port);
        c.cmd(&["CONFIG", "SET", "hz", "1"]);
        let mut sub = Conn::open(port);
        sub.set_timeout(Some(Duration::from_secs(10)));
        c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KExm"]);
        sub.cmd(&["PSUBSCRIBE", PATTERN]);
        sub.cmd(&["SUBSCRIBE", DONE]);
        c.cmd(&["SET", "k", "v", "PX", "20"]);
        let_time_pass(&mut c, 40);
        c.cmd(&["GET", "k"]);
        c.cmd(&["PUBLISH", DONE, "end"]);
        let mut seen = Vec::new();
        loop {
            match sub.read() {
                Reply::Array(m) if m[0] == Reply::Bulk(b"message".to_vec()) => return seen,
                Reply::Array(m) => seen.push(m[2..].to_vec()),
                other => panic!("{other:?}"),
            }
        }
    };
    let ours = run(s.port);
    assert_eq!(ours, run(r.port));
    assert_eq!(ours.len(), 4, "{ours:?}");
}

/// Reads pushes until one on `channel` arrives; returns its message.
fn next_on(sub: &mut Conn, channel: &str) -> String {
    loop {
        match sub.read() {
            Reply::Array(m) if text(&m[2]) == channel => return text(&m[3]),
            Reply::Array(_) => {}
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn active_expiry_is_announced() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Ex"]);
    let mut sub = Conn::open(s.port);
    sub.set_timeout(Some(Duration::from_secs(10)));
    sub.cmd(&["PSUBSCRIBE", PATTERN]);
    c.cmd(&["SET", "gone", "v", "PX", "10"]);
    // Nobody reads the key: only active expiry can delete it.
    assert_eq!(next_on(&mut sub, "__keyevent@0__:expired"), "gone");
}

#[test]
fn a_scripts_writes_are_announced_in_order() {
    let (s, r) = (concord(&[]), redis());
    let script = "redis.call('set', KEYS[1], 'v'); redis.call('incr', KEYS[2]); \
                  redis.call('rpush', KEYS[3], 'a'); redis.call('lpop', KEYS[3]); \
                  redis.call('get', 'nope'); return 1";
    let cmds: &[&[&str]] = &[
        &["EVAL", script, "3", "sk", "sn", "sl"],
        &["MULTI"],
        &["SET", "m", "1"],
        &["DEL", "m"],
        &["EXEC"],
    ];
    let ours = events(s.port, "KEA", cmds);
    assert_eq!(ours, events(r.port, "KEA", cmds));
    assert_eq!(ours.len(), 14, "{ours:?}");
}

#[test]
fn a_served_blocked_client_announces_after_the_push() {
    let (s, r) = (concord(&[]), redis());
    let run = |port: u16| {
        let mut c = Conn::open(port);
        c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
        let mut sub = subscriber(port);
        let mut w = Conn::open(port);
        w.send_raw(&Conn::encode(&[
            b"BLMOVE".to_vec(),
            b"q".to_vec(),
            b"dst".to_vec(),
            b"LEFT".to_vec(),
            b"RIGHT".to_vec(),
            b"0".to_vec(),
        ]));
        crate::server::wait_blocked(&mut c, 1);
        c.cmd(&["RPUSH", "q", "a"]);
        assert_eq!(w.read(), Reply::Bulk(b"a".to_vec()));
        collect(&mut c, &mut sub)
    };
    let ours = run(s.port);
    assert_eq!(ours, run(r.port));
    assert_eq!(ours.len(), 8, "{ours:?}");
}

#[test]
fn a_peers_writes_are_announced_on_the_other_instance() {
    let db = Cluster::start(2, &[]);
    let mut a = db.conn(0);
    let mut b = db.conn(1);
    b.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    let mut sub = db.conn(1);
    sub.set_timeout(Some(Duration::from_secs(10)));
    sub.cmd(&["PSUBSCRIBE", "__keyspace@0__:p*"]);
    // Announced on the instance that ran them only when it has the setting on.
    a.cmd(&["SET", "p1", "v"]);
    a.cmd(&["INCRBY", "p2", "3"]);
    a.cmd(&["HSET", "p3", "f", "v"]);
    a.cmd(&["HDEL", "p3", "f"]);
    a.cmd(&["PEXPIRE", "p1", "100000"]);
    a.cmd(&["DEL", "p1"]);
    let mut seen = Vec::new();
    while seen.len() < 7 {
        match sub.read() {
            Reply::Array(m) if m.len() == 4 => {
                seen.push(format!("{} {}", text(&m[2]), text(&m[3])));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        seen,
        [
            "__keyspace@0__:p1 set",
            "__keyspace@0__:p2 incrby",
            "__keyspace@0__:p3 hset",
            "__keyspace@0__:p3 hdel",
            "__keyspace@0__:p3 del",
            "__keyspace@0__:p1 expire",
            "__keyspace@0__:p1 del",
        ]
    );
}
