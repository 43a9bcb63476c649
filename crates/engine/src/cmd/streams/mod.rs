//! Streams: XADD with the id modes of SEMANTICS.md, ranges, trimming, XREAD (BLOCK),
//! XSETID; consumer groups are in `groups`, XINFO in `info`.

use super::{blob, prepare_create, typed};
use crate::NotifyFlags as N;
use crate::args::Args;
use crate::error::{CmdError, CmdResult};
use crate::{Block, Engine};
use bytes::Bytes;
use concord_crdt::stream::EntryKey;
use concord_crdt::{Blob, Kind, OpKind, Stream, StreamId};
use concord_resp::Out;

mod groups;
mod info;
pub use groups::*;
pub use info::*;

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
            if id == StreamId::default() && e.stream_id_mode() == StreamIdMode::Liberal {
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
    let id = new_id(e.stream_id_mode(), id_arg, top, e.now(), e.origin().id)?;
    if !exists {
        prepare_create(e, key);
    }
    let values: Vec<Blob> = a.from(i + 1).iter().map(|v| blob(v)).collect();
    e.emit(key, OpKind::XAdd { id, fields: values });
    e.notify(N::STREAM, "xadd", key);
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
        e.notify(N::STREAM, "xtrim", key);
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
        e.notify(N::STREAM, "xdel", key);
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
    e.notify(N::STREAM, "xsetid", key);
    out.ok();
    Ok(())
}
