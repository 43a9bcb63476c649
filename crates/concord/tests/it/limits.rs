//! Settings that bound clients take effect at once through CONFIG SET: maxclients,
//! timeout, the output and query buffer limits, proto-max-bulk-len, maxmemory and
//! requirepass; and a setting Concord cannot honour is refused, never accepted and
//! ignored.

use crate::support::{Conn, Reply, concord, wait_for};
use std::time::{Duration, Instant};

fn ok() -> Reply {
    Reply::Status("OK".into())
}

fn set(c: &mut Conn, name: &str, value: &str) -> Reply {
    c.cmd(&["CONFIG", "SET", name, value])
}

/// Whether the server closed this connection (reads meet the end of the stream).
fn closed(c: &mut Conn) -> bool {
    let mut buf = [0u8; 4096];
    c.set_timeout(Some(Duration::from_millis(50)));
    let mut gone = false;
    // Drain whatever was sent; a read that returns nothing and no timeout means closed.
    for _ in 0..1000 {
        match c.read_some(&mut buf) {
            Some(_) => continue,
            None => {
                gone = !c.timed_out();
                break;
            }
        }
    }
    c.set_timeout(Some(Duration::from_secs(30)));
    gone
}

#[test]
fn config_set_requirepass_locks_new_connections() {
    let s = concord(&[]);
    let mut admin = Conn::open(s.port);
    assert_eq!(set(&mut admin, "requirepass", "s3cret"), ok());
    // The connection that set it stays authenticated, as in Redis.
    assert_eq!(admin.cmd(&["SET", "k", "v"]), ok());
    let mut fresh = Conn::open(s.port);
    assert_eq!(
        fresh.cmd(&["GET", "k"]),
        Reply::Error("NOAUTH Authentication required.".into())
    );
    assert_eq!(fresh.cmd(&["AUTH", "s3cret"]), ok());
    assert_eq!(fresh.cmd(&["GET", "k"]), Reply::Bulk(b"v".to_vec()));
    assert_eq!(set(&mut admin, "requirepass", ""), ok());
    let mut open_again = Conn::open(s.port);
    assert_eq!(open_again.cmd(&["GET", "k"]), Reply::Bulk(b"v".to_vec()));
}

#[test]
fn maxclients_refuses_connections_past_the_limit() {
    let s = concord(&[]);
    let mut a = Conn::open(s.port);
    assert_eq!(set(&mut a, "maxclients", "2"), ok());
    let mut b = Conn::open(s.port);
    assert_eq!(b.cmd(&["PING"]), Reply::Status("PONG".into()));
    let mut c = Conn::open(s.port);
    assert_eq!(
        c.try_read(),
        Some(Reply::Error("ERR max number of clients reached".into()))
    );
    drop(b);
    // Once a client left there is room again.
    wait_for(10, "room for a client", || {
        let mut d = Conn::open(s.port);
        d.set_timeout(Some(Duration::from_secs(5)));
        matches!(d.cmd(&["PING"]), Reply::Status(_))
    });
    let info = a.cmd(&["INFO", "clients"]);
    assert!(format!("{info}").contains("maxclients:2"), "{info}");
}

#[test]
fn idle_clients_are_closed_after_timeout_but_subscribers_are_not() {
    let s = concord(&[]);
    let mut admin = Conn::open(s.port);
    let mut idle = Conn::open(s.port);
    let mut sub = Conn::open(s.port);
    assert!(matches!(sub.cmd(&["SUBSCRIBE", "ch"]), Reply::Array(_)));
    assert_eq!(set(&mut admin, "timeout", "1"), ok());
    // The idle client's next read sees the close within a few seconds.
    assert_eq!(idle.cmd(&["PING"]), Reply::Status("PONG".into()));
    let started = Instant::now();
    idle.set_timeout(Some(Duration::from_secs(20)));
    let mut buf = [0u8; 16];
    assert_eq!(idle.read_some(&mut buf), None, "closed after idling");
    assert!(started.elapsed() >= Duration::from_millis(900));
    // The admin connection idled as long, and was closed too (the new timeout reached
    // connections already idle); a fresh one publishes.
    assert_eq!(admin.try_read(), None);
    let mut admin = Conn::open(s.port);
    assert_eq!(admin.cmd(&["PUBLISH", "ch", "still here"]), Reply::Int(1));
    assert!(matches!(sub.read(), Reply::Array(_)));
    assert_eq!(set(&mut admin, "timeout", "0"), ok());
}

#[test]
fn proto_max_bulk_len_and_query_buffer_limit_are_enforced() {
    let s = concord(&[]);
    let mut admin = Conn::open(s.port);
    assert_eq!(set(&mut admin, "proto-max-bulk-len", "1mb"), ok());
    let mut c = Conn::open(s.port);
    c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n");
    assert_eq!(
        c.read(),
        Reply::Error("ERR Protocol error: invalid bulk length".into())
    );
    assert!(closed(&mut c));
    // A bulk under the limit is fine.
    let mut d = Conn::open(s.port);
    assert_eq!(d.cmd(&["SET", "k", &"x".repeat(900_000)]), ok());
    assert_eq!(set(&mut admin, "proto-max-bulk-len", "512mb"), ok());
    assert_eq!(set(&mut admin, "client-query-buffer-limit", "1mb"), ok());
    let mut q = Conn::open(s.port);
    // A request that never ends grows the query buffer past the limit: closed.
    let mut wire = b"*2\r\n$4\r\nECHO\r\n$3000000\r\n".to_vec();
    wire.extend(vec![b'y'; 1_500_000]);
    // The server may close the connection before it took every byte.
    let _ = q.try_send_raw(&wire);
    assert!(closed(&mut q));
    assert_eq!(admin.cmd(&["PING"]), Reply::Status("PONG".into()));
}

/// Requests a client holds back (queued in MULTI, or pipelined behind a blocked command)
/// count against client-query-buffer-limit like the query buffer: past it the client is
/// closed, and nothing it queued runs.
#[test]
fn queued_requests_are_bounded_by_the_query_buffer_limit() {
    let s = concord(&[]);
    let mut admin = Conn::open(s.port);
    assert_eq!(set(&mut admin, "client-query-buffer-limit", "1mb"), ok());
    let big = "x".repeat(200_000);
    let mut tx = Conn::open(s.port);
    assert_eq!(tx.cmd(&["MULTI"]), ok());
    let mut refused = false;
    for i in 0..10 {
        match tx.cmd(&["SET", &format!("t{i}"), &big]) {
            Reply::Status(q) if q == "QUEUED" => {}
            Reply::Error(e) => {
                assert!(e.contains("client-query-buffer-limit"), "{e}");
                refused = true;
                break;
            }
            other => panic!("{other}"),
        }
    }
    assert!(refused, "a transaction past the limit is refused");
    assert!(closed(&mut tx));
    assert_eq!(admin.cmd(&["EXISTS", "t0"]), Reply::Int(0));
    // Behind a blocked command.
    let mut b = Conn::open(s.port);
    let mut wire = Conn::encode(&[b"BLPOP".to_vec(), b"nothing".to_vec(), b"0".to_vec()]);
    for i in 0..10 {
        wire.extend(Conn::encode(&[
            b"SET".to_vec(),
            format!("b{i}").into_bytes(),
            big.clone().into_bytes(),
        ]));
    }
    // The server may close the connection before it took every byte.
    let _ = b.try_send_raw(&wire);
    assert!(closed(&mut b));
    assert_eq!(admin.cmd(&["EXISTS", "b0"]), Reply::Int(0));
    // The closed client no longer waits: a push stays in the list.
    assert_eq!(admin.cmd(&["LPUSH", "nothing", "v"]), Reply::Int(1));
    assert_eq!(admin.cmd(&["LLEN", "nothing"]), Reply::Int(1));
}

/// A huge negative count is a legal request, but its reply is cut off at the client's
/// output limit (the client is disconnected) instead of growing without bound.
#[test]
fn a_reply_past_the_hard_output_limit_disconnects_only_its_client() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    assert_eq!(
        set(&mut c, "client-output-buffer-limit", "normal 4mb 0 0"),
        ok()
    );
    assert_eq!(c.cmd(&["SADD", "s", &"m".repeat(1000)]), Reply::Int(1));
    let mut other = Conn::open(s.port);
    c.send_raw(&Conn::encode(&[
        b"SRANDMEMBER".to_vec(),
        b"s".to_vec(),
        b"-9223372036854775807".to_vec(),
    ]));
    assert!(closed(&mut c));
    // MGET of one key named many times amplifies a value the same way.
    let mut m = Conn::open(s.port);
    assert_eq!(m.cmd(&["SET", "big", &"v".repeat(100_000)]), ok());
    let mut mget = vec![b"MGET".to_vec()];
    mget.extend(std::iter::repeat_n(b"big".to_vec(), 100));
    m.send_raw(&Conn::encode(&mget));
    assert!(closed(&mut m));
    assert_eq!(other.cmd(&["SCARD", "s"]), Reply::Int(1));
}

/// A client that sends requests and never reads their replies is disconnected once its
/// waiting output stays above the soft limit; other clients keep being served meanwhile.
#[test]
fn a_slow_reader_is_disconnected_and_others_keep_their_latency() {
    let s = concord(&[]);
    let mut admin = Conn::open(s.port);
    assert_eq!(
        set(
            &mut admin,
            "client-output-buffer-limit",
            "normal 64mb 1mb 2"
        ),
        ok()
    );
    assert_eq!(admin.cmd(&["SET", "big", &"z".repeat(8 << 20)]), ok());
    let mut slow = Conn::open(s.port);
    // 8 MB of reply, more than the socket buffers hold, and nobody reads it.
    slow.send_raw(&Conn::encode(&[b"GET".to_vec(), b"big".to_vec()]));
    let started = Instant::now();
    let mut worst = Duration::ZERO;
    let mut probe = Conn::open(s.port);
    let mut gone = false;
    while started.elapsed() < Duration::from_secs(20) {
        let t = Instant::now();
        assert_eq!(probe.cmd(&["PING"]), Reply::Status("PONG".into()));
        worst = worst.max(t.elapsed());
        let clients = format!("{}", probe.cmd(&["CLIENT", "LIST"]));
        if clients.matches("id=").count() == 2 {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(gone, "the slow reader was not disconnected");
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "disconnected before the soft limit's 2 s"
    );
    // A liveness bound, not a speed measurement: nobody waited on the slow reader.
    assert!(worst < Duration::from_secs(1), "a PING took {worst:?}");
}

#[test]
fn a_subscriber_that_does_not_read_is_disconnected_past_the_pubsub_limit() {
    let s = concord(&[]);
    let mut admin = Conn::open(s.port);
    assert_eq!(
        set(
            &mut admin,
            "client-output-buffer-limit",
            "pubsub 2mb 1mb 60"
        ),
        ok()
    );
    let mut sub = Conn::open(s.port);
    assert!(matches!(sub.cmd(&["SUBSCRIBE", "ch"]), Reply::Array(_)));
    let payload = "p".repeat(100_000);
    let mut publisher = Conn::open(s.port);
    wait_for(30, "the subscriber to be dropped", || {
        for _ in 0..20 {
            publisher.cmd(&["PUBLISH", "ch", &payload]);
        }
        publisher.cmd(&["PUBSUB", "NUMSUB", "ch"])
            == Reply::Array(vec![Reply::Bulk(b"ch".to_vec()), Reply::Int(0)])
    });
}

#[test]
fn maxmemory_refuses_writes_that_grow_memory() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    assert_eq!(c.cmd(&["SET", "k", "v"]), ok());
    assert_eq!(set(&mut c, "maxmemory", "1"), ok());
    assert_eq!(
        c.cmd(&["SET", "k2", "v"]),
        Reply::Error("OOM command not allowed when used memory > 'maxmemory'.".into())
    );
    // Reads and deletes still work.
    assert_eq!(c.cmd(&["GET", "k"]), Reply::Bulk(b"v".to_vec()));
    assert_eq!(c.cmd(&["DEL", "k"]), Reply::Int(1));
    assert_eq!(set(&mut c, "maxmemory", "0"), ok());
    assert_eq!(c.cmd(&["SET", "k2", "v"]), ok());
}

#[test]
fn settings_are_applied_or_refused() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    let refused = |r: Reply| matches!(r, Reply::Error(e) if e.starts_with("ERR CONFIG SET failed"));
    // Values Concord cannot honour are refused, with the reason.
    assert!(refused(set(&mut c, "maxmemory-policy", "sometimes")));
    assert!(refused(set(&mut c, "maxmemory-samples", "100000")));
    assert!(refused(set(&mut c, "notify-keyspace-events", "KEQ")));
    assert!(refused(set(&mut c, "port", "1")));
    assert!(refused(set(&mut c, "maxclients", "0")));
    assert!(refused(set(
        &mut c,
        "client-output-buffer-limit",
        "normal 1 2"
    )));
    // Several at once are all or nothing.
    assert!(refused(c.cmd(&[
        "CONFIG",
        "SET",
        "hz",
        "50",
        "maxclients",
        "nope"
    ])));
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "hz"]),
        Reply::Array(vec![
            Reply::Bulk(b"hz".to_vec()),
            Reply::Bulk(b"10".to_vec())
        ])
    );
    // Any hz from 0 up is taken and run at between 1 and 500, as Redis does.
    for (asked, kept) in [("1000", "500"), ("0", "1"), ("50", "50")] {
        assert_eq!(set(&mut c, "hz", asked), ok());
        assert_eq!(
            c.cmd(&["CONFIG", "GET", "hz"]),
            Reply::Array(vec![
                Reply::Bulk(b"hz".to_vec()),
                Reply::Bulk(kept.as_bytes().to_vec())
            ])
        );
    }
    assert!(refused(set(&mut c, "hz", "-1")));
    let info = format!("{}", c.cmd(&["INFO", "server"]));
    assert!(info.contains("hz:50"), "{info}");
    assert_eq!(set(&mut c, "maxmemory-policy", "noeviction"), ok());
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "client-output-buffer-limit"]),
        Reply::Array(vec![
            Reply::Bulk(b"client-output-buffer-limit".to_vec()),
            Reply::Bulk(
                b"normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60".to_vec()
            ),
        ])
    );
}

/// Every setting CONFIG GET shows can be set back to its value at runtime (or is refused
/// as immutable), and the server keeps answering: no setting's effect may wait on a lock
/// the command already holds.
#[test]
fn every_setting_can_be_set_to_its_own_value() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    let Reply::Array(all) = c.cmd(&["CONFIG", "GET", "*"]) else {
        panic!("CONFIG GET *");
    };
    assert!(all.len() > 40, "{} entries", all.len());
    for pair in all.chunks(2) {
        let (Reply::Bulk(name), Reply::Bulk(value)) = (&pair[0], &pair[1]) else {
            panic!("{pair:?}");
        };
        let name = String::from_utf8_lossy(name).into_owned();
        let value = String::from_utf8_lossy(value).into_owned();
        match c.cmd(&["CONFIG", "SET", &name, &value]) {
            Reply::Status(s) if s == "OK" => {}
            Reply::Error(e) if e.contains("immutable") => {}
            other => panic!("CONFIG SET {name} {value:?}: {other}"),
        }
        assert_eq!(
            c.cmd(&["PING"]),
            Reply::Status("PONG".into()),
            "after {name}"
        );
    }
}
