//! Consumer groups: XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM and XAUTOCLAIM, with
//! consumers and pending entries kept per instance (SEMANTICS.md).

use super::*;
use crate::NotifyFlags as N;

/// One consumer of a group on this instance.
#[derive(Clone, Debug, Default)]
pub(crate) struct Consumer {
    /// Last time it was seen (any group command naming it).
    pub(super) seen: u64,
    /// Last time it read or claimed something.
    pub(super) active: Option<u64>,
}

/// A pending entry: delivered to a consumer on this instance and not acknowledged.
#[derive(Clone, Debug)]
pub(crate) struct Pending {
    pub(super) consumer: Blob,
    pub(super) time: u64,
    pub(super) count: u64,
}

/// The per-instance part of a group (SEMANTICS.md: consumers and pending lists are per
/// instance).
#[derive(Clone, Debug, Default)]
pub(crate) struct LocalGroup {
    pub(super) consumers: std::collections::BTreeMap<Blob, Consumer>,
    pub(super) pel: std::collections::BTreeMap<EntryKey, Pending>,
}

impl Pending {
    /// Hands the entry to `consumer`: a new delivery time, and the delivery count set
    /// (RETRYCOUNT) or raised (unless JUSTID).
    pub(super) fn claim(&mut self, consumer: &[u8], time: u64, retry: Option<u64>, justid: bool) {
        self.consumer = consumer.into();
        self.time = time;
        if let Some(r) = retry {
            self.count = r;
        } else if !justid {
            self.count += 1;
        }
    }
}

impl LocalGroup {
    pub(super) fn touch(&mut self, name: &[u8], now: u64, active: bool) -> bool {
        let fresh = !self.consumers.contains_key(name);
        let c = self.consumers.entry(name.into()).or_default();
        c.seen = now;
        if active {
            c.active = Some(now);
        }
        fresh
    }

    pub(super) fn pending_of(&self, consumer: &[u8]) -> usize {
        self.pel
            .values()
            .filter(|p| &*p.consumer == consumer)
            .count()
    }
}

pub(super) fn no_group(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::msg(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

/// Whether `group` exists on the stream at `key` (WRONGTYPE for another type).
pub(super) fn has_group(e: &mut Engine, key: &[u8], group: &[u8]) -> Result<bool, CmdError> {
    Ok(get_stream(e, key)?.is_some_and(|s| s.groups.contains_key(group)))
}

/// The local part of a group, dropped when the replicated group is gone.
pub(super) fn local<'e>(e: &'e mut Engine, key: &[u8], group: &[u8]) -> &'e mut LocalGroup {
    e.groups.entry((key.into(), group.into())).or_default()
}

/// XGROUP CREATE|SETID|DESTROY|CREATECONSUMER|DELCONSUMER|HELP
pub fn xgroup(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let sub = a.upper(1);
    let wrong = || {
        CmdError::msg(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try XGROUP HELP.",
            String::from_utf8_lossy(a.get(1))
        ))
    };
    if sub == "HELP" {
        out.help(
            "XGROUP",
            &[
                "CREATE <key> <groupname> <id|$> [option]",
                "    Create a new consumer group. Options are:",
                "    * MKSTREAM",
                "      Create the empty stream if it does not exist.",
                "    * ENTRIESREAD entries_read",
                "      Set the group's entries_read counter (internal use).",
                "CREATECONSUMER <key> <groupname> <consumer>",
                "    Create a new consumer in the specified group.",
                "DELCONSUMER <key> <groupname> <consumer>",
                "    Remove the specified consumer.",
                "DESTROY <key> <groupname>",
                "    Remove the specified group.",
                "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
                "    Set the current group ID and entries_read counter.",
            ],
        );
        return Ok(());
    }
    if a.len() < 4 {
        return Err(wrong());
    }
    let (key, group) = (a.get(2), a.get(3));
    let now = e.now();
    match sub.as_str() {
        "CREATE" | "SETID" => {
            let create = sub == "CREATE";
            if a.len() < 5 {
                return Err(wrong());
            }
            let mut mkstream = false;
            let mut read: Option<i64> = None;
            let mut i = 5;
            while i < a.len() {
                if create && a.is(i, "mkstream") {
                    mkstream = true;
                    i += 1;
                } else if a.is(i, "entriesread") && i + 1 < a.len() {
                    let n = a.int(i + 1)?;
                    if n < 0 && n != -1 {
                        return Err(CmdError::msg(
                            "ERR value for ENTRIESREAD must be positive or -1",
                        ));
                    }
                    read = (n >= 0).then_some(n);
                    i += 2;
                } else {
                    return Err(CmdError::Syntax);
                }
            }
            let s = get_stream(e, key)?;
            let top = s.map(|s| s.top());
            let added = s.map_or(0, |s| s.entries_added() as i64);
            let exists = s.is_some();
            let has = s.is_some_and(|s| s.groups.contains_key(group));
            if !(exists || create && mkstream) {
                return Err(CmdError::msg(
                    "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
                ));
            }
            let id = if a.get(4) == b"$" {
                // "$" reads from the end: everything added so far counts as read.
                read = read.or(Some(added));
                top.unwrap_or_default()
            } else {
                parse_id(a.get(4), 0, false)?
            };
            if create {
                if !exists && !mkstream {
                    return Err(CmdError::msg(
                        "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
                    ));
                }
                if has {
                    return Err(CmdError::msg(
                        "BUSYGROUP Consumer Group name already exists",
                    ));
                }
                if !exists {
                    prepare_create(e, key);
                }
                e.emit(
                    key,
                    OpKind::XGroupCreate {
                        name: blob(group),
                        id,
                        mkstream: !exists,
                        read,
                    },
                );
                e.groups.remove(&(blob(key), blob(group)));
                e.notify(N::STREAM, "xgroup-create", key);
            } else {
                if !exists {
                    return Err(CmdError::msg(
                        "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
                    ));
                }
                if !has {
                    return Err(CmdError::msg(format!(
                        "NOGROUP No such consumer group '{}' for key name '{}'",
                        String::from_utf8_lossy(group),
                        String::from_utf8_lossy(key)
                    )));
                }
                e.emit(key, OpKind::XGroupSetId(blob(group), id, read));
                e.notify(N::STREAM, "xgroup-setid", key);
            }
            out.ok();
            Ok(())
        }
        "DESTROY" if a.len() == 4 => {
            if get_stream(e, key)?.is_none() {
                return Err(CmdError::msg(
                    "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
                ));
            }
            if has_group(e, key, group)? {
                e.emit(key, OpKind::XGroupDestroy(blob(group)));
                e.groups.remove(&(blob(key), blob(group)));
                e.notify(N::STREAM, "xgroup-destroy", key);
                out.int(1);
            } else {
                out.int(0);
            }
            Ok(())
        }
        "CREATECONSUMER" | "DELCONSUMER" if a.len() == 5 => {
            if get_stream(e, key)?.is_none() {
                return Err(CmdError::msg(
                    "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
                ));
            }
            if !has_group(e, key, group)? {
                return Err(CmdError::msg(format!(
                    "NOGROUP No such consumer group '{}' for key name '{}'",
                    String::from_utf8_lossy(group),
                    String::from_utf8_lossy(key)
                )));
            }
            let consumer = a.get(4);
            let lg = local(e, key, group);
            if sub == "CREATECONSUMER" {
                let fresh = lg.touch(consumer, now, false);
                if fresh {
                    e.notify(N::STREAM, "xgroup-createconsumer", key);
                }
                out.int(i64::from(fresh));
            } else {
                let n = lg.pending_of(consumer);
                lg.pel.retain(|_, p| &*p.consumer != consumer);
                if lg.consumers.remove(consumer).is_some() {
                    e.notify(N::STREAM, "xgroup-delconsumer", key);
                }
                out.int(n as i64);
            }
            Ok(())
        }
        _ => Err(wrong()),
    }
}

/// Entries a read returns from one stream (`None`: deleted since a group delivered it).
pub(super) type GroupRead = Vec<(StreamId, Option<Vec<Blob>>)>;

/// Writes XREAD/XREADGROUP's reply: per stream (by its position among the keys) its
/// entries, as an array of pairs (RESP2) or a map (RESP3).
pub(super) fn put_reads(out: &mut Out, a: &Args, streams: usize, reads: Vec<(usize, GroupRead)>) {
    if out.resp3 {
        out.map(reads.len());
    } else {
        out.array(reads.len());
    }
    for (j, items) in reads {
        if !out.resp3 {
            out.array(2);
        }
        out.bulk(a.get(streams + j));
        out.array(items.len());
        for (id, f) in items {
            match f {
                Some(f) => put_entry(out, id, &f),
                None => {
                    out.array(2);
                    out.bulk(id.to_string().as_bytes());
                    out.null_array();
                }
            }
        }
    }
}

/// XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] [NOACK] STREAMS key ... id ...
pub fn xreadgroup(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let ReadArgs {
        count,
        block,
        noack,
        group,
        streams,
        n,
    } = read_args(&a, true)?;
    let Some((gname, consumer)) = group else {
        return Err(CmdError::msg("ERR Missing GROUP option for XREADGROUP"));
    };
    // Check every stream and id first, as Redis does.
    let mut wants: Vec<Option<StreamId>> = Vec::with_capacity(n);
    for j in 0..n {
        let key = a.get(streams + j);
        let arg = a.get(streams + n + j);
        if !has_group(e, key, gname)? {
            return Err(CmdError::msg(format!(
                "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                String::from_utf8_lossy(key),
                String::from_utf8_lossy(gname)
            )));
        }
        wants.push(if arg == b">" {
            None
        } else if arg == b"$" {
            return Err(CmdError::msg(
                "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
            ));
        } else {
            Some(parse_id(arg, 0, false)?)
        });
    }
    let now = e.now();
    let limit = if count == 0 { usize::MAX } else { count };
    let mut replies: Vec<(usize, GroupRead)> = Vec::new();
    let mut any_new = false;
    for (j, want) in wants.iter().enumerate() {
        let key = a.get(streams + j);
        let Some(s) = get_stream(e, key)? else {
            continue;
        };
        let Some(g) = s.groups.get(gname) else {
            continue;
        };
        match want {
            None => {
                let items: Vec<(EntryKey, Vec<Blob>)> = s
                    .iter()
                    .filter(|(k, _)| k.0 > g.cursor(k.1.origin.id))
                    .take(limit)
                    .map(|(k, v)| (*k, v.to_vec()))
                    .collect();
                if items.is_empty() {
                    continue;
                }
                any_new = true;
                let mut tops: std::collections::BTreeMap<u16, StreamId> = Default::default();
                // entries-read follows each delivered entry as Redis counts it.
                let mut read = g.read;
                for (k, _) in &items {
                    let t = tops.entry(k.1.origin.id).or_insert(k.0);
                    *t = (*t).max(k.0);
                    read = match read {
                        Some(r) if !s.tombstones_after(k.0) => Some(r + 1),
                        _ if s.entries_added() > 0 => s.distance_from_first(k.0),
                        r => r,
                    };
                }
                let lg = local(e, key, gname);
                let fresh = lg.touch(consumer, now, true);
                if !noack {
                    for (k, _) in &items {
                        lg.pel.insert(
                            *k,
                            Pending {
                                consumer: blob(consumer),
                                time: now,
                                count: 1,
                            },
                        );
                    }
                }
                if fresh {
                    e.notify(N::STREAM, "xgroup-createconsumer", key);
                }
                for (part, id) in tops {
                    e.emit(key, OpKind::XGroupAdvance(blob(gname), part, id, read));
                }
                replies.push((j, items.into_iter().map(|(k, v)| (k.0, Some(v))).collect()));
            }
            Some(after) => {
                let after = *after;
                let present: std::collections::HashMap<EntryKey, Vec<Blob>> =
                    s.iter().map(|(k, v)| (*k, v.to_vec())).collect();
                let lg = local(e, key, gname);
                let fresh = lg.touch(consumer, now, true);
                let mut items = Vec::new();
                for (k, p) in lg.pel.iter_mut() {
                    if items.len() >= limit {
                        break;
                    }
                    if k.0 > after && *p.consumer == *consumer {
                        p.time = now;
                        p.count += 1;
                        items.push((k.0, present.get(k).cloned()));
                    }
                }
                if fresh {
                    e.notify(N::STREAM, "xgroup-createconsumer", key);
                }
                replies.push((j, items));
            }
        }
    }
    let only_new = wants.iter().all(Option::is_none);
    if only_new && !any_new {
        out.null_array();
        if let Some(t) = block {
            e.block = Some(Block {
                keys: (0..n).map(|j| blob(a.get(streams + j))).collect(),
                timeout_ms: t,
                retry: None,
            });
        }
        return Ok(());
    }
    put_reads(out, &a, streams, replies);
    Ok(())
}

/// XACK key group id [id ...]
pub fn xack(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let (key, group) = (a.get(1), a.get(2));
    // No key or group: nothing to acknowledge, whatever the ids.
    if !has_group(e, key, group)? {
        out.int(0);
        return Ok(());
    }
    let ids = a
        .from(3)
        .iter()
        .map(|b| parse_id(b, 0, false))
        .collect::<Result<Vec<_>, _>>()?;
    let lg = local(e, key, group);
    let mut n = 0;
    for id in ids {
        let ks: Vec<EntryKey> = lg.pel.keys().filter(|k| k.0 == id).copied().collect();
        for k in ks {
            lg.pel.remove(&k);
            n += 1;
        }
    }
    out.int(n);
    Ok(())
}

/// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
pub fn xpending(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let (key, group) = (a.get(1), a.get(2));
    let mut idle: Option<u64> = None;
    let mut i = 3;
    if a.len() > 3 && a.is(3, "idle") {
        if a.len() < 5 {
            return Err(CmdError::Syntax);
        }
        idle = Some(a.int(4)?.max(0) as u64);
        i = 5;
    }
    let extended = a.len() > i;
    let mut range = None;
    if extended {
        if a.len() < i + 3 || a.len() > i + 4 {
            return Err(CmdError::Syntax);
        }
        let (mut start, sx) = bound(a.get(i), 0)?;
        if sx {
            start = start.next().unwrap_or(StreamId::MAX);
        }
        let (mut end, ex) = bound(a.get(i + 1), u64::MAX)?;
        if ex {
            end = end.prev().unwrap_or_default();
        }
        let count = a.int(i + 2)?.max(0) as usize;
        let consumer = (a.len() == i + 4).then(|| blob(a.get(i + 3)));
        range = Some((start, end, count, consumer));
    } else if idle.is_some() {
        return Err(CmdError::Syntax);
    }
    if !has_group(e, key, group)? {
        return Err(no_group(key, group));
    }
    let now = e.now();
    let lg = local(e, key, group);
    match range {
        None => {
            if lg.pel.is_empty() {
                out.array(4);
                out.int(0);
                out.null();
                out.null();
                out.null_array();
                return Ok(());
            }
            let mut per: std::collections::BTreeMap<&[u8], u64> = Default::default();
            for p in lg.pel.values() {
                *per.entry(&p.consumer).or_insert(0) += 1;
            }
            out.array(4);
            out.int(lg.pel.len() as i64);
            let first = lg.pel.keys().next().map(|k| k.0).unwrap_or_default();
            let last = lg.pel.keys().next_back().map(|k| k.0).unwrap_or_default();
            out.bulk(first.to_string().as_bytes());
            out.bulk(last.to_string().as_bytes());
            out.array(per.len());
            for (c, n) in per {
                out.array(2);
                out.bulk(c);
                out.bulk(n.to_string().as_bytes());
            }
        }
        Some((start, end, count, consumer)) => {
            let items: Vec<(StreamId, &Pending)> = lg
                .pel
                .iter()
                .filter(|(k, p)| {
                    k.0 >= start
                        && k.0 <= end
                        && consumer.as_ref().is_none_or(|c| *c == p.consumer)
                        && idle.is_none_or(|m| now.saturating_sub(p.time) >= m)
                })
                .take(count)
                .map(|(k, p)| (k.0, p))
                .collect();
            out.array(items.len());
            for (id, p) in items {
                out.array(4);
                out.bulk(id.to_string().as_bytes());
                out.bulk(&p.consumer);
                out.int(now.saturating_sub(p.time) as i64);
                out.int(p.count as i64);
            }
        }
    }
    Ok(())
}

/// The start shared by XCLAIM and XAUTOCLAIM: the group must exist; then min-idle-time.
pub(super) fn claim_head(e: &mut Engine, a: &Args, cmd: &str) -> Result<u64, CmdError> {
    let (key, group) = (a.get(1), a.get(2));
    if !has_group(e, key, group)? {
        return Err(no_group(key, group));
    }
    let idle = concord_crdt::num::parse_i64(a.get(4))
        .ok_or_else(|| CmdError::msg(format!("ERR Invalid min-idle-time argument for {cmd}")))?;
    Ok(idle.max(0) as u64)
}

/// Writes claimed entries, or only their ids (JUSTID).
pub(super) fn put_claimed(out: &mut Out, claimed: &Entries, justid: bool) {
    out.array(claimed.len());
    for (id, f) in claimed {
        if justid {
            out.bulk(id.to_string().as_bytes());
        } else {
            put_entry(out, *id, f);
        }
    }
}

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME ms] [RETRYCOUNT n]
/// [FORCE] [JUSTID] [LASTID id]
pub fn xclaim(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let (key, group, consumer) = (a.get(1), a.get(2), a.get(3));
    let min_idle = claim_head(e, &a, "XCLAIM")?;
    let mut ids = Vec::new();
    let mut i = 5;
    while i < a.len() {
        match parse_id(a.get(i), 0, false) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        i += 1;
    }
    let now = e.now();
    let (mut time, mut retry, mut force, mut justid) = (None, None, false, false);
    while i < a.len() {
        let more = a.len() - i - 1;
        if a.is(i, "force") {
            force = true;
        } else if a.is(i, "justid") {
            justid = true;
        } else if a.is(i, "idle") && more > 0 {
            i += 1;
            let ms = concord_crdt::num::parse_i64(a.get(i))
                .ok_or_else(|| CmdError::msg("ERR Invalid IDLE option argument for XCLAIM"))?;
            time = Some(now.saturating_sub(ms.max(0) as u64));
        } else if a.is(i, "time") && more > 0 {
            i += 1;
            let t = concord_crdt::num::parse_i64(a.get(i))
                .ok_or_else(|| CmdError::msg("ERR Invalid TIME option argument for XCLAIM"))?;
            time = Some(t.max(0) as u64);
        } else if a.is(i, "retrycount") && more > 0 {
            i += 1;
            retry = Some(a.int(i)?.max(0) as u64);
        } else if a.is(i, "lastid") && more > 0 {
            i += 1;
            parse_id(a.get(i), 0, false)?;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(a.get(i))
            )));
        }
        i += 1;
    }
    let s = get_stream(e, key)?.cloned().unwrap_or_default();
    // The consumer comes to exist only when it claims something, as in Redis.
    let lg = local(e, key, group);
    let mut claimed: Entries = Vec::new();
    for id in ids {
        let entries: Vec<(EntryKey, Vec<Blob>)> =
            s.range(id, id).map(|(k, v)| (*k, v.to_vec())).collect();
        let mut keys: Vec<EntryKey> = lg.pel.keys().filter(|k| k.0 == id).copied().collect();
        if keys.is_empty() && force {
            for (k, _) in &entries {
                lg.pel.insert(
                    *k,
                    Pending {
                        consumer: blob(consumer),
                        time: now,
                        count: 0,
                    },
                );
                keys.push(*k);
            }
        }
        for k in keys {
            let Some(fields) = entries
                .iter()
                .find(|(x, _)| *x == k)
                .map(|(_, v)| v.clone())
            else {
                // The entry is gone from the stream: it leaves the pending list.
                lg.pel.remove(&k);
                continue;
            };
            let Some(p) = lg.pel.get_mut(&k) else {
                continue;
            };
            if now.saturating_sub(p.time) < min_idle {
                continue;
            }
            p.claim(consumer, time.unwrap_or(now), retry, justid);
            claimed.push((k.0, fields));
        }
    }
    if !claimed.is_empty() && lg.touch(consumer, now, true) {
        e.notify(N::STREAM, "xgroup-createconsumer", a.get(1));
    }
    put_claimed(out, &claimed, justid);
    Ok(())
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
pub fn xautoclaim(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let (key, group, consumer) = (a.get(1), a.get(2), a.get(3));
    let min_idle = claim_head(e, &a, "XAUTOCLAIM")?;
    let (start, sx) = bound(a.get(5), 0)?;
    let start = if sx {
        start.next().unwrap_or(StreamId::MAX)
    } else {
        start
    };
    let mut count = 100usize;
    let mut justid = false;
    let mut i = 6;
    while i < a.len() {
        if a.is(i, "justid") {
            justid = true;
            i += 1;
        } else if a.is(i, "count") && i + 1 < a.len() {
            let c = a.int(i + 1)?;
            if !(1..=i64::MAX / 10).contains(&c) {
                return Err(CmdError::msg("ERR COUNT must be > 0"));
            }
            count = c as usize;
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let now = e.now();
    let s = get_stream(e, key)?.cloned().unwrap_or_default();
    // The consumer comes to exist only when it claims something, as in Redis.
    let lg = local(e, key, group);
    let mut attempts = count.saturating_mul(10);
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut next = StreamId::default();
    let keys: Vec<EntryKey> = lg.pel.keys().filter(|k| k.0 >= start).copied().collect();
    for k in keys {
        // Deleted entries found on the way count against COUNT, as in Redis.
        if attempts == 0 || claimed.len() + deleted.len() >= count {
            next = k.0;
            break;
        }
        attempts -= 1;
        let fields = s
            .range(k.0, k.0)
            .find(|(x, _)| **x == k)
            .map(|(_, v)| v.to_vec());
        let Some(fields) = fields else {
            lg.pel.remove(&k);
            deleted.push(k.0);
            continue;
        };
        let Some(p) = lg.pel.get_mut(&k) else {
            continue;
        };
        if now.saturating_sub(p.time) < min_idle {
            continue;
        }
        p.claim(consumer, now, None, justid);
        claimed.push((k.0, fields));
    }
    if !claimed.is_empty() && lg.touch(consumer, now, true) {
        e.notify(N::STREAM, "xgroup-createconsumer", a.get(1));
    }
    out.array(3);
    out.bulk(next.to_string().as_bytes());
    put_claimed(out, &claimed, justid);
    out.array(deleted.len());
    for id in deleted {
        out.bulk(id.to_string().as_bytes());
    }
    Ok(())
}
