//! XINFO: a stream, its groups and their consumers.

use super::*;

/// XINFO STREAM key [FULL [COUNT n]] | GROUPS key | CONSUMERS key group | HELP
pub fn xinfo(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let sub = a.upper(1);
    match sub.as_str() {
        "HELP" => {
            out.help(
                "XINFO",
                &[
                    "CONSUMERS <key> <groupname>",
                    "    Show consumers of <groupname>.",
                    "GROUPS <key>",
                    "    Show the stream consumer groups.",
                    "STREAM <key> [FULL [COUNT <count>]",
                    "    Show information about the stream.",
                ],
            );
            Ok(())
        }
        "STREAM" if a.len() >= 3 => {
            let full = a.len() > 3 && a.is(3, "full");
            let mut count = 10usize;
            if full {
                let mut i = 4;
                while i < a.len() {
                    if a.is(i, "count") && i + 1 < a.len() {
                        let c = a.int(i + 1)?;
                        count = if c <= 0 { usize::MAX } else { c as usize };
                        i += 2;
                    } else {
                        return Err(CmdError::Syntax);
                    }
                }
            } else if a.len() > 3 {
                return Err(CmdError::Syntax);
            }
            let key = a.get(2);
            let Some(s) = get_stream(e, key)?.cloned() else {
                return Err(CmdError::NoSuchKey);
            };
            let s = &s;
            let nodes = s.len().div_ceil(NODE);
            let pairs = if full { 9 } else { 10 };
            if out.resp3 {
                out.map(pairs);
            } else {
                out.array(pairs * 2);
            }
            out.bulk(b"length");
            out.int(s.len() as i64);
            out.bulk(b"radix-tree-keys");
            out.int(nodes as i64);
            out.bulk(b"radix-tree-nodes");
            out.int((nodes + 1) as i64);
            out.bulk(b"last-generated-id");
            out.bulk(s.top().to_string().as_bytes());
            out.bulk(b"max-deleted-entry-id");
            out.bulk(s.max_deleted.to_string().as_bytes());
            out.bulk(b"entries-added");
            out.int(s.entries_added() as i64);
            out.bulk(b"recorded-first-entry-id");
            out.bulk(
                s.first()
                    .map_or(StreamId::default(), |(k, _)| k.0)
                    .to_string()
                    .as_bytes(),
            );
            if full {
                out.bulk(b"entries");
                let items: Vec<_> = s.iter().take(count).collect();
                out.array(items.len());
                for (k, f) in items {
                    put_entry(out, k.0, f);
                }
                out.bulk(b"groups");
                out.array(s.groups.len());
                for (name, g) in &s.groups {
                    let lg = local(e, key, name).clone();
                    let map = |out: &mut Out, n: usize| {
                        if out.resp3 {
                            out.map(n);
                        } else {
                            out.array(n * 2);
                        }
                    };
                    map(out, 7);
                    out.bulk(b"name");
                    out.bulk(name);
                    out.bulk(b"last-delivered-id");
                    out.bulk(g.last_delivered().to_string().as_bytes());
                    put_read_lag(out, s, g);
                    out.bulk(b"pel-count");
                    out.int(lg.pel.len() as i64);
                    out.bulk(b"pending");
                    let pel: Vec<_> = lg.pel.iter().take(count).collect();
                    out.array(pel.len());
                    for (k, p) in pel {
                        out.array(4);
                        out.bulk(k.0.to_string().as_bytes());
                        out.bulk(&p.consumer);
                        out.int(p.time as i64);
                        out.int(p.count as i64);
                    }
                    out.bulk(b"consumers");
                    out.array(lg.consumers.len());
                    for (cname, c) in &lg.consumers {
                        map(out, 5);
                        out.bulk(b"name");
                        out.bulk(cname);
                        out.bulk(b"seen-time");
                        out.int(c.seen as i64);
                        out.bulk(b"active-time");
                        out.int(c.active.map_or(-1, |t| t as i64));
                        out.bulk(b"pel-count");
                        out.int(lg.pending_of(cname) as i64);
                        out.bulk(b"pending");
                        let mine: Vec<_> = lg
                            .pel
                            .iter()
                            .filter(|(_, p)| p.consumer == *cname)
                            .take(count)
                            .collect();
                        out.array(mine.len());
                        for (k, p) in mine {
                            out.array(3);
                            out.bulk(k.0.to_string().as_bytes());
                            out.int(p.time as i64);
                            out.int(p.count as i64);
                        }
                    }
                }
            } else {
                out.bulk(b"groups");
                out.int(s.groups.len() as i64);
                for (name, entry) in [(&b"first-entry"[..], s.first()), (b"last-entry", s.last())] {
                    out.bulk(name);
                    match entry {
                        Some((k, f)) => put_entry(out, k.0, f),
                        None => out.null(),
                    }
                }
            }
            Ok(())
        }
        "GROUPS" if a.len() == 3 => {
            let key = a.get(2);
            let Some(st) = get_stream(e, key)?.cloned() else {
                return Err(CmdError::NoSuchKey);
            };
            out.array(st.groups.len());
            for (name, g) in &st.groups {
                let lg = local(e, key, name);
                let pending = lg.pel.len();
                let consumers = lg.consumers.len();
                if out.resp3 {
                    out.map(6);
                } else {
                    out.array(12);
                }
                out.bulk(b"name");
                out.bulk(name);
                out.bulk(b"consumers");
                out.int(consumers as i64);
                out.bulk(b"pending");
                out.int(pending as i64);
                out.bulk(b"last-delivered-id");
                out.bulk(g.last_delivered().to_string().as_bytes());
                put_read_lag(out, &st, g);
            }
            Ok(())
        }
        "CONSUMERS" if a.len() == 4 => {
            let (key, group) = (a.get(2), a.get(3));
            if get_stream(e, key)?.is_none() {
                return Err(CmdError::NoSuchKey);
            }
            if !has_group(e, key, group)? {
                return Err(CmdError::msg(format!(
                    "NOGROUP No such consumer group '{}' for key name '{}'",
                    String::from_utf8_lossy(group),
                    String::from_utf8_lossy(key)
                )));
            }
            let now = e.now();
            let lg = local(e, key, group).clone();
            out.array(lg.consumers.len());
            for (name, c) in &lg.consumers {
                if out.resp3 {
                    out.map(4);
                } else {
                    out.array(8);
                }
                out.bulk(b"name");
                out.bulk(name);
                out.bulk(b"pending");
                out.int(lg.pending_of(name) as i64);
                out.bulk(b"idle");
                out.int(now.saturating_sub(c.seen) as i64);
                out.bulk(b"inactive");
                out.int(c.active.map_or(-1, |t| now.saturating_sub(t) as i64));
            }
            Ok(())
        }
        _ => Err(CmdError::msg(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try XINFO HELP.",
            String::from_utf8_lossy(a.get(1))
        ))),
    }
}

/// entries-read and lag of a group, as Redis's XINFO reports them.
pub(super) fn put_read_lag(out: &mut Out, s: &Stream, g: &concord_crdt::stream::Group) {
    out.bulk(b"entries-read");
    match g.read {
        Some(r) => out.int(r),
        None => out.null(),
    }
    out.bulk(b"lag");
    let last = g.last_delivered();
    let added = s.entries_added() as i64;
    let lag = match g.read {
        Some(r) if !s.tombstones_after(last) => Some(added - r),
        _ => s.distance_from_first(last).map(|d| added - d),
    };
    match lag {
        Some(l) => out.int(l),
        None => out.null(),
    }
}

/// The whole of the stream at `key` as the RDB keeps one (DUMP): its entries, ids and
/// counters, and each group with this instance's consumers and pending entries.
pub(crate) fn rdb_stream(
    e: &mut Engine,
    key: &[u8],
) -> Result<Option<concord_rdb::Stream>, CmdError> {
    let Some(s) = get_stream(e, key)?.cloned() else {
        return Ok(None);
    };
    let id = |i: StreamId| (i.ms, i.seq);
    let entries = s
        .iter()
        .map(|(k, f)| {
            let pairs = f
                .chunks(2)
                .map(|p| {
                    (
                        p[0].to_vec(),
                        p.get(1).map(|v| v.to_vec()).unwrap_or_default(),
                    )
                })
                .collect();
            (id(k.0), pairs)
        })
        .collect();
    let mut groups = Vec::new();
    for (name, g) in &s.groups {
        let lg = local(e, key, name).clone();
        groups.push(concord_rdb::Group {
            name: name.to_vec(),
            last_id: id(g.last_delivered()),
            entries_read: g.read.and_then(|r| u64::try_from(r).ok()),
            pending: lg
                .pel
                .iter()
                .map(|(k, p)| concord_rdb::Pending {
                    id: id(k.0),
                    delivery_ms: p.time,
                    deliveries: p.count,
                    consumer: p.consumer.to_vec(),
                })
                .collect(),
            consumers: lg
                .consumers
                .iter()
                .map(|(n, c)| concord_rdb::Consumer {
                    name: n.to_vec(),
                    seen_ms: c.seen,
                })
                .collect(),
        });
    }
    Ok(Some(concord_rdb::Stream {
        entries,
        last_id: id(s.top()),
        entries_added: Some(s.entries_added()),
        max_deleted: id(s.max_deleted),
        groups,
    }))
}
