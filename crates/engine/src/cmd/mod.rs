//! Command families. Each handler parses its arguments, reads the keyspace to decide the
//! reply, and turns its effect into ops through [`Engine::emit`].

pub mod bits;
mod cfloat;
pub mod dump;
pub mod geo;
pub mod hashes;
pub mod hll;
pub mod introspect;
pub mod keys;
pub mod lists;
pub mod memory;
mod named;
pub mod server;
pub mod sets;
pub mod sort;
pub mod streams;
pub mod strings;
pub mod zpops;
pub mod zsets;

use crate::Engine;
use crate::args::Args;
use crate::error::CmdError;
use concord_crdt::{Blob, Counted, KeyState, Kind, OpKind, OrMap, OrSet};
use std::borrow::Cow;

/// The visible value of `key` if it is of `kind`; WRONGTYPE if it is of another.
pub(crate) fn typed<'e>(
    e: &'e mut Engine,
    key: &[u8],
    kind: Kind,
) -> Result<Option<&'e KeyState>, CmdError> {
    match e.lookup(key, false) {
        None => Ok(None),
        Some(ks) => match ks.visible() {
            Some(k) if k == kind => Ok(Some(ks)),
            // A HyperLogLog is a string to every string command, as in Redis.
            Some(Kind::Hll) if kind == Kind::Str => Ok(Some(ks)),
            Some(_) => Err(CmdError::WrongType),
            None => Ok(None),
        },
    }
}

/// The visible string value of `key`.
pub(crate) fn get_str<'e>(
    e: &'e mut Engine,
    key: &[u8],
) -> Result<Option<Cow<'e, [u8]>>, CmdError> {
    let Some(ks) = typed(e, key, Kind::Str)? else {
        return Ok(None);
    };
    if ks.visible() == Some(Kind::Hll) {
        return Ok(ks.hll.as_ref().map(|h| Cow::Owned(h.regs.encode())));
    }
    Ok(ks.string.as_deref().map(Counted::read))
}

/// The visible hash of `key`.
pub(crate) fn get_hash<'e>(e: &'e mut Engine, key: &[u8]) -> Result<Option<&'e OrMap>, CmdError> {
    Ok(typed(e, key, Kind::Hash)?.and_then(|ks| ks.hash.as_deref()))
}

/// The visible set of `key`.
pub(crate) fn get_set<'e>(e: &'e mut Engine, key: &[u8]) -> Result<Option<&'e OrSet>, CmdError> {
    Ok(typed(e, key, Kind::Set)?.and_then(|ks| ks.set.as_deref()))
}

/// Before a write that may create `key`: a write that recreates an absent key is an expiry
/// change ("no expiry"). Other members may still hold expiry changes of the old key that
/// this instance has already folded away, so with peers it is always sent; alone, only
/// when something is there to clear.
pub(crate) fn prepare_create(e: &mut Engine, key: &[u8]) {
    let exists = e.lookup(key, true).is_some();
    if !exists && (e.has_peers() || e.raw_keys().get(key).is_some_and(|ks| ks.expiry.is_some())) {
        e.emit(key, OpKind::Expire(None));
    }
}

/// Makes an owned blob.
pub(crate) fn blob(b: &[u8]) -> Blob {
    b.into()
}

/// The largest string a write may produce (proto-max-bulk-len).
pub(crate) const MAX_STRING: usize = 512 * 1024 * 1024;

/// Error for a write that would exceed [`MAX_STRING`].
pub(crate) fn too_big() -> CmdError {
    CmdError::msg("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
}

/// Parses `numkeys key [key ...] [LIMIT n]` of SINTERCARD and ZINTERCARD: the keys and the
/// limit (0 = none), with Redis's error texts.
pub(crate) fn intercard_args<'a>(a: &Args<'a>) -> Result<(&'a [&'a [u8]], usize), CmdError> {
    let numkeys = a
        .int(1)
        .map_err(|_| CmdError::msg("ERR numkeys should be greater than 0"))?;
    if numkeys <= 0 {
        return Err(CmdError::msg("ERR numkeys should be greater than 0"));
    }
    let numkeys = numkeys as usize;
    if numkeys > a.len() - 2 {
        return Err(CmdError::msg(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < a.len() {
        if a.is(i, "limit") && i + 1 < a.len() {
            let l = a
                .int(i + 1)
                .map_err(|_| CmdError::msg("ERR LIMIT can't be negative"))?;
            if l < 0 {
                return Err(CmdError::msg("ERR LIMIT can't be negative"));
            }
            limit = l as usize;
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok((&a.0[2..2 + numkeys], limit))
}

/// Parses `numkeys key [key ...] END [COUNT count]` of LMPOP, ZMPOP and their blocking
/// forms from argument `at`, with Redis's checks in its order: the keys, whether END was
/// the second of `ends`, and the count (1 when not given).
pub(crate) fn mpop_args<'a>(
    a: &Args<'a>,
    at: usize,
    ends: [&str; 2],
) -> Result<(&'a [&'a [u8]], bool, usize), CmdError> {
    let bad_numkeys = || CmdError::msg("ERR numkeys should be greater than 0");
    let numkeys = a.int(at).map_err(|_| bad_numkeys())?;
    let numkeys = usize::try_from(numkeys)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(bad_numkeys)?;
    // END comes right after the keys: too few arguments is a syntax error.
    let end_at = (at + 1).saturating_add(numkeys);
    if end_at >= a.len() {
        return Err(CmdError::Syntax);
    }
    let second = if a.is(end_at, ends[0]) {
        false
    } else if a.is(end_at, ends[1]) {
        true
    } else {
        return Err(CmdError::Syntax);
    };
    let mut count = None;
    let mut i = end_at + 1;
    while i < a.len() {
        if count.is_none() && a.is(i, "count") && i + 1 < a.len() {
            let bad = || CmdError::msg("ERR count should be greater than 0");
            let c = a.int(i + 1).map_err(|_| bad())?;
            count = Some(usize::try_from(c).ok().filter(|&c| c > 0).ok_or_else(bad)?);
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok((&a.0[at + 1..end_at], second, count.unwrap_or(1)))
}

/// Runs one command on `e` and commits it; its reply as text (unit tests).
#[cfg(test)]
pub(crate) fn run_text(e: &mut Engine, words: &[&str]) -> String {
    let args: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
    let mut out = concord_resp::Out::new();
    assert!(e.execute(&args, &mut out));
    e.commit();
    String::from_utf8_lossy(&out.buf).into_owned()
}

/// Two engines of one database (replicas 1 and 2), each with the other as its peer (unit
/// tests).
#[cfg(test)]
pub(crate) fn peered_pair() -> (Engine, Engine) {
    let mut a = Engine::new(crate::EngineConfig::default());
    let mut b = Engine::new(crate::EngineConfig {
        origin: concord_crdt::Origin::new(2, 1),
        ..Default::default()
    });
    a.set_peers(1);
    b.set_peers(1);
    (a, b)
}

/// Resolves Redis's inclusive `start..=end` indexes (negative ones count from the end)
/// over `total` items; `None` when the range is empty.
pub(crate) fn index_range(total: i64, start: i64, end: i64) -> Option<(i64, i64)> {
    let s = if start < 0 { start + total } else { start }.max(0);
    let e = if end < 0 { end + total } else { end }
        .max(0)
        .min(total - 1);
    (s <= e).then_some((s, e))
}
