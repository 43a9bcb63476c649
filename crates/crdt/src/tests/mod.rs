//! Property tests: CRDT laws and convergence under every causally valid delivery order.

use crate::f80::F80;
use crate::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

mod semantics;

/// A replica of a tiny keyspace, driven only by ops.
#[derive(Clone, Default)]
struct Replica {
    origin: Origin,
    vv: VersionVector,
    clock: HlcClock,
    keys: BTreeMap<Vec<u8>, KeyState>,
    /// Per key, the newest dot of each origin that touched it (the engine's `unstable`
    /// map): a key is compacted only once all of them are stable, as the engine does.
    touched: BTreeMap<Vec<u8>, VersionVector>,
}

impl Replica {
    fn new(id: u16) -> Self {
        Replica {
            origin: Origin::new(id, 1),
            ..Default::default()
        }
    }

    /// Issues a write as the engine does: a write that recreates an absent key first
    /// clears its expiry (a "no expiry" change).
    fn write(&mut self, wall: u64, key: &[u8], kind: OpKind, log: &mut Vec<Op>) {
        // As the engine does: a removal of a live HyperLogLog is an explicit op.
        let hll_live = |r: &Replica, k: &[u8]| {
            r.keys
                .get(k)
                .is_some_and(|ks| ks.hll.as_ref().is_some_and(|h| h.live))
        };
        match &kind {
            OpKind::PfAdd(_) | OpKind::Expire(_) | OpKind::HllDel => {}
            OpKind::FlushAll => {
                let live: Vec<Vec<u8>> = self
                    .keys
                    .keys()
                    .filter(|k| hll_live(self, k))
                    .cloned()
                    .collect();
                for k in live {
                    log.push(self.issue(wall, &k, OpKind::HllDel));
                }
            }
            _ if hll_live(self, key) => log.push(self.issue(wall, key, OpKind::HllDel)),
            _ => {}
        }
        let creates = !matches!(
            kind,
            OpKind::DelKey
                | OpKind::Expire(_)
                | OpKind::FlushAll
                | OpKind::SetStr(_, Ttl::Set(_))
                | OpKind::HllDel
        );
        if creates && self.keys.get(key).is_none_or(|k| !k.has_value()) {
            log.push(self.issue(wall, key, OpKind::Expire(None)));
        }
        log.push(self.issue(wall, key, kind));
    }

    fn issue(&mut self, wall: u64, key: &[u8], kind: OpKind) -> Op {
        let seq = self.vv.get(self.origin) + 1;
        let op = Op {
            stamp: Stamp::new(Dot::new(self.origin, seq), self.clock.tick(wall)),
            deps: Arc::new(self.vv.clone()),
            key: key.into(),
            kind,
        };
        self.apply(&op);
        op
    }

    fn apply(&mut self, op: &Op) {
        assert!(op.ready(&self.vv), "causal delivery violated");
        let _ = self.clock.observe(op.stamp.ts, 0, u64::MAX);
        let ctx = op.ctx();
        if op.kind == OpKind::FlushAll {
            for (k, ks) in self.keys.iter_mut() {
                ks.remove_seen(&ctx);
                self.touched.entry(k.clone()).or_default().add(op.dot());
            }
        } else {
            let ks = self.keys.entry(op.key.to_vec()).or_default();
            ks.apply(op.stamp, &ctx, &op.kind);
            self.touched
                .entry(op.key.to_vec())
                .or_default()
                .add(op.dot());
        }
        self.keys.retain(|_, k| !k.is_dead());
        self.vv.add(op.dot());
    }

    fn digest(&self) -> u64 {
        let mut d = Digest::new();
        for (k, v) in &self.keys {
            d.bytes(k);
            v.digest(&mut d);
        }
        d.finish()
    }

    /// What reads show: visible type and value per key.
    fn view(&self) -> BTreeMap<Vec<u8>, String> {
        let mut out = BTreeMap::new();
        for (k, ks) in &self.keys {
            let v = match ks.visible() {
                None => continue,
                Some(Kind::Str) => format!(
                    "s:{}",
                    String::from_utf8_lossy(&ks.string.as_ref().unwrap().read())
                ),
                Some(Kind::Hash) => {
                    let mut f: Vec<String> = ks
                        .hash
                        .as_ref()
                        .unwrap()
                        .iter()
                        .map(|(f, v)| {
                            format!(
                                "{}={}",
                                String::from_utf8_lossy(f),
                                String::from_utf8_lossy(&v.read())
                            )
                        })
                        .collect();
                    f.sort();
                    format!("h:{}", f.join(","))
                }
                Some(Kind::Set) => {
                    let mut m: Vec<String> = ks
                        .set
                        .as_ref()
                        .unwrap()
                        .iter()
                        .map(|m| String::from_utf8_lossy(m).into_owned())
                        .collect();
                    m.sort();
                    format!("set:{}", m.join(","))
                }
                Some(Kind::List) => {
                    let l = ks.list.as_ref().unwrap();
                    let v: Vec<String> = l
                        .iter()
                        .map(|x| String::from_utf8_lossy(&x.value).into_owned())
                        .collect();
                    format!("l:{}", v.join(","))
                }
                Some(Kind::Stream) => {
                    let st = ks.stream.as_ref().unwrap();
                    let v: Vec<String> = st
                        .iter()
                        .map(|((id, _), f)| {
                            format!("{id}:{}", String::from_utf8_lossy(&f.concat()))
                        })
                        .collect();
                    format!("x:{}", v.join(","))
                }
                Some(Kind::Hll) => {
                    let h = ks.hll.as_ref().unwrap();
                    format!("hll:{}", h.regs.count())
                }
                Some(Kind::ZSet) => {
                    let z = ks.zset.as_ref().unwrap();
                    let mut v = Vec::new();
                    z.index().walk(0, z.len(), false, |s, m| {
                        v.push(format!("{}={}", String::from_utf8_lossy(m), s));
                        true
                    });
                    format!("z:{}", v.join(","))
                }
            };
            out.insert(k.clone(), format!("{v} ttl={:?}", ks.expires_at()));
        }
        out
    }

    fn merge(&mut self, other: &Replica) {
        let empty = KeyState::default();
        for (k, ks) in self.keys.iter_mut() {
            ks.merge(&self.vv, other.keys.get(k).unwrap_or(&empty), &other.vv);
        }
        for (k, oks) in &other.keys {
            if !self.keys.contains_key(k) {
                let mut ks = KeyState::default();
                ks.merge(&self.vv, oks, &other.vv);
                self.keys.insert(k.clone(), ks);
            }
        }
        self.keys.retain(|_, k| !k.is_dead());
        for k in self.keys.keys() {
            self.touched.entry(k.clone()).or_default().join(&other.vv);
        }
        self.vv.join(&other.vv);
    }

    /// Compacts every key whose touches are all in `stable`, as the engine's
    /// `compact_stable` does.
    fn compact(&mut self, stable: &VersionVector) {
        for (k, ks) in self.keys.iter_mut() {
            if self.touched.get(k).is_none_or(|t| stable.covers(t)) {
                ks.compact(stable);
            }
        }
        self.keys.retain(|_, k| !k.is_dead());
    }
}

fn blob(s: &str) -> Blob {
    s.as_bytes().into()
}

#[derive(Clone, Debug)]
enum Cmd {
    Set(u8),
    Incr(i64),
    IncrF(i8),
    Del,
    Expire(Option<u8>),
    HSet(u8, u8),
    HIncr(u8, i64),
    HDel(u8),
    SAdd(u8),
    SRem(u8),
    Restore(u8),
    Flush,
    ZAdd(u8, i8),
    ZIncr(u8, i8),
    ZRem(u8),
    /// Push of two values at the head or the tail.
    LPush(u8, bool),
    /// Pop of up to two elements from the head or the tail.
    LPop(bool),
    /// Insert before the element at an index (modulo the length).
    LInsert(u8, u8),
    /// LSET of the element at an index.
    LSet(u8, u8),
    /// Removal of every element with a value.
    LRem(u8),
    /// PFADD of one element.
    PfAdd(u8),
    /// XADD at a millisecond.
    XAdd(u8),
    /// XDEL of the entry at an index.
    XDel(u8),
}

fn cmd() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        (0u8..4).prop_map(Cmd::Set),
        (-3i64..4).prop_map(Cmd::Incr),
        any::<i8>().prop_map(Cmd::IncrF),
        Just(Cmd::Del),
        proptest::option::of(0u8..5).prop_map(Cmd::Expire),
        (0u8..3, 0u8..3).prop_map(|(f, v)| Cmd::HSet(f, v)),
        (0u8..3, -2i64..3).prop_map(|(f, v)| Cmd::HIncr(f, v)),
        (0u8..3).prop_map(Cmd::HDel),
        (0u8..4).prop_map(Cmd::SAdd),
        (0u8..4).prop_map(Cmd::SRem),
        (0u8..3).prop_map(Cmd::Restore),
        Just(Cmd::Flush),
        (0u8..3, any::<i8>()).prop_map(|(m, s)| Cmd::ZAdd(m, s)),
        (0u8..3, any::<i8>()).prop_map(|(m, s)| Cmd::ZIncr(m, s)),
        (0u8..3).prop_map(Cmd::ZRem),
        (0u8..4, any::<bool>()).prop_map(|(v, l)| Cmd::LPush(v, l)),
        any::<bool>().prop_map(Cmd::LPop),
        (any::<u8>(), 0u8..4).prop_map(|(i, v)| Cmd::LInsert(i, v)),
        (any::<u8>(), 0u8..4).prop_map(|(i, v)| Cmd::LSet(i, v)),
        (0u8..4).prop_map(Cmd::LRem),
        (0u8..8).prop_map(Cmd::PfAdd),
        (0u8..8).prop_map(Cmd::XAdd),
        any::<u8>().prop_map(Cmd::XDel),
    ]
}

/// The op a list command makes against `list` (the replica's visible list, if any);
/// `None` when it does nothing.
fn list_kind(list: Option<&List>, c: &Cmd) -> Option<OpKind> {
    let empty = List::default();
    let l = list.unwrap_or(&empty);
    let insert = |i: usize, values: Vec<Blob>| {
        let (prefix, digit) = l.place(i).expect("room");
        OpKind::ListInsert {
            prefix: prefix.into(),
            digit,
            values: values.into_iter().map(SmallBlob::from).collect(),
        }
    };
    match c {
        Cmd::LPush(v, left) => {
            let vals = vec![blob(&format!("{v}a")), blob(&format!("{v}b"))];
            Some(insert(if *left { 0 } else { l.len() }, vals))
        }
        Cmd::LPop(left) => {
            let k = l.len().min(2);
            if k == 0 {
                return None;
            }
            let (i, j) = if *left {
                (0, k)
            } else {
                (l.len() - k, l.len())
            };
            Some(OpKind::ListRemove(vec![(
                l.get(i)?.pos.clone(),
                l.get(j - 1)?.pos.clone(),
            )]))
        }
        Cmd::LInsert(i, v) => {
            let at = usize::from(*i) % (l.len() + 1);
            Some(insert(at, vec![blob(&format!("i{v}"))]))
        }
        Cmd::LSet(i, v) => {
            if l.is_empty() {
                return None;
            }
            let e = l.get(usize::from(*i) % l.len())?;
            Some(OpKind::ListSet(e.pos.clone(), blob(&format!("s{v}"))))
        }
        Cmd::LRem(v) => {
            let want = [format!("{v}a"), format!("{v}b")];
            let ranges: Vec<(Pos, Pos)> = l
                .iter()
                .filter(|x| want.iter().any(|w| w.as_bytes() == &*x.value))
                .map(|x| (x.pos.clone(), x.pos.clone()))
                .collect();
            (!ranges.is_empty()).then_some(OpKind::ListRemove(ranges))
        }
        _ => None,
    }
}

fn kind_of(c: &Cmd) -> OpKind {
    match c {
        Cmd::Set(v) => OpKind::SetStr(
            blob(&v.to_string()),
            if v % 2 == 0 {
                Ttl::Keep
            } else {
                Ttl::Set(None)
            },
        ),
        Cmd::Incr(n) => OpKind::IncrStr(Amount::Int(*n)),
        Cmd::IncrF(n) => OpKind::IncrStr(Amount::Float(
            F80::parse(format!("{}", f64::from(*n) / 8.0).as_bytes()).expect("float"),
        )),
        Cmd::Del => OpKind::DelKey,
        Cmd::Expire(t) => OpKind::Expire(t.map(|t| 1000 + u64::from(t))),
        Cmd::HSet(f, v) => OpKind::HSet(vec![(blob(&f.to_string()), blob(&v.to_string()))]),
        Cmd::HIncr(f, n) => OpKind::HIncr(blob(&f.to_string()), Amount::Int(*n)),
        Cmd::HDel(f) => OpKind::HDel(vec![blob(&f.to_string())]),
        Cmd::SAdd(m) => OpKind::SAdd(vec![blob(&m.to_string())]),
        Cmd::SRem(m) => OpKind::SRem(vec![blob(&m.to_string())]),
        Cmd::Restore(v) => OpKind::Restore(Content::Set(vec![blob(&v.to_string())])),
        Cmd::Flush => OpKind::FlushAll,
        Cmd::ZAdd(m, sc) => OpKind::ZAdd(vec![(blob(&m.to_string()), f64::from(*sc) / 4.0)]),
        Cmd::ZIncr(m, d) => OpKind::ZIncr(blob(&m.to_string()), f64::from(*d) / 3.0),
        Cmd::ZRem(m) => OpKind::ZRem(vec![blob(&m.to_string())]),
        Cmd::PfAdd(m) => OpKind::PfAdd(vec![crate::hll::pattern(m.to_string().as_bytes())]),
        Cmd::XAdd(ms) => OpKind::XAdd {
            id: StreamId::new(u64::from(*ms), 0),
            fields: vec![blob("f"), blob(&ms.to_string())],
        },
        Cmd::LPush(..)
        | Cmd::LPop(_)
        | Cmd::LInsert(..)
        | Cmd::LSet(..)
        | Cmd::LRem(_)
        | Cmd::XDel(_) => {
            unreachable!("these commands depend on the value")
        }
    }
}

/// A step of a run: replica `r` either issues a command on key `k` or receives one
/// pending op chosen by `pick`.
#[derive(Clone, Debug)]
enum Step {
    Issue {
        r: usize,
        k: u8,
        wall: u8,
        c: Cmd,
    },
    Deliver {
        r: usize,
        pick: usize,
    },
    /// Replica `r` discards metadata that is stable.
    Compact {
        r: usize,
    },
}

fn step(n: usize) -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..n, 0u8..2, any::<u8>(), cmd()).prop_map(|(r, k, wall, c)| Step::Issue {
            r,
            k,
            wall,
            c
        }),
        (0..n, any::<usize>()).prop_map(|(r, pick)| Step::Deliver { r, pick }),
        (0..n).prop_map(|r| Step::Compact { r }),
    ]
}

/// Runs the steps; returns the replicas (not yet fully synced) and every op issued.
fn run(n: usize, steps: &[Step]) -> (Vec<Replica>, Vec<Op>) {
    let mut reps: Vec<Replica> = (1..=n as u16).map(Replica::new).collect();
    let mut log: Vec<Op> = Vec::new();
    for s in steps {
        match s {
            Step::Issue { r, k, wall, c } => {
                let key = [b'k', b'0' + k];
                let kind = match c {
                    Cmd::XDel(i) => {
                        let st = reps[*r]
                            .keys
                            .get(&key[..])
                            .filter(|ks| ks.visible() == Some(Kind::Stream))
                            .and_then(|ks| ks.stream.as_deref());
                        match st.filter(|s| s.iter().next().is_some()) {
                            Some(s) => {
                                let k = *s.iter().nth(usize::from(*i) % s.len()).unwrap().0;
                                OpKind::XDel(vec![k])
                            }
                            None => continue,
                        }
                    }
                    Cmd::LPush(..)
                    | Cmd::LPop(_)
                    | Cmd::LInsert(..)
                    | Cmd::LSet(..)
                    | Cmd::LRem(_) => {
                        let ks = reps[*r].keys.get(&key[..]);
                        let list = ks
                            .filter(|ks| ks.visible() == Some(Kind::List))
                            .and_then(|ks| ks.list.as_deref());
                        match list_kind(list, c) {
                            Some(k) => k,
                            None => continue,
                        }
                    }
                    _ => kind_of(c),
                };
                reps[*r].write(u64::from(*wall), &key, kind, &mut log);
            }
            Step::Deliver { r, pick } => {
                deliver_one(&mut reps[*r], &log, *pick);
            }
            Step::Compact { r } => {
                if let Some(stable) = stable_for(&reps, *r) {
                    reps[*r].compact(&stable);
                }
            }
        }
    }
    (reps, log)
}

/// What replica `r` may treat as stable, with every replica's current vector as its
/// report: their meet, provided `r` has applied everything each of them had issued.
fn stable_for(reps: &[Replica], r: usize) -> Option<VersionVector> {
    let me = &reps[r];
    if reps
        .iter()
        .any(|k| me.vv.get(k.origin) < k.vv.get(k.origin))
    {
        return None;
    }
    let mut stable = me.vv.clone();
    for k in reps {
        stable = stable.meet(&k.vv);
    }
    Some(stable)
}

fn deliver_one(rep: &mut Replica, log: &[Op], pick: usize) -> bool {
    let ready: Vec<&Op> = log
        .iter()
        .filter(|o| !rep.vv.contains(&o.dot()) && o.ready(&rep.vv))
        .collect();
    if ready.is_empty() {
        return false;
    }
    let op = ready[pick % ready.len()].clone();
    rep.apply(&op);
    true
}

fn sync_all(reps: &mut [Replica], log: &[Op], seed: usize) {
    for (i, r) in reps.iter_mut().enumerate() {
        let mut p = seed.wrapping_add(i);
        while deliver_one(r, log, p) {
            p = p.wrapping_mul(31).wrapping_add(7);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Every causally valid delivery order (with duplicates dropped) gives the same state
    /// and the same reads on every replica.
    #[test]
    fn converges_under_any_delivery_order(steps in proptest::collection::vec(step(3), 1..60), seed in any::<usize>()) {
        let (mut reps, log) = run(3, &steps);
        sync_all(&mut reps, &log, seed);
        // A duplicated delivery is refused by `ready` and changes nothing.
        for r in &reps {
            for op in &log {
                prop_assert!(!op.ready(&r.vv));
            }
        }
        // Reads agree everywhere. (Internal states may differ only in how much stable
        // metadata each replica has already folded away.)
        let v0 = reps[0].view();
        for r in &reps[1..] {
            prop_assert_eq!(&r.view(), &v0);
        }
        // Once everything is stable and folded, the states are identical too.
        for i in 0..reps.len() {
            let stable = stable_for(&reps, i).expect("all delivered");
            reps[i].compact(&stable);
        }
        let d0 = reps[0].digest();
        for r in &reps[1..] {
            prop_assert_eq!(r.digest(), d0);
        }
    }

    /// State merge is commutative, associative, idempotent, and agrees with op delivery.
    #[test]
    fn merge_laws(steps in proptest::collection::vec(step(3), 1..60), seed in any::<usize>()) {
        let (reps, log) = run(3, &steps);
        let (a, b, c) = (&reps[0], &reps[1], &reps[2]);
        let mut ab = a.clone(); ab.merge(b);
        let mut ba = b.clone(); ba.merge(a);
        prop_assert_eq!(ab.view(), ba.view());
        let mut ab_c = ab.clone(); ab_c.merge(c);
        let mut bc = b.clone(); bc.merge(c);
        let mut a_bc = a.clone(); a_bc.merge(&bc);
        prop_assert_eq!(ab_c.view(), a_bc.view());
        let mut aa = a.clone(); aa.merge(a);
        prop_assert_eq!(aa.view(), a.view());
        // Merging equals receiving the missing ops.
        let mut via_ops = a.clone();
        let mut p = seed;
        loop {
            let ready: Vec<&Op> = log.iter()
                .filter(|o| b.vv.contains(&o.dot()) && !via_ops.vv.contains(&o.dot()) && o.ready(&via_ops.vv))
                .collect();
            if ready.is_empty() { break; }
            let op = ready[p % ready.len()].clone();
            via_ops.apply(&op);
            p = p.wrapping_mul(31).wrapping_add(7);
        }
        prop_assert_eq!(via_ops.vv.clone(), ab.vv.clone());
        prop_assert_eq!(via_ops.view(), ab.view());
    }

    /// Compaction with a stable vector never changes what reads show.
    #[test]
    fn compaction_preserves_reads(steps in proptest::collection::vec(step(2), 1..50), seed in any::<usize>()) {
        let (mut reps, log) = run(2, &steps);
        sync_all(&mut reps, &log, seed);
        let before = reps[0].view();
        let stable = reps[0].vv.meet(&reps[1].vv);
        for ks in reps[0].keys.values_mut() {
            ks.compact(&stable);
        }
        reps[0].keys.retain(|_, k| !k.is_dead());
        prop_assert_eq!(reps[0].view(), before);
    }

    /// Every key state (with folds, increments, concurrent writes) survives its snapshot
    /// encoding exactly, and a merge of decoded states equals a merge of the originals.
    #[test]
    fn state_encoding_roundtrips(steps in proptest::collection::vec(step(3), 1..60), cut in 0usize..64) {
        let (reps, _) = run(3, &steps);
        for r in &reps {
            let chunk = crate::codec::encode_states(r.keys.iter().map(|(k, v)| (k.as_slice(), v)));
            let back = crate::codec::decode_states(&chunk).expect("own encoding decodes");
            prop_assert_eq!(back.len(), r.keys.len());
            for (k, ks) in &back {
                prop_assert_eq!(Some(ks), r.keys.get(&k[..]));
            }
            // Any truncation is an error, never a panic.
            let at = cut.min(chunk.len().saturating_sub(1));
            prop_assert!(crate::codec::decode_states(&chunk[..at]).is_err());
        }
    }

    /// Arbitrary bytes never panic the state decoder.
    #[test]
    fn state_decoding_rejects_garbage(mut bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if bytes.len() >= 2 {
            bytes[0] = 1;
            bytes[1] = 0;
        }
        let _ = crate::codec::decode_states(&bytes);
    }
}
