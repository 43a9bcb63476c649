//! SORT and SORT_RO: the elements of a list, set or sorted set, ordered by themselves or
//! by weights read from other keys (BY), optionally replaced by values of other keys (GET),
//! sliced by LIMIT, returned or stored as a new list (STORE).

use super::cfloat::{self, CFloat, CType};
use super::keys::restore;
use super::lists::get_list;
use super::zsets::{by_rank, get_zset};
use super::{MAX_STRING, blob, get_hash, get_set, get_str};
use crate::Engine;
use crate::NotifyFlags as N;
use crate::args::Args;
use crate::error::{CmdError, CmdResult};
use concord_crdt::{Blob, Content, Kind, OpKind};
use concord_resp::Out;
use std::cmp::Ordering;

/// SORT's refusal of a BY pattern to a user who may not read every key.
const BY_DENIED: &str = "ERR BY option of SORT denied due to insufficient ACL permissions.";
/// SORT's refusal of a GET pattern to a user who may not read every key.
const GET_DENIED: &str = "ERR GET option of SORT denied due to insufficient ACL permissions.";
/// A weight (or element) that is not a number, in a numeric sort.
const NOT_DOUBLE: &str = "ERR One or more scores can't be converted into double";
/// The most bytes of elements SORT ... STORE writes into one list: GET patterns multiply
/// the elements, so a small request could otherwise build a list of any size.
const MAX_STORE_BYTES: usize = MAX_STRING;

/// SORT's options, as parsed.
struct Opts<'a> {
    desc: bool,
    alpha: bool,
    /// LIMIT offset count (count < 0: no limit).
    limit: (i64, i64),
    store: Option<&'a [u8]>,
    /// The BY pattern (the last one given).
    by: Option<&'a [u8]>,
    /// A BY without `*` was given: keep the source's order.
    dontsort: bool,
    gets: Vec<&'a [u8]>,
}

/// Parses the options in Redis's order. `patterns` is false when the user may not read
/// every key: a BY pattern with `*` or a GET is then refused where it appears.
fn parse<'a>(a: &Args<'a>, readonly: bool, patterns: bool) -> Result<Opts<'a>, CmdError> {
    let mut o = Opts {
        desc: false,
        alpha: false,
        limit: (0, -1),
        store: None,
        by: None,
        dontsort: false,
        gets: Vec::new(),
    };
    let mut j = 2;
    while j < a.len() {
        let left = a.len() - j - 1;
        if a.is(j, "asc") {
            o.desc = false;
        } else if a.is(j, "desc") {
            o.desc = true;
        } else if a.is(j, "alpha") {
            o.alpha = true;
        } else if a.is(j, "limit") && left >= 2 {
            o.limit = (a.int(j + 1)?, a.int(j + 2)?);
            j += 2;
        } else if !readonly && a.is(j, "store") && left >= 1 {
            o.store = Some(a.get(j + 1));
            j += 1;
        } else if a.is(j, "by") && left >= 1 {
            let p = a.get(j + 1);
            o.by = Some(p);
            // A constant pattern means "do not sort"; as in Redis, a later BY with a `*`
            // does not undo it.
            if !p.contains(&b'*') {
                o.dontsort = true;
            } else if !patterns {
                return Err(CmdError::msg(BY_DENIED));
            }
            j += 1;
        } else if a.is(j, "get") && left >= 1 {
            if !patterns {
                return Err(CmdError::msg(GET_DENIED));
            }
            o.gets.push(a.get(j + 1));
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// The error SORT (or SORT_RO) answers a user who may not read every key, if the request
/// uses a BY or GET pattern before anything else makes it fail; `None` otherwise. The
/// server calls this for such users instead of running the request.
pub fn sort_pattern_denial(args: &[&[u8]]) -> Option<CmdError> {
    let a = Args(args);
    if a.len() < 2 {
        return None;
    }
    match parse(&a, a.is(0, "sort_ro"), false) {
        Err(CmdError::Other(m)) if m == BY_DENIED || m == GET_DENIED => Some(CmdError::Other(m)),
        _ => None,
    }
}

/// A weight as Redis reads one (`strtod` of the whole string, ERANGE refused).
fn read_weight(b: &[u8]) -> Option<f64> {
    match cfloat::parse(b, true, CType::Double) {
        CFloat::Value(v) => Some(v),
        _ => None,
    }
}

/// C's `strcmp` order (what `strcoll` is in the C locale): up to the first NUL byte.
fn c_str(b: &[u8]) -> &[u8] {
    &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
}

/// Resolves a GET or BY pattern for element `subst`: `#` is the element itself; otherwise
/// the first `*` is replaced by it and the key read as a string, or, with `->field` after
/// the `*`, as that field of a hash. `None` when there is nothing of that type (or no `*`).
fn lookup_pattern(e: &mut Engine, pattern: &[u8], subst: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(subst.to_vec());
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    let rest = &pattern[star + 1..];
    let (post, field) = match rest.windows(2).position(|w| w == b"->") {
        Some(i) if i + 2 < rest.len() => (&rest[..i], Some(&rest[i + 2..])),
        _ => (rest, None),
    };
    let mut key = Vec::with_capacity(star + subst.len() + post.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(subst);
    key.extend_from_slice(post);
    match (e.kind_of(&key)?, field) {
        (Kind::Str | Kind::Hll, None) => get_str(e, &key).ok()?.map(|v| v.into_owned()),
        (Kind::Hash, Some(f)) => get_hash(e, &key).ok()??.get(f).map(|v| v.read().to_vec()),
        _ => None,
    }
}

/// One element to sort, with what it is compared by.
struct Item {
    elem: Blob,
    score: f64,
    /// The BY value of an ALPHA sort (`None`: the weight key is missing).
    by: Option<Vec<u8>>,
}

/// How items compare.
#[derive(Clone, Copy)]
struct Order {
    alpha: bool,
    by: bool,
    desc: bool,
    /// With STORE, Redis compares bytes; otherwise strings as C strings.
    store: bool,
}

impl Order {
    fn cmp(self, x: &Item, y: &Item) -> Ordering {
        let text = |a: &[u8], b: &[u8]| {
            if self.store {
                a.cmp(b)
            } else {
                c_str(a).cmp(c_str(b))
            }
        };
        let c = if !self.alpha {
            // Equal weights fall back to the elements, so the result is deterministic.
            match x.score.partial_cmp(&y.score) {
                Some(c) if c.is_ne() => c,
                _ => x.elem.cmp(&y.elem),
            }
        } else if self.by {
            match (&x.by, &y.by) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(a), Some(b)) => text(a, b),
            }
        } else {
            text(&x.elem, &y.elem)
        };
        if self.desc { c.reverse() } else { c }
    }
}

/// LIMIT resolved as Redis resolves it over `len` elements: the first index and how many.
fn window(len: usize, (offset, count): (i64, i64)) -> (usize, usize) {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    let mut start = offset.clamp(0, len);
    let count = count.clamp(-1, len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    end = end.min(len - 1);
    // Here start <= len and end >= start - 1: the window is empty or in range.
    let rows = usize::try_from(end - start + 1).unwrap_or(0);
    (usize::try_from(start).unwrap_or(0), rows)
}

/// The elements of the source in its own order; for an unsorted list or sorted set, only
/// the LIMIT window (reversed with DESC), read directly.
fn load(
    e: &mut Engine,
    key: &[u8],
    kind: Option<Kind>,
    o: &Opts,
) -> Result<(Vec<Blob>, (usize, usize)), CmdError> {
    let direct = o.dontsort;
    let nothing = (Vec::new(), (0, 0));
    Ok(match kind {
        Some(Kind::List) => {
            let Some(l) = get_list(e, key)? else {
                return Ok(nothing);
            };
            let (start, rows) = window(l.len(), o.limit);
            if direct {
                let (i, j) = if o.desc {
                    (l.len() - start - rows, l.len() - start)
                } else {
                    (start, start + rows)
                };
                let mut v: Vec<Blob> = l.range(i, j).map(|x| blob(&x.value)).collect();
                if o.desc {
                    v.reverse();
                }
                (v, (0, rows))
            } else {
                (l.iter().map(|x| blob(&x.value)).collect(), (start, rows))
            }
        }
        Some(Kind::ZSet) => {
            let Some(z) = get_zset(e, key)? else {
                return Ok(nothing);
            };
            let (start, rows) = window(z.len(), o.limit);
            if direct {
                let v = if rows == 0 {
                    Vec::new()
                } else {
                    by_rank(z, start as i64, (start + rows - 1) as i64, o.desc)
                };
                (v.into_iter().map(|(m, _)| m).collect(), (0, rows))
            } else {
                let all = by_rank(z, 0, -1, false);
                (all.into_iter().map(|(m, _)| m).collect(), (start, rows))
            }
        }
        Some(Kind::Set) => {
            let Some(s) = get_set(e, key)? else {
                return Ok(nothing);
            };
            let all: Vec<Blob> = s.iter().map(blob).collect();
            let w = window(all.len(), o.limit);
            (all, w)
        }
        _ => nothing,
    })
}

/// SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
/// [STORE destination] / SORT_RO (no STORE)
pub fn sort(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let mut o = parse(&a, a.is(0, "sort_ro"), true)?;
    let key = a.get(1);
    let kind = e.kind_of(key);
    match kind {
        None | Some(Kind::List | Kind::Set | Kind::ZSet) => {}
        Some(_) => return Err(CmdError::WrongType),
    }
    // A set has no order of its own: "unsorted" sorts it by its elements (Redis does so
    // when storing or in scripts), so every instance answers alike.
    if o.dontsort && kind == Some(Kind::Set) {
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    let (elems, (start, rows)) = load(e, key, kind, &o)?;
    let mut items: Vec<Item> = elems
        .into_iter()
        .map(|elem| Item {
            elem,
            score: 0.0,
            by: None,
        })
        .collect();
    if !o.dontsort {
        let mut not_double = false;
        for it in &mut items {
            let weight = match o.by {
                // A missing weight key leaves the weight at 0 (or nothing, for ALPHA).
                Some(p) => match lookup_pattern(e, p, &it.elem) {
                    Some(v) => v,
                    None => continue,
                },
                None if o.alpha => continue,
                None => it.elem.to_vec(),
            };
            if o.alpha {
                it.by = Some(weight);
            } else {
                match read_weight(&weight) {
                    Some(s) => it.score = s,
                    None => not_double = true,
                }
            }
        }
        if not_double {
            return Err(CmdError::msg(NOT_DOUBLE));
        }
        let order = Order {
            alpha: o.alpha,
            by: o.by.is_some(),
            desc: o.desc,
            store: o.store.is_some(),
        };
        items.sort_by(|x, y| order.cmp(x, y));
    }
    let rows = &items[start..start + rows];
    match o.store {
        None => reply(e, &o, rows, out),
        Some(dst) => store(e, &o, rows, dst, out)?,
    }
    Ok(())
}

/// Writes the sorted rows (or, with GET, the values their patterns name).
fn reply(e: &mut Engine, o: &Opts, rows: &[Item], out: &mut Out) {
    let per_row = o.gets.len().max(1);
    out.array(rows.len().saturating_mul(per_row));
    for it in rows {
        if out.over_limit() {
            return;
        }
        if o.gets.is_empty() {
            out.bulk(&it.elem);
        }
        for g in &o.gets {
            match lookup_pattern(e, g, &it.elem) {
                Some(v) => out.bulk(&v),
                None => out.null(),
            }
        }
    }
}

/// Replaces `dst` with a list of the sorted rows (or their GET values, a missing one as
/// an empty string), or deletes it when there are none; replies the list's length.
fn store(
    e: &mut Engine,
    o: &Opts,
    rows: &[Item],
    dst: &[u8],
    out: &mut Out,
) -> Result<(), CmdError> {
    let mut values: Vec<Blob> = Vec::new();
    let mut bytes = 0usize;
    let mut push = |v: Blob| -> Result<(), CmdError> {
        bytes = bytes.saturating_add(v.len() + 1);
        if bytes > MAX_STORE_BYTES {
            return Err(CmdError::msg(
                "ERR SORT STORE result exceeds 512 MiB (proto-max-bulk-len)",
            ));
        }
        values.push(v);
        Ok(())
    };
    for it in rows {
        if o.gets.is_empty() {
            push(it.elem.clone())?;
        }
        for g in &o.gets {
            let v = lookup_pattern(e, g, &it.elem).unwrap_or_default();
            push(blob(&v))?;
        }
    }
    let n = values.len();
    if n == 0 {
        if e.lookup(dst, true).is_some() {
            e.emit(dst, OpKind::DelKey);
            e.notify(N::GENERIC, "del", dst);
        }
    } else {
        restore(e, dst, Content::List(values.into_iter().collect()), None);
        e.notify(N::LIST, "sortstore", dst);
    }
    out.int(n as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::run_text as run;

    #[test]
    fn window_is_bounded_by_the_elements() {
        assert_eq!(window(5, (0, -1)), (0, 5));
        assert_eq!(window(5, (1, 2)), (1, 2));
        assert_eq!(window(5, (i64::MIN, i64::MAX)), (0, 5));
        assert_eq!(window(5, (i64::MAX, 3)), (4, 0));
        assert_eq!(window(5, (3, i64::MAX)), (3, 2));
        assert_eq!(window(5, (2, 0)), (2, 0));
        assert_eq!(window(0, (0, -1)), (0, 0));
        assert_eq!(window(0, (3, 3)), (0, 0));
    }

    #[test]
    fn sorts_by_patterns_and_stores() {
        let mut e = Engine::new(Default::default());
        run(&mut e, &["rpush", "l", "3", "1", "2"]);
        run(&mut e, &["mset", "w_1", "30", "w_2", "20", "w_3", "10"]);
        run(&mut e, &["hset", "h_1", "f", "one"]);
        assert_eq!(
            run(&mut e, &["sort", "l"]),
            "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
        );
        assert_eq!(
            run(
                &mut e,
                &["sort", "l", "by", "w_*", "get", "#", "get", "h_*->f"]
            ),
            "*6\r\n$1\r\n3\r\n$-1\r\n$1\r\n2\r\n$-1\r\n$1\r\n1\r\n$3\r\none\r\n"
        );
        assert_eq!(
            run(
                &mut e,
                &["sort", "l", "by", "nosort", "desc", "limit", "0", "2"]
            ),
            "*2\r\n$1\r\n2\r\n$1\r\n1\r\n"
        );
        assert_eq!(run(&mut e, &["sort", "l", "store", "d", "desc"]), ":3\r\n");
        assert_eq!(
            run(&mut e, &["lrange", "d", "0", "-1"]),
            "*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n"
        );
        assert_eq!(run(&mut e, &["sort", "nope", "store", "d"]), ":0\r\n");
        assert_eq!(run(&mut e, &["exists", "d"]), ":0\r\n");
        run(&mut e, &["rpush", "bad", "x"]);
        assert_eq!(run(&mut e, &["sort", "bad"]), format!("-{NOT_DOUBLE}\r\n"));
        assert_eq!(
            run(&mut e, &["sort_ro", "l", "store", "d"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            run(&mut e, &["sort", "l", "limit", "x", "1"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert!(run(&mut e, &["sort", "w_1"]).starts_with("-WRONGTYPE"));
    }

    #[test]
    fn pattern_denial_follows_the_option_order() {
        let denial = |w: &[&str]| {
            let args: Vec<&[u8]> = w.iter().map(|w| w.as_bytes()).collect();
            sort_pattern_denial(&args).map(|e| e.to_string())
        };
        assert_eq!(
            denial(&["sort", "l", "by", "w_*"]).as_deref(),
            Some(BY_DENIED)
        );
        assert_eq!(
            denial(&["sort", "l", "get", "#"]).as_deref(),
            Some(GET_DENIED)
        );
        assert_eq!(denial(&["sort", "l", "by", "nosort"]), None);
        // An error before the pattern is the answer instead.
        assert_eq!(denial(&["sort", "l", "bogus", "by", "w_*"]), None);
        assert_eq!(denial(&["sort_ro", "l", "store", "d", "get", "#"]), None);
    }
}
