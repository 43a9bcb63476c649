//! Sorted sets: add-wins members with counted scores, ranked by an order-statistic index.

use super::hashes::{Picks, rand_count};
use super::keys::{ScanOpts, parse_cursor, restore, scan_opts};
use super::named::Named;
use super::{blob, intercard_args, prepare_create, typed};
use crate::Engine;
use crate::NotifyFlags as N;
use crate::args::Args;
use crate::error::{CmdError, CmdResult};
use concord_crdt::num::parse_f64;
use concord_crdt::{Blob, Content, Kind, OpKind, ZSet};
use concord_glob::glob_match;
use concord_resp::Out;
use std::collections::HashMap;

/// The visible sorted set of `key`.
pub(crate) fn get_zset<'e>(e: &'e mut Engine, key: &[u8]) -> Result<Option<&'e ZSet>, CmdError> {
    Ok(typed(e, key, Kind::ZSet)?.and_then(|ks| ks.zset.as_deref()))
}

/// A score, as Redis parses one (`inf`, `-inf` allowed; NaN refused).
fn score_arg(b: &[u8]) -> Result<f64, CmdError> {
    parse_f64(b).ok_or(CmdError::NotFloat)
}

/// Writes a list of members, with scores when asked, in the protocol's shape.
pub(super) fn reply_items(out: &mut Out, items: &[(Blob, f64)], withscores: bool) {
    if withscores && out.resp3 {
        out.array(items.len());
        for (m, s) in items {
            out.array(2);
            out.bulk(m);
            out.double(*s);
        }
    } else {
        out.array(items.len() * if withscores { 2 } else { 1 });
        for (m, s) in items {
            out.bulk(m);
            if withscores {
                out.double(*s);
            }
        }
    }
}

/// What one ZADD knows of a member it names: its score as the command leaves it so
/// far, and the place of its write in the op.
#[derive(Clone, Copy)]
struct Mention {
    score: Option<f64>,
    write: Option<usize>,
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
pub fn zadd(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, false);
    let mut i = 2;
    while i < a.len() {
        // Compared in place: most ZADDs have no option, and the first score would
        // otherwise be copied and uppercased only to be found not to be one.
        let flag = match a.get(i) {
            w if w.eq_ignore_ascii_case(b"NX") => &mut nx,
            w if w.eq_ignore_ascii_case(b"XX") => &mut xx,
            w if w.eq_ignore_ascii_case(b"GT") => &mut gt,
            w if w.eq_ignore_ascii_case(b"LT") => &mut lt,
            w if w.eq_ignore_ascii_case(b"CH") => &mut ch,
            w if w.eq_ignore_ascii_case(b"INCR") => &mut incr,
            _ => break,
        };
        *flag = true;
        i += 1;
    }
    let elements = a.len() - i;
    if elements == 0 || !elements.is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    if nx && xx {
        return Err(CmdError::msg(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Err(CmdError::msg(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if incr && elements > 2 {
        return Err(CmdError::msg(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let mut pairs: Vec<(f64, &[u8])> = Vec::with_capacity(elements / 2);
    for p in a.from(i).chunks(2) {
        pairs.push((score_arg(p[0])?, p[1]));
    }
    let key = a.get(1);
    let z = get_zset(e, key)?;
    let exists = z.is_some();
    if z.is_none() && xx {
        if incr {
            out.null();
        } else {
            out.int(0);
        }
        return Ok(());
    }
    let mut named = Named::<Mention>::with_capacity(pairs.len());
    let (mut added, mut updated) = (0, 0);
    let mut writes: Vec<(Blob, f64)> = Vec::new();
    let mut incr_result: Option<f64> = None;
    for (score, m) in pairs {
        let entry = named.entry(m, || Mention {
            score: z.and_then(|z| z.score(m)),
            write: None,
        });
        let value = match entry.score {
            Some(cur) => {
                if nx {
                    continue;
                }
                let new = if incr { cur + score } else { score };
                if new.is_nan() {
                    return Err(CmdError::msg("ERR resulting score is not a number (NaN)"));
                }
                if (gt && new <= cur) || (lt && new >= cur) {
                    continue;
                }
                if new != cur {
                    updated += 1;
                }
                entry.score = Some(new);
                incr_result = Some(new);
                if incr { score } else { new }
            }
            None => {
                if xx {
                    continue;
                }
                if score.is_nan() {
                    return Err(CmdError::msg("ERR resulting score is not a number (NaN)"));
                }
                added += 1;
                entry.score = Some(score);
                incr_result = Some(score);
                score
            }
        };
        // A member named again replaces its write (the op holds each member once).
        match entry.write {
            Some(at) => writes[at].1 = value,
            None => {
                entry.write = Some(writes.len());
                writes.push((blob(m), value));
            }
        }
    }
    if !writes.is_empty() {
        if !exists {
            prepare_create(e, key);
        }
        if incr {
            let (m, delta) = writes.pop().expect("one pair");
            e.emit(key, OpKind::ZIncr(m, delta));
        } else {
            e.emit(key, OpKind::ZAdd(writes));
        }
        if added + updated > 0 {
            e.notify(N::ZSET, if incr { "zincr" } else { "zadd" }, key);
        }
    }
    if incr {
        match incr_result {
            Some(s) => out.double(s),
            None => out.null(),
        }
    } else {
        out.int(added + if ch { updated } else { 0 });
    }
    Ok(())
}

/// ZINCRBY key increment member
pub fn zincrby(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let delta = score_arg(a.get(2))?;
    let key = a.get(1);
    let cur = get_zset(e, key)?.and_then(|z| z.score(a.get(3)));
    let changed = cur.is_none_or(|c| c + delta != c);
    let cur = cur.unwrap_or(0.0);
    let new = cur + delta;
    if new.is_nan() {
        return Err(CmdError::msg("ERR resulting score is not a number (NaN)"));
    }
    prepare_create(e, key);
    e.emit(key, OpKind::ZIncr(blob(a.get(3)), delta));
    if changed {
        e.notify(N::ZSET, "zincr", key);
    }
    out.double(new);
    Ok(())
}

/// ZREM key member [member ...]
pub fn zrem(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let key = a.get(1);
    let Some(z) = get_zset(e, key)? else {
        out.int(0);
        return Ok(());
    };
    let mut gone: Vec<Blob> = Vec::new();
    let mut named = Named::with_capacity(a.len() - 2);
    for m in a.from(2) {
        if named.first(m) && z.score(m).is_some() {
            gone.push(blob(m));
        }
    }
    let n = gone.len();
    if n > 0 {
        e.emit(key, OpKind::ZRem(gone));
        e.notify_removal(N::ZSET, "zrem", key);
    }
    out.int(n as i64);
    Ok(())
}

/// ZSCORE key member
pub fn zscore(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    match get_zset(e, a.get(1))?.and_then(|z| z.score(a.get(2))) {
        Some(s) => out.double(s),
        None => out.null(),
    }
    Ok(())
}

/// ZMSCORE key member [member ...]
pub fn zmscore(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let z = get_zset(e, a.get(1))?;
    out.array(a.len() - 2);
    for m in a.from(2) {
        match z.and_then(|z| z.score(m)) {
            Some(s) => out.double(s),
            None => out.null(),
        }
    }
    Ok(())
}

/// ZCARD key
pub fn zcard(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    out.int(get_zset(e, a.get(1))?.map_or(0, |z| z.len()) as i64);
    Ok(())
}

/// A score interval.
#[derive(Clone, Copy, Debug)]
struct ScoreRange {
    min: f64,
    minex: bool,
    max: f64,
    maxex: bool,
}

impl ScoreRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
        let bound = |b: &[u8]| -> Option<(f64, bool)> {
            match b.first() {
                Some(b'(') => parse_f64(&b[1..]).map(|v| (v, true)),
                _ => parse_f64(b).map(|v| (v, false)),
            }
        };
        let err = || CmdError::msg("ERR min or max is not a float");
        let (min, minex) = bound(min).ok_or_else(err)?;
        let (max, maxex) = bound(max).ok_or_else(err)?;
        Ok(ScoreRange {
            min,
            minex,
            max,
            maxex,
        })
    }

    fn below(&self, s: f64) -> bool {
        s < self.min || (self.minex && s == self.min)
    }

    fn within_max(&self, s: f64) -> bool {
        s < self.max || (!self.maxex && s == self.max)
    }

    fn empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.minex || self.maxex))
    }
}

/// A lexicographic interval.
#[derive(Clone, Debug)]
enum Lex {
    NegInf,
    PosInf,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

#[derive(Clone, Debug)]
struct LexRange {
    min: Lex,
    max: Lex,
}

impl LexRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
        let bound = |b: &[u8]| -> Option<Lex> {
            match b.first() {
                Some(b'-') if b.len() == 1 => Some(Lex::NegInf),
                Some(b'+') if b.len() == 1 => Some(Lex::PosInf),
                Some(b'[') => Some(Lex::Incl(b[1..].to_vec())),
                Some(b'(') => Some(Lex::Excl(b[1..].to_vec())),
                _ => None,
            }
        };
        let err = || CmdError::msg("ERR min or max not valid string range item");
        Ok(LexRange {
            min: bound(min).ok_or_else(err)?,
            max: bound(max).ok_or_else(err)?,
        })
    }

    fn below(&self, m: &[u8]) -> bool {
        match &self.min {
            Lex::NegInf => false,
            Lex::PosInf => true,
            Lex::Incl(v) => m < &v[..],
            Lex::Excl(v) => m <= &v[..],
        }
    }

    fn within_max(&self, m: &[u8]) -> bool {
        match &self.max {
            Lex::NegInf => false,
            Lex::PosInf => true,
            Lex::Incl(v) => m <= &v[..],
            Lex::Excl(v) => m < &v[..],
        }
    }
}

/// What a range selects.
#[derive(Clone, Debug)]
enum Range {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// The ranks `[start, end)` a range selects, in forward order.
fn span(z: &ZSet, r: &Range) -> (usize, usize) {
    let len = z.len();
    let t = z.index();
    match r {
        Range::Rank(s, e) => {
            // Unlike GETRANGE, Redis does not clamp a negative end to 0 here.
            let l = len as i64;
            let s = if *s < 0 { s + l } else { *s }.max(0);
            let e = if *e < 0 { e + l } else { *e };
            if s > e || s >= l {
                return (0, 0);
            }
            (s as usize, e.min(l - 1) as usize + 1)
        }
        Range::Score(sr) => {
            if sr.empty() {
                return (0, 0);
            }
            let a = t.count_below(|(s, _)| sr.below(s));
            let b = t.count_below(|(s, _)| sr.within_max(s));
            (a, b.max(a))
        }
        Range::Lex(lr) => {
            let a = t.count_below(|(_, m)| lr.below(m));
            let b = t.count_below(|(_, m)| lr.within_max(m));
            (a, b.max(a))
        }
    }
}

/// The members a range selects: reversed when `rev` (ranks then count from the top), then
/// `LIMIT offset count` (count < 0: no limit).
fn select(z: &ZSet, r: &Range, rev: bool, limit: Option<(i64, i64)>) -> Vec<(Blob, f64)> {
    let len = z.len();
    let (a, b) = match (r, rev) {
        (Range::Rank(..), true) => {
            let (a, b) = span(z, r);
            (a, b) // positions in the reversed order
        }
        _ => span(z, r),
    };
    let (mut start, mut end) = match (r, rev) {
        (Range::Rank(..), _) => (a, b),
        (_, true) => (len - b, len - a),
        (_, false) => (a, b),
    };
    if let Some((off, count)) = limit {
        if off < 0 {
            return Vec::new();
        }
        start = start.saturating_add(off as usize).min(end);
        if count >= 0 {
            end = end.min(start.saturating_add(count as usize));
        }
    }
    let mut items = Vec::with_capacity(end.saturating_sub(start).min(1 << 16));
    z.index().walk(start, end, rev, |s, m| {
        items.push((blob(m), s));
        true
    });
    items
}

/// The members of ranks `start..=end` (counted from the top when `rev`; negative ranks
/// count from the other end), with their scores, as ZRANGE selects them.
pub(super) fn by_rank(z: &ZSet, start: i64, end: i64, rev: bool) -> Vec<(Blob, f64)> {
    select(z, &Range::Rank(start, end), rev, None)
}

/// Options of the ZRANGE family after the range arguments.
struct RangeOpts {
    by: u8,
    rev: bool,
    limit: Option<(i64, i64)>,
    withscores: bool,
}

fn parse_range_opts(a: &Args, from: usize, allow_withscores: bool) -> Result<RangeOpts, CmdError> {
    let mut o = RangeOpts {
        by: b'r',
        rev: false,
        limit: None,
        withscores: false,
    };
    let mut i = from;
    while i < a.len() {
        match a.upper(i).as_str() {
            "WITHSCORES" if allow_withscores => o.withscores = true,
            "LIMIT" if i + 2 < a.len() => {
                o.limit = Some((a.int(i + 1)?, a.int(i + 2)?));
                i += 2;
            }
            "BYSCORE" => o.by = b's',
            "BYLEX" => o.by = b'l',
            "REV" => o.rev = true,
            _ => return Err(CmdError::Syntax),
        }
        i += 1;
    }
    if o.withscores && o.by == b'l' {
        return Err(CmdError::msg(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    Ok(o)
}

/// LIMIT needs BYSCORE or BYLEX; like Redis, a count of -1 (no limit) passes unnoticed.
fn check_limit(o: &RangeOpts) -> Result<(), CmdError> {
    if o.limit.is_some_and(|(_, count)| count != -1) && o.by == b'r' {
        return Err(CmdError::msg(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    Ok(())
}

fn make_range(a: &Args, by: u8, rev: bool, i: usize) -> Result<Range, CmdError> {
    let (lo, hi) = if rev && by != b'r' {
        (a.get(i + 1), a.get(i))
    } else {
        (a.get(i), a.get(i + 1))
    };
    Ok(match by {
        b's' => Range::Score(ScoreRange::parse(lo, hi)?),
        b'l' => Range::Lex(LexRange::parse(lo, hi)?),
        _ => Range::Rank(a.int(i)?, a.int(i + 1)?),
    })
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
pub fn zrange(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let o = parse_range_opts(&a, 4, true)?;
    check_limit(&o)?;
    let r = make_range(&a, o.by, o.rev, 2)?;
    let limit = if o.by == b'r' { None } else { o.limit };
    let items = get_zset(e, a.get(1))?
        .map(|z| select(z, &r, o.rev, limit))
        .unwrap_or_default();
    reply_items(out, &items, o.withscores);
    Ok(())
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
pub fn zrangestore(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let o = parse_range_opts(&a, 5, false)?;
    check_limit(&o)?;
    let r = make_range(&a, o.by, o.rev, 3)?;
    let limit = if o.by == b'r' { None } else { o.limit };
    let items = get_zset(e, a.get(2))?
        .map(|z| select(z, &r, o.rev, limit))
        .unwrap_or_default();
    store(e, a.get(1), items, "zrangestore", out);
    Ok(())
}

/// Replaces `dst` with `items` (deleting it when empty), announced as `event`, and
/// replies the count.
fn store(e: &mut Engine, dst: &[u8], items: Vec<(Blob, f64)>, event: &'static str, out: &mut Out) {
    let n = items.len();
    if n == 0 {
        if e.lookup(dst, true).is_some() {
            e.emit(dst, OpKind::DelKey);
            e.notify(N::GENERIC, "del", dst);
        }
    } else {
        restore(e, dst, Content::ZSet(items), None);
        e.notify(N::ZSET, event, dst);
    }
    out.int(n as i64);
}

/// ZREVRANGE key start stop [WITHSCORES]
pub fn zrevrange(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let withscores = match a.len() {
        4 => false,
        5 if a.is(4, "withscores") => true,
        _ => return Err(CmdError::Syntax),
    };
    let r = Range::Rank(a.int(2)?, a.int(3)?);
    let items = get_zset(e, a.get(1))?
        .map(|z| select(z, &r, true, None))
        .unwrap_or_default();
    reply_items(out, &items, withscores);
    Ok(())
}

/// ZRANGEBYSCORE / ZREVRANGEBYSCORE / ZRANGEBYLEX / ZREVRANGEBYLEX key a b [WITHSCORES] [LIMIT o c]
pub fn zrangeby(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let name = a.name();
    let rev = name.starts_with("zrev");
    let lex = name.ends_with("lex");
    let mut withscores = false;
    let mut limit = None;
    let mut i = 4;
    while i < a.len() {
        if !lex && a.is(i, "withscores") {
            withscores = true;
        } else if a.is(i, "limit") && i + 2 < a.len() {
            limit = Some((a.int(i + 1)?, a.int(i + 2)?));
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let r = make_range(&a, if lex { b'l' } else { b's' }, rev, 2)?;
    let items = get_zset(e, a.get(1))?
        .map(|z| select(z, &r, rev, limit))
        .unwrap_or_default();
    reply_items(out, &items, withscores);
    Ok(())
}

/// ZCOUNT key min max / ZLEXCOUNT key min max
pub fn zcount(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let r = if a.is(0, "zlexcount") {
        Range::Lex(LexRange::parse(a.get(2), a.get(3))?)
    } else {
        Range::Score(ScoreRange::parse(a.get(2), a.get(3))?)
    };
    let n = get_zset(e, a.get(1))?.map_or(0, |z| {
        let (x, y) = span(z, &r);
        y - x
    });
    out.int(n as i64);
    Ok(())
}

/// ZRANK / ZREVRANK key member [WITHSCORE]
pub fn zrank(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let withscore = match a.len() {
        3 => false,
        4 if a.is(3, "withscore") => true,
        _ => return Err(CmdError::Syntax),
    };
    let rev = a.is(0, "zrevrank");
    let z = get_zset(e, a.get(1))?;
    let found = z.and_then(|z| {
        let s = z.score(a.get(2))?;
        let r = z.index().rank(s, a.get(2));
        Some((if rev { z.len() - 1 - r } else { r }, s))
    });
    match (found, withscore) {
        (Some((r, _)), false) => out.int(r as i64),
        (Some((r, s)), true) => {
            out.array(2);
            out.int(r as i64);
            out.double(s);
        }
        (None, false) => out.null(),
        (None, true) => out.null_array(),
    }
    Ok(())
}

/// ZRANDMEMBER key [count [WITHSCORES]]
pub fn zrandmember(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let count = if a.len() >= 3 {
        Some(rand_count(&a, 2)?)
    } else {
        None
    };
    let withscores = match a.len() {
        4 if a.is(3, "withscores") => true,
        4 | 5.. => return Err(CmdError::Syntax),
        _ => false,
    };
    if withscores && count.is_some_and(|c| c.unsigned_abs() > (i64::MAX as u64) / 2) {
        return Err(CmdError::msg("ERR value is out of range"));
    }
    let all: Vec<(Blob, f64)> = match get_zset(e, a.get(1))? {
        None => Vec::new(),
        Some(z) => {
            let mut v = Vec::with_capacity(z.len());
            z.index().walk(0, z.len(), false, |s, m| {
                v.push((blob(m), s));
                true
            });
            v
        }
    };
    let Some(count) = count else {
        if all.is_empty() {
            out.null();
        } else {
            let i = (e.random() % all.len() as u64) as usize;
            out.bulk(&all[i].0);
        }
        return Ok(());
    };
    let picks = Picks::new(e, all.len(), count);
    let pairs = withscores && out.resp3;
    out.array(picks.len() * if withscores && !pairs { 2 } else { 1 });
    picks.each(e, out, |out, i| {
        if pairs {
            out.array(2);
        }
        out.bulk(&all[i].0);
        if withscores {
            out.double(all[i].1);
        }
    });
    Ok(())
}

/// ZREMRANGEBYRANK / ZREMRANGEBYSCORE / ZREMRANGEBYLEX key a b
pub fn zremrange(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let name = a.name();
    let (r, event) = if name.ends_with("rank") {
        (Range::Rank(a.int(2)?, a.int(3)?), "zremrangebyrank")
    } else if name.ends_with("score") {
        (
            Range::Score(ScoreRange::parse(a.get(2), a.get(3))?),
            "zremrangebyscore",
        )
    } else {
        (
            Range::Lex(LexRange::parse(a.get(2), a.get(3))?),
            "zremrangebylex",
        )
    };
    let key = a.get(1);
    let items = get_zset(e, key)?
        .map(|z| select(z, &r, false, None))
        .unwrap_or_default();
    if !items.is_empty() {
        e.emit(
            key,
            OpKind::ZRem(items.iter().map(|(m, _)| m.clone()).collect()),
        );
        e.notify_removal(N::ZSET, event, key);
    }
    out.int(items.len() as i64);
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Agg {
    Sum,
    Min,
    Max,
}

/// Members and scores of a ZUNION-family input: a sorted set, or a set (scores of 1).
fn input(e: &mut Engine, key: &[u8]) -> Result<Option<Vec<(Blob, f64)>>, CmdError> {
    match e.kind_of(key) {
        None => Ok(None),
        Some(Kind::ZSet) => Ok(get_zset(e, key)?.map(|z| {
            let mut v = Vec::with_capacity(z.len());
            z.index().walk(0, z.len(), false, |s, m| {
                v.push((blob(m), s));
                true
            });
            v
        })),
        Some(Kind::Set) => {
            Ok(super::get_set(e, key)?.map(|s| s.iter().map(|m| (blob(m), 1.0)).collect()))
        }
        Some(_) => Err(CmdError::WrongType),
    }
}

fn combine(
    e: &mut Engine,
    a: &Args,
    op: SetOp,
    store: bool,
) -> Result<(Vec<(Blob, f64)>, bool), CmdError> {
    let name = a.name();
    let ki = if store { 2 } else { 1 };
    let numkeys = a.int(ki)?;
    if numkeys < 1 {
        return Err(CmdError::msg(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    let numkeys = numkeys as usize;
    if numkeys > a.len() - ki - 1 {
        return Err(CmdError::Syntax);
    }
    let keys = &a.0[ki + 1..ki + 1 + numkeys];
    let mut weights = vec![1.0f64; numkeys];
    let mut agg = Agg::Sum;
    let mut withscores = false;
    let mut i = ki + 1 + numkeys;
    while i < a.len() {
        let opt = a.upper(i);
        match opt.as_str() {
            "WEIGHTS" if op != SetOp::Diff && i + numkeys < a.len() => {
                for (j, w) in weights.iter_mut().enumerate() {
                    *w = parse_f64(a.get(i + 1 + j))
                        .ok_or_else(|| CmdError::msg("ERR weight value is not a float"))?;
                }
                i += numkeys;
            }
            "AGGREGATE" if op != SetOp::Diff && i + 1 < a.len() => {
                agg = match a.upper(i + 1).as_str() {
                    "SUM" => Agg::Sum,
                    "MIN" => Agg::Min,
                    "MAX" => Agg::Max,
                    _ => return Err(CmdError::Syntax),
                };
                i += 1;
            }
            "WITHSCORES" if !store => withscores = true,
            _ => return Err(CmdError::Syntax),
        }
        i += 1;
    }
    let mut inputs = Vec::with_capacity(numkeys);
    for k in keys {
        inputs.push(input(e, k)?);
    }
    let weigh = |s: f64, w: f64| {
        let v = s * w;
        if v.is_nan() { 0.0 } else { v }
    };
    let fold = |acc: f64, v: f64| -> f64 {
        match agg {
            Agg::Sum => {
                let s = acc + v;
                if s.is_nan() { 0.0 } else { s }
            }
            // Written as Redis does, so a NaN operand leaves the accumulator alone.
            Agg::Min => {
                if v < acc {
                    v
                } else {
                    acc
                }
            }
            Agg::Max => {
                if v > acc {
                    v
                } else {
                    acc
                }
            }
        }
    };
    let mut result: Vec<(Blob, f64)> = Vec::new();
    match op {
        SetOp::Union => {
            // Redis adds the inputs smallest first (a stable order); float sums show it.
            let mut order: Vec<usize> = (0..inputs.len()).collect();
            order.sort_by_key(|&i| inputs[i].as_ref().map_or(0, |v| v.len()));
            let mut pos: HashMap<Blob, usize> = HashMap::new();
            for &i in &order {
                let w = weights[i];
                for (m, s) in inputs[i].iter().flatten() {
                    let v = weigh(*s, w);
                    match pos.get(m) {
                        Some(&p) => result[p].1 = fold(result[p].1, v),
                        None => {
                            pos.insert(m.clone(), result.len());
                            result.push((m.clone(), v));
                        }
                    }
                }
            }
        }
        SetOp::Inter => {
            if inputs.iter().all(|i| i.is_some()) {
                // Redis walks the inputs smallest first (a stable order), weights with them;
                // with NaN in play the order shows in the scores.
                let mut order: Vec<usize> = (0..inputs.len()).collect();
                order.sort_by_key(|&i| inputs[i].as_ref().map_or(0, |v| v.len()));
                let maps: Vec<HashMap<&Blob, f64>> = inputs
                    .iter()
                    .map(|i| i.iter().flatten().map(|(m, s)| (m, *s)).collect())
                    .collect();
                let first = order[0];
                if let Some(items) = &inputs[first] {
                    for (m, s) in items {
                        let mut acc = weigh(*s, weights[first]);
                        let mut all = true;
                        for &j in &order[1..] {
                            match maps[j].get(m) {
                                // Redis leaves later weighted scores un-normalized here.
                                Some(v) => acc = fold(acc, *v * weights[j]),
                                None => {
                                    all = false;
                                    break;
                                }
                            }
                        }
                        if all {
                            result.push((m.clone(), acc));
                        }
                    }
                }
            }
        }
        SetOp::Diff => {
            if let Some(first) = &inputs[0] {
                let others: Vec<HashMap<&Blob, f64>> = inputs[1..]
                    .iter()
                    .map(|i| i.iter().flatten().map(|(m, s)| (m, *s)).collect())
                    .collect();
                for (m, s) in first {
                    if !others.iter().any(|o| o.contains_key(m)) {
                        result.push((m.clone(), *s));
                    }
                }
            }
        }
    }
    result.sort_by(|x, y| concord_crdt::ostree::cmp_entry((x.1, &x.0), (y.1, &y.0)));
    Ok((result, withscores))
}

fn setop_of(a: &Args) -> SetOp {
    let n = a.name();
    if n.starts_with("zunion") {
        SetOp::Union
    } else if n.starts_with("zinter") {
        SetOp::Inter
    } else {
        SetOp::Diff
    }
}

/// ZUNION / ZINTER / ZDIFF numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...] [WITHSCORES]
pub fn zsetop(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let (items, withscores) = combine(e, &a, setop_of(&a), false)?;
    reply_items(out, &items, withscores);
    Ok(())
}

/// ZUNIONSTORE / ZINTERSTORE / ZDIFFSTORE dst numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...]
pub fn zsetop_store(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let op = setop_of(&a);
    let (items, _) = combine(e, &a, op, true)?;
    let event = match op {
        SetOp::Union => "zunionstore",
        SetOp::Inter => "zinterstore",
        SetOp::Diff => "zdiffstore",
    };
    store(e, a.get(1), items, event, out);
    Ok(())
}

/// ZINTERCARD numkeys key [key ...] [LIMIT n]
pub fn zintercard(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let (keys, limit) = intercard_args(&a)?;
    let mut inputs = Vec::new();
    for k in keys {
        inputs.push(input(e, k)?);
    }
    let mut n = 0usize;
    if inputs.iter().all(|i| i.is_some()) {
        let sets: Vec<std::collections::HashSet<&Blob>> = inputs
            .iter()
            .map(|i| i.iter().flatten().map(|(m, _)| m).collect())
            .collect();
        for m in &sets[0] {
            if sets[1..].iter().all(|s| s.contains(m)) {
                n += 1;
                if limit > 0 && n >= limit {
                    break;
                }
            }
        }
    }
    out.int(n as i64);
    Ok(())
}

/// ZSCAN key cursor [MATCH pattern] [COUNT n]
pub fn zscan(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let cursor = parse_cursor(a.get(2))?;
    let ScanOpts { pat, count, .. } = scan_opts(a, 3, false)?;
    let mut found: Vec<(Blob, f64)> = Vec::new();
    let mut next = 0;
    if let Some(z) = get_zset(e, a.get(1))? {
        let small = z.len() <= 128;
        next = z.map().scan(
            if small { 0 } else { cursor },
            if small { usize::MAX } else { count },
            |m, _| {
                if pat.is_none_or(|p| glob_match(p, m, false)) {
                    found.push((blob(m), z.score(m).unwrap_or(0.0)));
                }
            },
        );
    }
    out.array(2);
    out.bulk(next.to_string().as_bytes());
    out.array(found.len() * 2);
    for (m, s) in found {
        out.bulk(&m);
        out.bulk(concord_resp::format_double(s).as_bytes());
    }
    Ok(())
}
