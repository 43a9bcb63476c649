//! A rolling upgrade: instances of two releases, speaking two versions of the peer
//! protocol and of the key-state format, replicate to each other while the database is
//! upgraded one instance at a time.
//!
//! The older release is played by this build held back with `--peer-protocol 1`: it then
//! asks for and accepts only protocol version 1, writes what version 1 writes (state
//! format 1), and refuses frames of a newer version. (The release before negotiation
//! refuses a newer version outright instead of answering with its own; the dialer's
//! handling of that refusal is unit-tested in the server's `sync` module.)

use crate::cluster::{Cluster, bulk, link_field};
use crate::support::{Conn, Reply, wait_for};

const OLD: &[&str] = &[
    "--peer-protocol",
    "1",
    "--backlog-size",
    "64kb",
    "--appendonly",
    "yes",
];
const NEW: &[&str] = &["--backlog-size", "64kb", "--appendonly", "yes"];

/// The protocol of instance `i`'s link to replica `peer`, once it is up.
fn protocol(c: &Cluster, i: usize, peer: usize) -> i64 {
    let mut v = 0;
    wait_for(20, "link up", || {
        v = link_field(c, i, Some(peer), "protocol");
        v != 0
    });
    v
}

/// Writes of several types on instance `i`, tagged `tag`; HLLs are what state format 2
/// changed.
fn write_some(k: &mut Conn, i: usize, tag: &str) {
    for (args, want) in [
        (
            vec!["SET", &format!("s:{tag}"), tag],
            Reply::Status("OK".into()),
        ),
        (vec!["PFADD", "hll", &format!("{tag}:{i}")], Reply::Int(1)),
        (vec!["SADD", "set", &format!("{tag}:{i}")], Reply::Int(1)),
        (vec!["INCRBY", "n", "1"], Reply::Int(0)),
        (vec!["HSET", "h", &format!("{tag}:{i}"), tag], Reply::Int(1)),
        (vec!["RPUSH", "l", tag], Reply::Int(0)),
    ] {
        let got = k.cmd(&args);
        match want {
            // Counts that depend on what other instances wrote: only the type matters.
            Reply::Int(0) => assert!(matches!(got, Reply::Int(_)), "{args:?}: {got}"),
            w => assert_eq!(got, w, "{args:?}"),
        }
    }
}

/// Writes big values on instance `i` until its backlog of 64 kB no longer covers a peer
/// that paused: the peer then needs a full sync.
fn overflow_backlog(k: &mut Conn, tag: &str) {
    let big = "x".repeat(200);
    for j in 0..1000 {
        assert_eq!(
            k.cmd(&["SET", &format!("big:{tag}:{j}"), &big]),
            Reply::Status("OK".into())
        );
    }
}

fn full_syncs_from(c: &Cluster, i: usize, peer: usize) -> i64 {
    link_field(c, i, Some(peer), "full_syncs")
}

/// A paused instance `rx` gets a full sync after `tx` wrote past its backlog; the merge
/// keeps what `rx` wrote meanwhile. A puller whose links are not all up asks every peer
/// for every origin, so any peer may serve it; with `from_tx` the links between `rx` and
/// the others are cut meanwhile, so it must be `tx`.
fn full_sync(c: &Cluster, tx: usize, rx: usize, tag: &str, from_tx: bool) {
    let total = |c: &Cluster| {
        c.field(rx, "crdt_full_syncs")
            .parse::<i64>()
            .expect("count")
    };
    let (before, before_tx) = (total(c), full_syncs_from(c, rx, tx + 1));
    let others: Vec<usize> = (0..3).filter(|&i| from_tx && i != tx && i != rx).collect();
    let mut r = c.conn(rx);
    assert_eq!(r.cmd(&["CRDT.SYNC", "PAUSE"]), Reply::Status("OK".into()));
    overflow_backlog(&mut c.conn(tx), tag);
    write_some(&mut c.conn(tx), tx, &format!("{tag}-tx"));
    write_some(&mut r, rx, &format!("{tag}-rx"));
    for &o in &others {
        c.cut(rx, o);
    }
    assert_eq!(r.cmd(&["CRDT.SYNC", "RESUME"]), Reply::Status("OK".into()));
    if from_tx {
        wait_for(60, "a full sync from tx", || {
            full_syncs_from(c, rx, tx + 1) > before_tx
        });
    }
    for &o in &others {
        c.heal(rx, o);
    }
    c.converged(60);
    assert!(
        total(c) > before,
        "instance {} took a full sync: {}",
        rx + 1,
        c.info(rx)
    );
    assert_eq!(
        c.conn(tx).cmd(&["GET", &format!("s:{tag}-rx")]),
        bulk(&format!("{tag}-rx"))
    );
}

#[test]
fn a_rolling_upgrade_between_two_protocol_versions_keeps_replicating() {
    let mut c = Cluster::start(3, OLD);
    for i in 0..3 {
        write_some(&mut c.conn(i), i, "before");
    }
    c.converged(30);
    for (i, peer) in [(0, 2), (1, 3), (2, 1)] {
        assert_eq!(protocol(&c, i, peer), 1);
    }
    for up in 0..3 {
        c.stop(up);
        // The others keep taking writes while it restarts.
        for i in (0..3).filter(|&i| i != up) {
            write_some(&mut c.conn(i), i, &format!("while-{up}-down"));
        }
        c.set_extra(up, NEW);
        c.restart(up);
        write_some(&mut c.conn(up), up, &format!("after-{up}"));
        c.converged(60);
        // Links between upgraded instances run at the newest version, links with an
        // older one at 1, in both directions.
        for i in 0..3 {
            for j in (0..3).filter(|&j| j != i) {
                let want = if i <= up && j <= up {
                    i64::from(concord_replication::PROTO_VERSION)
                } else {
                    1
                };
                assert_eq!(
                    protocol(&c, i, j + 1),
                    want,
                    "link {}->{} after upgrading {}",
                    i + 1,
                    j + 1,
                    up + 1
                );
            }
        }
        if up == 0 {
            // Full syncs across the versions, both ways: a newer instance writes state
            // format 1 for an older one, and reads an older one's.
            // Only instance 1 is newer: instance 2 must take it from 1; instance 1 takes
            // its from either older one.
            full_sync(&c, 0, 1, "new-to-old", true);
            full_sync(&c, 1, 0, "old-to-new", false);
        }
    }
    // All upgraded: a full sync at the newest version.
    full_sync(&c, 2, 0, "new-to-new", false);
    let n = c.conn(0).cmd(&["GET", "n"]);
    let card = c.conn(0).cmd(&["PFCOUNT", "hll"]);
    for i in 1..3 {
        assert_eq!(c.conn(i).cmd(&["GET", "n"]), n);
        assert_eq!(c.conn(i).cmd(&["PFCOUNT", "hll"]), card);
    }
}
