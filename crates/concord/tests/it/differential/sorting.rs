//! Random sorted-set pops (ZMPOP and the blocking pops) and SORT / SORT_RO requests.
//!
//! SORT's sources have fixed names so the generator knows their types and stays where
//! Redis's order is defined: `sl` and `wl` are lists, `ss` a set, `sz` a sorted set.
//! Left out, because Redis's answer depends on its hash tables or its partial quicksort:
//! ALPHA with BY on a set or sorted set (ties keep the input order), ALPHA with BY and
//! LIMIT (ties), and an unsorted set (BY without `*`) without STORE. No weight overflows a
//! double: Redis reads `errno` without clearing it, so after one ERANGE its numeric sorts
//! on that connection fail until some other call resets it.

use super::values::*;
use crate::support::{Rng, b};

/// A numeric element of the numeric sources (strtod forms included).
fn number(r: &mut Rng) -> Vec<u8> {
    b(r.pick(&[
        "1", "2", "3", "10", "-4", "2.5", "1e2", " 7", "0x10", "inf", "-0", "11", "",
    ]))
}

/// An element of the word list: words (ALPHA only) and numbers.
fn word(r: &mut Rng) -> Vec<u8> {
    b(r.pick(&["a", "b", "B", "c", "ab", "1", "10", "2", "zz", "A"]))
}

/// What a weight key holds.
fn weight(r: &mut Rng) -> Vec<u8> {
    b(r.pick(&[
        "1", "5", "-3", "2.5", "100", "0", "", "x", "0x2", "3 ", "a", "b",
    ]))
}

/// A BY or GET pattern.
fn pattern(r: &mut Rng) -> Vec<u8> {
    b(r.pick(&[
        "w_*",
        "h_*->f",
        "w_*->f",
        "h_*",
        "h_*->",
        "missing_*",
        "#",
        "nostar",
        "w_*x",
    ]))
}

fn limit_arg(r: &mut Rng) -> Vec<u8> {
    b(r.pick(&[
        "0",
        "1",
        "2",
        "3",
        "-1",
        "-5",
        "10",
        "x",
        "9223372036854775807",
        "-9223372036854775808",
    ]))
}

/// Writes to the sources and the keys their patterns name.
fn gen_sort_data(r: &mut Rng) -> Vec<Vec<u8>> {
    match r.below(12) {
        0 | 1 => vec![b("RPUSH"), b("sl"), number(r), number(r)],
        2 => vec![b("RPUSH"), b("wl"), word(r), word(r)],
        3 | 4 => vec![b("SADD"), b("ss"), number(r), number(r)],
        5 | 6 => vec![b("ZADD"), b("sz"), score(r), number(r)],
        7 => {
            let mut e = number(r);
            if r.chance(30) {
                e = word(r);
            }
            let mut k = b("w_");
            k.extend(e);
            vec![b("SET"), k, weight(r)]
        }
        8 => {
            let mut k = b("h_");
            k.extend(number(r));
            vec![b("HSET"), k, b("f"), weight(r)]
        }
        9 => vec![
            b(r.pick(&["LREM", "SREM", "ZREM"])),
            b(r.pick(&["sl", "ss", "sz"])),
            b("0"),
        ],
        10 => vec![b("LRANGE"), b("dst"), b("0"), b("-1")],
        _ => vec![b("DEL"), b(r.pick(&["sl", "ss", "sz", "wl", "dst"]))],
    }
}

/// One SORT or SORT_RO request.
fn gen_sort_cmd(r: &mut Rng) -> Vec<Vec<u8>> {
    let src = r.pick(&["sl", "ss", "sz", "wl", "nokey", "k0"]);
    let ordered = matches!(src, "sl" | "wl" | "nokey");
    let ro = r.chance(30);
    let mut c = vec![b(if ro { "SORT_RO" } else { "SORT" }), b(src)];
    let alpha = src == "wl" || r.chance(30);
    let by = if r.chance(50) {
        Some(if r.chance(30) {
            b("nosort")
        } else {
            pattern(r)
        })
    } else {
        None
    };
    let store = !ro && r.chance(35) || ro && r.chance(3);
    // Ties of ALPHA with BY follow the input order: only a list's order is defined, and
    // only a full sort keeps it (LIMIT takes a partial quicksort).
    let alpha_by = alpha && by.as_ref().is_some_and(|p| p.contains(&b'*'));
    if alpha_by && !ordered {
        return vec![b("SORT"), b(src), b("LIMIT"), b("0"), b("0")];
    }
    if src == "ss" && by.as_ref().is_some_and(|p| !p.contains(&b'*')) && !store {
        return vec![b("SORT"), b(src), b("ALPHA"), b("DESC")];
    }
    let mut opts: Vec<Vec<Vec<u8>>> = Vec::new();
    if let Some(p) = by {
        opts.push(vec![b("BY"), p]);
    }
    if alpha {
        opts.push(vec![b("ALPHA")]);
    }
    if !alpha_by && r.chance(40) {
        opts.push(vec![b("LIMIT"), limit_arg(r), limit_arg(r)]);
    }
    for _ in 0..r.below(3) {
        opts.push(vec![b("GET"), pattern(r)]);
    }
    if r.chance(50) {
        opts.push(vec![b(r.pick(&["ASC", "DESC", "desc"]))]);
    }
    if store {
        opts.push(vec![b("STORE"), b(r.pick(&["dst", "dst", "sl", "k1"]))]);
    }
    if r.chance(3) {
        opts.push(vec![b(r.pick(&["BOGUS", "LIMIT", "GET", "STORE"]))]);
    }
    // Options come in any order.
    for i in (1..opts.len()).rev() {
        opts.swap(i, r.below(i + 1));
    }
    c.extend(opts.into_iter().flatten());
    c
}

/// SORT and SORT_RO with their data, and other types in the way (WRONGTYPE).
pub(super) fn gen_sort(r: &mut Rng) -> Vec<Vec<u8>> {
    match r.below(10) {
        0..=4 => gen_sort_data(r),
        5 => vec![b("SET"), b("k0"), value(r)],
        _ => gen_sort_cmd(r),
    }
}

/// ZMPOP, BZPOPMIN, BZPOPMAX and BZMPOP with hostile counts and timeouts, over sorted
/// sets and keys of other types.
pub(super) fn gen_zpop(r: &mut Rng) -> Vec<Vec<u8>> {
    let k = key(r);
    let side = |r: &mut Rng| b(r.pick(&["MIN", "MAX", "min", "max", "LEFT"]));
    let count = |r: &mut Rng| {
        b(r.pick(&[
            "1",
            "2",
            "3",
            "10",
            "0",
            "-1",
            "x",
            "9223372036854775807",
            "-9223372036854775808",
        ]))
    };
    match r.below(16) {
        0..=4 => {
            let mut c = vec![b("ZADD"), k];
            for _ in 0..1 + r.below(4) {
                c.push(score(r));
                c.push(member(r));
            }
            c
        }
        5..=7 => {
            let n = r.pick(&["1", "2", "3", "0", "-1", "x", "9223372036854775807"]);
            let mut c = vec![b("ZMPOP"), b(n)];
            for _ in 0..r.below(4) {
                c.push(key(r));
            }
            c.push(side(r));
            if r.chance(50) {
                c.extend([b("COUNT"), count(r)]);
            }
            if r.chance(5) {
                c.extend([b("COUNT"), b("1")]);
            }
            c
        }
        8 => vec![b("SET"), k, value(r)],
        9 => vec![b("ZRANGE"), k, b("0"), b("-1"), b("WITHSCORES")],
        // Blocking pops that find something (or time out at once) answer like Redis;
        // rarer, since each timeout costs 10 ms on both servers.
        10..=12 if r.chance(60) => vec![b("ZCARD"), k],
        10 => vec![
            b(r.pick(&["BZPOPMIN", "BZPOPMAX"])),
            k,
            key(r),
            b(r.pick(&["0.01", "-1", "x", "0.01"])),
        ],
        11 => {
            let mut c = vec![
                b("BZMPOP"),
                b(r.pick(&["0.01", "-1", "x"])),
                b(r.pick(&["1", "2", "0"])),
                k,
                key(r),
                side(r),
            ];
            if r.chance(50) {
                c.extend([b("COUNT"), count(r)]);
            }
            c
        }
        12 => vec![b("ZPOPMIN"), k, count(r)],
        13 => vec![b("DEL"), k],
        _ => vec![b("TYPE"), k],
    }
}
