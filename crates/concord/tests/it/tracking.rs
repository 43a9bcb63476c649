//! Client-side caching and client pause: the invalidations a tracking client (RESP3 on its
//! own connection, RESP2 through a redirect) receives for the same commands on Concord and
//! on Debian's redis-server; the errors of CLIENT TRACKING; CLIENT PAUSE's waits; a peer's
//! write invalidating a key on the other instance; expiry, eviction and the table's limit.

use crate::cluster::Cluster;
use crate::support::{Conn, Reply, concord, redis, wait_for};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A connection that sorts what it reads into replies and pushes (RESP3 pushes may come
/// before or after a reply, depending on who caused them).
struct Tracked {
    conn: Conn,
    pushes: VecDeque<Reply>,
}

impl Tracked {
    /// A RESP3 connection.
    fn open(port: u16) -> Tracked {
        let mut conn = Conn::open(port);
        conn.set_timeout(Some(Duration::from_secs(10)));
        conn.cmd(&["HELLO", "3"]);
        Tracked {
            conn,
            pushes: VecDeque::new(),
        }
    }

    /// Sends a command and returns its reply, keeping the pushes read on the way.
    fn cmd(&mut self, args: &[&str]) -> Reply {
        let v: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        self.conn.send_raw(&Conn::encode(&v));
        loop {
            match self.conn.read() {
                p @ Reply::Other(b'>', ..) => self.pushes.push_back(p),
                r => return r,
            }
        }
    }

    /// The next push, read if none is kept.
    fn push(&mut self) -> String {
        let p = match self.pushes.pop_front() {
            Some(p) => p,
            None => self.conn.read(),
        };
        show(&p)
    }
}

impl Tracked {
    /// The next push if one comes within `ms` milliseconds.
    fn try_push(&mut self, ms: u64) -> Option<String> {
        if let Some(p) = self.pushes.pop_front() {
            return Some(show(&p));
        }
        self.conn.set_timeout(Some(Duration::from_millis(ms)));
        let p = self.conn.try_read();
        self.conn.set_timeout(Some(Duration::from_secs(10)));
        p.map(|p| show(&p))
    }
}

/// A reply as text, RESP3 aggregates included (their elements shown as strings).
fn show(r: &Reply) -> String {
    match r {
        Reply::Other(p, v, s) if s.is_empty() => {
            let items: Vec<String> = v.iter().map(show).collect();
            format!("{}[{}]", *p as char, items.join(", "))
        }
        Reply::Array(v) => {
            let items: Vec<String> = v.iter().map(show).collect();
            format!("[{}]", items.join(", "))
        }
        r => r.to_string(),
    }
}

/// The `invalidate` pushes a RESP3 tracking client gets, as text, for a run of commands
/// covering the default mode, NOLOOP, OPTIN, OPTOUT, BCAST with prefixes, transactions,
/// scripts and FLUSHALL. Steps that must send nothing are followed by a marker write whose
/// push must be the next one.
fn resp3_run(port: u16) -> Vec<String> {
    let mut t = Tracked::open(port);
    let mut w = Conn::open(port);
    let mut got = Vec::new();
    let marker = |t: &mut Tracked, w: &mut Conn, got: &mut Vec<String>| {
        t.cmd(&["GET", "marker"]);
        w.cmd(&["SET", "marker", "x"]);
        got.push(t.push());
    };
    t.cmd(&["CLIENT", "TRACKING", "ON"]);
    t.cmd(&["MGET", "a", "b"]);
    w.cmd(&["SET", "a", "1"]);
    got.push(t.push());
    // Invalidated once: a second write sends nothing until it is read again.
    w.cmd(&["SET", "a", "2"]);
    w.cmd(&["DEL", "nope"]);
    w.cmd(&["SET", "b", "x"]);
    got.push(t.push());
    marker(&mut t, &mut w, &mut got);
    // Its own write, without NOLOOP, is announced too; a transaction and a script.
    t.cmd(&["GET", "a"]);
    t.cmd(&["SET", "a", "3"]);
    got.push(t.push());
    t.cmd(&["HGET", "h", "f"]);
    w.cmd(&["MULTI"]);
    w.cmd(&["HSET", "h", "f", "v"]);
    w.cmd(&["EXEC"]);
    got.push(t.push());
    t.cmd(&["EVAL", "return redis.call('GET', KEYS[1])", "1", "s"]);
    w.cmd(&["EVAL", "return redis.call('SET', KEYS[1], 'v')", "1", "s"]);
    got.push(t.push());
    // A read after a write in one transaction stays tracked.
    t.cmd(&["GET", "m"]);
    t.cmd(&["MULTI"]);
    t.cmd(&["SET", "m", "1"]);
    t.cmd(&["GET", "m"]);
    t.cmd(&["EXEC"]);
    got.push(t.push());
    w.cmd(&["SET", "m", "2"]);
    got.push(t.push());
    // NOLOOP: its own writes are not announced.
    t.cmd(&["CLIENT", "TRACKING", "ON", "NOLOOP"]);
    t.cmd(&["GET", "n"]);
    t.cmd(&["SET", "n", "1"]);
    marker(&mut t, &mut w, &mut got);
    // FLUSHALL: a null for everything.
    w.cmd(&["FLUSHALL"]);
    got.push(t.push());
    t.cmd(&["CLIENT", "TRACKING", "OFF"]);
    // OPTIN: only reads after CLIENT CACHING YES are remembered.
    t.cmd(&["CLIENT", "TRACKING", "ON", "OPTIN"]);
    t.cmd(&["GET", "o1"]);
    t.cmd(&["CLIENT", "CACHING", "YES"]);
    t.cmd(&["GET", "o2"]);
    t.cmd(&["GET", "o3"]);
    w.cmd(&["MSET", "o1", "1", "o2", "1", "o3", "1"]);
    got.push(t.push());
    t.cmd(&["CLIENT", "CACHING", "YES"]);
    marker(&mut t, &mut w, &mut got);
    // CLIENT CACHING YES covers a whole transaction.
    t.cmd(&["CLIENT", "CACHING", "YES"]);
    t.cmd(&["MULTI"]);
    t.cmd(&["GET", "q1"]);
    t.cmd(&["GET", "q2"]);
    t.cmd(&["EXEC"]);
    w.cmd(&["MSET", "q1", "1", "q2", "1"]);
    got.push(t.push());
    got.push(t.push());
    t.cmd(&["CLIENT", "TRACKING", "OFF"]);
    // OPTOUT: every read but the one after CLIENT CACHING NO.
    t.cmd(&["CLIENT", "TRACKING", "ON", "OPTOUT"]);
    t.cmd(&["CLIENT", "CACHING", "NO"]);
    t.cmd(&["GET", "p1"]);
    t.cmd(&["GET", "p2"]);
    w.cmd(&["MSET", "p1", "1", "p2", "1"]);
    got.push(t.push());
    t.cmd(&["CLIENT", "TRACKING", "OFF"]);
    // BCAST: every change under a prefix, one message per prefix, own writes dropped
    // with NOLOOP.
    t.cmd(&[
        "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "u:", "PREFIX", "v:", "NOLOOP",
    ]);
    t.cmd(&["SET", "u:0", "mine"]);
    w.cmd(&["MSET", "u:2", "1", "u:1", "1", "v:1", "1", "x:1", "1"]);
    got.push(t.push());
    got.push(t.push());
    got.push(show(&t.cmd(&["CLIENT", "TRACKINGINFO"])));
    got
}

#[test]
fn resp3_invalidations_match_redis() {
    let r = redis();
    let c = concord(&[]);
    let want = resp3_run(r.port);
    assert_eq!(resp3_run(c.port), want);
    assert!(want.iter().any(|p| p.contains("u:1")), "{want:?}");
}

/// What a RESP2 client subscribed to `__redis__:invalidate` receives for another client
/// that redirects to it, then what the tracking client is told once it went away.
fn resp2_run(port: u16) -> Vec<String> {
    let mut sub = Conn::open(port);
    sub.set_timeout(Some(Duration::from_secs(10)));
    let Reply::Int(id) = sub.cmd(&["CLIENT", "ID"]) else {
        panic!("CLIENT ID");
    };
    sub.cmd(&["SUBSCRIBE", "__redis__:invalidate"]);
    let mut t = Conn::open(port);
    let mut w = Conn::open(port);
    let mut got = vec![
        t.cmd(&["CLIENT", "TRACKING", "ON", "REDIRECT", &id.to_string()])
            .to_string(),
        t.cmd(&["CLIENT", "GETREDIR"]).to_string(),
    ];
    // CLIENT INFO shows the tracking flag and the redirect.
    let Reply::Bulk(info) = t.cmd(&["CLIENT", "INFO"]) else {
        panic!("CLIENT INFO");
    };
    let info = String::from_utf8_lossy(&info).into_owned();
    let fields: Vec<&str> = info
        .split_whitespace()
        .filter(|f| f.starts_with("flags=") || f.starts_with("redir="))
        .collect();
    got.push(fields.join(" ").replace(&format!("={id}"), "=ID"));
    t.cmd(&["MGET", "a", "b"]);
    w.cmd(&["MSET", "a", "1", "b", "2"]);
    got.push(sub.read().to_string());
    got.push(sub.read().to_string());
    t.cmd(&["GET", "a"]);
    w.cmd(&["FLUSHALL"]);
    got.push(sub.read().to_string());
    // The redirect breaks when the next invalidation finds its target gone.
    let mut t3 = Tracked::open(port);
    t3.cmd(&["CLIENT", "TRACKING", "ON", "REDIRECT", &id.to_string()]);
    drop(sub);
    wait_for(10, "the subscriber to leave", || {
        !matches!(w.cmd(&["CLIENT", "LIST", "ID", &id.to_string()]), Reply::Bulk(b) if !b.is_empty())
            && !matches!(w.cmd(&["CLIENT", "LIST", "ID", &id.to_string()]), Reply::Other(_, _, s) if !s.is_empty())
    });
    t3.cmd(&["GET", "z"]);
    w.cmd(&["SET", "z", "1"]);
    let id = format!(":{id}");
    got.push(t3.push().replace(&id, ":ID"));
    got.push(show(&t3.cmd(&["CLIENT", "TRACKINGINFO"])).replace(&id, ":ID"));
    got.retain(|s| !s.starts_with(':'));
    got
}

#[test]
fn resp2_redirect_invalidations_match_redis() {
    let r = redis();
    let c = concord(&[]);
    let want = resp2_run(r.port);
    assert_eq!(resp2_run(c.port), want);
    assert!(
        want.iter().any(|s| s.contains("__redis__:invalidate")),
        "{want:?}"
    );
}

#[test]
fn tracking_errors_match_redis() {
    let cases: &[&[&str]] = &[
        &["CLIENT", "TRACKING", "MAYBE"],
        &["CLIENT", "TRACKING", "ON", "NOPE"],
        &["CLIENT", "TRACKING", "ON", "PREFIX", "a"],
        &["CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"],
        &["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"],
        &["CLIENT", "TRACKING", "ON", "REDIRECT", "999999"],
        &["CLIENT", "TRACKING", "ON", "REDIRECT", "x"],
        &[
            "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "a",
        ],
        &["CLIENT", "CACHING", "YES"],
        &["CLIENT", "GETREDIR"],
        &["CLIENT", "TRACKING", "ON", "OPTIN"],
        &["CLIENT", "CACHING", "NO"],
        &["CLIENT", "CACHING", "MAYBE"],
        &["CLIENT", "TRACKING", "ON", "OPTOUT"],
        &["CLIENT", "TRACKING", "ON", "BCAST"],
        &["CLIENT", "TRACKING", "OFF"],
        &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a"],
        &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "abc"],
        &["CLIENT", "TRACKINGINFO"],
        &["RESET"],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "PAUSE", "x"],
        &["CLIENT", "PAUSE", "-1"],
        &["CLIENT", "PAUSE", "10", "READ"],
        &["CLIENT", "UNPAUSE"],
    ];
    let run = |port: u16| -> Vec<String> {
        let mut c = Conn::open(port);
        cases.iter().map(|a| c.cmd(a).to_string()).collect()
    };
    let r = redis();
    let c = concord(&[]);
    assert_eq!(run(c.port), run(r.port));
}

/// INFO's tracking fields.
fn tracking_info(c: &mut Conn) -> Vec<String> {
    let text = match c.cmd(&["INFO", "everything"]) {
        Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        r => panic!("INFO: {r}"),
    };
    text.lines()
        .filter(|l| l.starts_with("tracking_"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_table_limit_and_info_match_redis() {
    let run = |port: u16| -> (Vec<String>, usize) {
        let mut c = Conn::open(port);
        c.cmd(&["CONFIG", "SET", "tracking-table-max-keys", "2"]);
        let mut t = Tracked::open(port);
        t.cmd(&["CLIENT", "TRACKING", "ON"]);
        let mut b = Tracked::open(port);
        b.cmd(&[
            "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "p", "PREFIX", "q",
        ]);
        for k in ["k1", "k2", "k3", "k4", "k5"] {
            t.cmd(&["GET", k]);
        }
        // Redis evicts before the next command: each eviction is an invalidation.
        t.cmd(&["PING"]);
        let evicted = (0..3).map(|_| t.push()).count();
        let info = tracking_info(&mut c);
        c.cmd(&["CONFIG", "SET", "tracking-table-max-keys", "1000000"]);
        (info, evicted)
    };
    let r = redis();
    let c = concord(&[]);
    assert_eq!(run(c.port), run(r.port));
}

/// Reads a reply, `None` if none came within `ms` milliseconds.
fn reply_within(c: &mut Conn, ms: u64) -> Option<Reply> {
    c.set_timeout(Some(Duration::from_millis(ms)));
    let r = c.try_read();
    c.set_timeout(Some(Duration::from_secs(10)));
    r
}

/// CLIENT PAUSE WRITE lets reads through and holds writes (and write scripts, and a
/// transaction being queued) until CLIENT UNPAUSE; ALL holds everything. What each
/// client saw, in order, and whether a held command was still waiting after a while.
fn pause_run(port: u16) -> Vec<String> {
    let mut admin = Conn::open(port);
    let mut c = Conn::open(port);
    c.set_timeout(Some(Duration::from_secs(10)));
    let mut got = Vec::new();
    c.cmd(&["SET", "k", "v"]);
    got.push(
        admin
            .cmd(&["CLIENT", "PAUSE", "100000", "WRITE"])
            .to_string(),
    );
    got.push(c.cmd(&["GET", "k"]).to_string());
    got.push(
        c.cmd(&[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('GET', KEYS[1])",
            "1",
            "k",
        ])
        .to_string(),
    );
    got.push(c.cmd(&["EVAL_RO", "return 1", "0"]).to_string());
    for held in [
        &["SET", "k", "w"][..],
        &["EVAL", "return 1", "0"],
        &["PUBLISH", "ch", "m"],
    ] {
        let v: Vec<Vec<u8>> = held.iter().map(|a| a.as_bytes().to_vec()).collect();
        c.send_raw(&Conn::encode(&v));
        got.push(format!("held: {:?}", reply_within(&mut c, 300)));
        got.push(admin.cmd(&["CLIENT", "UNPAUSE"]).to_string());
        got.push(c.read().to_string());
        admin.cmd(&["CLIENT", "PAUSE", "100000", "WRITE"]);
    }
    // In a pipeline, the commands before a held one are answered at once.
    let pipeline = [
        Conn::encode(&[b"GET".to_vec(), b"k".to_vec()]),
        Conn::encode(&[b"SET".to_vec(), b"k".to_vec(), b"p".to_vec()]),
    ]
    .concat();
    c.send_raw(&pipeline);
    got.push(format!("first: {:?}", reply_within(&mut c, 2000)));
    got.push(format!("held: {:?}", reply_within(&mut c, 300)));
    got.push(admin.cmd(&["CLIENT", "UNPAUSE"]).to_string());
    got.push(c.read().to_string());
    admin.cmd(&["CLIENT", "PAUSE", "100000", "WRITE"]);
    // Scripts of one pipeline: a read-only one runs, a writing one after it is held.
    let scripts = [
        Conn::encode(&[
            b"EVAL".to_vec(),
            b"#!lua flags=no-writes\nreturn 1".to_vec(),
            b"0".to_vec(),
        ]),
        Conn::encode(&[
            b"EVAL".to_vec(),
            b"return redis.call('SET', KEYS[1], 's')".to_vec(),
            b"1".to_vec(),
            b"k".to_vec(),
        ]),
    ]
    .concat();
    c.send_raw(&scripts);
    got.push(format!("first: {:?}", reply_within(&mut c, 2000)));
    got.push(format!("held: {:?}", reply_within(&mut c, 300)));
    got.push(admin.cmd(&["GET", "k"]).to_string());
    got.push(admin.cmd(&["CLIENT", "UNPAUSE"]).to_string());
    got.push(c.read().to_string());
    admin.cmd(&["CLIENT", "PAUSE", "100000", "WRITE"]);
    got.push(c.cmd(&["MULTI"]).to_string());
    got.push(c.cmd(&["GET", "k"]).to_string());
    c.send_raw(&Conn::encode(&[b"INCR".to_vec(), b"n".to_vec()]));
    got.push(format!("held: {:?}", reply_within(&mut c, 300)));
    got.push(admin.cmd(&["CLIENT", "UNPAUSE"]).to_string());
    got.push(c.read().to_string());
    got.push(c.cmd(&["EXEC"]).to_string());
    // While writes are held, an expired key is hidden, not deleted (DBSIZE still counts
    // it), until the pause ends.
    c.cmd(&["SET", "e", "v", "PX", "50"]);
    admin.cmd(&["CLIENT", "PAUSE", "100000", "WRITE"]);
    wait_for(10, "e to expire", || {
        c.cmd(&["PTTL", "e"]) == Reply::Int(-2)
    });
    got.push(c.cmd(&["GET", "e"]).to_string());
    got.push(c.cmd(&["DBSIZE"]).to_string());
    admin.cmd(&["CLIENT", "UNPAUSE"]);
    got.push(c.cmd(&["GET", "e"]).to_string());
    got.push(c.cmd(&["DBSIZE"]).to_string());
    // ALL: even a PING waits, and the pause ends by itself.
    let start = Instant::now();
    got.push(admin.cmd(&["CLIENT", "PAUSE", "400"]).to_string());
    got.push(c.cmd(&["PING"]).to_string());
    got.push(format!(
        "waited: {}",
        start.elapsed() >= Duration::from_millis(300)
    ));
    got
}

#[test]
fn client_pause_matches_redis() {
    let r = redis();
    let c = concord(&[]);
    let want = pause_run(r.port);
    assert_eq!(pause_run(c.port), want);
    assert!(want.contains(&"held: None".to_string()), "{want:?}");
}

#[test]
fn a_peers_write_invalidates_a_tracked_key_and_a_pause_does_not_hold_peers() {
    let db = Cluster::start(2, &[]);
    let mut t = Tracked::open(db.ports[1]);
    t.cmd(&["CLIENT", "TRACKING", "ON"]);
    assert_eq!(t.cmd(&["GET", "k"]), Reply::Nil);
    // A pause holds the clients of instance 2, not the ops its peer sends.
    let mut admin = db.conn(1);
    admin.cmd(&["CLIENT", "PAUSE", "100000", "WRITE"]);
    db.conn(0).cmd(&["SET", "k", "from-peer"]);
    let push = t.push();
    assert!(
        push.contains("invalidate") && push.contains("\"k\""),
        "{push}"
    );
    admin.cmd(&["CLIENT", "UNPAUSE"]);
    assert_eq!(t.cmd(&["GET", "k"]), Reply::Bulk(b"from-peer".to_vec()));
}

#[test]
fn expiry_and_eviction_invalidate_tracked_keys() {
    let c = concord(&["--maxmemory-policy", "allkeys-random"]);
    let mut w = Conn::open(c.port);
    let mut t = Tracked::open(c.port);
    t.cmd(&["CLIENT", "TRACKING", "ON"]);
    w.cmd(&["SET", "e", "v", "PX", "300"]);
    t.cmd(&["GET", "e"]);
    // Active expiry deletes it: an invalidation, with no command touching it.
    assert!(t.push().contains("\"e\""));
    let value = "x".repeat(1000);
    for i in 0..200 {
        w.cmd(&["SET", &format!("big{i}"), &value]);
    }
    t.cmd(&["GET", "big0"]);
    w.cmd(&["CONFIG", "SET", "maxmemory", "1"]);
    // Keys are evicted before each command, a few at a time: big0 among them at last.
    let mut seen = String::new();
    wait_for(20, "big0 evicted and invalidated", || {
        w.cmd(&["GET", "nothing"]);
        while let Some(p) = t.try_push(100) {
            seen.push_str(&p);
        }
        seen.contains("\"big0\"")
    });
    w.cmd(&["CONFIG", "SET", "maxmemory", "0"]);
}

#[test]
fn a_redirect_target_that_does_not_read_is_disconnected() {
    let c = concord(&["--client-output-buffer-limit", "pubsub 64kb 0 0"]);
    let mut sub = Conn::open(c.port);
    let Reply::Int(id) = sub.cmd(&["CLIENT", "ID"]) else {
        panic!("CLIENT ID");
    };
    sub.cmd(&["SUBSCRIBE", "__redis__:invalidate"]);
    // The subscriber never reads again.
    let mut t = Conn::open(c.port);
    t.cmd(&[
        "CLIENT",
        "TRACKING",
        "ON",
        "REDIRECT",
        &id.to_string(),
        "BCAST",
    ]);
    let mut w = Conn::open(c.port);
    let value = "v".repeat(100);
    let key = "k".repeat(1000);
    wait_for(30, "the slow subscriber to be disconnected", || {
        for i in 0..200 {
            w.cmd(&["SET", &format!("{key}{i}"), &value]);
        }
        !matches!(w.cmd(&["CLIENT", "LIST", "ID", &id.to_string()]), Reply::Bulk(b) if !b.is_empty())
    });
    // The tracking client is told its redirect broke only in RESP3; it still works.
    assert_eq!(t.cmd(&["PING"]), Reply::Status("PONG".into()));
}
