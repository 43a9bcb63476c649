//! maxmemory and eviction: every policy keeps memory under the limit while keys are
//! written, the LRU, LFU and TTL policies pick the keys they should, `noeviction`
//! refuses writes, and an eviction reaches peers as a delete.

use crate::support::{Conn, Reply, concord, info_field, wait_for};

/// An INFO field as a number.
fn info_num(c: &mut Conn, section: &str, field: &str) -> u64 {
    info_field(c, section, field).parse().unwrap()
}

fn ok(r: Reply) {
    assert_eq!(r, Reply::Status("OK".into()));
}

/// Sets maxmemory to what is in use now (the replication backlog aside, as maxmemory
/// counts it) plus `room` bytes, and the policy.
fn limit(c: &mut Conn, room: u64, policy: &str) -> u64 {
    let max =
        info_num(c, "memory", "used_memory") - info_num(c, "memory", "crdt_backlog_bytes") + room;
    ok(c.cmd(&["CONFIG", "SET", "maxmemory-policy", policy]));
    ok(c.cmd(&["CONFIG", "SET", "maxmemory", &max.to_string()]));
    max
}

/// Writes `n` keys `prefix:i` of 1 KiB in pipelined batches (with an expiry when `ex`);
/// every reply must be OK.
fn fill(c: &mut Conn, prefix: &str, n: usize, ex: Option<u64>) {
    let value = vec![b'v'; 1024];
    for start in (0..n).step_by(100) {
        let mut batch = Vec::new();
        let end = (start + 100).min(n);
        for i in start..end {
            let mut req = vec![
                b"SET".to_vec(),
                format!("{prefix}:{i}").into_bytes(),
                value.clone(),
            ];
            if let Some(s) = ex {
                req.push(b"EX".to_vec());
                req.push(s.to_string().into_bytes());
            }
            batch.extend(Conn::encode(&req));
        }
        c.send_raw(&batch);
        for _ in start..end {
            ok(c.read());
        }
    }
}

/// How many of `prefix:0..n` are still there.
fn surviving(c: &mut Conn, prefix: &str, n: usize) -> usize {
    (0..n)
        .filter(|i| c.cmd(&["EXISTS", &format!("{prefix}:{i}")]) == Reply::Int(1))
        .count()
}

#[test]
fn every_policy_keeps_memory_under_the_limit() {
    for policy in [
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let s = concord(&[]);
        let mut c = Conn::open(s.port);
        let max = limit(&mut c, 2 << 20, policy);
        // 8 MiB of values into 2 MiB of room.
        fill(&mut c, "k", 8000, Some(100_000));
        let used = info_num(&mut c, "memory", "used_memory");
        // A thread counts up to 64 KiB on its own before it reports.
        assert!(used <= max + (256 << 10), "{policy}: {used} > {max}");
        let evicted = info_num(&mut c, "stats", "evicted_keys");
        assert!(evicted > 4000, "{policy}: only {evicted} evicted");
        let Reply::Int(left) = c.cmd(&["DBSIZE"]) else {
            panic!("DBSIZE")
        };
        assert_eq!(left as u64 + evicted, 8000, "{policy}");
    }
}

#[test]
fn without_keys_to_evict_writes_are_refused_and_reads_and_deletes_go_on() {
    for policy in ["noeviction", "volatile-lru"] {
        let s = concord(&[]);
        let mut c = Conn::open(s.port);
        limit(&mut c, 1 << 20, policy);
        // Keys without an expiry: volatile policies may not take them.
        let value = "v".repeat(1024);
        let mut refused = None;
        for i in 0..4000 {
            match c.cmd(&["SET", &format!("k:{i}"), &value]) {
                Reply::Status(_) => {}
                other => {
                    refused = Some(other);
                    break;
                }
            }
        }
        assert_eq!(
            refused,
            Some(Reply::Error(
                "OOM command not allowed when used memory > 'maxmemory'.".into()
            )),
            "{policy}"
        );
        assert_eq!(info_num(&mut c, "stats", "evicted_keys"), 0);
        assert_eq!(c.cmd(&["GET", "k:0"]), Reply::Bulk(value.into_bytes()));
        assert_eq!(c.cmd(&["DEL", "k:0"]), Reply::Int(1));
    }
}

#[test]
fn lru_evicts_the_keys_not_used_lately() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    fill(&mut c, "old", 1000, None);
    // The clock counts seconds, as Redis's does: wait until the last key written has aged
    // one, so that every use below is later than every write.
    wait_for(
        10,
        "keys to age",
        || matches!(c.cmd(&["OBJECT", "IDLETIME", "old:999"]), Reply::Int(n) if n >= 1),
    );
    for i in 0..100 {
        c.cmd(&["GET", &format!("old:{i}")]);
    }
    assert_eq!(c.cmd(&["OBJECT", "IDLETIME", "old:0"]), Reply::Int(0));
    limit(&mut c, 512 << 10, "allkeys-lru");
    fill(&mut c, "new", 1000, None);
    let hot = surviving(&mut c, "old", 100);
    let cold = (100..1000)
        .filter(|i| c.cmd(&["EXISTS", &format!("old:{i}")]) == Reply::Int(1))
        .count();
    assert!(hot >= 90, "only {hot} of 100 used keys kept");
    assert!(cold <= 450, "{cold} of 900 unused keys kept");
}

#[test]
fn lfu_evicts_the_keys_used_least_often() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    ok(c.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]));
    fill(&mut c, "k", 1000, None);
    for _ in 0..50 {
        for i in 0..100 {
            c.cmd(&["GET", &format!("k:{i}")]);
        }
    }
    let Reply::Int(freq) = c.cmd(&["OBJECT", "FREQ", "k:0"]) else {
        panic!("OBJECT FREQ")
    };
    assert!(freq > 5, "a used key's counter grew: {freq}");
    assert!(
        matches!(c.cmd(&["OBJECT", "IDLETIME", "k:0"]), Reply::Error(e) if e.contains("LFU maxmemory policy is selected"))
    );
    limit(&mut c, 512 << 10, "allkeys-lfu");
    fill(&mut c, "new", 1000, None);
    let hot = surviving(&mut c, "k", 100);
    assert!(hot >= 90, "only {hot} of 100 often used keys kept");
}

#[test]
fn volatile_ttl_evicts_the_keys_expiring_soonest() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    fill(&mut c, "late", 500, Some(100_000));
    fill(&mut c, "soon", 500, Some(1_000));
    limit(&mut c, 256 << 10, "volatile-ttl");
    fill(&mut c, "new", 500, Some(50_000));
    let late = surviving(&mut c, "late", 500);
    let soon = surviving(&mut c, "soon", 500);
    assert!(late > soon + 200, "late {late}, soon {soon}");
}

#[test]
fn an_eviction_reaches_peers_as_a_delete() {
    let c = crate::cluster::Cluster::start(2, &[]);
    let mut a = c.conn(0);
    fill(&mut a, "k", 2000, None);
    c.converged(30);
    // With peers the backlog moves under the limit as links trim it: let eviction go as
    // far as it takes.
    ok(a.cmd(&["CONFIG", "SET", "maxmemory-eviction-tenacity", "100"]));
    limit(&mut a, 256 << 10, "allkeys-random");
    fill(&mut a, "more", 1000, None);
    assert!(info_num(&mut a, "stats", "evicted_keys") > 0);
    c.converged(30);
    let mut b = c.conn(1);
    assert_eq!(a.cmd(&["DBSIZE"]), b.cmd(&["DBSIZE"]));
    assert_eq!(
        info_num(&mut b, "stats", "evicted_keys"),
        0,
        "a local decision"
    );
}

#[test]
fn an_eviction_is_announced_as_an_evicted_event() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    ok(c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Ee"]));
    let mut sub = Conn::open(s.port);
    sub.set_timeout(Some(std::time::Duration::from_secs(10)));
    sub.cmd(&["SUBSCRIBE", "__keyevent@0__:evicted"]);
    limit(&mut c, 1 << 20, "allkeys-random");
    fill(&mut c, "k", 2000, None);
    assert!(info_num(&mut c, "stats", "evicted_keys") > 0);
    let Reply::Array(m) = sub.read() else {
        panic!("not a push")
    };
    assert_eq!(m[1], Reply::Bulk(b"__keyevent@0__:evicted".to_vec()));
    let Reply::Bulk(key) = &m[2] else {
        panic!("the key is a bulk string")
    };
    assert!(key.starts_with(b"k:"));
    assert_eq!(
        c.cmd(&["EXISTS", std::str::from_utf8(key).unwrap()]),
        Reply::Int(0)
    );
}

#[test]
fn a_limit_far_below_use_is_reached_in_the_background_without_refusing_writes() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    fill(&mut c, "k", 3000, None);
    // 2 MiB below what is in use: far more keys to evict than one command may (budget 8).
    ok(c.cmd(&["CONFIG", "SET", "maxmemory-eviction-tenacity", "0"]));
    let max = limit(&mut c, 0, "allkeys-random") - (2 << 20);
    ok(c.cmd(&["CONFIG", "SET", "maxmemory", &max.to_string()]));
    // As in Redis, a write is refused only when nothing can be evicted.
    ok(c.cmd(&["SET", "another", "value"]));
    let evicted_now = info_num(&mut c, "stats", "evicted_keys");
    assert!(evicted_now < 100, "{evicted_now} evicted by one command");
    wait_for(10, "eviction to reach the limit", || {
        info_num(&mut c, "memory", "used_memory") - info_num(&mut c, "memory", "crdt_backlog_bytes")
            <= max + (256 << 10)
    });
}
