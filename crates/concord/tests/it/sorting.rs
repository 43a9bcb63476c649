//! The blocking sorted-set pops woken by writes (a local client's or a peer's), and
//! SORT ... STORE on two instances.

use crate::cluster::{Cluster, bulk};
use crate::server::{blocked_clients, wait_blocked};
use crate::support::{Conn, Reply, b, concord, wait_for};

#[test]
fn blocking_zset_pops_wait_for_a_zadd() {
    let s = concord(&[]);
    let mut admin = Conn::open(s.port);
    let mut w1 = Conn::open(s.port);
    let mut w2 = Conn::open(s.port);
    w1.send_raw(&Conn::encode(&[b("BZPOPMIN"), b("z"), b("other"), b("0")]));
    wait_blocked(&mut admin, 1);
    w2.send_raw(&Conn::encode(&[
        b("BZMPOP"),
        b("0"),
        b("1"),
        b("z"),
        b("MAX"),
        b("COUNT"),
        b("2"),
    ]));
    wait_blocked(&mut admin, 2);
    // One write serves both, first come first served.
    assert_eq!(
        admin.cmd(&["ZADD", "z", "3", "c", "1", "a", "2", "b", "4", "d"]),
        Reply::Int(4)
    );
    assert_eq!(
        w1.read(),
        Reply::Array(vec![bulk("z"), bulk("a"), bulk("1")])
    );
    let pair = |m: &str, s: &str| Reply::Array(vec![bulk(m), bulk(s)]);
    assert_eq!(
        w2.read(),
        Reply::Array(vec![
            bulk("z"),
            Reply::Array(vec![pair("d", "4"), pair("c", "3")])
        ])
    );
    assert_eq!(admin.cmd(&["ZCARD", "z"]), Reply::Int(1));
    assert_eq!(blocked_clients(&mut admin), 0);
    // A timeout answers a null array.
    let mut c = Conn::open(s.port);
    let start = std::time::Instant::now();
    assert_eq!(c.cmd(&["BZPOPMAX", "none", "0.1"]), Reply::Nil);
    assert!(start.elapsed() >= std::time::Duration::from_millis(90));
    assert_eq!(c.cmd(&["BZMPOP", "0.05", "1", "none", "MIN"]), Reply::Nil);
    // Inside a transaction and a script a blocking pop answers at once.
    c.cmd(&["MULTI"]);
    c.cmd(&["BZPOPMIN", "none", "0"]);
    c.cmd(&["BZMPOP", "0", "1", "none", "MIN"]);
    assert_eq!(c.cmd(&["EXEC"]), Reply::Array(vec![Reply::Nil, Reply::Nil]));
    assert_eq!(
        c.cmd(&[
            "EVAL",
            "return redis.call('BZPOPMIN', KEYS[1], 0) == false",
            "1",
            "none"
        ]),
        Reply::Int(1)
    );
    // A key of another type keeps the client waiting (as Redis); a ZADD after it is
    // deleted serves it.
    let mut w = Conn::open(s.port);
    w.send_raw(&Conn::encode(&[b("BZPOPMIN"), b("k"), b("0")]));
    wait_blocked(&mut admin, 1);
    admin.cmd(&["SET", "k", "string"]);
    admin.cmd(&["PING"]);
    assert_eq!(blocked_clients(&mut admin), 1);
    admin.cmd(&["DEL", "k"]);
    admin.cmd(&["ZADD", "k", "5", "m"]);
    assert_eq!(
        w.read(),
        Reply::Array(vec![bulk("k"), bulk("m"), bulk("5")])
    );
}

#[test]
fn a_blocked_zset_pop_is_woken_by_a_write_from_a_peer() {
    let c = Cluster::start(2, &[]);
    c.wait_linked();
    let mut waiter = c.conn(1);
    waiter.send_raw(&Conn::encode(&[b("BZPOPMAX"), b("wake"), b("0")]));
    wait_for(10, "the BZPOPMAX to block", || {
        blocked_clients(&mut c.conn(1)) == 1
    });
    c.conn(0).cmd(&["ZADD", "wake", "1", "low", "9", "high"]);
    assert_eq!(
        waiter.read(),
        Reply::Array(vec![bulk("wake"), bulk("high"), bulk("9")])
    );
    c.converged(20);
    for i in 0..2 {
        assert_eq!(
            c.conn(i).cmd(&["ZRANGE", "wake", "0", "-1"]),
            Reply::Array(vec![bulk("low")])
        );
    }
}

#[test]
fn sort_store_results_converge_on_two_instances() {
    let c = Cluster::start(2, &[]);
    let (mut a, mut bb) = (c.conn(0), c.conn(1));
    a.cmd(&["RPUSH", "src", "3", "1", "2"]);
    a.cmd(&["MSET", "w_1", "30", "w_2", "20", "w_3", "10"]);
    a.cmd(&["HSET", "h_2", "name", "two"]);
    // The old destination, with an expiry: STORE replaces it whole, expiry included.
    a.cmd(&["RPUSH", "dst", "old1", "old2"]);
    a.cmd(&["EXPIRE", "dst", "1000"]);
    c.converged(20);
    assert_eq!(
        a.cmd(&[
            "SORT",
            "src",
            "BY",
            "w_*",
            "GET",
            "#",
            "GET",
            "h_*->name",
            "STORE",
            "dst"
        ]),
        Reply::Int(6)
    );
    c.converged(20);
    let want = Reply::Array(["3", "", "2", "two", "1", ""].map(bulk).to_vec());
    for i in 0..2 {
        let mut k = c.conn(i);
        assert_eq!(k.cmd(&["LRANGE", "dst", "0", "-1"]), want, "instance {i}");
        assert_eq!(k.cmd(&["TTL", "dst"]), Reply::Int(-1), "instance {i}");
    }
    // Concurrent STOREs into the same key, and a push racing them: every instance ends
    // with the same list.
    c.pause_all();
    assert_eq!(a.cmd(&["SORT", "src", "STORE", "dst"]), Reply::Int(3));
    assert_eq!(
        bb.cmd(&["SORT", "src", "DESC", "STORE", "dst"]),
        Reply::Int(3)
    );
    bb.cmd(&["RPUSH", "dst", "pushed"]);
    c.resume_all();
    c.converged(20);
    let first = c.conn(0).cmd(&["LRANGE", "dst", "0", "-1"]);
    assert_eq!(c.conn(1).cmd(&["LRANGE", "dst", "0", "-1"]), first);
    assert!(
        matches!(&first, Reply::Array(v) if v.contains(&bulk("pushed"))),
        "{first}"
    );
    // An empty result deletes the destination everywhere.
    assert_eq!(bb.cmd(&["SORT", "nokey", "STORE", "dst"]), Reply::Int(0));
    c.converged(20);
    for i in 0..2 {
        assert_eq!(c.conn(i).cmd(&["EXISTS", "dst"]), Reply::Int(0));
    }
}
