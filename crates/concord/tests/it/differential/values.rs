//! Random commands for strings, bits, hashes, sets and whole keys, and the random
//! arguments every generator draws from.

use crate::support::{Rng, b};

pub(super) const KEYS: &[&str] = &["k0", "k1", "k2", "k3", "{k}4"];

pub(super) fn key(r: &mut Rng) -> Vec<u8> {
    b(r.pick(KEYS))
}

pub(super) fn value(r: &mut Rng) -> Vec<u8> {
    match r.below(16) {
        0 => Vec::new(),
        1 => b("0"),
        2 => b("-1"),
        3 => b("10"),
        4 => b("3.5"),
        5 => b("-2.25"),
        6 => b("abc"),
        7 => b("9223372036854775807"),
        8 => b("-9223372036854775808"),
        9 => b("1e3"),
        10 => b(" 1"),
        11 => vec![0, 255, b'\r', b'\n', 7],
        12 => vec![b'x'; 3000 + r.below(3000)],
        13 => b("007"),
        _ => (r.below(200) as i64 - 100).to_string().into_bytes(),
    }
}

pub(super) fn int_arg(r: &mut Rng) -> Vec<u8> {
    b(r.pick(&[
        "0",
        "1",
        "-1",
        "5",
        "-5",
        "100",
        "abc",
        "9223372036854775807",
        "-9223372036854775808",
        "3.5",
        "",
        "17",
    ]))
}

pub(super) fn float_arg(r: &mut Rng) -> Vec<u8> {
    b(r.pick(&[
        "0.5", "1.5", "-0.25", "3", "1e2", "abc", "inf", "-7", "2.75", "",
    ]))
}

pub(super) fn small_index(r: &mut Rng) -> Vec<u8> {
    (r.below(30) as i64 - 10).to_string().into_bytes()
}

pub(super) fn field(r: &mut Rng) -> Vec<u8> {
    b(r.pick(&["f0", "f1", "f2", "f3", ""]))
}

pub(super) fn member(r: &mut Rng) -> Vec<u8> {
    b(r.pick(&["a", "b", "c", "d", "1", "2", "", "\x00z"]))
}

pub(super) fn cmd(words: &[&str]) -> Vec<Vec<u8>> {
    words.iter().map(|w| b(w)).collect()
}

pub(super) fn gen_string(r: &mut Rng) -> Vec<Vec<u8>> {
    let k = key(r);
    match r.below(24) {
        0 | 1 => vec![b("GET"), k],
        2 | 3 => {
            let mut c = vec![b("SET"), k, value(r)];
            for _ in 0..r.below(3) {
                match r.below(8) {
                    0 => c.push(b("NX")),
                    1 => c.push(b("XX")),
                    2 => c.push(b("GET")),
                    3 => c.push(b("KEEPTTL")),
                    4 => c.extend([b("EX"), b(r.pick(&["100", "0", "-5", "abc", "200"]))]),
                    5 => c.extend([b("PX"), b(r.pick(&["100000", "0", "300000"]))]),
                    6 => c.push(b("BOGUS")),
                    _ => c.extend([b("EXAT"), b("99999999999")]),
                }
            }
            c
        }
        4 => vec![b("SETNX"), k, value(r)],
        // Expiries stay far in the future: both servers must see the same keys alive.
        5 => vec![
            b(r.pick(&["SETEX", "PSETEX"])),
            k,
            b(r.pick(&["1000000", "0", "-1", "abc", "100000000"])),
            value(r),
        ],
        6 => vec![b("GETSET"), k, value(r)],
        7 => vec![b("GETDEL"), k],
        8 => {
            let mut c = vec![b("GETEX"), k];
            match r.below(4) {
                0 => c.extend([b("EX"), b("100")]),
                1 => c.push(b("PERSIST")),
                2 => c.extend([b("PX"), b("-3")]),
                _ => {}
            }
            c
        }
        9 => {
            let mut c = vec![b("MGET")];
            for _ in 0..1 + r.below(4) {
                c.push(key(r));
            }
            c
        }
        10 => {
            let mut c = vec![b(r.pick(&["MSET", "MSETNX"]))];
            for _ in 0..1 + r.below(3) {
                c.push(key(r));
                c.push(value(r));
            }
            if r.chance(10) {
                c.pop();
            }
            c
        }
        11 => vec![b("APPEND"), k, value(r)],
        12 => vec![b("STRLEN"), k],
        13 => vec![
            b(r.pick(&["GETRANGE", "SUBSTR"])),
            k,
            small_index(r),
            small_index(r),
        ],
        14 => vec![
            b("SETRANGE"),
            k,
            b(r.pick(&["0", "1", "5", "-1", "abc", "20"])),
            value(r),
        ],
        15 => vec![b("INCR"), k],
        16 => vec![b("DECR"), k],
        17 => vec![b(r.pick(&["INCRBY", "DECRBY"])), k, int_arg(r)],
        18 => vec![b("INCRBYFLOAT"), k, float_arg(r)],
        19 => {
            let mut c = vec![b("LCS"), k, key(r)];
            match r.below(4) {
                0 => c.push(b("LEN")),
                1 => c.extend([b("IDX"), b("WITHMATCHLEN")]),
                2 => c.extend([b("IDX"), b("MINMATCHLEN"), b("2")]),
                _ => {}
            }
            c
        }
        20 => vec![b("TYPE"), k],
        21 => vec![b("DEL"), k],
        22 => vec![b("GET")],
        _ => vec![b("SET"), k],
    }
}

pub(super) fn gen_bits(r: &mut Rng) -> Vec<Vec<u8>> {
    let k = key(r);
    let idx = |r: &mut Rng| {
        b(r.pick(&[
            "0", "1", "2", "-1", "-2", "3", "7", "8", "15", "100", "-100", "x",
        ]))
    };
    match r.below(12) {
        0 | 1 => vec![
            b("SETBIT"),
            k,
            b(r.pick(&["0", "1", "7", "8", "33", "100", "-1", "x", "4294967296"])),
            b(r.pick(&["0", "1", "1", "2"])),
        ],
        2 => vec![
            b("GETBIT"),
            k,
            b(r.pick(&["0", "1", "7", "8", "33", "100", "-1"])),
        ],
        3 => {
            let mut c = vec![b("BITCOUNT"), k];
            if r.chance(70) {
                c.push(idx(r));
                c.push(idx(r));
                if r.chance(50) {
                    c.push(b(r.pick(&["BIT", "BYTE", "NOPE"])));
                }
            }
            c
        }
        4 => {
            let mut c = vec![b("BITPOS"), k, b(r.pick(&["0", "1", "2"]))];
            for _ in 0..r.below(3) {
                c.push(idx(r));
            }
            if c.len() == 5 && r.chance(50) {
                c.push(b(r.pick(&["BIT", "BYTE"])));
            }
            c
        }
        5 => {
            let op: &str = r.pick(&["AND", "OR", "XOR", "NOT", "NAND"]);
            let mut c = vec![b("BITOP"), b(op), key(r), k];
            if op != "NOT" || r.chance(20) {
                c.push(key(r));
            }
            c
        }
        6 | 7 => {
            let mut c = vec![
                b(if r.chance(20) {
                    "BITFIELD_RO"
                } else {
                    "BITFIELD"
                }),
                k,
            ];
            for _ in 0..1 + r.below(3) {
                let t = b(r.pick(&["i8", "u8", "i5", "u3", "i64", "u63", "u64", "i16", "x1"]));
                let off = b(r.pick(&["0", "1", "#1", "13", "#2", "-1", "100"]));
                match r.below(5) {
                    0 | 1 => c.extend([b("GET"), t, off]),
                    2 => c.extend([
                        b("SET"),
                        t,
                        off,
                        b(r.pick(&["0", "1", "-1", "127", "128", "255", "-129", "1000"])),
                    ]),
                    3 => c.extend([
                        b("INCRBY"),
                        t,
                        off,
                        b(r.pick(&["1", "-1", "100", "-100", "9223372036854775807"])),
                    ]),
                    _ => c.extend([b("OVERFLOW"), b(r.pick(&["WRAP", "SAT", "FAIL", "NOPE"]))]),
                }
            }
            c
        }
        8 => vec![b("SET"), k, value(r)],
        9 => vec![b("GET"), k],
        10 => vec![b("APPEND"), k, value(r)],
        _ => vec![b("DEL"), k],
    }
}

pub(super) fn gen_hash(r: &mut Rng) -> Vec<Vec<u8>> {
    let k = key(r);
    match r.below(18) {
        0..=2 => {
            let mut c = vec![b(r.pick(&["HSET", "HMSET"])), k];
            for _ in 0..1 + r.below(3) {
                c.push(field(r));
                c.push(value(r));
            }
            if r.chance(8) {
                c.pop();
            }
            c
        }
        3 => vec![b("HSETNX"), k, field(r), value(r)],
        4 => vec![b("HGET"), k, field(r)],
        5 => vec![b("HMGET"), k, field(r), field(r)],
        6 => vec![b("HGETALL"), k],
        7 => vec![b("HDEL"), k, field(r), field(r)],
        8 => vec![b("HEXISTS"), k, field(r)],
        9 => vec![b("HLEN"), k],
        10 => vec![b("HKEYS"), k],
        11 => vec![b("HVALS"), k],
        12 => vec![b("HINCRBY"), k, field(r), int_arg(r)],
        13 => vec![b("HINCRBYFLOAT"), k, field(r), float_arg(r)],
        14 => vec![b("HSTRLEN"), k, field(r)],
        15 => vec![b("SET"), k, value(r)],
        16 => vec![b("DEL"), k],
        _ => vec![b("HGET"), k],
    }
}

pub(super) fn gen_set(r: &mut Rng) -> Vec<Vec<u8>> {
    let k = key(r);
    match r.below(18) {
        0..=2 => {
            let mut c = vec![b("SADD"), k];
            for _ in 0..1 + r.below(4) {
                c.push(member(r));
            }
            c
        }
        3 => vec![b("SREM"), k, member(r), member(r)],
        4 => vec![b("SMEMBERS"), k],
        5 => vec![b("SISMEMBER"), k, member(r)],
        6 => vec![b("SMISMEMBER"), k, member(r), member(r)],
        7 => vec![b("SCARD"), k],
        8 => vec![b("SMOVE"), k, key(r), member(r)],
        9 => vec![b(r.pick(&["SINTER", "SUNION", "SDIFF"])), k, key(r), key(r)],
        10 => vec![
            b(r.pick(&["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"])),
            k,
            key(r),
            key(r),
        ],
        11 => {
            let mut c = vec![b("SINTERCARD"), b(r.pick(&["2", "0", "5", "x"])), k, key(r)];
            if r.chance(50) {
                c.extend([b("LIMIT"), b(r.pick(&["1", "0", "-1"]))]);
            }
            c
        }
        12 => vec![b("SET"), k, value(r)],
        13 => vec![b("DEL"), k],
        14 => vec![b("SRANDMEMBER"), k, b("0")],
        15 => vec![b("SPOP"), b("nokey"), b("2")],
        _ => vec![b("SADD"), k],
    }
}

pub(super) fn score(r: &mut Rng) -> Vec<u8> {
    b(r.pick(&[
        "0", "1", "-1", "2.5", "-3.25", "1e3", "inf", "-inf", "abc", "7", "0.1", "100",
    ]))
}

pub(super) fn score_bound(r: &mut Rng) -> Vec<u8> {
    b(r.pick(&[
        "-inf", "+inf", "0", "(0", "1", "(1", "2.5", "(2.5", "-1", "100", "(100", "x", "(x",
    ]))
}

pub(super) fn lex_bound(r: &mut Rng) -> Vec<u8> {
    b(r.pick(&["-", "+", "[a", "(a", "[b", "(c", "[d", "x", "[", "("]))
}

pub(super) fn gen_zset(r: &mut Rng) -> Vec<Vec<u8>> {
    let k = key(r);
    match r.below(30) {
        0..=3 => {
            let mut c = vec![b("ZADD"), k];
            for _ in 0..r.below(3) {
                c.push(b(r.pick(&["NX", "XX", "GT", "LT", "CH", "INCR"])));
            }
            // Sometimes more pairs than a ZADD compares pairwise (members repeat).
            let pairs = if r.chance(25) {
                9 + r.below(6)
            } else {
                1 + r.below(3)
            };
            for _ in 0..pairs {
                c.push(score(r));
                c.push(member(r));
            }
            if r.chance(5) {
                c.pop();
            }
            c
        }
        4 => {
            // Lexicographic commands assume equal scores, as in Redis.
            let mut c = vec![b("ZADD"), b("lex")];
            for _ in 0..1 + r.below(4) {
                c.push(b("0"));
                c.push(member(r));
            }
            c
        }
        5 => vec![b("ZINCRBY"), k, score(r), member(r)],
        6 => vec![b("ZREM"), k, member(r), member(r)],
        7 => vec![b("ZSCORE"), k, member(r)],
        8 => vec![b("ZMSCORE"), k, member(r), member(r)],
        9 => vec![b("ZCARD"), k],
        10 => vec![b("ZCOUNT"), k, score_bound(r), score_bound(r)],
        11 => vec![b("ZLEXCOUNT"), b("lex"), lex_bound(r), lex_bound(r)],
        // WITHSCORE is Redis 7.2; the oracle here is Debian's 7.0.
        12 => vec![b(r.pick(&["ZRANK", "ZREVRANK"])), k, member(r)],
        13 | 14 => {
            let by = r.below(3);
            let lex = by == 2;
            let mut c = vec![b("ZRANGE"), if lex { b("lex") } else { k }];
            match by {
                0 => {
                    c.push(small_index(r));
                    c.push(small_index(r));
                }
                1 => {
                    c.push(score_bound(r));
                    c.push(score_bound(r));
                    c.push(b("BYSCORE"));
                }
                _ => {
                    c.push(lex_bound(r));
                    c.push(lex_bound(r));
                    c.push(b("BYLEX"));
                }
            }
            if r.chance(40) {
                c.push(b("REV"));
            }
            if r.chance(30) {
                c.extend([b("LIMIT"), small_index(r), small_index(r)]);
            }
            if r.chance(40) {
                c.push(b("WITHSCORES"));
            }
            c
        }
        15 => {
            let mut c = vec![
                b(r.pick(&["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"])),
                k,
                score_bound(r),
                score_bound(r),
            ];
            if r.chance(50) {
                c.push(b("WITHSCORES"));
            }
            if r.chance(30) {
                c.extend([b("LIMIT"), small_index(r), small_index(r)]);
            }
            c
        }
        16 => {
            let mut c = vec![
                b(r.pick(&["ZRANGEBYLEX", "ZREVRANGEBYLEX"])),
                b("lex"),
                lex_bound(r),
                lex_bound(r),
            ];
            if r.chance(30) {
                c.extend([b("LIMIT"), small_index(r), small_index(r)]);
            }
            c
        }
        17 => {
            let mut c = vec![b("ZREVRANGE"), k, small_index(r), small_index(r)];
            if r.chance(50) {
                c.push(b("WITHSCORES"));
            }
            c
        }
        18 => vec![
            b(r.pick(&["ZPOPMIN", "ZPOPMAX"])),
            k,
            b(r.pick(&["1", "2", "0", "-1", "10"])),
        ],
        19 => vec![b(r.pick(&["ZPOPMIN", "ZPOPMAX"])), k],
        20 => vec![b("ZREMRANGEBYRANK"), k, small_index(r), small_index(r)],
        21 => vec![b("ZREMRANGEBYSCORE"), k, score_bound(r), score_bound(r)],
        22 => vec![b("ZREMRANGEBYLEX"), b("lex"), lex_bound(r), lex_bound(r)],
        23 | 24 => {
            let store = r.chance(50);
            let op: &str = r.pick(&["ZUNION", "ZINTER", "ZDIFF"]);
            let mut c = if store {
                vec![b(&format!("{op}STORE")), key(r)]
            } else {
                vec![b(op)]
            };
            let n = 1 + r.below(3);
            c.push(b(&n.to_string()));
            for _ in 0..n {
                c.push(key(r));
            }
            if op != "ZDIFF" && r.chance(40) {
                c.push(b("WEIGHTS"));
                for _ in 0..n {
                    c.push(b(r.pick(&["1", "2", "-1", "0.5", "0"])));
                }
            }
            if op != "ZDIFF" && r.chance(40) {
                c.extend([b("AGGREGATE"), b(r.pick(&["SUM", "MIN", "MAX"]))]);
            }
            if !store && r.chance(50) {
                c.push(b("WITHSCORES"));
            }
            c
        }
        25 => vec![b("ZINTERCARD"), b("2"), k, key(r)],
        26 => vec![b("ZRANGESTORE"), key(r), k, small_index(r), small_index(r)],
        27 => vec![b("SADD"), k, member(r)],
        28 => vec![b("DEL"), k],
        _ => vec![b("ZRANDMEMBER"), k, b("0")],
    }
}

pub(super) fn gen_keys(r: &mut Rng) -> Vec<Vec<u8>> {
    let k = key(r);
    match r.below(24) {
        0 => vec![b("SET"), k, value(r)],
        1 => vec![b("SADD"), k, member(r)],
        2 => vec![b("HSET"), k, field(r), value(r)],
        3 => vec![b("INCR"), k],
        4 => vec![b(r.pick(&["DEL", "UNLINK"])), k, key(r)],
        5 => vec![b(r.pick(&["EXISTS", "TOUCH"])), k.clone(), key(r), k],
        6 => vec![b("TYPE"), k],
        7 => vec![b("RENAME"), k, key(r)],
        8 => vec![b("RENAMENX"), k, key(r)],
        9 => {
            let mut c = vec![b("COPY"), k, key(r)];
            if r.chance(50) {
                c.push(b("REPLACE"));
            }
            if r.chance(20) {
                c.extend([b("DB"), b(r.pick(&["0", "x"]))]);
            }
            c
        }
        10 | 11 => {
            let mut c = vec![
                b(r.pick(&["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"])),
                k,
                b(r.pick(&[
                    "100",
                    "200",
                    "-1",
                    "0",
                    "abc",
                    "99999999999",
                    "9223372036854775807",
                ])),
            ];
            if c[0] == b("EXPIREAT") || c[0] == b("PEXPIREAT") {
                if c[2] == b("100") || c[2] == b("200") {
                    c[2] = b("99999999999");
                }
            } else if c[0] == b("PEXPIRE") && (c[2] == b("100") || c[2] == b("200")) {
                c[2] = (500_000 + r.below(1_000_000)).to_string().into_bytes();
            } else if c[2] == b("100") || c[2] == b("200") {
                // Rarely the same twice: GT/LT against an equal expiry set a moment before
                // depends on whether a millisecond passed on each server.
                c[2] = (100 + r.below(100_000)).to_string().into_bytes();
            }
            for _ in 0..r.below(3) {
                c.push(b(r.pick(&["NX", "XX", "GT", "LT", "ZZ"])));
            }
            c
        }
        12 => vec![b("TTL"), k],
        13 => vec![b("EXPIRETIME"), k],
        14 => vec![b("PERSIST"), k],
        15 => vec![b("DBSIZE")],
        16 => vec![b("KEYS"), b(r.pick(&["*", "k*", "k[0-2]", "?1", "\\{k}*"]))],
        17 => vec![b("GET"), k],
        18 => vec![b("SMEMBERS"), k],
        19 => vec![b("HGETALL"), k],
        20 if r.chance(10) => vec![b(r.pick(&["FLUSHALL", "FLUSHDB"]))],
        21 => vec![b("GETEX"), k, b("EX"), b("300")],
        22 => vec![b("SET"), k, value(r), b("EX"), b("300")],
        _ => vec![b("PTTL"), b("nokey")],
    }
}
