//! Lists: a sequence CRDT of byte strings; pushes, pops, indexes and the blocking pops.
//!
//! Every handler here is non-blocking. A blocking command that finds nothing writes the
//! reply of a timeout and records [`Block`] on the engine; the connection layer then
//! either discards that reply and waits (outside a transaction) or sends it as it is.

use super::cfloat::{self, CFloat, CType};
use super::{blob, mpop_args, prepare_create, typed};
use crate::NotifyFlags as N;
use crate::args::Args;
use crate::error::{CmdError, CmdResult};
use crate::{Block, Engine};
use concord_crdt::list::Exhausted;
use concord_crdt::{Content, Kind, List, ListValues, OpKind, Pos, SmallBlob};
use concord_resp::Out;

/// The visible list of `key`.
pub(crate) fn get_list<'e>(e: &'e mut Engine, key: &[u8]) -> Result<Option<&'e List>, CmdError> {
    Ok(typed(e, key, Kind::List)?.and_then(|ks| ks.list.as_deref()))
}

fn exhausted(_: Exhausted) -> CmdError {
    CmdError::msg(Exhausted.to_string())
}

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Left,
    Right,
}

fn end_arg(a: &Args, i: usize) -> Result<End, CmdError> {
    if a.is(i, "left") {
        Ok(End::Left)
    } else if a.is(i, "right") {
        Ok(End::Right)
    } else {
        Err(CmdError::Syntax)
    }
}

/// Where an insert goes: before the element at an index, or after the last one.
#[derive(Clone, Copy)]
enum At {
    Index(usize),
    Tail,
}

/// Inserts `values` (in list order) at `at`; returns the new length. Looks the key up
/// once: pushes are the hot path of queues.
fn insert_at(e: &mut Engine, key: &[u8], at: At, values: ListValues) -> Result<usize, CmdError> {
    let (prefix, digit, len) = match get_list(e, key)? {
        Some(l) => {
            let i = match at {
                At::Index(i) => i,
                At::Tail => l.len(),
            };
            let (p, d) = l.place(i).map_err(exhausted)?;
            (p, d, l.len())
        }
        None => {
            let (p, d) = List::default().place(0).map_err(exhausted)?;
            (p, d, 0)
        }
    };
    if len == 0 {
        prepare_create(e, key);
    }
    let n = values.len();
    e.emit(
        key,
        OpKind::ListInsert {
            prefix: prefix.into(),
            digit,
            values,
        },
    );
    Ok(len + n)
}

/// The event of a push at `end`.
fn push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

/// Announces a pop at `end` of `key`, and its deletion if that emptied it.
fn popped_event(e: &mut Engine, key: &[u8], end: End) {
    let name = match end {
        End::Left => "lpop",
        End::Right => "rpop",
    };
    e.notify_removal(N::LIST, name, key);
}

/// Pushes `values` at one end, each in turn (LPUSH a b c leaves c first).
fn push(e: &mut Engine, key: &[u8], values: &[&[u8]], end: End) -> Result<usize, CmdError> {
    match end {
        End::Left => insert_at(
            e,
            key,
            At::Index(0),
            values.iter().rev().map(|v| SmallBlob::new(v)).collect(),
        ),
        End::Right => insert_at(
            e,
            key,
            At::Tail,
            values.iter().map(|v| SmallBlob::new(v)).collect(),
        ),
    }
}

/// Removes up to `count` elements from one end; returns them in pop order.
fn pop(e: &mut Engine, key: &[u8], count: usize, end: End) -> Result<ListValues, CmdError> {
    let Some(l) = get_list(e, key)? else {
        return Ok(ListValues::new());
    };
    let k = count.min(l.len());
    if k == 0 {
        return Ok(ListValues::new());
    }
    let (i, j) = match end {
        End::Left => (0, k),
        End::Right => (l.len() - k, l.len()),
    };
    let mut popped: ListValues = l.range(i, j).map(|x| x.value.clone()).collect();
    let range = (
        l.get(i).map(|x| x.pos.clone()),
        l.get(j - 1).map(|x| x.pos.clone()),
    );
    if end == End::Right {
        popped.reverse();
    }
    if let (Some(a), Some(b)) = range {
        e.emit(key, OpKind::ListRemove(vec![(a, b)]));
    }
    Ok(popped)
}

/// Removes the elements at the given ascending indexes, as runs of ranges.
fn remove_indexes(e: &mut Engine, key: &[u8], idx: &[usize]) -> Result<(), CmdError> {
    if idx.is_empty() {
        return Ok(());
    }
    let Some(l) = get_list(e, key)? else {
        return Ok(());
    };
    let pos = |i: usize| -> Pos { l.get(i).expect("index in range").pos.clone() };
    let mut ranges = Vec::new();
    let mut start = idx[0];
    let mut prev = idx[0];
    for &i in &idx[1..] {
        if i != prev + 1 {
            ranges.push((pos(start), pos(prev)));
            start = i;
        }
        prev = i;
    }
    ranges.push((pos(start), pos(prev)));
    e.emit(key, OpKind::ListRemove(ranges));
    Ok(())
}

/// LPUSH key element [element ...] / RPUSH
pub fn lpush(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let end = if a.is(0, "lpush") {
        End::Left
    } else {
        End::Right
    };
    let n = push(e, a.get(1), a.from(2), end)?;
    e.notify(N::LIST, push_event(end), a.get(1));
    out.int(n as i64);
    Ok(())
}

/// LPUSHX key element [element ...] / RPUSHX
pub fn lpushx(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let end = if a.is(0, "lpushx") {
        End::Left
    } else {
        End::Right
    };
    if get_list(e, a.get(1))?.is_none() {
        out.int(0);
        return Ok(());
    }
    let n = push(e, a.get(1), a.from(2), end)?;
    e.notify(N::LIST, push_event(end), a.get(1));
    out.int(n as i64);
    Ok(())
}

fn positive_count(a: &Args, i: usize) -> Result<usize, CmdError> {
    let c = a
        .int(i)
        .map_err(|_| CmdError::msg("ERR value is out of range, must be positive"))?;
    if c < 0 {
        return Err(CmdError::msg("ERR value is out of range, must be positive"));
    }
    Ok(c as usize)
}

/// LPOP key [count] / RPOP
pub fn lpop(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let end = if a.is(0, "lpop") {
        End::Left
    } else {
        End::Right
    };
    let count = match a.len() {
        2 => None,
        3 => Some(positive_count(&a, 2)?),
        _ => return Err(CmdError::Arity(a.name())),
    };
    let key = a.get(1);
    if get_list(e, key)?.is_none() {
        match count {
            None => out.null(),
            Some(_) => out.null_array(),
        }
        return Ok(());
    }
    let popped = pop(e, key, count.unwrap_or(1), end)?;
    if !popped.is_empty() {
        popped_event(e, key, end);
    }
    match count {
        None => match popped.first() {
            Some(v) => out.bulk(v),
            None => out.null(),
        },
        Some(_) => {
            out.array(popped.len());
            for v in &popped {
                out.bulk(v);
            }
        }
    }
    Ok(())
}

/// LLEN key
pub fn llen(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    out.int(get_list(e, a.get(1))?.map_or(0, List::len) as i64);
    Ok(())
}

/// Resolves a possibly negative index into `0..len`.
fn resolve(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 {
        index.checked_add(len as i64)?
    } else {
        index
    };
    (0..len as i64).contains(&i).then_some(i as usize)
}

/// Resolves LRANGE/LTRIM's inclusive indexes: an end still negative after counting
/// from the tail makes the range empty (unlike GETRANGE, which clamps it).
fn list_range(total: i64, start: i64, end: i64) -> Option<(i64, i64)> {
    let s = if start < 0 { start + total } else { start }.max(0);
    let e = if end < 0 { end + total } else { end }.min(total - 1);
    (s <= e).then_some((s, e))
}

/// LINDEX key index
pub fn lindex(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let Some(l) = get_list(e, a.get(1))? else {
        out.null();
        return Ok(());
    };
    let index = a.int(2)?;
    match resolve(index, l.len()).and_then(|i| l.get(i)) {
        Some(x) => out.bulk(&x.value),
        None => out.null(),
    }
    Ok(())
}

/// LRANGE key start stop
pub fn lrange(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let (start, stop) = (a.int(2)?, a.int(3)?);
    let Some(l) = get_list(e, a.get(1))? else {
        out.array(0);
        return Ok(());
    };
    match list_range(l.len() as i64, start, stop) {
        None => out.array(0),
        Some((s, t)) => {
            let (s, t) = (s as usize, t as usize + 1);
            out.array(t - s);
            for x in l.range(s, t) {
                out.bulk(&x.value);
            }
        }
    }
    Ok(())
}

/// LSET key index element
pub fn lset(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let key = a.get(1);
    let Some(l) = get_list(e, key)? else {
        return Err(CmdError::NoSuchKey);
    };
    let index = a.int(2)?;
    let Some(x) = resolve(index, l.len()).and_then(|i| l.get(i)) else {
        return Err(CmdError::msg("ERR index out of range"));
    };
    let pos = x.pos.clone();
    e.emit(key, OpKind::ListSet(pos, blob(a.get(3))));
    e.notify(N::LIST, "lset", key);
    out.ok();
    Ok(())
}

/// LINSERT key BEFORE|AFTER pivot element
pub fn linsert(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let after = if a.is(2, "after") {
        true
    } else if a.is(2, "before") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let key = a.get(1);
    let Some(l) = get_list(e, key)? else {
        out.int(0);
        return Ok(());
    };
    let Some(i) = l.iter().position(|x| &*x.value == a.get(3)) else {
        out.int(-1);
        return Ok(());
    };
    let n = insert_at(
        e,
        key,
        At::Index(i + usize::from(after)),
        ListValues::from_elem(SmallBlob::new(a.get(4)), 1),
    )?;
    e.notify(N::LIST, "linsert", key);
    out.int(n as i64);
    Ok(())
}

/// LREM key count element
pub fn lrem(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let count = a.int(2)?;
    let key = a.get(1);
    let Some(l) = get_list(e, key)? else {
        out.int(0);
        return Ok(());
    };
    let want = a.get(3);
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.unsigned_abs().min(usize::MAX as u64) as usize
    };
    let mut idx: Vec<usize> = if count < 0 {
        l.iter()
            .enumerate()
            .rev()
            .filter(|(_, x)| &*x.value == want)
            .take(limit)
            .map(|(i, _)| i)
            .collect()
    } else {
        l.iter()
            .enumerate()
            .filter(|(_, x)| &*x.value == want)
            .take(limit)
            .map(|(i, _)| i)
            .collect()
    };
    idx.sort_unstable();
    remove_indexes(e, key, &idx)?;
    if !idx.is_empty() {
        e.notify_removal(N::LIST, "lrem", key);
    }
    out.int(idx.len() as i64);
    Ok(())
}

/// LTRIM key start stop
pub fn ltrim(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let (start, stop) = (a.int(2)?, a.int(3)?);
    let key = a.get(1);
    let Some(l) = get_list(e, key)? else {
        out.ok();
        return Ok(());
    };
    let len = l.len();
    let idx: Vec<usize> = match list_range(len as i64, start, stop) {
        None => (0..len).collect(),
        Some((s, t)) => (0..s as usize).chain(t as usize + 1..len).collect(),
    };
    remove_indexes(e, key, &idx)?;
    e.notify_removal(N::LIST, "ltrim", key);
    out.ok();
    Ok(())
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
pub fn lpos(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: Option<usize> = None;
    let mut maxlen: usize = 0;
    let mut i = 3;
    while i < a.len() {
        if i + 1 >= a.len() {
            return Err(CmdError::Syntax);
        }
        if a.is(i, "rank") {
            rank = a.int(i + 1)?;
            if rank == i64::MIN {
                return Err(CmdError::msg(
                    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                ));
            }
            if rank == 0 {
                return Err(CmdError::msg(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if a.is(i, "count") {
            let c = a
                .int(i + 1)
                .map_err(|_| CmdError::msg("ERR COUNT can't be negative"))?;
            if c < 0 {
                return Err(CmdError::msg("ERR COUNT can't be negative"));
            }
            count = Some(c as usize);
        } else if a.is(i, "maxlen") {
            let m = a
                .int(i + 1)
                .map_err(|_| CmdError::msg("ERR MAXLEN can't be negative"))?;
            if m < 0 {
                return Err(CmdError::msg("ERR MAXLEN can't be negative"));
            }
            maxlen = m as usize;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let want = a.get(2);
    let mut found = Vec::new();
    if let Some(l) = get_list(e, a.get(1))? {
        let limit = match count {
            Some(0) => usize::MAX,
            Some(c) => c,
            None => 1,
        };
        let scan = if maxlen == 0 { l.len() } else { maxlen };
        let mut skip = rank.unsigned_abs() - 1;
        let mut visit = |(i, x): (usize, &concord_crdt::Elem)| {
            if &*x.value == want {
                if skip > 0 {
                    skip -= 1;
                } else {
                    found.push(i);
                }
            }
            found.len() < limit
        };
        if rank > 0 {
            for item in l.iter().enumerate().take(scan) {
                if !visit(item) {
                    break;
                }
            }
        } else {
            for item in l.iter().enumerate().rev().take(scan) {
                if !visit(item) {
                    break;
                }
            }
        }
    }
    match count {
        None => match found.first() {
            Some(&i) => out.int(i as i64),
            None => out.null(),
        },
        Some(_) => {
            out.array(found.len());
            for i in found {
                out.int(i as i64);
            }
        }
    }
    Ok(())
}

/// Pops one element of `src` at `from` and pushes it on `dst` at `to` (one group).
fn move_one(
    e: &mut Engine,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> Result<Option<SmallBlob>, CmdError> {
    if get_list(e, src)?.is_none() {
        return Ok(None);
    }
    // The destination's type is checked before anything moves.
    get_list(e, dst)?;
    let Some(v) = pop(e, src, 1, from)?.pop() else {
        return Ok(None);
    };
    push(e, dst, std::slice::from_ref(&&v[..]), to)?;
    // Redis announces the push, then the pop.
    e.notify(N::LIST, push_event(to), dst);
    popped_event(e, src, from);
    Ok(Some(v))
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
pub fn lmove(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let (from, to) = (end_arg(&a, 3)?, end_arg(&a, 4)?);
    match move_one(e, a.get(1), a.get(2), from, to)? {
        Some(v) => out.bulk(&v),
        None => out.null(),
    }
    Ok(())
}

/// RPOPLPUSH source destination
pub fn rpoplpush(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    match move_one(e, a.get(1), a.get(2), End::Right, End::Left)? {
        Some(v) => out.bulk(&v),
        None => out.null(),
    }
    Ok(())
}

/// Parses `numkeys key [key ...] LEFT|RIGHT [COUNT count]` from argument `at`.
fn lmpop_args<'a>(a: &Args<'a>, at: usize) -> Result<(&'a [&'a [u8]], End, usize), CmdError> {
    let (keys, right, count) = mpop_args(a, at, ["left", "right"])?;
    Ok((keys, if right { End::Right } else { End::Left }, count))
}

/// Pops from the first non-empty list of `keys`; writes `[key, [elements]]` or a null
/// array. Returns whether something was popped.
fn mpop(
    e: &mut Engine,
    keys: &[&[u8]],
    end: End,
    count: usize,
    out: &mut Out,
) -> Result<bool, CmdError> {
    for k in keys {
        if get_list(e, k)?.is_none() {
            continue;
        }
        let popped = pop(e, k, count, end)?;
        popped_event(e, k, end);
        out.array(2);
        out.bulk(k);
        out.array(popped.len());
        for v in &popped {
            out.bulk(v);
        }
        return Ok(true);
    }
    out.null_array();
    Ok(false)
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn lmpop(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let (keys, end, count) = lmpop_args(&a, 1)?;
    mpop(e, keys, end, count, out)?;
    Ok(())
}

/// The longest number Redis reads as a `long double` (MAX_LONG_DOUBLE_CHARS).
const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;

/// Parses a blocking timeout in seconds into milliseconds (0 = wait forever) as Redis 7.2
/// does: a `long double` without surrounding space, rounded up to whole milliseconds;
/// negative (after rounding) or past the largest deadline from `now_ms` refused.
pub(crate) fn timeout_arg(b: &[u8], now_ms: u64) -> Result<u64, CmdError> {
    let bad = || CmdError::msg("ERR timeout is not a float or out of range");
    let out_of_range = || CmdError::msg("ERR timeout is out of range");
    if b.is_empty() || b.len() >= MAX_LONG_DOUBLE_CHARS {
        return Err(bad());
    }
    let CFloat::Value(t) = cfloat::parse(b, false, CType::LongDouble) else {
        return Err(bad());
    };
    if t.is_nan() {
        return Err(bad());
    }
    let ms = t * 1000.0;
    if ms > i64::MAX as f64 {
        return Err(out_of_range());
    }
    // -0.0001 s rounds up to 0 ms: wait forever, as Redis does.
    let ms = ms.ceil();
    if ms < 0.0 {
        return Err(CmdError::msg("ERR timeout is negative"));
    }
    let ms = ms as u64;
    if ms > (i64::MAX as u64).saturating_sub(now_ms) {
        return Err(out_of_range());
    }
    Ok(ms)
}

/// Records that the command found nothing and waits on `keys` (0 ms: forever).
pub(crate) fn block_on(e: &mut Engine, keys: &[&[u8]], timeout_ms: u64) {
    e.block = Some(Block {
        keys: keys.iter().map(|k| blob(k)).collect(),
        timeout_ms,
        retry: None,
    });
}

/// BLPOP key [key ...] timeout / BRPOP
pub fn blpop(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let end = if a.is(0, "blpop") {
        End::Left
    } else {
        End::Right
    };
    let timeout = timeout_arg(a.get(a.len() - 1), e.now())?;
    let keys = &a.0[1..a.len() - 1];
    for k in keys {
        if get_list(e, k)?.is_none() {
            continue;
        }
        let popped = pop(e, k, 1, end)?;
        popped_event(e, k, end);
        out.array(2);
        out.bulk(k);
        out.bulk(&popped[0]);
        return Ok(());
    }
    out.null_array();
    block_on(e, keys, timeout);
    Ok(())
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
pub fn blmove(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let (from, to) = (end_arg(&a, 3)?, end_arg(&a, 4)?);
    let timeout = timeout_arg(a.get(5), e.now())?;
    match move_one(e, a.get(1), a.get(2), from, to)? {
        Some(v) => out.bulk(&v),
        None => {
            out.null();
            block_on(e, &a.0[1..2], timeout);
        }
    }
    Ok(())
}

/// BRPOPLPUSH source destination timeout
pub fn brpoplpush(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let timeout = timeout_arg(a.get(3), e.now())?;
    match move_one(e, a.get(1), a.get(2), End::Right, End::Left)? {
        Some(v) => out.bulk(&v),
        None => {
            out.null();
            block_on(e, &a.0[1..2], timeout);
        }
    }
    Ok(())
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn blmpop(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let timeout = timeout_arg(a.get(1), e.now())?;
    let (keys, end, count) = lmpop_args(&a, 2)?;
    if !mpop(e, keys, end, count, out)? {
        block_on(e, keys, timeout);
    }
    Ok(())
}

/// The content of a list, for RENAME, COPY and SORT ... STORE.
pub(crate) fn content(l: &List) -> Content {
    Content::List(l.iter().map(|x| blob(&x.value)).collect())
}
