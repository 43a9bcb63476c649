//! Strings and counters: register writes of whole values, and increments.

use super::{MAX_STRING, blob, get_str, index_range, prepare_create, too_big, typed};
use crate::Engine;
use crate::NotifyFlags as N;
use crate::args::Args;
use crate::error::{CmdError, CmdResult};
use concord_crdt::f80::F80;
use concord_crdt::{Amount, Kind, OpKind, Ttl};
use concord_resp::Out;

/// Turns an expiry argument into absolute milliseconds, with Redis's overflow checks.
/// `allow_nonpositive` is for the EXPIRE family, where a past time deletes the key.
pub(crate) fn expiry_at(
    e: &Engine,
    n: i64,
    seconds: bool,
    absolute: bool,
    allow_nonpositive: bool,
    cmd: &str,
) -> Result<i64, CmdError> {
    let invalid = || CmdError::msg(format!("ERR invalid expire time in '{cmd}' command"));
    if !allow_nonpositive && n <= 0 {
        return Err(invalid());
    }
    let ms = if seconds {
        n.checked_mul(1000).ok_or_else(invalid)?
    } else {
        n
    };
    let at = if absolute {
        ms
    } else {
        ms.checked_add(e.now() as i64).ok_or_else(invalid)?
    };
    if !allow_nonpositive && at <= 0 {
        return Err(invalid());
    }
    Ok(at)
}

/// Writes `value` to `key` as a string (a register write) with what it does to the TTL.
pub(crate) fn write_str(e: &mut Engine, key: &[u8], value: &[u8], ttl: Ttl) {
    let ttl = match ttl {
        Ttl::Keep => {
            prepare_create(e, key);
            Ttl::Keep
        }
        // Alone, "clear the expiry" of a key that has none changes nothing anyone could
        // see; skipping it saves creating and folding an expiry register on every SET.
        Ttl::Set(None)
            if !e.has_peers() && e.raw_keys().get(key).is_none_or(|ks| ks.expiry.is_none()) =>
        {
            Ttl::Keep
        }
        t => t,
    };
    e.emit(key, OpKind::SetStr(blob(value), ttl));
}

/// GET key
pub fn get(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    match get_str(e, a.get(1))? {
        Some(v) => out.bulk(&v),
        None => out.null(),
    }
    Ok(())
}

/// The expiry options SET and GETEX share: which unit and where its argument is.
#[derive(Default)]
struct ExpiryOpts {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    /// (option name upper-cased, index of its argument)
    expire: Option<(String, usize)>,
}

/// Parses options as Redis's `parseExtendedStringArgumentsOrReply` does: conflicting
/// options are a syntax error; the same expiry unit may repeat (the last one counts); the
/// expiry value itself is parsed afterwards.
fn parse_opts(a: &Args, from: usize, set: bool) -> Result<ExpiryOpts, CmdError> {
    let mut o = ExpiryOpts::default();
    let mut i = from;
    while i < a.len() {
        let opt = a.upper(i);
        let has_next = i + 1 < a.len();
        let unit_free = |o: &ExpiryOpts, u: &str| {
            !o.keepttl && !o.persist && o.expire.as_ref().is_none_or(|(x, _)| x == u)
        };
        match opt.as_str() {
            "NX" if set && !o.xx => o.nx = true,
            "XX" if set && !o.nx => o.xx = true,
            "GET" if set => o.get = true,
            "KEEPTTL" if set && !o.persist && o.expire.is_none() => o.keepttl = true,
            "PERSIST" if !set && o.expire.is_none() => o.persist = true,
            "EX" | "PX" | "EXAT" | "PXAT" if has_next && unit_free(&o, &opt) => {
                o.expire = Some((opt, i + 1));
                i += 1;
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 1;
    }
    Ok(o)
}

/// The absolute expiry the options ask for, if any.
fn opts_expiry(e: &Engine, a: &Args, o: &ExpiryOpts, cmd: &str) -> Result<Option<i64>, CmdError> {
    match &o.expire {
        None => Ok(None),
        Some((unit, i)) => {
            let n = a.int(*i)?;
            let secs = unit == "EX" || unit == "EXAT";
            Ok(Some(expiry_at(
                e,
                n,
                secs,
                unit.ends_with("AT"),
                false,
                cmd,
            )?))
        }
    }
}

/// SET key value [NX|XX] [GET] [EX|PX|EXAT|PXAT n|KEEPTTL]
pub fn set(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let o = parse_opts(&a, 3, true)?;
    let at = opts_expiry(e, &a, &o, "set")?;
    let (nx, xx, get, keepttl) = (o.nx, o.xx, o.get, o.keepttl);
    let key = a.get(1);
    let old = if get {
        get_str(e, key)?.map(|v| v.into_owned())
    } else {
        None
    };
    let past = at.is_some_and(|t| t as u64 <= e.now());
    // A plain SET needs no lookup: it overwrites whatever is there, expired or not.
    let exists = (nx || xx || past) && e.lookup(key, true).is_some();
    if (nx && exists) || (xx && !exists) {
        if get {
            match old {
                Some(v) => out.bulk(&v),
                None => out.null(),
            }
        } else {
            out.null();
        }
        return Ok(());
    }
    let ttl = if keepttl {
        Ttl::Keep
    } else {
        Ttl::Set(at.map(|t| t as u64))
    };
    if past {
        // An expire time already past is a DEL.
        if exists {
            e.emit(key, OpKind::DelKey);
        }
    } else {
        write_str(e, key, a.get(2), ttl);
    }
    e.notify(N::STRING, "set", key);
    if at.is_some() {
        e.notify(N::GENERIC, "expire", key);
    }
    if get {
        match old {
            Some(v) => out.bulk(&v),
            None => out.null(),
        }
    } else {
        out.ok();
    }
    Ok(())
}

/// SETNX key value
pub fn setnx(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let key = a.get(1);
    if e.lookup(key, true).is_some() {
        out.int(0);
    } else {
        write_str(e, key, a.get(2), Ttl::Set(None));
        e.notify(N::STRING, "set", key);
        out.int(1);
    }
    Ok(())
}

/// SETEX key seconds value / PSETEX key ms value
pub fn setex(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let secs = a.is(0, "setex");
    let n = a.int(2)?;
    let at = expiry_at(e, n, secs, false, false, &a.name())?;
    write_str(e, a.get(1), a.get(3), Ttl::Set(Some(at as u64)));
    e.notify(N::STRING, "set", a.get(1));
    e.notify(N::GENERIC, "expire", a.get(1));
    out.ok();
    Ok(())
}

/// GETSET key value
pub fn getset(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let old = get_str(e, a.get(1))?.map(|v| v.into_owned());
    write_str(e, a.get(1), a.get(2), Ttl::Set(None));
    e.notify(N::STRING, "set", a.get(1));
    match old {
        Some(v) => out.bulk(&v),
        None => out.null(),
    }
    Ok(())
}

/// GETDEL key
pub fn getdel(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    match get_str(e, a.get(1))?.map(|v| v.into_owned()) {
        Some(v) => {
            e.emit(a.get(1), OpKind::DelKey);
            e.notify(N::GENERIC, "del", a.get(1));
            out.bulk(&v);
        }
        None => out.null(),
    }
    Ok(())
}

/// GETEX key [EX|PX|EXAT|PXAT n|PERSIST]
pub fn getex(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let o = parse_opts(&a, 2, false)?;
    let key = a.get(1);
    // Redis's order: a missing key answers nil before the expiry value is checked.
    let Some(v) = get_str(e, key)?.map(|v| v.into_owned()) else {
        out.null();
        return Ok(());
    };
    match opts_expiry(e, &a, &o, "getex")? {
        Some(at) if at as u64 <= e.now() => {
            e.emit(key, OpKind::DelKey);
            e.notify(N::GENERIC, "del", key);
        }
        Some(at) => {
            e.emit(key, OpKind::Expire(Some(at as u64)));
            e.notify(N::GENERIC, "expire", key);
        }
        None if o.persist => {
            // As PERSIST: with peers a change even on a key without expiry, so that it
            // beats concurrent EXPIREs; announced only when it removed an expiry.
            let had = e
                .lookup(key, false)
                .is_some_and(|ks| ks.expires_at().is_some());
            if had || e.has_peers() {
                e.emit(key, OpKind::Expire(None));
            }
            if had {
                e.notify(N::GENERIC, "persist", key);
            }
        }
        None => {}
    }
    out.bulk(&v);
    Ok(())
}

/// MGET key [key ...]
pub fn mget(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    out.array(a.len() - 1);
    for k in a.from(1) {
        match get_str(e, k) {
            Ok(Some(v)) => out.bulk(&v),
            _ => out.null(),
        }
    }
    Ok(())
}

/// MSET key value [key value ...]
pub fn mset(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    if a.len().is_multiple_of(2) {
        return Err(CmdError::Arity(a.name()));
    }
    for pair in a.from(1).chunks(2) {
        write_str(e, pair[0], pair[1], Ttl::Set(None));
        e.notify(N::STRING, "set", pair[0]);
    }
    out.ok();
    Ok(())
}

/// MSETNX key value [key value ...]
pub fn msetnx(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    if a.len().is_multiple_of(2) {
        return Err(CmdError::Arity(a.name()));
    }
    for pair in a.from(1).chunks(2) {
        if e.lookup(pair[0], true).is_some() {
            out.int(0);
            return Ok(());
        }
    }
    for pair in a.from(1).chunks(2) {
        write_str(e, pair[0], pair[1], Ttl::Set(None));
        e.notify(N::STRING, "set", pair[0]);
    }
    out.int(1);
    Ok(())
}

/// APPEND key value
pub fn append(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let key = a.get(1);
    let mut v = get_str(e, key)?.map(|v| v.into_owned()).unwrap_or_default();
    if v.len() + a.get(2).len() > MAX_STRING {
        return Err(too_big());
    }
    v.extend_from_slice(a.get(2));
    write_str(e, key, &v, Ttl::Keep);
    e.notify(N::STRING, "append", key);
    out.int(v.len() as i64);
    Ok(())
}

/// STRLEN key
pub fn strlen(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let n = get_str(e, a.get(1))?.map_or(0, |v| v.len());
    out.int(n as i64);
    Ok(())
}

/// GETRANGE key start end (and SUBSTR)
pub fn getrange(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let (start, end) = (a.int(2)?, a.int(3)?);
    let v = get_str(e, a.get(1))?.unwrap_or_default();
    // Redis answers an inverted pair of negative indexes with "" before clamping.
    let range = if start < 0 && end < 0 && start > end {
        None
    } else {
        index_range(v.len() as i64, start, end)
    };
    match range {
        Some((s, e)) => out.bulk(&v[s as usize..=e as usize]),
        None => out.bulk(b""),
    }
    Ok(())
}

/// SETRANGE key offset value
pub fn setrange(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let key = a.get(1);
    let off = a.int(2)?;
    if off < 0 {
        return Err(CmdError::msg("ERR offset is out of range"));
    }
    let val = a.get(3);
    let cur = get_str(e, key)?.map(|v| v.into_owned());
    if val.is_empty() {
        out.int(cur.map_or(0, |v| v.len() as i64));
        return Ok(());
    }
    let off = off as usize;
    if off + val.len() > MAX_STRING {
        return Err(too_big());
    }
    let mut v = cur.unwrap_or_default();
    if v.len() < off + val.len() {
        v.resize(off + val.len(), 0);
    }
    v[off..off + val.len()].copy_from_slice(val);
    write_str(e, key, &v, Ttl::Keep);
    e.notify(N::STRING, "setrange", key);
    out.int(v.len() as i64);
    Ok(())
}

/// The current integer value of a string key for INCR (0 when absent).
fn current_int(e: &mut Engine, key: &[u8]) -> Result<i64, CmdError> {
    let Some(ks) = typed(e, key, Kind::Str)? else {
        return Ok(0);
    };
    match (ks.visible(), ks.string.as_deref()) {
        (Some(Kind::Hll), _) => Err(CmdError::NotInt),
        (_, None) => Ok(0),
        (_, Some(v)) => v.int().ok_or(CmdError::NotInt),
    }
}

fn incr_by(e: &mut Engine, key: &[u8], by: i64, out: &mut Out) -> CmdResult {
    let cur = current_int(e, key)?;
    let new = cur.checked_add(by).ok_or(CmdError::Overflow)?;
    prepare_create(e, key);
    e.emit(key, OpKind::IncrStr(Amount::Int(by)));
    e.notify(N::STRING, "incrby", key);
    out.int(new);
    Ok(())
}

/// INCR key
pub fn incr(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    incr_by(e, a.get(1), 1, out)
}

/// DECR key
pub fn decr(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    incr_by(e, a.get(1), -1, out)
}

/// INCRBY key n
pub fn incrby(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let by = a.int(2)?;
    incr_by(e, a.get(1), by, out)
}

/// DECRBY key n
pub fn decrby(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let by = a.int(2)?;
    if by == i64::MIN {
        return Err(CmdError::msg("ERR decrement would overflow"));
    }
    incr_by(e, a.get(1), -by, out)
}

/// INCRBYFLOAT key increment
pub fn incrbyfloat(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let key = a.get(1);
    let cur = match get_str(e, key)? {
        None => F80::ZERO,
        Some(v) => F80::parse(&v).ok_or(CmdError::NotFloat)?,
    };
    let by = F80::parse(a.get(2)).ok_or(CmdError::NotFloat)?;
    let new = cur.plus(by);
    if !new.is_finite() {
        return Err(CmdError::msg("ERR increment would produce NaN or Infinity"));
    }
    prepare_create(e, key);
    e.emit(key, OpKind::IncrStr(Amount::Float(by)));
    e.notify(N::STRING, "incrbyfloat", key);
    let shown = get_str(e, key)?
        .map(|v| v.into_owned())
        .unwrap_or_else(|| new.to_human().into_bytes());
    out.bulk(&shown);
    Ok(())
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]
pub fn lcs(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let (mut len_only, mut idx, mut minlen, mut withlen) = (false, false, 0i64, false);
    let mut i = 3;
    while i < a.len() {
        match a.upper(i).as_str() {
            "LEN" => len_only = true,
            "IDX" => idx = true,
            "WITHMATCHLEN" => withlen = true,
            "MINMATCHLEN" if i + 1 < a.len() => {
                minlen = a.int(i + 1)?.max(0);
                i += 1;
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 1;
    }
    let sa = lcs_str(e, a.get(1))?;
    let sb = lcs_str(e, a.get(2))?;
    if len_only && idx {
        return Err(CmdError::msg(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    let (n, m) = (sa.len(), sb.len());
    if (n + 1).saturating_mul(m + 1) > 512 * 1024 * 1024 / 4 {
        return Err(CmdError::msg(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let w = m + 1;
    let mut dp = vec![0u32; (n + 1) * w];
    for i in 1..=n {
        for j in 1..=m {
            dp[i * w + j] = if sa[i - 1] == sb[j - 1] {
                dp[(i - 1) * w + j - 1] + 1
            } else {
                dp[(i - 1) * w + j].max(dp[i * w + j - 1])
            };
        }
    }
    let total = dp[n * w + m] as usize;
    let mut s = vec![0u8; total];
    let mut matches: Vec<LcsMatch> = Vec::new();
    let (mut i, mut j, mut k) = (n, m, total);
    let mut cur: Option<(Span, Span)> = None;
    while i > 0 && j > 0 {
        if sa[i - 1] == sb[j - 1] {
            k -= 1;
            s[k] = sa[i - 1];
            match &mut cur {
                Some((ra, rb)) if ra.0 == i && rb.0 == j => {
                    ra.0 = i - 1;
                    rb.0 = j - 1;
                }
                _ => {
                    if let Some((ra, rb)) = cur.take() {
                        let l = ra.1 - ra.0 + 1;
                        if l as i64 >= minlen {
                            matches.push((ra, rb, l));
                        }
                    }
                    cur = Some(((i - 1, i - 1), (j - 1, j - 1)));
                }
            }
            i -= 1;
            j -= 1;
        } else if dp[(i - 1) * w + j] > dp[i * w + j - 1] {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    if let Some((ra, rb)) = cur {
        let l = ra.1 - ra.0 + 1;
        if l as i64 >= minlen {
            matches.push((ra, rb, l));
        }
    }
    if idx {
        out.map(2);
        out.bulk(b"matches");
        out.array(matches.len());
        for (ra, rb, l) in &matches {
            out.array(if withlen { 3 } else { 2 });
            out.array(2);
            out.int(ra.0 as i64);
            out.int(ra.1 as i64);
            out.array(2);
            out.int(rb.0 as i64);
            out.int(rb.1 as i64);
            if withlen {
                out.int(*l as i64);
            }
        }
        out.bulk(b"len");
        out.int(total as i64);
    } else if len_only {
        out.int(total as i64);
    } else {
        out.bulk(&s);
    }
    Ok(())
}

/// An inclusive index range of a match.
type Span = (usize, usize);
/// A match: its range in each string and its length.
type LcsMatch = (Span, Span, usize);

fn lcs_str(e: &mut Engine, key: &[u8]) -> Result<Vec<u8>, CmdError> {
    match get_str(e, key) {
        Ok(v) => Ok(v.map(|v| v.into_owned()).unwrap_or_default()),
        Err(_) => Err(CmdError::msg(
            "ERR The specified keys must contain string values",
        )),
    }
}
