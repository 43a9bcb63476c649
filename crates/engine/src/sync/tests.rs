//! A streamed snapshot is the state at its start, whatever is written while it runs; a
//! merge carried out key by key ends where a merge at once does, whatever is written
//! while it runs.

use crate::cmd::{peered_pair, run_text};
use crate::{Engine, StreamPart};
use concord_crdt::codec::{STATE_FORMAT_VERSION, decode_states};
use concord_crdt::{Blob, KeyState};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// A write on one of a few keys, of several types (type clashes answer with errors,
/// which is fine: they change nothing).
fn command() -> impl Strategy<Value = Vec<String>> {
    let key = (0..12u8).prop_map(|k| format!("k{k}"));
    let val = (0..5u8).prop_map(|v| format!("v{v}"));
    prop_oneof![
        (key.clone(), val.clone()).prop_map(|(k, v)| vec!["SET".into(), k, v]),
        key.clone().prop_map(|k| vec!["INCR".into(), k]),
        key.clone().prop_map(|k| vec!["DEL".into(), k]),
        (key.clone(), val.clone()).prop_map(|(k, v)| vec!["SADD".into(), k, v]),
        (key.clone(), val.clone()).prop_map(|(k, v)| vec!["SREM".into(), k, v]),
        (key.clone(), val.clone()).prop_map(|(k, v)| vec!["HSET".into(), k, v.clone(), v]),
        (key.clone(), val.clone()).prop_map(|(k, v)| vec!["RPUSH".into(), k, v]),
        key.clone().prop_map(|k| vec!["LPOP".into(), k]),
        key.clone()
            .prop_map(|k| vec!["EXPIRE".into(), k, "100".into()]),
        key.clone().prop_map(|k| vec!["PERSIST".into(), k]),
        (key, val).prop_map(|(k, v)| vec!["PFADD".into(), k, v]),
        Just(vec!["FLUSHALL".into()]),
    ]
}

fn run(e: &mut Engine, cmd: &[String]) {
    let words: Vec<&str> = cmd.iter().map(String::as_str).collect();
    run_text(e, &words);
}

fn by_key(chunks: &[Vec<u8>]) -> BTreeMap<Blob, KeyState> {
    let mut all = BTreeMap::new();
    for c in chunks {
        for (k, s) in decode_states(c).expect("a chunk decodes") {
            assert!(all.insert(k, s).is_none(), "a key sent twice");
        }
    }
    all
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_streamed_snapshot_is_the_state_at_its_start(
        before in proptest::collection::vec(command(), 0..40),
        during in proptest::collection::vec((command(), 0..3usize), 0..40),
        per_chunk in 1..4usize,
    ) {
        let (_, mut b) = peered_pair();
        b.set_time(1_000);
        for c in &before {
            run(&mut b, c);
        }
        let at_once = b.snapshot(1024, STATE_FORMAT_VERSION);
        let (id, head) = b.stream_begin(STATE_FORMAT_VERSION).expect("no stream runs");
        prop_assert_eq!(&head.vv, &at_once.vv);
        prop_assert_eq!(head.keys, at_once.keys);
        let mut streamed = Vec::new();
        let mut writes = during.iter();
        loop {
            // Writes between chunks: what they change must not show in the snapshot.
            if let Some((c, _)) = writes.next() {
                run(&mut b, c);
            }
            match b.stream_next(id, per_chunk) {
                StreamPart::Chunk(c) => streamed.push(c),
                StreamPart::Done => break,
                StreamPart::Gone => panic!("the stream ended early"),
            }
        }
        prop_assert!(!b.streaming());
        prop_assert_eq!(by_key(&streamed), by_key(&at_once.chunks));
    }

    #[test]
    fn a_merge_carried_out_key_by_key_ends_as_one_at_once(
        mine in proptest::collection::vec(command(), 0..40),
        theirs in proptest::collection::vec(command(), 0..40),
        during in proptest::collection::vec((command(), 0..3usize), 0..40),
    ) {
        // Two copies of one instance, the same peer's snapshot: merged at once in one,
        // key by key in the other, the same writes after (interleaved with the slices).
        let (mut a, mut b) = peered_pair();
        let (mut lazy, _) = peered_pair();
        for e in [&mut a, &mut b, &mut lazy] {
            e.set_time(1_000);
        }
        for c in &mine {
            run(&mut a, c);
            run(&mut lazy, c);
        }
        for c in &theirs {
            run(&mut b, c);
        }
        let snap = b.snapshot(1024, STATE_FORMAT_VERSION);
        let states: Vec<(Blob, KeyState)> = snap
            .chunks
            .iter()
            .flat_map(|c| decode_states(c).expect("decodes"))
            .collect();
        a.merge_snapshot(&snap.vv, snap.hlc, states.clone()).expect("merges");
        lazy.begin_merge(&snap.vv, snap.hlc, states.into_iter().collect()).expect("merges");
        prop_assert_eq!(a.vv(), lazy.vv());
        for (c, slice) in &during {
            run(&mut a, c);
            run(&mut lazy, c);
            lazy.merge_step(*slice);
        }
        prop_assert_eq!(a.live_keys(), {
            lazy.finish_merge();
            lazy.live_keys()
        });
        prop_assert_eq!(a.digest(), lazy.digest());
        prop_assert_eq!(a.vv(), lazy.vv());
    }
}

#[test]
fn a_stream_cancelled_stops_saving_and_another_may_start() {
    let (_, mut b) = peered_pair();
    b.set_time(1_000);
    run_text(&mut b, &["SET", "a", "1"]);
    let (id, _) = b.stream_begin(STATE_FORMAT_VERSION).expect("starts");
    assert!(
        b.stream_begin(STATE_FORMAT_VERSION).is_none(),
        "one at a time"
    );
    b.stream_cancel(id);
    assert_eq!(b.stream_next(id, 10), StreamPart::Gone);
    let (id2, head) = b.stream_begin(STATE_FORMAT_VERSION).expect("starts again");
    assert_ne!(id, id2);
    assert_eq!(head.keys, 1);
}

#[test]
fn a_merge_in_progress_is_finished_by_a_digest() {
    let (mut a, mut b) = peered_pair();
    a.set_time(1_000);
    b.set_time(1_000);
    for i in 0..50 {
        run_text(&mut b, &["SET", &format!("k{i}"), "v"]);
    }
    let snap = b.snapshot(8, STATE_FORMAT_VERSION);
    let states: Vec<(Blob, KeyState)> = snap
        .chunks
        .iter()
        .flat_map(|c| decode_states(c).expect("decodes"))
        .collect();
    a.begin_merge(&snap.vv, snap.hlc, states.into_iter().collect())
        .expect("merges");
    assert!(a.merging());
    assert_eq!(a.merge_left(), 50);
    // A command naming a key sees it merged.
    assert_eq!(run_text(&mut a, &["GET", "k7"]), "$1\r\nv\r\n");
    assert!(a.merge_step(10));
    assert_eq!(a.digest(), b.digest());
    assert!(!a.merging());
    assert_eq!(a.live_keys(), 50);
}
