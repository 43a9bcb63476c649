//! Hashes: an add-wins map of fields whose values follow the string rules.

use super::keys::{ScanOpts, parse_cursor, scan_opts};
use super::named::Named;
use super::{blob, get_hash, prepare_create};
use crate::Engine;
use crate::NotifyFlags as N;
use crate::args::Args;
use crate::error::{CmdError, CmdResult};
use concord_crdt::f80::F80;
use concord_crdt::num::parse_i64;
use concord_crdt::{Amount, Blob, OpKind};
use concord_glob::glob_match;
use concord_resp::Out;

/// HSET key field value [field value ...] / HMSET
pub fn hset(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    if a.len() < 4 || a.len() % 2 == 1 {
        return Err(CmdError::Arity(a.name()));
    }
    let key = a.get(1);
    let h = get_hash(e, key)?;
    let exists = h.is_some();
    let n = (a.len() - 2) / 2;
    let mut pairs: Vec<(Blob, Blob)> = Vec::with_capacity(n);
    // Each field's place in `pairs`, so that a field named again costs no scan.
    let mut named = Named::with_capacity(n);
    let mut added = 0;
    for p in a.from(2).chunks(2) {
        let at = *named.entry(p[0], || {
            if h.is_none_or(|h| h.get(p[0]).is_none()) {
                added += 1;
            }
            pairs.push((blob(p[0]), Blob::default()));
            pairs.len() - 1
        });
        // The last write of a field in one command wins, as in Redis.
        pairs[at].1 = blob(p[1]);
    }
    if !exists {
        prepare_create(e, key);
    }
    e.emit(key, OpKind::HSet(pairs));
    e.notify(N::HASH, "hset", key);
    if a.is(0, "hmset") {
        out.ok();
    } else {
        out.int(added);
    }
    Ok(())
}

/// HSETNX key field value
pub fn hsetnx(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let key = a.get(1);
    if get_hash(e, key)?.is_some_and(|h| h.get(a.get(2)).is_some()) {
        out.int(0);
        return Ok(());
    }
    prepare_create(e, key);
    e.emit(key, OpKind::HSet(vec![(blob(a.get(2)), blob(a.get(3)))]));
    e.notify(N::HASH, "hset", key);
    out.int(1);
    Ok(())
}

/// HGET key field
pub fn hget(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    match get_hash(e, a.get(1))?.and_then(|h| h.get(a.get(2))) {
        Some(v) => out.bulk(&v.read()),
        None => out.null(),
    }
    Ok(())
}

/// HMGET key field [field ...]
pub fn hmget(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let h = get_hash(e, a.get(1))?;
    out.array(a.len() - 2);
    for f in a.from(2) {
        match h.and_then(|h| h.get(f)) {
            Some(v) => out.bulk(&v.read()),
            None => out.null(),
        }
    }
    Ok(())
}

/// HGETALL key / HKEYS / HVALS
pub fn hgetall(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let name = a.name();
    let h = get_hash(e, a.get(1))?;
    let n = h.map_or(0, |h| h.len());
    match name.as_str() {
        "hgetall" => out.map(n),
        _ => out.array(n),
    }
    if let Some(h) = h {
        for (f, v) in h.iter() {
            match name.as_str() {
                "hkeys" => out.bulk(f),
                "hvals" => out.bulk(&v.read()),
                _ => {
                    out.bulk(f);
                    out.bulk(&v.read());
                }
            }
        }
    }
    Ok(())
}

/// HDEL key field [field ...]
pub fn hdel(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let key = a.get(1);
    let Some(h) = get_hash(e, key)? else {
        out.int(0);
        return Ok(());
    };
    let mut fields: Vec<Blob> = Vec::new();
    let mut named = Named::with_capacity(a.len() - 2);
    for f in a.from(2) {
        if named.first(f) && h.get(f).is_some() {
            fields.push(blob(f));
        }
    }
    let n = fields.len();
    if n > 0 {
        e.emit(key, OpKind::HDel(fields));
        e.notify_removal(N::HASH, "hdel", key);
    }
    out.int(n as i64);
    Ok(())
}

/// HEXISTS key field
pub fn hexists(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let has = get_hash(e, a.get(1))?.is_some_and(|h| h.get(a.get(2)).is_some());
    out.int(i64::from(has));
    Ok(())
}

/// HLEN key
pub fn hlen(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    out.int(get_hash(e, a.get(1))?.map_or(0, |h| h.len()) as i64);
    Ok(())
}

/// HSTRLEN key field
pub fn hstrlen(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let n = get_hash(e, a.get(1))?
        .and_then(|h| h.get(a.get(2)))
        .map_or(0, |v| v.read().len());
    out.int(n as i64);
    Ok(())
}

/// HINCRBY key field n
pub fn hincrby(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let key = a.get(1);
    let by = a.int(3)?;
    let cur = match get_hash(e, key)?.and_then(|h| h.get(a.get(2))) {
        None => 0,
        Some(v) => {
            parse_i64(&v.read()).ok_or_else(|| CmdError::msg("ERR hash value is not an integer"))?
        }
    };
    let new = cur.checked_add(by).ok_or(CmdError::Overflow)?;
    prepare_create(e, key);
    e.emit(key, OpKind::HIncr(blob(a.get(2)), Amount::Int(by)));
    e.notify(N::HASH, "hincrby", key);
    out.int(new);
    Ok(())
}

/// HINCRBYFLOAT key field increment
pub fn hincrbyfloat(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let key = a.get(1);
    let by = F80::parse(a.get(3)).ok_or(CmdError::NotFloat)?;
    if !by.is_finite() {
        return Err(CmdError::msg("ERR value is NaN or Infinity"));
    }
    let cur = match get_hash(e, key)?.and_then(|h| h.get(a.get(2))) {
        None => F80::ZERO,
        Some(v) => {
            F80::parse(&v.read()).ok_or_else(|| CmdError::msg("ERR hash value is not a float"))?
        }
    };
    let new = cur.plus(by);
    if !new.is_finite() {
        return Err(CmdError::msg("ERR increment would produce NaN or Infinity"));
    }
    prepare_create(e, key);
    e.emit(key, OpKind::HIncr(blob(a.get(2)), Amount::Float(by)));
    e.notify(N::HASH, "hincrbyfloat", key);
    let shown = get_hash(e, key)?
        .and_then(|h| h.get(a.get(2)))
        .map(|v| v.read().into_owned())
        .unwrap_or_else(|| new.to_human().into_bytes());
    out.bulk(&shown);
    Ok(())
}

/// HRANDFIELD key [count [WITHVALUES]]
pub fn hrandfield(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let count = if a.len() >= 3 {
        Some(rand_count(&a, 2)?)
    } else {
        None
    };
    let withvalues = match a.len() {
        4 if a.is(3, "withvalues") => true,
        4 | 5.. => return Err(CmdError::Syntax),
        _ => false,
    };
    if withvalues && count.is_some_and(|c| c.unsigned_abs() > (i64::MAX as u64) / 2) {
        return Err(CmdError::msg("ERR value is out of range"));
    }
    let entries: Vec<(Blob, Blob)> = match get_hash(e, a.get(1))? {
        None => Vec::new(),
        Some(h) => h
            .iter()
            .map(|(f, v)| (blob(f), Blob::from(v.read())))
            .collect(),
    };
    let Some(count) = count else {
        match entries.is_empty() {
            true => out.null(),
            false => {
                let i = (e.random() % entries.len() as u64) as usize;
                out.bulk(&entries[i].0);
            }
        }
        return Ok(());
    };
    let picks = Picks::new(e, entries.len(), count);
    if withvalues && out.resp3 {
        out.array(picks.len());
        picks.each(e, out, |out, i| {
            out.array(2);
            out.bulk(&entries[i].0);
            out.bulk(&entries[i].1);
        });
    } else {
        out.array(picks.len() * if withvalues { 2 } else { 1 });
        picks.each(e, out, |out, i| {
            out.bulk(&entries[i].0);
            if withvalues {
                out.bulk(&entries[i].1);
            }
        });
    }
    Ok(())
}

/// The count of SRANDMEMBER, HRANDFIELD and ZRANDMEMBER: any integer but `i64::MIN`,
/// whose magnitude does not fit (Redis's range and message).
pub(crate) fn rand_count(a: &Args, i: usize) -> Result<i64, CmdError> {
    match a.int(i)? {
        i64::MIN => Err(CmdError::msg(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        )),
        c => Ok(c),
    }
}

/// What the random-member commands pick when given a count: distinct members for a
/// positive count, a member per draw (repeats allowed) for a negative one.
pub(crate) enum Picks {
    /// Indexes of distinct members, at most as many as there are.
    Distinct(Vec<usize>),
    /// `draws` independent picks among `len` members, made while the reply is written,
    /// so a huge count allocates nothing up front.
    Repeats { draws: u64, len: usize },
}

impl Picks {
    /// Picks for `count` among `len` members.
    pub(crate) fn new(e: &mut Engine, len: usize, count: i64) -> Picks {
        if len == 0 || count == 0 {
            return Picks::Distinct(Vec::new());
        }
        if count < 0 {
            return Picks::Repeats {
                draws: count.unsigned_abs(),
                len,
            };
        }
        let c = usize::try_from(count).unwrap_or(usize::MAX).min(len);
        // Partial Fisher-Yates over the indexes.
        let mut idx: Vec<usize> = (0..len).collect();
        for i in 0..c {
            let j = i + (e.random() % (len - i) as u64) as usize;
            idx.swap(i, j);
        }
        idx.truncate(c);
        Picks::Distinct(idx)
    }

    /// How many elements the reply announces.
    pub(crate) fn len(&self) -> usize {
        match self {
            Picks::Distinct(v) => v.len(),
            Picks::Repeats { draws, .. } => usize::try_from(*draws).unwrap_or(usize::MAX),
        }
    }

    /// Writes each pick with `f`. Stops once the reply passes the client's output limit:
    /// the connection is closed then, so the rest would never be read.
    pub(crate) fn each(self, e: &mut Engine, out: &mut Out, mut f: impl FnMut(&mut Out, usize)) {
        match self {
            Picks::Distinct(v) => {
                for i in v {
                    if out.over_limit() {
                        return;
                    }
                    f(out, i);
                }
            }
            Picks::Repeats { draws, len } => {
                for _ in 0..draws {
                    if out.over_limit() {
                        return;
                    }
                    let i = (e.random() % len as u64) as usize;
                    f(out, i);
                }
            }
        }
    }
}

/// HSCAN key cursor [MATCH pattern] [COUNT n] [NOVALUES]
pub fn hscan(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let cursor = parse_cursor(a.get(2))?;
    let ScanOpts {
        pat,
        count,
        novalues,
        ..
    } = scan_opts(a, 3, false)?;
    let mut found: Vec<(Blob, Blob)> = Vec::new();
    let mut next = 0;
    if let Some(h) = get_hash(e, a.get(1))? {
        // Small hashes are returned whole, as Redis does for its compact encodings.
        let count = if h.len() <= 128 { usize::MAX } else { count };
        let c = if h.len() <= 128 { 0 } else { cursor };
        next = h.map().scan(c, count, |f, v| {
            if pat.is_none_or(|p| glob_match(p, f, false)) {
                found.push((blob(f), Blob::from(v.read())));
            }
        });
    }
    out.array(2);
    out.bulk(next.to_string().as_bytes());
    out.array(found.len() * if novalues { 1 } else { 2 });
    for (f, v) in found {
        out.bulk(&f);
        if !novalues {
            out.bulk(&v);
        }
    }
    Ok(())
}
