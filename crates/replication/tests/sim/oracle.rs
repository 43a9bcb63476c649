//! The simulation's oracle: after healing, equal digests everywhere, and for counters,
//! registers and sets the values computed independently from the ops that were
//! acknowledged (and not lost with a crashed or removed instance).

use super::{Rec, Sim};
use concord_crdt::{Dot, OpKind};
use concord_engine::Engine;
use concord_resp::Out;
use std::collections::{BTreeMap, BTreeSet};

fn read(e: &mut Engine, args: &[&str]) -> Vec<u8> {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    let mut out = Out::new();
    e.execute(&args, &mut out);
    out.buf.to_vec()
}

fn bulk(b: &[u8]) -> Option<Vec<u8>> {
    if b.starts_with(b"$-1") || b.starts_with(b"_") {
        return None;
    }
    let nl = b.iter().position(|&c| c == b'\n').expect("header");
    Some(b[nl + 1..b.len() - 2].to_vec())
}

fn members(b: &[u8]) -> BTreeSet<Vec<u8>> {
    let s = String::from_utf8_lossy(b);
    let lines: Vec<&str> = s.split("\r\n").collect();
    lines[1..]
        .iter()
        .skip(1)
        .step_by(2)
        .filter(|l| !l.is_empty())
        .map(|l| l.as_bytes().to_vec())
        .collect()
}

/// Whether a non-lost op that removes from `key` saw `dot`.
fn removed(recs: &[Rec], key: &[u8], dot: Dot, by: impl Fn(&Rec) -> bool) -> bool {
    recs.iter().any(|r| {
        let seen = if dot.origin == r.dot.origin {
            dot.seq < r.dot.seq
        } else {
            r.deps.contains(&dot)
        };
        !r.lost && seen && (r.kind == OpKind::FlushAll || (r.key == key && by(r)))
    })
}

fn newest<'a>(it: impl Iterator<Item = &'a Rec>) -> Option<&'a Rec> {
    it.max_by(|a, b| {
        (a.ts, std::cmp::Reverse(a.dot.origin.id)).cmp(&(b.ts, std::cmp::Reverse(b.dot.origin.id)))
    })
}

/// Every key's type, value and expiry as reads show them, for failure messages.
fn view(e: &mut Engine) -> BTreeMap<String, String> {
    let keys = read(e, &["KEYS", "*"]);
    let mut out = BTreeMap::new();
    for k in members(&keys) {
        let k = String::from_utf8_lossy(&k).to_string();
        let t = String::from_utf8_lossy(&read(e, &["TYPE", &k])).to_string();
        let v = match t.trim() {
            "+string" => read(e, &["GET", &k]),
            "+hash" => read(e, &["HGETALL", &k]),
            "+set" => read(e, &["SMEMBERS", &k]),
            _ => read(e, &["ZRANGE", &k, "0", "-1", "WITHSCORES"]),
        };
        let ttl = read(e, &["PEXPIRETIME", &k]);
        out.insert(
            k,
            format!(
                "{} {:?} {}",
                t.trim(),
                String::from_utf8_lossy(&v),
                String::from_utf8_lossy(&ttl).trim()
            ),
        );
    }
    out
}

pub(super) fn check(sim: &mut Sim, seed: u64) {
    let d0 = sim.nodes[0].e.digest();
    for i in 1..sim.nodes.len() {
        if sim.gone.contains(&i) {
            continue;
        }
        if sim.nodes[i].e.digest() != d0 {
            let a = view(&mut sim.nodes[0].e);
            let b = view(&mut sim.nodes[i].e);
            for k in a.keys().chain(b.keys()).collect::<BTreeSet<_>>() {
                if a.get(k) != b.get(k) {
                    eprintln!(
                        "key {k}: node 1 {:?} / node {} {:?}",
                        a.get(k),
                        i + 1,
                        b.get(k)
                    );
                }
            }
            if let Ok(k) = std::env::var("CONCORD_SIM_KEY") {
                for n in [0, i] {
                    eprintln!(
                        "node {} {:?}: {:?}",
                        n + 1,
                        sim.nodes[n].e.vv().to_string(),
                        sim.nodes[n].e.raw_keys().get(k.as_bytes())
                    );
                }
                for r in sim
                    .recs
                    .iter()
                    .filter(|r| r.key == k.as_bytes() || r.kind == OpKind::FlushAll)
                {
                    eprintln!(
                        "{}.{}:{} ts={} deps={} {:?}",
                        r.dot.origin.id,
                        r.dot.origin.incarnation,
                        r.dot.seq,
                        r.ts.0,
                        r.deps,
                        r.kind
                    );
                }
                for t in &sim.trace {
                    eprintln!("{t}");
                }
            }
            panic!("digests differ (seed {seed})");
        }
    }
    let vv = sim.nodes[0].e.vv().clone();
    for r in &mut sim.recs {
        r.lost = !vv.contains(&r.dot);
        // Without persistence, only a crash loses ops, and only those no other live
        // instance had applied.
        assert!(
            !r.lost || ((sim.crashes > 0 || sim.removals > 0) && r.may_lose),
            "op {:?} was lost while a live instance held it (seed {seed})",
            r.dot
        );
    }
    let recs = &sim.recs;
    let e = &mut sim.nodes[0].e;
    for k in 0..3 {
        // Counters: the surviving base write (last writer wins) plus every increment no
        // write or delete saw.
        let key = format!("c{k}");
        let kb = key.as_bytes();
        let writes = |r: &Rec| matches!(r.kind, OpKind::SetStr(..) | OpKind::DelKey);
        let base = newest(recs.iter().filter(|r| {
            !r.lost
                && r.key == kb
                && matches!(r.kind, OpKind::SetStr(..))
                && !removed(recs, kb, r.dot, writes)
        }));
        let incs: Vec<i64> = recs
            .iter()
            .filter(|r| !r.lost && r.key == kb && !removed(recs, kb, r.dot, writes))
            .filter_map(|r| match &r.kind {
                OpKind::IncrStr(concord_crdt::Amount::Int(n)) => Some(*n),
                _ => None,
            })
            .collect();
        let expect = if base.is_none() && incs.is_empty() {
            None
        } else {
            let b: i64 = base.map_or(0, |r| match &r.kind {
                OpKind::SetStr(v, _) => std::str::from_utf8(v).expect("utf8").parse().expect("int"),
                _ => unreachable!(),
            });
            Some((b + incs.iter().sum::<i64>()).to_string().into_bytes())
        };
        assert_eq!(
            bulk(&read(e, &["GET", &key])),
            expect,
            "counter {key} (seed {seed})"
        );

        // Sets: a member is present iff some add of it was not seen by a remove.
        let key = format!("s{k}");
        let kb = key.as_bytes();
        let mut want = BTreeSet::new();
        for r in recs.iter().filter(|r| !r.lost && r.key == kb) {
            if let OpKind::SAdd(ms) = &r.kind {
                for m in ms {
                    let gone = removed(recs, kb, r.dot, |x| match &x.kind {
                        OpKind::SRem(v) => v.contains(m),
                        OpKind::DelKey => true,
                        _ => false,
                    });
                    if !gone {
                        if std::env::var("CONCORD_SIM_DEBUG").is_ok() {
                            eprintln!(
                                "surviving add of {:?} in {key}: {:?} ts={:?} deps={}",
                                m, r.dot, r.ts, r.deps
                            );
                        }
                        want.insert(m.to_vec());
                    }
                }
            }
        }
        let expired = read(e, &["EXISTS", &key]) == b":0\r\n" && !want.is_empty();
        if !expired {
            assert_eq!(
                members(&read(e, &["SMEMBERS", &key])),
                want,
                "set {key} (seed {seed})"
            );
        }
    }
}
