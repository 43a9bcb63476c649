//! Sets: add-wins observed-remove sets of byte strings.

use super::hashes::{Picks, rand_count};
use super::keys::{ScanOpts, parse_cursor, restore, scan_opts};
use super::named::Named;
use super::{blob, get_set, intercard_args, prepare_create};
use crate::Engine;
use crate::NotifyFlags as N;
use crate::args::Args;
use crate::error::{CmdError, CmdResult};
use concord_crdt::{Blob, Content, OpKind};
use concord_glob::glob_match;
use concord_resp::Out;
use std::collections::HashSet;

/// The distinct members, each at its first place (a few compared pairwise, many through
/// a table: see [`Named`]).
fn dedup(items: &[&[u8]]) -> Vec<Blob> {
    let mut named = Named::with_capacity(items.len());
    items
        .iter()
        .filter(|m| named.first(m))
        .map(|m| blob(m))
        .collect()
}

/// SADD key member [member ...]
pub fn sadd(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let key = a.get(1);
    let members = dedup(a.from(2));
    let (added, exists) = match get_set(e, key)? {
        None => (members.len(), false),
        Some(s) => (members.iter().filter(|m| !s.contains(m)).count(), true),
    };
    // A set just found needs no second look (nor a second use of the key, which would
    // count twice toward its LFU frequency).
    if !exists {
        prepare_create(e, key);
    }
    e.emit(key, OpKind::SAdd(members));
    if added > 0 {
        e.notify(N::SET, "sadd", key);
    }
    out.int(added as i64);
    Ok(())
}

/// SREM key member [member ...]
pub fn srem(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let key = a.get(1);
    let Some(s) = get_set(e, key)? else {
        out.int(0);
        return Ok(());
    };
    let gone: Vec<Blob> = dedup(a.from(2))
        .into_iter()
        .filter(|m| s.contains(m))
        .collect();
    let n = gone.len();
    if n > 0 {
        e.emit(key, OpKind::SRem(gone));
        e.notify_removal(N::SET, "srem", key);
    }
    out.int(n as i64);
    Ok(())
}

/// The members of the set at `key` (empty when absent).
fn members(e: &mut Engine, key: &[u8]) -> Result<Vec<Blob>, CmdError> {
    Ok(get_set(e, key)?
        .map(|s| s.iter().map(blob).collect())
        .unwrap_or_default())
}

/// SMEMBERS key
pub fn smembers(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let s = get_set(e, a.get(1))?;
    out.set(s.map_or(0, |s| s.len()));
    if let Some(s) = s {
        for m in s.iter() {
            out.bulk(m);
        }
    }
    Ok(())
}

/// SISMEMBER key member
pub fn sismember(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let has = get_set(e, a.get(1))?.is_some_and(|s| s.contains(a.get(2)));
    out.int(i64::from(has));
    Ok(())
}

/// SMISMEMBER key member [member ...]
pub fn smismember(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let s = get_set(e, a.get(1))?;
    out.array(a.len() - 2);
    for m in a.from(2) {
        out.int(i64::from(s.is_some_and(|s| s.contains(m))));
    }
    Ok(())
}

/// SCARD key
pub fn scard(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    out.int(get_set(e, a.get(1))?.map_or(0, |s| s.len()) as i64);
    Ok(())
}

/// SPOP key [count]
pub fn spop(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let count = match a.len() {
        2 => None,
        3 => {
            let c = a
                .int(2)
                .map_err(|_| CmdError::msg("ERR value is out of range, must be positive"))?;
            if c < 0 {
                return Err(CmdError::msg("ERR value is out of range, must be positive"));
            }
            Some(c)
        }
        _ => return Err(CmdError::Syntax),
    };
    let key = a.get(1);
    let all = members(e, key)?;
    let popped: Vec<Blob> = match Picks::new(e, all.len(), count.unwrap_or(1)) {
        Picks::Distinct(picks) => picks.into_iter().map(|i| all[i].clone()).collect(),
        Picks::Repeats { .. } => unreachable!("SPOP's count is never negative"),
    };
    if !popped.is_empty() {
        e.emit(key, OpKind::SRem(popped.clone()));
        e.notify_removal(N::SET, "spop", key);
    }
    match count {
        None => match popped.first() {
            Some(m) => out.bulk(m),
            None => out.null(),
        },
        Some(_) => {
            out.set(popped.len());
            for m in &popped {
                out.bulk(m);
            }
        }
    }
    Ok(())
}

/// SRANDMEMBER key [count]
pub fn srandmember(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let count = match a.len() {
        2 => None,
        3 => Some(rand_count(&a, 2)?),
        _ => return Err(CmdError::Syntax),
    };
    let all = members(e, a.get(1))?;
    match count {
        None => match all.is_empty() {
            true => out.null(),
            false => {
                let i = (e.random() % all.len() as u64) as usize;
                out.bulk(&all[i]);
            }
        },
        Some(count) => {
            let picks = Picks::new(e, all.len(), count);
            out.array(picks.len());
            picks.each(e, out, |out, i| out.bulk(&all[i]));
        }
    }
    Ok(())
}

/// SMOVE source destination member
pub fn smove(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let (src, dst, m) = (a.get(1), a.get(2), a.get(3));
    // Redis's order: a missing source answers 0 before any type check.
    if e.lookup(src, true).is_none() {
        out.int(0);
        return Ok(());
    }
    let has = get_set(e, src)?.is_some_and(|s| s.contains(m));
    get_set(e, dst)?;
    if !has {
        out.int(0);
        return Ok(());
    }
    if src != dst {
        e.emit(src, OpKind::SRem(vec![blob(m)]));
        e.notify_removal(N::SET, "srem", src);
        let added = get_set(e, dst)?.is_none_or(|s| !s.contains(m));
        prepare_create(e, dst);
        e.emit(dst, OpKind::SAdd(vec![blob(m)]));
        if added {
            e.notify(N::SET, "sadd", dst);
        }
    }
    out.int(1);
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Algebra {
    Inter,
    Union,
    Diff,
}

fn combine(e: &mut Engine, keys: &[&[u8]], op: Algebra) -> Result<Vec<Blob>, CmdError> {
    // Read every key first so a wrong type anywhere is reported.
    let mut sets: Vec<Option<HashSet<Blob>>> = Vec::with_capacity(keys.len());
    for k in keys {
        sets.push(get_set(e, k)?.map(|s| s.iter().map(blob).collect()));
    }
    let mut result: Vec<Blob> = Vec::new();
    match op {
        Algebra::Inter => {
            if sets.iter().any(|s| s.is_none()) {
                return Ok(result);
            }
            let mut sets: Vec<HashSet<Blob>> = sets.into_iter().flatten().collect();
            sets.sort_by_key(|s| s.len());
            if let Some((first, rest)) = sets.split_first() {
                for m in first {
                    if rest.iter().all(|s| s.contains(m)) {
                        result.push(m.clone());
                    }
                }
            }
        }
        Algebra::Union => {
            let mut seen = HashSet::new();
            for s in sets.into_iter().flatten() {
                for m in s {
                    if seen.insert(m.clone()) {
                        result.push(m);
                    }
                }
            }
        }
        Algebra::Diff => {
            let mut it = sets.into_iter();
            if let Some(Some(first)) = it.next() {
                let rest: Vec<HashSet<Blob>> = it.flatten().collect();
                for m in first {
                    if !rest.iter().any(|s| s.contains(&m)) {
                        result.push(m);
                    }
                }
            }
        }
    }
    Ok(result)
}

fn algebra_of(a: &Args) -> Algebra {
    let n = a.name();
    if n.starts_with("sinter") {
        Algebra::Inter
    } else if n.starts_with("sunion") {
        Algebra::Union
    } else {
        Algebra::Diff
    }
}

/// SINTER / SUNION / SDIFF key [key ...]
pub fn salgebra(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let r = combine(e, a.from(1), algebra_of(&a))?;
    out.set(r.len());
    for m in r {
        out.bulk(&m);
    }
    Ok(())
}

/// SINTERSTORE / SUNIONSTORE / SDIFFSTORE destination key [key ...]
pub fn salgebra_store(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let op = algebra_of(&a);
    let r = combine(e, a.from(2), op)?;
    let dst = a.get(1);
    let n = r.len();
    if n == 0 {
        if e.lookup(dst, true).is_some() {
            e.emit(dst, OpKind::DelKey);
            e.notify(N::GENERIC, "del", dst);
        }
    } else {
        restore(e, dst, Content::Set(r), None);
        let name = match op {
            Algebra::Inter => "sinterstore",
            Algebra::Union => "sunionstore",
            Algebra::Diff => "sdiffstore",
        };
        e.notify(N::SET, name, dst);
    }
    out.int(n as i64);
    Ok(())
}

/// SINTERCARD numkeys key [key ...] [LIMIT n]
pub fn sintercard(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let (keys, limit) = intercard_args(&a)?;
    let r = combine(e, keys, Algebra::Inter)?;
    let n = if limit > 0 {
        r.len().min(limit)
    } else {
        r.len()
    };
    out.int(n as i64);
    Ok(())
}

/// SSCAN key cursor [MATCH pattern] [COUNT n]
pub fn sscan(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let cursor = parse_cursor(a.get(2))?;
    let ScanOpts { pat, count, .. } = scan_opts(a, 3, false)?;
    let mut found: Vec<Blob> = Vec::new();
    let mut next = 0;
    if let Some(s) = get_set(e, a.get(1))? {
        let small = s.len() <= 128;
        next = s.map().scan(
            if small { 0 } else { cursor },
            if small { usize::MAX } else { count },
            |m, _| {
                if pat.is_none_or(|p| glob_match(p, m, false)) {
                    found.push(blob(m));
                }
            },
        );
    }
    out.array(2);
    out.bulk(next.to_string().as_bytes());
    out.array(found.len());
    for m in found {
        out.bulk(&m);
    }
    Ok(())
}

#[cfg(test)]
mod dedup_tests {
    use super::*;

    #[test]
    fn dedup_keeps_first_places_pairwise_and_through_a_table() {
        let few: Vec<&[u8]> = vec![b"a", b"b", b"a", b"c", b"b"];
        let got: Vec<Vec<u8>> = dedup(&few).iter().map(|m| m.to_vec()).collect();
        assert_eq!(got, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        let names: Vec<String> = (0..20).map(|i| format!("m{}", i % 7)).collect();
        let many: Vec<&[u8]> = names.iter().map(|s| s.as_bytes()).collect();
        assert!(many.len() > Named::<()>::FEW);
        let got: Vec<Vec<u8>> = dedup(&many).iter().map(|m| m.to_vec()).collect();
        let want: Vec<Vec<u8>> = (0..7).map(|i| format!("m{i}").into_bytes()).collect();
        assert_eq!(got, want);
    }
}
