//! Random commands for sorted sets, lists, HyperLogLogs, geo sets and streams.

use super::values::*;
use crate::support::{Rng, b};

pub(super) fn elem(r: &mut Rng) -> Vec<u8> {
    b(r.pick(&["a", "b", "c", "d", "1", "", "x\x00y"]))
}

pub(super) fn gen_list(r: &mut Rng) -> Vec<Vec<u8>> {
    let k = key(r);
    let side = |r: &mut Rng| b(r.pick(&["LEFT", "RIGHT", "left", "UP"]));
    match r.below(30) {
        0..=3 => {
            let mut c = vec![b(r.pick(&["LPUSH", "RPUSH"])), k];
            for _ in 0..1 + r.below(4) {
                c.push(elem(r));
            }
            c
        }
        4 => vec![b(r.pick(&["LPUSHX", "RPUSHX"])), k, elem(r), elem(r)],
        5 | 6 => {
            let mut c = vec![b(r.pick(&["LPOP", "RPOP"])), k];
            if r.chance(50) {
                c.push(b(r.pick(&["0", "1", "2", "5", "-1", "x"])));
            }
            c
        }
        7 => vec![b("LLEN"), k],
        8 => vec![b("LINDEX"), k, small_index(r)],
        9 | 10 => vec![b("LRANGE"), k, small_index(r), small_index(r)],
        11 => vec![b("LSET"), k, small_index(r), elem(r)],
        12 => vec![
            b("LINSERT"),
            k,
            b(r.pick(&["BEFORE", "AFTER", "after", "MIDDLE"])),
            elem(r),
            elem(r),
        ],
        13 => vec![b("LREM"), k, small_index(r), elem(r)],
        14 => vec![b("LTRIM"), k, small_index(r), small_index(r)],
        15 | 16 => {
            let mut c = vec![b("LPOS"), k, elem(r)];
            for _ in 0..r.below(3) {
                match r.below(4) {
                    0 => c.extend([b("RANK"), b(r.pick(&["1", "2", "-1", "-2", "0", "x"]))]),
                    1 => c.extend([b("COUNT"), b(r.pick(&["0", "1", "2", "-1"]))]),
                    2 => c.extend([b("MAXLEN"), b(r.pick(&["0", "1", "3", "-1"]))]),
                    _ => c.push(b("BOGUS")),
                }
            }
            c
        }
        17 | 18 => vec![b("LMOVE"), k, key(r), side(r), side(r)],
        19 => vec![b("RPOPLPUSH"), k, key(r)],
        20 | 21 => {
            let n = r.below(3);
            let mut c = vec![b("LMPOP"), b(&n.to_string())];
            for _ in 0..n.max(1) {
                c.push(key(r));
            }
            c.push(side(r));
            if r.chance(50) {
                c.extend([b("COUNT"), b(r.pick(&["1", "2", "0", "-1", "10"]))]);
            }
            c
        }
        // Blocking pops that find something (or time out at once) answer like Redis;
        // rare, since each timeout costs 10 ms on both servers.
        22..=25 if r.chance(75) => vec![b("LLEN"), k],
        22 => vec![
            b(r.pick(&["BLPOP", "BRPOP"])),
            k,
            key(r),
            b(r.pick(&["0.01", "-1", "x"])),
        ],
        23 => vec![b("BLMOVE"), k, key(r), side(r), side(r), b("0.01")],
        24 => vec![b("BRPOPLPUSH"), k, key(r), b("0.01")],
        25 => vec![b("BLMPOP"), b("0.01"), b("2"), k, key(r), side(r)],
        26 => vec![b("TYPE"), k],
        27 => vec![b("SET"), k, value(r)],
        28 => vec![b("DEL"), k],
        _ => vec![b("RENAME"), k, key(r)],
    }
}

pub(super) fn gen_hll(r: &mut Rng) -> Vec<Vec<u8>> {
    // Keys of their own: string commands that see an HLL's raw bytes (LCS, SETRANGE,
    // APPEND) would see the cached cardinality, which Concord leaves stale.
    let key = |r: &mut Rng| b(r.pick(&["h0", "h1", "h2"]));
    let k = key(r);
    let el = |r: &mut Rng| format!("e{}", r.below(400)).into_bytes();
    match r.below(12) {
        0..=3 => {
            let mut c = vec![b("PFADD"), k];
            for _ in 0..r.below(30) {
                c.push(el(r));
            }
            c
        }
        4 | 5 => vec![b("PFCOUNT"), k],
        6 => vec![b("PFCOUNT"), k, key(r), key(r)],
        7 => vec![b("PFMERGE"), k, key(r), key(r)],
        8 => vec![b("GET"), k],
        9 => vec![b("SET"), k, value(r)],
        10 => vec![b("DEL"), k],
        11 if r.chance(20) => {
            // Enough distinct elements to leave the sparse representation.
            let mut c = vec![b("PFADD"), k];
            let base = r.below(100_000);
            for i in 0..3000 {
                c.push(format!("big{}", base + i).into_bytes());
            }
            c
        }
        _ => vec![b("TYPE"), k],
    }
}

pub(super) fn coord(r: &mut Rng) -> (String, String) {
    // Around a few places (poles, the antimeridian and the equator included), at
    // random offsets; sometimes out of range.
    let (lon, lat) = r.pick(&[
        (13.36, 38.11),
        (15.08, 37.5),
        (-122.4, 37.7),
        (179.9, 0.0),
        (-179.95, -60.0),
        (0.0, 84.9),
        (2.35, 48.85),
    ]);
    let d = |r: &mut Rng| (r.below(20001) as f64 - 10000.0) / 10000.0;
    let lon = if r.chance(3) {
        181.0
    } else {
        (lon + d(r)).clamp(-180.0, 180.0)
    };
    let lat = (lat + d(r)).clamp(-85.05, 85.05);
    (format!("{lon}"), format!("{lat}"))
}

pub(super) fn gen_geo(r: &mut Rng) -> Vec<Vec<u8>> {
    let k = key(r);
    let m = |r: &mut Rng| format!("p{}", r.below(30)).into_bytes();
    let unit = |r: &mut Rng| b(r.pick(&["m", "km", "ft", "mi", "KM", "yd"]));
    let radius = |r: &mut Rng| b(r.pick(&["0", "10", "5000", "200000", "-1", "x", "20000000"]));
    let opts = |r: &mut Rng, c: &mut Vec<Vec<u8>>| {
        for _ in 0..r.below(4) {
            match r.below(8) {
                0 => c.push(b("WITHDIST")),
                1 => c.push(b("WITHCOORD")),
                2 => c.push(b("WITHHASH")),
                3 => c.push(b(r.pick(&["ASC", "DESC"]))),
                4 => c.extend([b("COUNT"), b(r.pick(&["1", "3", "0", "x"]))]),
                5 => c.push(b("ANY")),
                _ => c.push(b("ASC")),
            }
        }
    };
    match r.below(14) {
        0..=3 => {
            let mut c = vec![b("GEOADD"), k];
            if r.chance(20) {
                c.push(b(r.pick(&["NX", "XX", "CH"])));
            }
            for _ in 0..1 + r.below(4) {
                let (lon, lat) = coord(r);
                c.extend([b(&lon), b(&lat), m(r)]);
            }
            c
        }
        4 => vec![b("GEOPOS"), k, m(r), m(r)],
        5 => {
            let mut c = vec![b("GEODIST"), k, m(r), m(r)];
            if r.chance(60) {
                c.push(unit(r));
            }
            c
        }
        6 => vec![b("GEOHASH"), k, m(r), m(r)],
        7 | 8 => {
            let (lon, lat) = coord(r);
            let mut c = vec![
                b(r.pick(&["GEORADIUS", "GEORADIUS_RO"])),
                k,
                b(&lon),
                b(&lat),
                radius(r),
                unit(r),
            ];
            opts(r, &mut c);
            c
        }
        9 => {
            let mut c = vec![b("GEORADIUSBYMEMBER"), k, m(r), radius(r), unit(r)];
            opts(r, &mut c);
            c
        }
        10 | 11 => {
            let mut c = vec![b("GEOSEARCH"), k];
            if r.chance(50) {
                c.extend([b("FROMMEMBER"), m(r)]);
            } else {
                let (lon, lat) = coord(r);
                c.extend([b("FROMLONLAT"), b(&lon), b(&lat)]);
            }
            if r.chance(50) {
                c.extend([b("BYRADIUS"), radius(r), unit(r)]);
            } else {
                c.extend([b("BYBOX"), radius(r), radius(r), unit(r)]);
            }
            opts(r, &mut c);
            c
        }
        12 => {
            let (lon, lat) = coord(r);
            let mut c = vec![
                b("GEOSEARCHSTORE"),
                key(r),
                k,
                b("FROMLONLAT"),
                b(&lon),
                b(&lat),
                b("BYRADIUS"),
                radius(r),
                unit(r),
            ];
            if r.chance(50) {
                c.push(b("STOREDIST"));
            }
            c
        }
        _ => vec![b("ZRANGE"), k, b("0"), b("-1"), b("WITHSCORES")],
    }
}

pub(super) fn sid(r: &mut Rng) -> Vec<u8> {
    let ms = r.below(40);
    match r.below(10) {
        0 => b("-"),
        1 => b("+"),
        2 => format!("{ms}").into_bytes(),
        3 => format!("({ms}-{}", r.below(3)).into_bytes(),
        4 => b(r.pick(&[
            "0-0",
            "abc",
            "1-x",
            "18446744073709551615-18446744073709551615",
        ])),
        _ => format!("{ms}-{}", r.below(4)).into_bytes(),
    }
}

pub(super) fn gen_stream(r: &mut Rng) -> Vec<Vec<u8>> {
    let k = key(r);
    match r.below(16) {
        0..=4 => {
            let mut c = vec![b("XADD"), k];
            if r.chance(10) {
                c.push(b("NOMKSTREAM"));
            }
            if r.chance(20) {
                if r.chance(50) {
                    c.extend([b("MAXLEN"), b(r.pick(&["=", "5"]))]);
                    if c.last() == Some(&b("=")) {
                        c.push(b(r.pick(&["3", "0", "-1"])));
                    }
                } else {
                    c.extend([b("MINID"), format!("{}", r.below(30)).into_bytes()]);
                }
            }
            let ms = r.below(60);
            c.push(match r.below(4) {
                0 => format!("{ms}").into_bytes(),
                1 => format!("{ms}-*").into_bytes(),
                _ => format!("{ms}-{}", r.below(5)).into_bytes(),
            });
            for _ in 0..1 + r.below(3) {
                c.extend([field(r), value(r)]);
            }
            if r.chance(5) {
                c.pop();
            }
            c
        }
        5 | 6 => {
            let mut c = vec![b("XRANGE"), k, sid(r), sid(r)];
            if r.chance(30) {
                c.extend([b("COUNT"), b(r.pick(&["0", "1", "3", "-1"]))]);
            }
            c
        }
        7 => {
            let mut c = vec![b("XREVRANGE"), k, sid(r), sid(r)];
            if r.chance(30) {
                c.extend([b("COUNT"), b(r.pick(&["0", "2", "-1"]))]);
            }
            c
        }
        8 => vec![b("XLEN"), k],
        9 => vec![b("XDEL"), k, sid(r), sid(r)],
        10 => {
            let mut c = vec![b("XTRIM"), k];
            if r.chance(50) {
                c.extend([b("MAXLEN"), b(r.pick(&["2", "0", "=", "x"]))]);
                if c.last() == Some(&b("=")) {
                    c.push(b("4"));
                }
            } else {
                c.extend([b("MINID"), sid(r)]);
            }
            c
        }
        11 | 12 => {
            let mut c = vec![b("XREAD")];
            if r.chance(40) {
                c.extend([b("COUNT"), b(r.pick(&["1", "2", "0"]))]);
            }
            c.push(b("STREAMS"));
            let k2 = key(r);
            c.extend([k, k2, sid(r), sid(r)]);
            if r.chance(5) {
                c.pop();
            }
            c
        }
        13 => {
            let mut c = vec![b("XSETID"), k, sid(r)];
            if r.chance(30) {
                c.extend([b("MAXDELETEDID"), sid(r)]);
            }
            if r.chance(20) {
                c.extend([b("ENTRIESADDED"), b(r.pick(&["100", "-1", "x"]))]);
            }
            c
        }
        14 => vec![b("TYPE"), k],
        15 if r.chance(20) => vec![b("DEL"), k],
        _ => gen_group(r, k),
    }
}

pub(super) fn gen_group(r: &mut Rng, k: Vec<u8>) -> Vec<Vec<u8>> {
    let g = |r: &mut Rng| b(r.pick(&["g1", "g2"]));
    let c = |r: &mut Rng| b(r.pick(&["c1", "c2", "c3"]));
    match r.below(10) {
        0 => {
            let mut v = vec![
                b("XGROUP"),
                b("CREATE"),
                k,
                g(r),
                b(r.pick(&["0", "$", "5-0", "x"])),
            ];
            if r.chance(30) {
                v.push(b("MKSTREAM"));
            }
            v
        }
        1 => vec![
            b("XGROUP"),
            b(r.pick(&["DESTROY", "SETID"])),
            k,
            g(r),
            b("0"),
        ],
        2 => vec![
            b("XGROUP"),
            b(r.pick(&["CREATECONSUMER", "DELCONSUMER"])),
            k,
            g(r),
            c(r),
        ],
        3 | 4 => {
            let mut v = vec![b("XREADGROUP"), b("GROUP"), g(r), c(r)];
            if r.chance(40) {
                v.extend([b("COUNT"), b(r.pick(&["1", "2"]))]);
            }
            if r.chance(20) {
                v.push(b("NOACK"));
            }
            v.extend([b("STREAMS"), k, b(r.pick(&[">", ">", "0", "3-0"]))]);
            v
        }
        5 => vec![b("XACK"), k, g(r), sid(r), sid(r)],
        6 => vec![b("XPENDING"), k, g(r)],
        7 => {
            let mut v = vec![
                b("XCLAIM"),
                k,
                g(r),
                c(r),
                b("0"),
                sid(r),
                sid(r),
                b("JUSTID"),
            ];
            if r.chance(30) {
                v.push(b("FORCE"));
            }
            v
        }
        8 => vec![
            b("XAUTOCLAIM"),
            k,
            g(r),
            c(r),
            b("0"),
            b("0-0"),
            b("COUNT"),
            b("2"),
            b("JUSTID"),
        ],
        _ => vec![b("XINFO"), b("GROUPS"), k],
    }
}
