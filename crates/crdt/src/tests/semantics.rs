//! The worked examples of the conflict rules (docs/SEMANTICS.md), each as concurrent
//! writes on replicas that then exchange everything and must read alike.

use super::*;

/// Plays one scenario: `before` runs on replica 1 and syncs; then each replica runs its
/// own commands concurrently; then everything syncs. Returns the read of key `k`.
/// What every replica shows for key `k`, checked to be the same everywhere.
fn agreed_views(reps: &[Replica]) -> Vec<String> {
    let views: Vec<String> = reps
        .iter()
        .map(|r| {
            r.view()
                .get(b"k".as_slice())
                .cloned()
                .unwrap_or_else(|| "absent".into())
        })
        .collect();
    for v in &views {
        assert_eq!(v, &views[0], "replicas disagree");
    }
    views
}

fn scenario(n: usize, before: Vec<OpKind>, concurrent: Vec<(usize, OpKind)>) -> Vec<String> {
    let mut reps: Vec<Replica> = (1..=n as u16).map(Replica::new).collect();
    let mut log = Vec::new();
    for k in before {
        log.push(reps[0].issue(100, b"k", k));
    }
    sync_all(&mut reps, &log, 0);
    for (r, k) in concurrent {
        log.push(reps[r].issue(200, b"k", k));
    }
    sync_all(&mut reps, &log, 1);
    agreed_views(&reps)
}

#[test]
fn semantics_del_concurrent_with_sadd_keeps_the_add() {
    let v = scenario(
        2,
        vec![OpKind::SAdd(vec![blob("y")])],
        vec![(0, OpKind::DelKey), (1, OpKind::SAdd(vec![blob("x")]))],
    );
    assert_eq!(v[0], "set:x ttl=None");
}

#[test]
fn semantics_set_concurrent_with_incr_adds_up() {
    let v = scenario(
        2,
        vec![OpKind::SetStr(blob("5"), Ttl::Set(None))],
        vec![
            (0, OpKind::SetStr(blob("100"), Ttl::Set(None))),
            (1, OpKind::IncrStr(Amount::Int(1))),
        ],
    );
    assert_eq!(v[0], "s:101 ttl=None");
}

#[test]
fn semantics_concurrent_incrby_sum() {
    let v = scenario(
        3,
        vec![],
        vec![
            (0, OpKind::IncrStr(Amount::Int(7))),
            (1, OpKind::IncrStr(Amount::Int(3))),
        ],
    );
    assert_eq!(v[0], "s:10 ttl=None");
}

#[test]
fn semantics_sadd_concurrent_with_srem_keeps_member() {
    let v = scenario(
        2,
        vec![OpKind::SAdd(vec![blob("x")])],
        vec![
            (0, OpKind::SRem(vec![blob("x")])),
            (1, OpKind::SAdd(vec![blob("x")])),
        ],
    );
    assert_eq!(v[0], "set:x ttl=None");
}

#[test]
fn semantics_persist_beats_concurrent_expire() {
    let v = scenario(
        2,
        vec![OpKind::SetStr(blob("v"), Ttl::Set(None))],
        vec![(0, OpKind::Expire(Some(5000))), (1, OpKind::Expire(None))],
    );
    assert_eq!(v[0], "s:v ttl=None");
}

#[test]
fn semantics_concurrent_expires_take_the_latest() {
    let v = scenario(
        3,
        vec![OpKind::SetStr(blob("v"), Ttl::Set(None))],
        vec![
            (0, OpKind::Expire(Some(5000))),
            (2, OpKind::Expire(Some(9000))),
        ],
    );
    assert_eq!(v[0], "s:v ttl=Some(9000)");
}

#[test]
fn semantics_concurrent_hset_of_different_fields_union() {
    let v = scenario(
        2,
        vec![],
        vec![
            (0, OpKind::HSet(vec![(blob("a"), blob("1"))])),
            (1, OpKind::HSet(vec![(blob("b"), blob("2"))])),
        ],
    );
    assert_eq!(v[0], "h:a=1,b=2 ttl=None");
}

#[test]
fn semantics_lww_tie_goes_to_smaller_id() {
    // Both write at the same wall time with fresh clocks: equal timestamps.
    let mut reps = vec![Replica::new(1), Replica::new(2)];
    let a = reps[0].issue(500, b"k", OpKind::SetStr(blob("from1"), Ttl::Set(None)));
    let b = reps[1].issue(500, b"k", OpKind::SetStr(blob("from2"), Ttl::Set(None)));
    assert_eq!(a.stamp.ts, b.stamp.ts);
    let log = vec![a, b];
    sync_all(&mut reps, &log, 3);
    for r in &reps {
        assert_eq!(r.view()[&b"k".to_vec()], "s:from1 ttl=None");
    }
}

#[test]
fn semantics_type_conflict_newest_write_shows() {
    let mut reps = vec![Replica::new(1), Replica::new(2)];
    let a = reps[0].issue(100, b"k", OpKind::SetStr(blob("s"), Ttl::Set(None)));
    let b = reps[1].issue(300, b"k", OpKind::SAdd(vec![blob("m")]));
    let log = vec![a, b];
    sync_all(&mut reps, &log, 3);
    for r in &reps {
        assert_eq!(r.view()[&b"k".to_vec()], "set:m ttl=None");
        // The losing string is kept, hidden.
        assert!(r.keys[&b"k".to_vec()].string.is_some());
    }
}

#[test]
fn semantics_float_increments_sum_canonically() {
    let v = scenario(
        2,
        vec![OpKind::SetStr(blob("10.5"), Ttl::Set(None))],
        vec![
            (
                0,
                OpKind::IncrStr(Amount::Float(F80::parse(b"0.1").unwrap())),
            ),
            (
                1,
                OpKind::IncrStr(Amount::Float(F80::parse(b"0.2").unwrap())),
            ),
        ],
    );
    assert_eq!(v[0], "s:10.8 ttl=None");
}

/// Redis reads the stored text with `strtold` at full precision before adding: a base
/// with more than 17 decimals is not rounded to 17 first.
#[test]
fn float_increment_reads_the_base_at_full_precision() {
    let v = scenario(
        2,
        vec![OpKind::SetStr(blob("3.523372036854775808"), Ttl::Set(None))],
        vec![(
            0,
            OpKind::IncrStr(Amount::Float(F80::parse(b"1e2").unwrap())),
        )],
    );
    assert_eq!(v[0], "s:103.5233720368547758 ttl=None");
}

#[test]
fn semantics_unparsable_base_hides_increments() {
    let v = scenario(
        2,
        vec![OpKind::SetStr(blob("1"), Ttl::Set(None))],
        vec![
            (0, OpKind::SetStr(blob("abc"), Ttl::Set(None))),
            (1, OpKind::IncrStr(Amount::Int(1))),
        ],
    );
    assert_eq!(v[0], "s:abc ttl=None");
}

#[test]
fn semantics_zrem_concurrent_with_zincrby_keeps_the_increment() {
    let v = scenario(
        2,
        vec![OpKind::ZAdd(vec![(blob("x"), 4.1)])],
        vec![
            (0, OpKind::ZRem(vec![blob("x")])),
            (1, OpKind::ZIncr(blob("x"), 2.0)),
        ],
    );
    assert_eq!(v[0], "z:x=2 ttl=None");
}

#[test]
fn semantics_flushall_keeps_concurrent_writes() {
    let v = scenario(
        2,
        vec![OpKind::SAdd(vec![blob("a")])],
        vec![(0, OpKind::FlushAll), (1, OpKind::SAdd(vec![blob("b")]))],
    );
    assert_eq!(v[0], "set:b ttl=None");
}

/// Like [`scenario`] for list commands, whose ops depend on the issuing replica's list.
fn list_scenario(n: usize, before: Vec<Cmd>, concurrent: Vec<(usize, Cmd)>) -> Vec<String> {
    fn issue(rep: &mut Replica, wall: u64, c: &Cmd, log: &mut Vec<Op>) {
        let list = rep.keys.get(&b"k"[..]).and_then(|ks| ks.list.as_deref());
        if let Some(kind) = list_kind(list, c) {
            rep.write(wall, b"k", kind, log);
        }
    }
    let mut reps: Vec<Replica> = (1..=n as u16).map(Replica::new).collect();
    let mut log = Vec::new();
    for c in &before {
        issue(&mut reps[0], 100, c, &mut log);
    }
    sync_all(&mut reps, &log, 0);
    for (r, c) in &concurrent {
        issue(&mut reps[*r], 200, c, &mut log);
    }
    sync_all(&mut reps, &log, 1);
    agreed_views(&reps)
}

#[test]
fn semantics_concurrent_pushes_keep_every_element_with_each_command_contiguous() {
    let v = list_scenario(
        3,
        vec![Cmd::LPush(0, false)],
        vec![
            (0, Cmd::LPush(1, false)),
            (1, Cmd::LPush(2, false)),
            (2, Cmd::LPush(3, true)),
        ],
    );
    let body = v[0].trim_start_matches("l:").trim_end_matches(" ttl=None");
    let items: Vec<&str> = body.split(',').collect();
    assert_eq!(items.len(), 8, "{body}");
    for p in ["0", "1", "2", "3"] {
        let i = items.iter().position(|x| *x == format!("{p}a")).unwrap();
        assert_eq!(items[i + 1], format!("{p}b"), "{body}");
    }
    // The head push is first and the old elements keep their place.
    assert_eq!(&items[..4], &["3a", "3b", "0a", "0b"], "{body}");
}

#[test]
fn semantics_pop_races_are_at_least_once_and_gone_everywhere() {
    let v = list_scenario(
        2,
        vec![Cmd::LPush(0, false), Cmd::LPush(1, false)],
        vec![(0, Cmd::LPop(true)), (1, Cmd::LPop(true))],
    );
    assert_eq!(v[0], "l:1a,1b ttl=None");
}

#[test]
fn semantics_concurrent_linsert_at_one_reference_keeps_both() {
    let v = list_scenario(
        3,
        vec![Cmd::LPush(0, false)],
        vec![(0, Cmd::LInsert(1, 1)), (1, Cmd::LInsert(1, 2))],
    );
    assert!(
        v[0] == "l:0a,i1,i2,0b ttl=None" || v[0] == "l:0a,i2,i1,0b ttl=None",
        "{}",
        v[0]
    );
}

#[test]
fn semantics_del_of_a_list_keeps_concurrent_pushes() {
    let mut reps: Vec<Replica> = (1..=2).map(Replica::new).collect();
    let mut log = Vec::new();
    let push = list_kind(None, &Cmd::LPush(0, false)).unwrap();
    reps[0].write(100, b"k", push, &mut log);
    sync_all(&mut reps, &log, 0);
    log.push(reps[0].issue(200, b"k", OpKind::DelKey));
    let l = reps[1].keys[&b"k"[..]].list.as_deref();
    let push = list_kind(l, &Cmd::LPush(1, false)).unwrap();
    reps[1].write(200, b"k", push, &mut log);
    sync_all(&mut reps, &log, 1);
    assert_eq!(reps[0].view(), reps[1].view());
    assert_eq!(reps[0].view()[&b"k"[..]], "l:1a,1b ttl=None");
}

#[test]
fn semantics_lset_loses_to_a_concurrent_removal() {
    let v = list_scenario(
        2,
        vec![Cmd::LPush(0, false), Cmd::LPush(1, false)],
        vec![(0, Cmd::LSet(0, 7)), (1, Cmd::LRem(0))],
    );
    assert_eq!(v[0], "l:1a,1b ttl=None");
}

#[test]
fn semantics_concurrent_lsets_take_the_later_timestamp_ties_to_smaller_id() {
    let v = list_scenario(
        2,
        vec![Cmd::LPush(0, false)],
        vec![(0, Cmd::LSet(0, 1)), (1, Cmd::LSet(0, 2))],
    );
    assert_eq!(v[0], "l:s1,0b ttl=None");
}

#[test]
fn a_queue_pushed_and_popped_forever_keeps_its_memory_bounded() {
    // Two replicas: one pushes, the other pops what it has seen; both stay small.
    let mut reps: Vec<Replica> = (1..=2).map(Replica::new).collect();
    let mut log = Vec::new();
    for round in 0..2000u64 {
        let l = reps[0]
            .keys
            .get(&b"k"[..])
            .and_then(|ks| ks.list.as_deref());
        let push = list_kind(l, &Cmd::LPush(1, false)).unwrap();
        reps[0].write(round, b"k", push, &mut log);
        sync_all(&mut reps, &log, round as usize);
        let l = reps[1]
            .keys
            .get(&b"k"[..])
            .and_then(|ks| ks.list.as_deref());
        if let Some(pop) = list_kind(l, &Cmd::LPop(true)) {
            reps[1].write(round, b"k", pop, &mut log);
        }
        sync_all(&mut reps, &log, round as usize);
        for r in &reps {
            assert!(
                r.keys
                    .get(&b"k"[..])
                    .is_none_or(|ks| ks.list.as_ref().is_none_or(|l| l.len() <= 2))
            );
        }
    }
}

fn pfadd(m: &str) -> OpKind {
    OpKind::PfAdd(vec![crate::hll::pattern(m.as_bytes())])
}

#[test]
fn semantics_del_of_a_hyperloglog_beats_a_concurrent_pfadd() {
    let mut reps: Vec<Replica> = (1..=2).map(Replica::new).collect();
    let mut log = Vec::new();
    reps[0].write(100, b"k", pfadd("a"), &mut log);
    sync_all(&mut reps, &log, 0);
    reps[0].write(200, b"k", OpKind::DelKey, &mut log);
    reps[1].write(200, b"k", pfadd("b"), &mut log);
    sync_all(&mut reps, &log, 1);
    assert_eq!(agreed_views(&reps)[0], "absent");
    // A causally later add is never swallowed.
    reps[1].write(300, b"k", pfadd("x"), &mut log);
    sync_all(&mut reps, &log, 2);
    assert_eq!(agreed_views(&reps)[0], "hll:1 ttl=None");
}

/// Replica 1 writes `make` on `key`, both sync, then replica 1 writes `remove` and replica
/// 1 collects it as stable while replica 2 recovers its state from before the removal (it
/// reported the removal, then lost it in a crash). Returns replica 2's lost state,
/// replica 1's compacted state, and the merges of both directions.
fn lost_removal_merges(key: &[u8], make: OpKind, remove: OpKind) -> [Replica; 4] {
    let mut reps: Vec<Replica> = (1..=2).map(Replica::new).collect();
    let mut log = Vec::new();
    reps[0].write(100, key, make, &mut log);
    sync_all(&mut reps, &log, 0);
    let lost = reps[1].clone();
    reps[0].write(200, key, remove, &mut log);
    sync_all(&mut reps, &log, 1);
    let stable = stable_for(&reps, 0).expect("all delivered");
    reps[0].compact(&stable);
    let mut recovered = lost.clone();
    recovered.merge(&reps[0]);
    let mut sender = reps[0].clone();
    sender.merge(&lost);
    let collected = reps.swap_remove(0);
    [lost, collected, recovered, sender]
}

/// A member that reported a removal of an HLL, had it collected as stable by the others,
/// then lost it in a crash, gets a full sync: its registers do not come back, whichever
/// side of the merge holds them.
#[test]
fn semantics_a_lost_hll_removal_does_not_resurrect_through_a_state_merge() {
    let [lost, collected, recovered, sender] =
        lost_removal_merges(b"k", pfadd("a"), OpKind::DelKey);
    assert!(lost.view().contains_key(&b"k"[..]));
    assert!(!collected.keys.contains_key(&b"k"[..]), "removal collected");
    assert_eq!(recovered.view().get(&b"k"[..]), None);
    assert_eq!(sender.view().get(&b"k"[..]), None);
}

/// An HLL decoded from state format 1 (no record of its adds) merges as before: its
/// registers are never dropped for having been seen. Format 1 is still written for peers
/// that read no newer one.
#[test]
fn hll_states_of_format_1_still_decode() {
    let mut reps: Vec<Replica> = (1..=1).map(Replica::new).collect();
    let mut log = Vec::new();
    reps[0].write(100, b"k", pfadd("a"), &mut log);
    let ks = reps[0].keys.get(&b"k"[..]).expect("written").clone();
    let mut bytes = crate::codec::encode_states([(&b"k"[..], &ks)]);
    // Format 2 ends an HLL-only state with its adds: one origin (1, 1) at 2.
    assert_eq!(&bytes[bytes.len() - 4..], &[1, 1, 1, 2]);
    bytes.truncate(bytes.len() - 4);
    bytes[..2].copy_from_slice(&1u16.to_le_bytes());
    // Writing format 1 (for a peer that reads no newer) gives exactly those bytes.
    assert_eq!(crate::codec::encode_states_as(1, [(&b"k"[..], &ks)]), bytes);
    let back = crate::codec::decode_states(&bytes).expect("format 1 decodes");
    let h = back[0].1.hll.as_deref().expect("an hll");
    assert_eq!(h.regs, ks.hll.as_deref().unwrap().regs);
    let mut everything = VersionVector::new();
    everything.raise(Origin::new(1, 1), 1000);
    assert!(!everything.covers(&h.adds));
}

/// The same for a stream group: a destroy collected as stable and then lost by a member
/// in a crash does not bring the group back through a full sync, in either direction.
#[test]
fn semantics_a_lost_group_destroy_does_not_resurrect_through_a_state_merge() {
    let create = OpKind::XGroupCreate {
        name: blob("g"),
        id: StreamId::new(0, 0),
        mkstream: true,
        read: None,
    };
    let [lost, collected, recovered, sender] =
        lost_removal_merges(b"s", create, OpKind::XGroupDestroy(blob("g")));
    let has_group = |r: &Replica| {
        r.keys
            .get(&b"s"[..])
            .and_then(|ks| ks.stream.as_deref())
            .is_some_and(|st| st.groups.contains_key(&b"g"[..]))
    };
    assert!(has_group(&lost));
    assert!(!has_group(&collected), "destroyed");
    assert!(!has_group(&recovered));
    assert!(!has_group(&sender));
}
