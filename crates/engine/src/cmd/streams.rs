//! Streams: XADD with the id modes of SEMANTICS.md, ranges, trimming, XREAD (BLOCK).

use super::{blob, prepare_create, typed};
use crate::args::Args;
use crate::error::{CmdError, CmdResult};
use crate::{Block, Engine};
use bytes::Bytes;
use concord_crdt::stream::EntryKey;
use concord_crdt::{Blob, Kind, OpKind, Stream, StreamId};
use concord_resp::Out;

/// How XADD chooses and accepts ids (`--stream-id-mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StreamIdMode {
    /// `*` and `<ms>` only; the sequence number carries the instance id, so ids from
    /// different instances never collide.
    #[default]
    Strict,
    /// Like strict, and full `<ms>-<seq>` ids are accepted (they may collide).
    SemiStrict,
    /// Redis's own rules: any id above the top.
    Liberal,
}

impl StreamIdMode {
    /// Parses the setting's value.
    pub fn parse(s: &str) -> Option<StreamIdMode> {
        match s.to_ascii_lowercase().as_str() {
            "strict" => Some(StreamIdMode::Strict),
            "semi-strict" => Some(StreamIdMode::SemiStrict),
            "liberal" => Some(StreamIdMode::Liberal),
            _ => None,
        }
    }

    /// The setting's value.
    pub fn name(self) -> &'static str {
        match self {
            StreamIdMode::Strict => "strict",
            StreamIdMode::SemiStrict => "semi-strict",
            StreamIdMode::Liberal => "liberal",
        }
    }
}

fn invalid_id() -> CmdError {
    CmdError::msg("ERR Invalid stream ID specified as stream command argument")
}

/// The visible stream of `key`.
fn get_stream<'e>(e: &'e mut Engine, key: &[u8]) -> Result<Option<&'e Stream>, CmdError> {
    Ok(typed(e, key, Kind::Stream)?.and_then(|ks| ks.stream.as_deref()))
}

/// An unsigned number as Redis's string2ull reads it.
fn ull(b: &[u8]) -> Option<u64> {
    if let Some(v) = concord_crdt::num::parse_i64(b) {
        return u64::try_from(v).ok();
    }
    let s = std::str::from_utf8(b).ok()?;
    let s = s.trim_start();
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses `ms[-seq]`; a missing sequence is `missing_seq`. With `special`, `-` and `+`
/// are the smallest and largest ids.
fn parse_id(b: &[u8], missing_seq: u64, special: bool) -> Result<StreamId, CmdError> {
    if special && b == b"-" {
        return Ok(StreamId::new(0, 0));
    }
    if special && b == b"+" {
        return Ok(StreamId::MAX);
    }
    match b.iter().position(|&c| c == b'-') {
        None => Ok(StreamId::new(ull(b).ok_or_else(invalid_id)?, missing_seq)),
        Some(i) => Ok(StreamId::new(
            ull(&b[..i]).ok_or_else(invalid_id)?,
            ull(&b[i + 1..]).ok_or_else(invalid_id)?,
        )),
    }
}

/// A range bound: inclusive, or exclusive with `(`.
fn bound(b: &[u8], missing_seq: u64) -> Result<(StreamId, bool), CmdError> {
    match b.strip_prefix(b"(") {
        Some(rest) => Ok((parse_id(rest, missing_seq, false)?, true)),
        None => Ok((parse_id(b, missing_seq, true)?, false)),
    }
}

fn put_entry(out: &mut Out, id: StreamId, fields: &[Blob]) {
    out.array(2);
    out.bulk(id.to_string().as_bytes());
    out.array(fields.len());
    for f in fields {
        out.bulk(f);
    }
}

/// A trimming request: MAXLEN or MINID, exact or approximate, with a LIMIT.
#[derive(Clone, Copy, Debug)]
enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

#[derive(Clone, Copy, Debug)]
struct TrimSpec {
    trim: Trim,
    approx: bool,
    limit: Option<u64>,
}

/// Parses trimming options starting at `i`; returns the spec and the next position. For
/// XADD it stops at the first argument that is not an option (the id).
fn trim_args(
    a: &Args,
    mut i: usize,
    xadd: bool,
) -> Result<(Option<TrimSpec>, bool, usize), CmdError> {
    let mut spec: Option<TrimSpec> = None;
    let mut nomkstream = false;
    let mut limit: Option<u64> = None;
    while i < a.len() {
        let more = a.len() - i - 1;
        if xadd && a.is(i, "nomkstream") {
            nomkstream = true;
            i += 1;
        } else if (a.is(i, "maxlen") || a.is(i, "minid")) && more >= 1 {
            let maxlen = a.is(i, "maxlen");
            let mut j = i + 1;
            let mut approx = false;
            if (a.get(j) == b"~" || a.get(j) == b"=") && more >= 2 {
                approx = a.get(j) == b"~";
                j += 1;
            }
            if spec.is_some_and(|s| matches!(s.trim, Trim::MaxLen(_)) != maxlen) {
                return Err(CmdError::msg(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            let trim = if maxlen {
                let n = a.int(j)?;
                if n < 0 {
                    return Err(CmdError::msg("ERR The MAXLEN argument must be >= 0."));
                }
                Trim::MaxLen(n as u64)
            } else {
                Trim::MinId(parse_id(a.get(j), 0, false)?)
            };
            spec = Some(TrimSpec {
                trim,
                approx,
                limit: None,
            });
            i = j + 1;
        } else if a.is(i, "limit") && more >= 1 {
            let n = a.int(i + 1)?;
            if n < 0 {
                return Err(CmdError::msg("ERR The LIMIT argument must be >= 0."));
            }
            limit = Some(n as u64);
            i += 2;
        } else if xadd {
            break;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if let Some(s) = &mut spec {
        if limit.is_some() && !s.approx {
            return Err(CmdError::msg(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
        s.limit = limit;
    } else if limit.is_some() {
        return Err(CmdError::Syntax);
    }
    Ok((spec, nomkstream, i))
}

/// Entries per internal node in Redis (stream-node-max-entries): approximate trimming
/// removes whole blocks of this many.
const NODE: usize = 100;

/// The entries a trim removes from the head of `s`. Approximate trimming removes whole
/// blocks as Redis removes whole internal nodes: blocks of [`NODE`] entries from the head,
/// the last one partial, each only when all of it may go; at most LIMIT entries (by
/// default 100 nodes' worth).
fn trimmed(s: &Stream, spec: TrimSpec) -> Vec<EntryKey> {
    let len = s.len();
    let keys: Vec<EntryKey> = s.iter().map(|(k, _)| *k).collect();
    let may_go = |upto: usize| -> bool {
        match spec.trim {
            Trim::MaxLen(n) => (len - upto) as u64 >= n,
            Trim::MinId(min) => upto == 0 || keys[upto - 1].0 < min,
        }
    };
    let mut n = 0;
    if spec.approx {
        let limit = match spec.limit {
            None => NODE * 100,
            Some(0) => usize::MAX,
            Some(l) => usize::try_from(l).unwrap_or(usize::MAX),
        };
        while n < len {
            let next = (n + NODE).min(len);
            if next > limit || !may_go(next) {
                break;
            }
            n = next;
        }
    } else {
        while n < len && may_go(n + 1) {
            n += 1;
        }
    }
    keys[..n].to_vec()
}

/// The id an XADD gets: `Err` with Redis's texts when it is not acceptable.
fn new_id(
    mode: StreamIdMode,
    arg: &[u8],
    top: StreamId,
    now: u64,
    me: u16,
) -> Result<StreamId, CmdError> {
    let too_small = || {
        CmdError::msg(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item",
        )
    };
    // In the instance-tagged modes a sequence number is k * 2^16 + the instance id.
    let tagged_after = |ms: u64| -> Result<StreamId, CmdError> {
        if ms > top.ms {
            return Ok(StreamId::new(ms, u64::from(me)));
        }
        if ms < top.ms {
            return Err(too_small());
        }
        let k = top.seq >> 16;
        let mut seq = (k << 16) | u64::from(me);
        if seq <= top.seq {
            seq = (k + 1)
                .checked_mul(1 << 16)
                .map(|s| s | u64::from(me))
                .ok_or_else(too_small)?;
        }
        Ok(StreamId::new(ms, seq))
    };
    let tagged = mode != StreamIdMode::Liberal;
    if arg == b"*" {
        let ms = now.max(top.ms);
        if tagged {
            return tagged_after(ms);
        }
        return if ms > top.ms {
            Ok(StreamId::new(ms, 0))
        } else {
            top.next().ok_or_else(too_small)
        };
    }
    let (ms_part, seq_part) = match arg.iter().position(|&c| c == b'-') {
        None => (arg, None),
        Some(i) => (&arg[..i], Some(&arg[i + 1..])),
    };
    let ms = ull(ms_part).ok_or_else(invalid_id)?;
    let id = match seq_part {
        Some(b"*") | None if tagged => return tagged_after(ms),
        Some(b"*") => {
            if ms > top.ms {
                StreamId::new(ms, 0)
            } else if ms == top.ms {
                top.next().filter(|n| n.ms == ms).ok_or_else(too_small)?
            } else {
                return Err(too_small());
            }
        }
        None => StreamId::new(ms, 0),
        Some(seq) => {
            let seq = ull(seq).ok_or_else(invalid_id)?;
            if mode == StreamIdMode::Strict {
                return Err(CmdError::msg(
                    "ERR stream-id-mode strict takes only * or <ms> IDs (the sequence number carries the instance id)",
                ));
            }
            StreamId::new(ms, seq)
        }
    };
    if id == StreamId::default() {
        return Err(CmdError::msg(
            "ERR The ID specified in XADD must be greater than 0-0",
        ));
    }
    if id <= top {
        return Err(too_small());
    }
    Ok(id)
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value ...
pub fn xadd(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let (spec, nomkstream, i) = trim_args(&a, 2, true)?;
    let fields = a.len().saturating_sub(i + 1);
    if i >= a.len() || fields == 0 || !fields.is_multiple_of(2) {
        return Err(CmdError::Arity("xadd".into()));
    }
    let id_arg = a.get(i);
    // A malformed id is refused before anything else, as Redis does.
    if id_arg != b"*" {
        let seq = id_arg
            .iter()
            .position(|&c| c == b'-')
            .map(|p| &id_arg[p + 1..]);
        if seq != Some(b"*") {
            let id = parse_id(id_arg, 0, false)?;
            if id == StreamId::default() && e.stream_ids == StreamIdMode::Liberal {
                return Err(CmdError::msg(
                    "ERR The ID specified in XADD must be greater than 0-0",
                ));
            }
        }
    }
    let key = a.get(1);
    let (top, exists) = match get_stream(e, key)? {
        Some(s) => (s.top(), true),
        None => (StreamId::default(), false),
    };
    if !exists && nomkstream {
        out.null();
        return Ok(());
    }
    if top == StreamId::MAX {
        return Err(CmdError::msg(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let id = new_id(e.stream_ids, id_arg, top, e.now(), e.origin().id)?;
    if !exists {
        prepare_create(e, key);
    }
    let values: Vec<Blob> = a.from(i + 1).iter().map(|v| blob(v)).collect();
    e.emit(key, OpKind::XAdd { id, fields: values });
    if let Some(spec) = spec {
        trim(e, key, spec);
    }
    out.bulk(id.to_string().as_bytes());
    Ok(())
}

/// Applies a trim; returns how many entries it removed.
fn trim(e: &mut Engine, key: &[u8], spec: TrimSpec) -> usize {
    let Ok(Some(s)) = get_stream(e, key) else {
        return 0;
    };
    let gone = trimmed(s, spec);
    let n = gone.len();
    if n > 0 {
        e.emit(key, OpKind::XTrim(gone));
    }
    n
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
pub fn xtrim(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let (spec, _, _) = trim_args(&a, 2, false)?;
    let Some(spec) = spec else {
        return Err(CmdError::Syntax);
    };
    if get_stream(e, a.get(1))?.is_none() {
        out.int(0);
        return Ok(());
    }
    let n = trim(e, a.get(1), spec);
    out.int(n as i64);
    Ok(())
}

/// XLEN key
pub fn xlen(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    out.int(get_stream(e, a.get(1))?.map_or(0, Stream::len) as i64);
    Ok(())
}

/// XDEL key id [id ...]
pub fn xdel(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let key = a.get(1);
    // Redis looks at the ids only when the stream exists.
    if get_stream(e, key)?.is_none() {
        out.int(0);
        return Ok(());
    }
    let ids = a
        .from(2)
        .iter()
        .map(|b| parse_id(b, 0, false))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(s) = get_stream(e, key)? else {
        out.int(0);
        return Ok(());
    };
    let mut gone: Vec<EntryKey> = Vec::new();
    for id in ids {
        for (k, _) in s.range(id, id) {
            if !gone.contains(k) {
                gone.push(*k);
            }
        }
    }
    let n = gone.len();
    if n > 0 {
        e.emit(key, OpKind::XDel(gone));
    }
    out.int(n as i64);
    Ok(())
}

/// XRANGE key start end [COUNT n] / XREVRANGE key end start [COUNT n]
pub fn xrange(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let rev = a.is(0, "xrevrange");
    let (start_arg, end_arg) = if rev {
        (a.get(3), a.get(2))
    } else {
        (a.get(2), a.get(3))
    };
    let (mut start, sx) = bound(start_arg, 0)?;
    if sx {
        start = start
            .next()
            .ok_or_else(|| CmdError::msg("ERR invalid start ID for the interval"))?;
    }
    let (mut end, ex) = bound(end_arg, u64::MAX)?;
    if ex {
        end = end
            .prev()
            .ok_or_else(|| CmdError::msg("ERR invalid end ID for the interval"))?;
    }
    let mut count: Option<usize> = None;
    let mut i = 4;
    while i < a.len() {
        if a.is(i, "count") && i + 1 < a.len() {
            count = Some(a.int(i + 1)?.max(0) as usize);
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let Some(s) = get_stream(e, a.get(1))? else {
        out.array(0);
        return Ok(());
    };
    if count == Some(0) {
        out.null_array();
        return Ok(());
    }
    let limit = count.unwrap_or(usize::MAX);
    let items: Vec<(StreamId, &[Blob])> = if rev {
        s.range(start, end)
            .rev()
            .take(limit)
            .map(|(k, v)| (k.0, v))
            .collect()
    } else {
        s.range(start, end)
            .take(limit)
            .map(|(k, v)| (k.0, v))
            .collect()
    };
    out.array(items.len());
    for (id, f) in items {
        put_entry(out, id, f);
    }
    Ok(())
}

/// Entries read from one stream.
type Entries = Vec<(StreamId, Vec<Blob>)>;

/// The options of XREAD and XREADGROUP.
struct ReadArgs<'a> {
    count: usize,
    block: Option<u64>,
    noack: bool,
    group: Option<(&'a [u8], &'a [u8])>,
    /// Where the keys start.
    streams: usize,
    /// How many streams.
    n: usize,
}

fn read_args<'a>(a: &Args<'a>, grouped: bool) -> Result<ReadArgs<'a>, CmdError> {
    let mut r = ReadArgs {
        count: 0,
        block: None,
        noack: false,
        group: None,
        streams: 0,
        n: 0,
    };
    let mut i = 1;
    while i < a.len() {
        let more = a.len() - i - 1;
        if a.is(i, "block") && more > 0 {
            let t = concord_crdt::num::parse_i64(a.get(i + 1))
                .ok_or_else(|| CmdError::msg("ERR timeout is not an integer or out of range"))?;
            if t < 0 {
                return Err(CmdError::msg("ERR timeout is negative"));
            }
            r.block = Some(t as u64);
            i += 2;
        } else if a.is(i, "count") && more > 0 {
            r.count = a.int(i + 1)?.max(0) as usize;
            i += 2;
        } else if grouped && a.is(i, "group") && more >= 2 {
            r.group = Some((a.get(i + 1), a.get(i + 2)));
            i += 3;
        } else if grouped && a.is(i, "noack") {
            r.noack = true;
            i += 1;
        } else if a.is(i, "streams") && more > 0 {
            r.streams = i + 1;
            break;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if grouped && r.group.is_none() {
        return Err(CmdError::msg("ERR Missing GROUP option for XREADGROUP"));
    }
    if r.streams == 0 {
        return Err(CmdError::Syntax);
    }
    let n = a.len() - r.streams;
    if !n.is_multiple_of(2) {
        return Err(CmdError::msg(format!(
            "ERR Unbalanced {} list of streams: for each stream key an ID or '$' must be specified.",
            if grouped { "XREADGROUP" } else { "XREAD" }
        )));
    }
    r.n = n / 2;
    Ok(r)
}

/// XREAD [COUNT n] [BLOCK ms] STREAMS key [key ...] id [id ...]
pub fn xread(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let ReadArgs {
        count,
        block,
        streams,
        n,
        ..
    } = read_args(&a, false)?;
    let mut after: Vec<StreamId> = Vec::with_capacity(n);
    for j in 0..n {
        let key = a.get(streams + j);
        let arg = a.get(streams + n + j);
        let top = get_stream(e, key)?.map(|s| s.top());
        let id = if arg == b"$" {
            top.unwrap_or_default()
        } else if arg == b">" {
            return Err(CmdError::msg(
                "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
            ));
        } else {
            parse_id(arg, 0, false)?
        };
        after.push(id);
    }
    let mut found: Vec<(usize, Entries)> = Vec::new();
    for (j, id) in after.iter().enumerate() {
        let Some(s) = get_stream(e, a.get(streams + j))? else {
            continue;
        };
        let Some(from) = id.next() else { continue };
        let limit = if count == 0 { usize::MAX } else { count };
        let items: Entries = s
            .range(from, StreamId::MAX)
            .take(limit)
            .map(|(k, v)| (k.0, v.to_vec()))
            .collect();
        if !items.is_empty() {
            found.push((j, items));
        }
    }
    if found.is_empty() {
        out.null_array();
        if let Some(t) = block {
            // Wait; a retry reads after the ids resolved now ("$" included).
            let mut retry: Vec<Bytes> = a.0[..streams + n]
                .iter()
                .map(|x| Bytes::copy_from_slice(x))
                .collect();
            retry.extend(after.iter().map(|id| Bytes::from(id.to_string())));
            e.block = Some(Block {
                keys: (0..n).map(|j| blob(a.get(streams + j))).collect(),
                timeout_ms: t,
                retry: Some(retry),
            });
        }
        return Ok(());
    }
    let found: Vec<(usize, GroupRead)> = found
        .into_iter()
        .map(|(j, items)| (j, items.into_iter().map(|(id, f)| (id, Some(f))).collect()))
        .collect();
    put_reads(out, &a, streams, found);
    Ok(())
}

/// XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]
pub fn xsetid(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let id = parse_id(a.get(2), 0, false)?;
    let mut added: Option<u64> = None;
    let mut max_deleted: Option<StreamId> = None;
    let mut i = 3;
    while i < a.len() {
        let more = a.len() - 1 - i;
        if a.is(i, "entriesadded") && more > 0 {
            let n = a.int(i + 1)?;
            if n < 0 {
                return Err(CmdError::msg("ERR entries_added must be positive"));
            }
            added = Some(n as u64);
            i += 2;
        } else if a.is(i, "maxdeletedid") && more > 0 {
            let m = parse_id(a.get(i + 1), 0, false)?;
            if id < m {
                return Err(CmdError::msg(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            max_deleted = Some(m);
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let key = a.get(1);
    let Some(s) = get_stream(e, key)? else {
        return Err(CmdError::NoSuchKey);
    };
    if let Some((k, _)) = s.last() {
        if id < k.0 {
            return Err(CmdError::msg(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if added.is_some_and(|n| (s.len() as u64) > n) {
            return Err(CmdError::msg(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    e.emit(
        key,
        OpKind::XSetId {
            id,
            added,
            max_deleted: max_deleted.filter(|m| *m != StreamId::default()),
        },
    );
    out.ok();
    Ok(())
}

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
fn put_read_lag(out: &mut Out, s: &Stream, g: &concord_crdt::stream::Group) {
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

/// One consumer of a group on this instance.
#[derive(Clone, Debug, Default)]
pub(crate) struct Consumer {
    /// Last time it was seen (any group command naming it).
    seen: u64,
    /// Last time it read or claimed something.
    active: Option<u64>,
}

/// A pending entry: delivered to a consumer on this instance and not acknowledged.
#[derive(Clone, Debug)]
pub(crate) struct Pending {
    consumer: Blob,
    time: u64,
    count: u64,
}

/// The per-instance part of a group (SEMANTICS.md: consumers and pending lists are per
/// instance).
#[derive(Clone, Debug, Default)]
pub(crate) struct LocalGroup {
    consumers: std::collections::BTreeMap<Blob, Consumer>,
    pel: std::collections::BTreeMap<EntryKey, Pending>,
}

impl Pending {
    /// Hands the entry to `consumer`: a new delivery time, and the delivery count set
    /// (RETRYCOUNT) or raised (unless JUSTID).
    fn claim(&mut self, consumer: &[u8], time: u64, retry: Option<u64>, justid: bool) {
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
    fn touch(&mut self, name: &[u8], now: u64, active: bool) -> bool {
        let fresh = !self.consumers.contains_key(name);
        let c = self.consumers.entry(name.into()).or_default();
        c.seen = now;
        if active {
            c.active = Some(now);
        }
        fresh
    }

    fn pending_of(&self, consumer: &[u8]) -> usize {
        self.pel
            .values()
            .filter(|p| &*p.consumer == consumer)
            .count()
    }
}

fn no_group(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::msg(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

/// Whether `group` exists on the stream at `key` (WRONGTYPE for another type).
fn has_group(e: &mut Engine, key: &[u8], group: &[u8]) -> Result<bool, CmdError> {
    Ok(get_stream(e, key)?.is_some_and(|s| s.groups.contains_key(group)))
}

/// The local part of a group, dropped when the replicated group is gone.
fn local<'e>(e: &'e mut Engine, key: &[u8], group: &[u8]) -> &'e mut LocalGroup {
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
                out.int(i64::from(fresh));
            } else {
                let n = lg.pending_of(consumer);
                lg.pel.retain(|_, p| &*p.consumer != consumer);
                lg.consumers.remove(consumer);
                out.int(n as i64);
            }
            Ok(())
        }
        _ => Err(wrong()),
    }
}

/// Entries a read returns from one stream (`None`: deleted since a group delivered it).
type GroupRead = Vec<(StreamId, Option<Vec<Blob>>)>;

/// Writes XREAD/XREADGROUP's reply: per stream (by its position among the keys) its
/// entries, as an array of pairs (RESP2) or a map (RESP3).
fn put_reads(out: &mut Out, a: &Args, streams: usize, reads: Vec<(usize, GroupRead)>) {
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
                lg.touch(consumer, now, true);
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
                lg.touch(consumer, now, true);
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
fn claim_head(e: &mut Engine, a: &Args, cmd: &str) -> Result<u64, CmdError> {
    let (key, group) = (a.get(1), a.get(2));
    if !has_group(e, key, group)? {
        return Err(no_group(key, group));
    }
    let idle = concord_crdt::num::parse_i64(a.get(4))
        .ok_or_else(|| CmdError::msg(format!("ERR Invalid min-idle-time argument for {cmd}")))?;
    Ok(idle.max(0) as u64)
}

/// Writes claimed entries, or only their ids (JUSTID).
fn put_claimed(out: &mut Out, claimed: &Entries, justid: bool) {
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
    if !claimed.is_empty() {
        lg.touch(consumer, now, true);
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
    if !claimed.is_empty() {
        lg.touch(consumer, now, true);
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
