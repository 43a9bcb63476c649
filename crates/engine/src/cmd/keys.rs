//! Generic key commands: existence, deletion, renaming, expiry, scanning.

use super::blob;
use super::strings::expiry_at;
use crate::Engine;
use crate::NotifyFlags as N;
use crate::args::Args;
use crate::error::{CmdError, CmdResult};
use concord_crdt::{Blob, Content, KeyState, Kind, OpKind};
use concord_glob::glob_match;
use concord_resp::Out;

/// DEL key [key ...] / UNLINK
pub fn del(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let mut n = 0;
    for k in a.from(1) {
        if e.lookup(k, true).is_some() {
            e.emit(k, OpKind::DelKey);
            e.notify(N::GENERIC, "del", k);
            n += 1;
        }
    }
    out.int(n);
    Ok(())
}

/// EXISTS key [key ...] (and TOUCH)
pub fn exists(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let mut n = 0;
    for k in a.from(1) {
        if e.lookup(k, false).is_some() {
            n += 1;
        }
    }
    out.int(n);
    Ok(())
}

/// TYPE key
pub fn type_(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    match e.kind_of(a.get(1)) {
        Some(k) => out.simple(k.name()),
        None => out.simple("none"),
    }
    Ok(())
}

/// The names of the visible keys among `candidates` that match the filters.
fn filter_keys(
    e: &mut Engine,
    candidates: Vec<Blob>,
    pat: Option<&[u8]>,
    kind: Option<&str>,
) -> Vec<Blob> {
    candidates
        .into_iter()
        .filter(|k| pat.is_none_or(|p| glob_match(p, k, false)))
        .filter(|k| match e.kind_of(k) {
            None => false,
            Some(t) => kind.is_none_or(|want| want.eq_ignore_ascii_case(t.name())),
        })
        .collect()
}

/// KEYS pattern
pub fn keys(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let all: Vec<Blob> = e.raw_keys().iter().map(|(k, _)| blob(k)).collect();
    let found = filter_keys(e, all, Some(a.get(1)), None);
    out.array(found.len());
    for k in found {
        out.bulk(&k);
    }
    Ok(())
}

/// Parses a SCAN cursor.
pub(crate) fn parse_cursor(b: &[u8]) -> Result<u64, CmdError> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| CmdError::msg("ERR invalid cursor"))
}

/// What the SCAN family's options ask for.
pub(crate) struct ScanOpts<'a> {
    /// MATCH pattern (`None` when absent or `*`).
    pub pat: Option<&'a [u8]>,
    /// COUNT hint.
    pub count: usize,
    /// TYPE filter (SCAN only).
    pub kind: Option<String>,
    /// NOVALUES (HSCAN only).
    pub novalues: bool,
}

/// Parses MATCH / COUNT (/ TYPE when allowed) of the SCAN family from argument `from`.
pub(crate) fn scan_opts<'a>(
    a: Args<'a>,
    from: usize,
    allow_type: bool,
) -> Result<ScanOpts<'a>, CmdError> {
    let (mut pat, mut count, mut kind, mut novalues) = (None, 10usize, None, false);
    let mut i = from;
    while i < a.len() {
        let opt = a.upper(i);
        match opt.as_str() {
            "MATCH" if i + 1 < a.len() => {
                pat = Some(a.get(i + 1));
                i += 1;
            }
            "COUNT" if i + 1 < a.len() => {
                let n = a.int(i + 1)?;
                if n < 1 {
                    return Err(CmdError::Syntax);
                }
                count = n as usize;
                i += 1;
            }
            "TYPE" if allow_type && i + 1 < a.len() => {
                kind = Some(String::from_utf8_lossy(a.get(i + 1)).into_owned());
                i += 1;
            }
            "NOVALUES" if !allow_type => novalues = true,
            _ => return Err(CmdError::Syntax),
        }
        i += 1;
    }
    // A pattern of just "*" matches everything; skip the matching work.
    let pat = pat.filter(|p| *p != b"*");
    Ok(ScanOpts {
        pat,
        count,
        kind,
        novalues,
    })
}

/// SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]
pub fn scan(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let cursor = parse_cursor(a.get(1))?;
    let ScanOpts {
        pat, count, kind, ..
    } = scan_opts(a, 2, true)?;
    let mut found = Vec::new();
    let next = e.raw_keys().scan(cursor, count, |k, _| found.push(blob(k)));
    let found = filter_keys(e, found, pat, kind.as_deref());
    out.array(2);
    out.bulk(next.to_string().as_bytes());
    out.array(found.len());
    for k in found {
        out.bulk(&k);
    }
    Ok(())
}

/// RANDOMKEY
pub fn randomkey(e: &mut Engine, _a: Args, out: &mut Out) -> CmdResult {
    // Bounded retries: expired keys found on the way are removed or skipped.
    for _ in 0..100 {
        let r = e.random();
        let Some((k, _)) = e.raw_keys().random(r) else {
            break;
        };
        let k = blob(k);
        if e.lookup(&k, false).is_some() {
            out.bulk(&k);
            return Ok(());
        }
    }
    let all: Vec<Blob> = e.raw_keys().iter().map(|(k, _)| blob(k)).collect();
    match filter_keys(e, all, None, None).first() {
        Some(k) => out.bulk(k),
        None => out.null(),
    }
    Ok(())
}

/// The whole visible content of a key, as RENAME and COPY write it.
pub(crate) fn content_of(ks: &KeyState) -> Option<Content> {
    match ks.visible()? {
        Kind::Str => Some(Content::Str(ks.string.as_ref()?.read().into())),
        Kind::Hash => Some(Content::Hash(
            ks.hash
                .as_ref()?
                .iter()
                .map(|(f, v)| (blob(f), Blob::from(v.read())))
                .collect(),
        )),
        Kind::Set => Some(Content::Set(ks.set.as_ref()?.iter().map(blob).collect())),
        Kind::ZSet => {
            let z = ks.zset.as_ref()?;
            let mut v = Vec::with_capacity(z.len());
            z.index().walk(0, z.len(), false, |s, m| {
                v.push((blob(m), s));
                true
            });
            Some(Content::ZSet(v))
        }
        Kind::List => Some(super::lists::content(ks.list.as_ref()?)),
        Kind::Hll => Some(Content::Hll(ks.hll.as_ref()?.regs.nonzero())),
        Kind::Stream => {
            let st = ks.stream.as_ref()?;
            Some(Content::Stream(
                st.iter().map(|(k, f)| (k.0, f.to_vec())).collect(),
                st.top(),
            ))
        }
    }
}

/// Writes `content` to `dst` with expiry `ttl`: an observed-remove of the destination, the
/// new content, and its expiry as an expiry change.
pub(crate) fn restore(e: &mut Engine, dst: &[u8], content: Content, ttl: Option<u64>) {
    e.emit(dst, OpKind::Restore(content));
    e.emit(dst, OpKind::Expire(ttl));
}

/// RENAME key newkey / RENAMENX
pub fn rename(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let nx = a.is(0, "renamenx");
    let (src, dst) = (a.get(1), a.get(2));
    let Some(ks) = e.lookup(src, true) else {
        return Err(CmdError::NoSuchKey);
    };
    let ttl = ks.expires_at();
    let content = content_of(ks).ok_or(CmdError::NoSuchKey)?;
    if src == dst {
        if nx {
            out.int(0);
        } else {
            out.ok();
        }
        return Ok(());
    }
    let replaced = e.lookup(dst, true).is_some();
    if nx && replaced {
        out.int(0);
        return Ok(());
    }
    restore(e, dst, content, ttl);
    if replaced {
        // Redis deletes the destination and adds the key anew.
        e.notify(N::NEW, "new", dst);
    }
    e.emit(src, OpKind::DelKey);
    e.notify(N::GENERIC, "rename_from", src);
    e.notify(N::GENERIC, "rename_to", dst);
    if nx {
        out.int(1);
    } else {
        out.ok();
    }
    Ok(())
}

/// COPY source destination [DB n] [REPLACE]
pub fn copy(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let mut replace = false;
    let mut i = 3;
    while i < a.len() {
        match a.upper(i).as_str() {
            "REPLACE" => replace = true,
            "DB" if i + 1 < a.len() => {
                let db = a.int(i + 1)?;
                if db != 0 {
                    return Err(CmdError::msg("ERR DB index is out of range"));
                }
                i += 1;
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 1;
    }
    let (src, dst) = (a.get(1), a.get(2));
    if src == dst {
        return Err(CmdError::msg(
            "ERR source and destination objects are the same",
        ));
    }
    let Some(ks) = e.lookup(src, false) else {
        out.int(0);
        return Ok(());
    };
    let ttl = ks.expires_at();
    let Some(content) = content_of(ks) else {
        out.int(0);
        return Ok(());
    };
    let replaced = e.lookup(dst, true).is_some();
    if !replace && replaced {
        out.int(0);
        return Ok(());
    }
    restore(e, dst, content, ttl);
    if replaced {
        // Redis deletes the destination and adds the key anew.
        e.notify(N::NEW, "new", dst);
    }
    e.notify(N::GENERIC, "copy_to", dst);
    out.int(1);
    Ok(())
}

/// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT key n [NX|XX|GT|LT]
pub fn expire(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let name = a.name();
    let secs = !name.starts_with('p');
    let abs = name.ends_with("at");
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for i in 3..a.len() {
        match a.upper(i).as_str() {
            "NX" => nx = true,
            "XX" => xx = true,
            "GT" => gt = true,
            "LT" => lt = true,
            _ => {
                return Err(CmdError::msg(format!(
                    "ERR Unsupported option {}",
                    String::from_utf8_lossy(a.get(i))
                )));
            }
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::msg(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(CmdError::msg(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    let n = a.int(2)?;
    let at = expiry_at(e, n, secs, abs, true, &name)?;
    let key = a.get(1);
    let Some(ks) = e.lookup(key, true) else {
        out.int(0);
        return Ok(());
    };
    let cur = ks.expires_at();
    let ok = match cur {
        None => !(xx || gt),
        Some(c) => !nx && (!gt || at > c as i64) && (!lt || at < c as i64),
    };
    if !ok {
        out.int(0);
        return Ok(());
    }
    if at <= e.now() as i64 {
        e.emit(key, OpKind::DelKey);
        e.notify(N::GENERIC, "del", key);
    } else {
        e.emit(key, OpKind::Expire(Some(at as u64)));
        e.notify(N::GENERIC, "expire", key);
    }
    out.int(1);
    Ok(())
}

/// The remaining time to live of `key` in ms: -2 absent, -1 no expiry.
fn ttl_ms(e: &mut Engine, key: &[u8]) -> i64 {
    let now = e.now();
    match e.lookup(key, false) {
        None => -2,
        Some(ks) => match ks.expires_at() {
            None => -1,
            Some(at) => at.saturating_sub(now) as i64,
        },
    }
}

/// TTL key
pub fn ttl(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let t = ttl_ms(e, a.get(1));
    out.int(if t < 0 {
        t
    } else {
        t.saturating_add(500) / 1000
    });
    Ok(())
}

/// PTTL key
pub fn pttl(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let t = ttl_ms(e, a.get(1));
    out.int(t);
    Ok(())
}

/// EXPIRETIME key / PEXPIRETIME key
pub fn expiretime(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let ms = a.is(0, "pexpiretime");
    let r = match e.lookup(a.get(1), false) {
        None => -2,
        Some(ks) => match ks.expires_at() {
            None => -1,
            Some(at) if ms => at as i64,
            Some(at) => (at as i64).saturating_add(500) / 1000,
        },
    };
    out.int(r);
    Ok(())
}

/// PERSIST key
pub fn persist(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let key = a.get(1);
    let Some(has) = e.lookup(key, true).map(|ks| ks.expires_at().is_some()) else {
        out.int(0);
        return Ok(());
    };
    // With peers, PERSIST of a key without expiry is still a change, so that it beats
    // the EXPIREs other members made concurrently (docs/SEMANTICS.md, Expiry). It still
    // replies 0, announces nothing and fails no WATCH, as in Redis.
    if has || e.has_peers() {
        e.emit(key, OpKind::Expire(None));
    }
    if has {
        e.notify(N::GENERIC, "persist", key);
    }
    out.int(i64::from(has));
    Ok(())
}

/// OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT|HELP key
pub fn object(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let sub = a.upper(1);
    if sub == "HELP" {
        out.help(
            "OBJECT",
            &[
                "ENCODING <key>",
                "    Return the kind of internal representation used in order to store the value",
                "    associated with a <key>.",
                "FREQ <key>",
                "    Return the access frequency index of the <key>. The returned integer is",
                "    proportional to the logarithm of the recent access frequency of the key.",
                "IDLETIME <key>",
                "    Return the idle time of the <key>, that is the approximated number of",
                "    seconds elapsed since the last access to the key.",
                "REFCOUNT <key>",
                "    Return the number of references of the value associated with the specified",
                "    <key>.",
            ],
        );
        return Ok(());
    }
    // Looking is no use of the key, as in Redis.
    if e.lookup_quiet(a.get(2)).is_none() {
        out.null();
        return Ok(());
    }
    let lfu = e.eviction_policy().lfu();
    let access = e.key_access(a.get(2)).unwrap_or(0);
    match sub.as_str() {
        "ENCODING" => {
            // Found above: looked at again without counting a second lookup.
            let ks = e.raw_keys().get(a.get(2)).expect("looked up above");
            out.bulk(encoding(ks).as_bytes());
        }
        "FREQ" if !lfu => {
            return Err(CmdError::msg(
                "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
            ));
        }
        "IDLETIME" if lfu => {
            return Err(CmdError::msg(
                "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
            ));
        }
        "FREQ" | "IDLETIME" => out.int(access as i64),
        _ => out.int(1),
    }
    Ok(())
}

/// OBJECT ENCODING's answer for `key` (DEBUG OBJECT shows it too), `None` when it does
/// not exist.
pub fn object_encoding(e: &mut Engine, key: &[u8]) -> Option<&'static str> {
    e.lookup(key, false).map(encoding)
}

/// The encoding Redis would report for a value of this shape.
fn encoding(ks: &KeyState) -> &'static str {
    match ks.visible() {
        Some(Kind::Hll) => "raw",
        Some(Kind::Stream) => "stream",
        Some(Kind::Str) => {
            let v = ks
                .string
                .as_ref()
                .map(|s| s.read().into_owned())
                .unwrap_or_default();
            // INCRBYFLOAT results are never int-encoded in Redis.
            let float = ks.string.as_ref().is_some_and(|s| {
                s.incs.is_some() && matches!(s.numeric(), Some(concord_crdt::Numeric::Float(_)))
            });
            if !float && v.len() <= 20 && concord_crdt::num::parse_i64(&v).is_some() {
                "int"
            } else if v.len() <= 44 {
                "embstr"
            } else {
                "raw"
            }
        }
        Some(Kind::Hash) => {
            let h = ks.hash.as_ref();
            let small = h.is_some_and(|h| {
                h.len() <= 512 && h.iter().all(|(f, v)| f.len() <= 64 && v.read().len() <= 64)
            });
            if small { "listpack" } else { "hashtable" }
        }
        Some(Kind::Set) => {
            let s = ks.set.as_ref();
            if s.is_some_and(|s| {
                s.len() <= 512 && s.iter().all(|m| concord_crdt::num::parse_i64(m).is_some())
            }) {
                "intset"
            } else if s.is_some_and(|s| s.len() <= 128 && s.iter().all(|m| m.len() <= 64)) {
                "listpack"
            } else {
                "hashtable"
            }
        }
        Some(Kind::List) => "quicklist",
        Some(Kind::ZSet) => {
            let z = ks.zset.as_ref();
            if z.is_some_and(|z| z.len() <= 128 && z.map().iter().all(|(m, _)| m.len() <= 64)) {
                "listpack"
            } else {
                "skiplist"
            }
        }
        None => "none",
    }
}
