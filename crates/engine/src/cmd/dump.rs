//! DUMP and RESTORE with Redis's serialized format (an RDB value, its version and a
//! CRC-64), so that tools migrating with them work across Redis and Concord.

use super::keys::{content_of, restore as write_content};
use crate::Engine;
use crate::NotifyFlags as N;
use crate::args::Args;
use crate::error::{CmdError, CmdResult};
use concord_crdt::hll::{Registers, decode_canonical};
use concord_crdt::{Blob, Content, Kind, OpKind};
use concord_rdb::{DumpError, Value, dump as payload, undump};
use concord_resp::Out;

/// DUMP key
pub fn dump(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let key = a.get(1);
    let Some(ks) = e.lookup(key, false) else {
        out.null();
        return Ok(());
    };
    let value = if ks.visible() == Some(Kind::Stream) {
        super::streams::rdb_stream(e, key)?.map(Value::Stream)
    } else {
        content_of(ks).and_then(value_of)
    };
    match value {
        Some(v) => out.bulk(&payload(&v)),
        None => out.null(),
    }
    Ok(())
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
/// (and RESTORE-ASKING).
pub fn restore(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<u64>, Option<u8>) = (None, None);
    let mut i = 4;
    while i < a.len() {
        let more = i + 1 < a.len();
        match a.upper(i).as_str() {
            "REPLACE" => replace = true,
            "ABSTTL" => absttl = true,
            "IDLETIME" if more && freq.is_none() => {
                let n = a.int(i + 1)?;
                idle = Some(
                    u64::try_from(n)
                        .map_err(|_| CmdError::msg("ERR Invalid IDLETIME value, must be >= 0"))?,
                );
                i += 1;
            }
            "FREQ" if more && idle.is_none() => {
                let n = a.int(i + 1)?;
                freq = Some(u8::try_from(n).map_err(|_| {
                    CmdError::msg("ERR Invalid FREQ value, must be >= 0 and <= 255")
                })?);
                i += 1;
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 1;
    }
    let key = a.get(1);
    let existed = e.lookup(key, true).is_some();
    if existed && !replace {
        return Err(CmdError::msg("BUSYKEY Target key name already exists."));
    }
    let ttl = a.int(2)?;
    if ttl < 0 {
        return Err(CmdError::msg("ERR Invalid TTL value, must be >= 0"));
    }
    let value = undump(a.get(3)).map_err(|err| match err {
        DumpError::Footer => CmdError::msg("ERR DUMP payload version or checksum are wrong"),
        DumpError::Format(_) => CmdError::msg("ERR Bad data format"),
    })?;
    let at = match ttl {
        0 => None,
        t if absttl => Some(t as u64),
        t => Some(e.now().saturating_add(t as u64)),
    };
    if at.is_some_and(|at| at <= e.now()) {
        // Already expired: the key ends up deleted, as in Redis.
        if existed {
            e.emit(key, OpKind::DelKey);
            e.notify(N::GENERIC, "del", key);
        }
        out.ok();
        return Ok(());
    }
    match value {
        Value::Stream(st) => restore_stream(e, key, existed, st, at)?,
        other => {
            if let Some(content) = content_from(other) {
                write_content(e, key, content, at);
            }
        }
    }
    e.set_key_access(key, idle, freq);
    e.notify(N::GENERIC, "restore", key);
    out.ok();
    Ok(())
}

/// A key's content as an RDB value: a HyperLogLog is a string in Redis's format (a
/// stream is taken whole from the engine instead: `None` here).
fn value_of(c: Content) -> Option<Value> {
    let bytes = |v: Vec<Blob>| v.into_iter().map(|b| b.to_vec()).collect();
    Some(match c {
        Content::Str(s) => Value::String(s.to_vec()),
        Content::List(v) => Value::List(bytes(v)),
        Content::Set(v) => Value::Set(bytes(v)),
        Content::Hash(v) => Value::Hash(
            v.into_iter()
                .map(|(f, x)| (f.to_vec(), x.to_vec()))
                .collect(),
        ),
        Content::ZSet(v) => Value::ZSet(v.into_iter().map(|(m, s)| (m.to_vec(), s)).collect()),
        Content::Hll(regs) => {
            let mut r = Registers::default();
            for (i, v) in regs {
                r.raise(i, v);
            }
            Value::String(r.encode())
        }
        Content::Stream(..) => return None,
    })
}

/// An RDB value as a key's content (`None` for a stream, restored by its commands): a
/// string holding a HyperLogLog in Redis's exact form becomes one (it merges as a
/// HyperLogLog between instances).
fn content_from(v: Value) -> Option<Content> {
    let blobs = |v: Vec<Vec<u8>>| v.into_iter().map(Blob::from).collect();
    Some(match v {
        Value::String(s) => match decode_canonical(&s) {
            Some(regs) => Content::Hll(regs.nonzero()),
            None => Content::Str(Blob::from(s)),
        },
        Value::List(v) => Content::List(blobs(v)),
        Value::Set(v) => Content::Set(blobs(v)),
        Value::Hash(v) => Content::Hash(
            v.into_iter()
                .map(|(f, x)| (Blob::from(f), Blob::from(x)))
                .collect(),
        ),
        Value::ZSet(v) => Content::ZSet(v.into_iter().map(|(m, s)| (Blob::from(m), s)).collect()),
        Value::Stream(_) => return None,
    })
}

/// A stream restored by the commands Redis's own rewrite writes for it (entries with their
/// ids, XSETID, each group with its pending entries and consumers, the expiry), run here
/// with the ids kept as given. Its consumers and pending entries are this instance's, as
/// Concord keeps them.
fn restore_stream(
    e: &mut Engine,
    key: &[u8],
    existed: bool,
    st: concord_rdb::Stream,
    at: Option<u64>,
) -> CmdResult {
    // What XSETID and XGROUP would refuse is refused before anything changes.
    if !consistent(&st) {
        return Err(CmdError::msg("ERR Bad data format"));
    }
    if existed {
        e.emit(key, OpKind::DelKey);
    }
    let entry = concord_rdb::Entry {
        db: 0,
        key: key.to_vec(),
        expire_ms: at,
        value: Value::Stream(st),
    };
    let before = e.ids_as_given();
    e.set_ids_as_given(true);
    let mut scratch = Out::new();
    let mut result = Ok(());
    for cmd in concord_rdb::commands(entry) {
        let args: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
        let a = Args(&args);
        let ran = match a.upper(0).as_str() {
            "DEL" => Ok(()),
            "XADD" => super::streams::xadd(e, a, &mut scratch),
            "XSETID" => super::streams::xsetid(e, a, &mut scratch),
            "XGROUP" => super::streams::xgroup(e, a, &mut scratch),
            "XCLAIM" => super::streams::xclaim(e, a, &mut scratch),
            "PEXPIREAT" => super::keys::expire(e, a, &mut scratch),
            _ => Err(CmdError::msg("ERR Bad data format")),
        };
        if ran.is_err() {
            result = Err(CmdError::msg("ERR Bad data format"));
            break;
        }
    }
    e.set_ids_as_given(before);
    result
}

/// Whether a stream's parts agree (Redis's loader refuses them otherwise): the last id
/// at or past every entry and the largest deleted id, as many entries added as there
/// are, group and consumer names unique.
fn consistent(st: &concord_rdb::Stream) -> bool {
    let top = st.entries.last().map_or((0, 0), |e| e.0);
    let names_unique = |names: &mut Vec<&[u8]>| {
        names.sort_unstable();
        names.windows(2).all(|w| w[0] != w[1])
    };
    let mut groups: Vec<&[u8]> = st.groups.iter().map(|g| &g.name[..]).collect();
    st.last_id >= top
        && st.last_id >= st.max_deleted
        && st
            .entries_added
            .is_none_or(|n| n >= st.entries.len() as u64)
        && names_unique(&mut groups)
        && st.groups.iter().all(|g| {
            let mut c: Vec<&[u8]> = g.consumers.iter().map(|c| &c.name[..]).collect();
            names_unique(&mut c)
        })
}
