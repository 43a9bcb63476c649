//! Files built here from the documented format: read back, damaged, cut short.

use crate::{ErrorKind, Reader, Value, read_all};
use proptest::prelude::*;

/// Writes RDB files by the documented format (lengths, encodings, opcodes, checksum).
struct Writer(Vec<u8>);

impl Writer {
    fn new(version: u16) -> Self {
        Writer(format!("REDIS{version:04}").into_bytes())
    }

    fn len(&mut self, n: u64) -> &mut Self {
        if n < 1 << 6 {
            self.0.push(n as u8);
        } else if n < 1 << 14 {
            self.0.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
        } else if n <= u64::from(u32::MAX) {
            self.0.push(0x80);
            self.0.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            self.0.push(0x81);
            self.0.extend_from_slice(&n.to_be_bytes());
        }
        self
    }

    fn string(&mut self, s: &[u8]) -> &mut Self {
        self.len(s.len() as u64);
        self.0.extend_from_slice(s);
        self
    }

    fn op(&mut self, b: u8) -> &mut Self {
        self.0.push(b);
        self
    }

    fn end(&mut self) -> Vec<u8> {
        self.0.push(0xff);
        let sum = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&self.0);
        self.0.extend_from_slice(&sum.to_le_bytes());
        self.0.clone()
    }
}

/// A file with every string encoding, expiries in both units, two databases.
fn sample() -> Vec<u8> {
    let mut w = Writer::new(11);
    w.op(0xfa).string(b"redis-ver").string(b"7.0.15");
    w.op(0xfe).len(0).op(0xfb).len(6).len(2);
    w.op(0).string(b"plain").string(b"hello");
    w.op(0).string(b"long").string(&[b'x'; 300]);
    w.op(0).string(b"i8").op(0xc0).op(0x85); // -123
    w.op(0).string(b"i16").op(0xc1);
    w.0.extend_from_slice(&(-30_000i16).to_le_bytes());
    w.op(0).string(b"i32").op(0xc2);
    w.0.extend_from_slice(&(2_000_000_000i32).to_le_bytes());
    let raw = b"abcabcabcabcabcabcabcabcabcabcabcabcabcabcabc".repeat(10);
    let packed = lzf::compress(&raw).expect("compresses");
    w.op(0)
        .string(b"lzf")
        .op(0xc3)
        .len(packed.len() as u64)
        .len(raw.len() as u64);
    w.0.extend_from_slice(&packed);
    w.op(0xfc);
    w.0.extend_from_slice(&1_900_000_000_123u64.to_le_bytes());
    w.op(0).string(b"ms").string(b"v");
    w.op(0xfe).len(3);
    w.op(0xfd);
    w.0.extend_from_slice(&1_900_000_000u32.to_le_bytes());
    w.op(0xf9).op(7).op(0).string(b"secs").string(b"v");
    w.end()
}

#[test]
fn every_string_encoding_reads_back() {
    let (h, keys) = read_all(&sample()).expect("reads");
    assert_eq!(h.version, 11);
    assert_eq!(h.aux, vec![(b"redis-ver".to_vec(), b"7.0.15".to_vec())]);
    let got: Vec<(u64, &[u8], Option<u64>, &Value)> = keys
        .iter()
        .map(|e| (e.db, &e.key[..], e.expire_ms, &e.value))
        .collect();
    let s = |v: &[u8]| Value::String(v.to_vec());
    let lzf = b"abcabcabcabcabcabcabcabcabcabcabcabcabcabcabc".repeat(10);
    assert_eq!(
        got,
        vec![
            (0, &b"plain"[..], None, &s(b"hello")),
            (0, b"long", None, &s(&[b'x'; 300])),
            (0, b"i8", None, &s(b"-123")),
            (0, b"i16", None, &s(b"-30000")),
            (0, b"i32", None, &s(b"2000000000")),
            (0, b"lzf", None, &s(&lzf)),
            (0, b"ms", Some(1_900_000_000_123), &s(b"v")),
            (3, b"secs", Some(1_900_000_000_000), &s(b"v")),
        ]
    );
}

#[test]
fn a_zero_checksum_is_not_checked_and_a_wrong_one_is_an_error() {
    let mut f = sample();
    let n = f.len();
    f[n - 8..].copy_from_slice(&[0; 8]);
    assert!(read_all(&f).is_ok());
    f[n - 1] = 1;
    let e = read_all(&f).expect_err("damaged");
    assert!(matches!(e.kind, ErrorKind::Checksum { .. }), "{e}");
    assert_eq!(e.offset, n - 8);
}

#[test]
fn a_damaged_byte_is_an_error_never_a_panic_or_a_success() {
    let f = sample();
    for i in 9..f.len() - 8 {
        let mut g = f.clone();
        g[i] ^= 0x5a;
        // The checksum catches whatever the structure does not.
        assert!(read_all(&g).is_err(), "flipping byte {i} went unnoticed");
    }
}

#[test]
fn every_cut_is_an_error() {
    let f = sample();
    for cut in 0..f.len() {
        let e = read_all(&f[..cut]).expect_err("cut short");
        assert!(e.offset <= cut, "offset {} past the cut {cut}", e.offset);
    }
    let mut longer = f.clone();
    longer.push(0);
    assert_eq!(
        read_all(&longer).expect_err("trailing").kind,
        ErrorKind::Trailing
    );
}

#[test]
fn headers_and_versions() {
    assert_eq!(read_all(b"").unwrap_err().kind, ErrorKind::NotRdb);
    assert_eq!(read_all(b"RODIS0011").unwrap_err().kind, ErrorKind::NotRdb);
    assert_eq!(read_all(b"REDIS00x1").unwrap_err().kind, ErrorKind::NotRdb);
    for v in [8u16, 12] {
        let f = Writer::new(v).end();
        assert_eq!(read_all(&f).unwrap_err().kind, ErrorKind::Version(v));
    }
    for v in 9..=11 {
        assert!(read_all(&Writer::new(v).end()).is_ok());
    }
}

#[test]
fn a_type_not_read_names_its_key() {
    let mut w = Writer::new(10);
    w.op(7).string(b"mymodule").len(0);
    let e = read_all(&w.end()).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Unsupported {
            kind: 7,
            key: "mymodule".into()
        }
    );
    assert_eq!(e.offset, 9);
}

/// A listpack of small numbers (7-bit) and short strings (6-bit lengths).
fn listpack(items: &[Item]) -> Vec<u8> {
    let mut body = Vec::new();
    for it in items {
        let e: Vec<u8> = match it {
            Item::N(n) => vec![*n],
            Item::S(s) => [&[0x80 | s.len() as u8][..], s.as_bytes()].concat(),
            Item::I(n) => {
                let v = (*n as u16) & 0x1fff;
                vec![0xc0 | (v >> 8) as u8, v as u8]
            }
        };
        body.extend_from_slice(&e);
        body.push(e.len() as u8);
    }
    let mut b = ((6 + body.len() + 1) as u32).to_le_bytes().to_vec();
    b.extend_from_slice(&(items.len() as u16).to_le_bytes());
    b.extend_from_slice(&body);
    b.push(0xff);
    b
}

enum Item {
    N(u8),
    S(&'static str),
    /// A 13-bit signed integer.
    I(i16),
}

/// A stream of type `t` (15, 19 or 21) as the documented format lays it out: one
/// listpack under master id 10-0 with an entry sharing the master's fields, a deleted
/// one and one with fields of its own; a group with one pending entry, owned by one of
/// its two consumers.
fn stream_file(t: u8, damaged_pel: bool) -> Vec<u8> {
    use Item::{N, S};
    let lp = listpack(&[
        N(2),
        N(1),
        N(1),
        S("f"),
        N(0), // master entry: 2 valid, 1 deleted, field f
        N(2),
        N(0),
        N(0),
        S("a"),
        N(4), // 10-0 {f: a}
        N(3),
        N(0),
        N(1),
        S("b"),
        N(4), // 10-1, deleted
        N(0),
        N(1),
        N(0),
        N(2),
        S("x"),
        S("1"),
        S("y"),
        S("2"),
        N(8), // 11-0 {x: 1, y: 2}
    ]);
    let raw = |ms: u64, seq: u64| [ms.to_be_bytes(), seq.to_be_bytes()].concat();
    let mut w = Writer::new(11);
    w.op(t).string(b"s").len(1).string(&raw(10, 0)).string(&lp);
    w.len(2).len(11).len(5);
    if t >= 19 {
        w.len(10).len(0).len(10).len(1).len(3);
    }
    w.len(1).string(b"g").len(10).len(0);
    if t >= 19 {
        w.len(1);
    }
    w.len(1);
    w.0.extend_from_slice(&raw(10, 0));
    w.0.extend_from_slice(&1_700_000_000_000u64.to_le_bytes());
    w.len(2);
    w.len(2);
    for (name, owns) in [(&b"alice"[..], true), (b"bob", false)] {
        w.string(name);
        w.0.extend_from_slice(&1_700_000_000_500u64.to_le_bytes());
        if t >= 21 {
            w.0.extend_from_slice(&1_700_000_000_600u64.to_le_bytes());
        }
        if owns {
            w.len(1);
            w.0.extend_from_slice(&raw(10, if damaged_pel { 7 } else { 0 }));
        } else {
            w.len(0);
        }
    }
    w.end()
}

#[test]
fn streams_of_each_version_read_with_their_groups() {
    use crate::{Consumer, Group, Pending, Stream};
    for t in [15u8, 19, 21] {
        let (_, keys) = read_all(&stream_file(t, false)).expect("reads");
        let newer = t >= 19;
        let want = Stream {
            entries: vec![
                ((10, 0), vec![(b"f".to_vec(), b"a".to_vec())]),
                (
                    (11, 0),
                    vec![
                        (b"x".to_vec(), b"1".to_vec()),
                        (b"y".to_vec(), b"2".to_vec()),
                    ],
                ),
            ],
            last_id: (11, 5),
            entries_added: newer.then_some(3),
            max_deleted: if newer { (10, 1) } else { (0, 0) },
            groups: vec![Group {
                name: b"g".to_vec(),
                last_id: (10, 0),
                entries_read: newer.then_some(1),
                pending: vec![Pending {
                    id: (10, 0),
                    delivery_ms: 1_700_000_000_000,
                    deliveries: 2,
                    consumer: b"alice".to_vec(),
                }],
                consumers: vec![
                    Consumer {
                        name: b"alice".to_vec(),
                        seen_ms: 1_700_000_000_500,
                    },
                    Consumer {
                        name: b"bob".to_vec(),
                        seen_ms: 1_700_000_000_500,
                    },
                ],
            }],
        };
        assert_eq!(keys[0].value, Value::Stream(want), "type {t}");
        let e = read_all(&stream_file(t, true)).expect_err("a consumer's entry not pending");
        assert!(matches!(e.kind, ErrorKind::Malformed(_)), "{e}");
        let f = stream_file(t, false);
        for cut in 0..f.len() {
            assert!(read_all(&f[..cut]).is_err());
        }
    }
}

#[test]
fn lengths_beyond_the_file_or_the_limits_allocate_nothing() {
    for n in [1u64 << 20, 1 << 40, u64::MAX] {
        let mut w = Writer::new(11);
        w.op(0).string(b"k").len(n);
        let e = read_all(&w.end()).unwrap_err();
        assert!(
            matches!(e.kind, ErrorKind::Truncated | ErrorKind::TooLong(_)),
            "{e}"
        );
    }
    // An LZF string claiming to expand past what LZF can.
    let mut w = Writer::new(11);
    w.op(0).string(b"k").op(0xc3).len(2).len(1 << 20);
    w.0.extend_from_slice(&[0, b'a']);
    assert_eq!(
        read_all(&w.end()).unwrap_err().kind,
        ErrorKind::TooLong(1 << 20)
    );
}

#[test]
fn the_reader_reports_its_progress() {
    let f = sample();
    let mut r = Reader::new(&f).expect("header");
    assert_eq!(r.offset(), 9);
    while r.next_entry().expect("reads").is_some() {}
    assert_eq!(r.offset(), f.len());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut f = b"REDIS0011".to_vec();
        f.extend_from_slice(&body);
        let _ = read_all(&f);
    }
}

#[test]
fn verify_refuses_every_damage_the_checksum_sees_before_any_key_is_read() {
    let f = sample();
    assert_eq!(crate::verify(&f), Ok(()));
    for i in 9..f.len() {
        let mut g = f.clone();
        g[i] ^= 0x5a;
        assert!(
            crate::verify(&g).is_err(),
            "flipping byte {i} went unnoticed"
        );
    }
    for cut in 0..f.len() {
        assert!(
            crate::verify(&f[..cut]).is_err(),
            "cut at {cut} went unnoticed"
        );
    }
    // Without a checksum, only the header and the end marker are checked.
    let mut g = f.clone();
    let n = g.len();
    g[n - 8..].copy_from_slice(&[0; 8]);
    assert_eq!(crate::verify(&g), Ok(()));
}

#[test]
fn function_libraries_are_kept_in_the_header() {
    let mut w = Writer::new(10);
    w.op(245)
        .string(b"#!lua name=a\nredis.register_function('f', function() end)");
    w.op(0).string(b"k").string(b"v");
    let (h, keys) = read_all(&w.end()).expect("reads");
    assert_eq!(h.functions.len(), 1);
    assert!(h.functions[0].starts_with(b"#!lua name=a"));
    assert_eq!(keys.len(), 1);
    let mut m = Writer::new(10);
    m.op(247);
    assert!(read_all(&m.end()).is_err(), "module data is refused");
}

#[test]
fn stream_entries_whose_sequence_restarts_below_the_master_read() {
    use Item::{I, N, S};
    // Master 100-3; the next entry is 101-0: a sequence difference of -3.
    let lp = listpack(&[
        N(2),
        N(0),
        N(1),
        S("f"),
        N(0),
        N(2),
        N(0),
        N(0),
        S("a"),
        N(4),
        N(2),
        N(1),
        I(-3),
        S("b"),
        N(4),
    ]);
    let raw = [100u64.to_be_bytes(), 3u64.to_be_bytes()].concat();
    let mut w = Writer::new(10);
    w.op(19).string(b"s").len(1).string(&raw).string(&lp);
    w.len(2).len(101).len(0);
    w.len(100).len(3).len(0).len(0).len(2);
    w.len(0);
    let (_, keys) = read_all(&w.end()).expect("reads");
    let Value::Stream(st) = &keys[0].value else {
        panic!("a stream")
    };
    let ids: Vec<_> = st.entries.iter().map(|e| e.0).collect();
    assert_eq!(ids, [(100, 3), (101, 0)]);
}

#[test]
fn a_group_named_twice_is_damage() {
    let mut w = Writer::new(10);
    w.op(19).string(b"s").len(0); // no listpacks
    w.len(0).len(1).len(0).len(0).len(0).len(0).len(0).len(0); // counters
    w.len(2);
    for _ in 0..2 {
        w.string(b"g").len(0).len(0).len(0).len(0).len(0);
    }
    let e = read_all(&w.end()).expect_err("a group twice");
    assert!(matches!(e.kind, ErrorKind::Malformed(_)), "{e}");
}
