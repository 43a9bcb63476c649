//! The packed encodings small collections are stored in, each inside one RDB string:
//! listpacks (Redis 7), ziplists (before 7) and intsets. Each decodes to its elements as
//! text (integers as their decimal form), checking every length against the blob.

/// Why a packed blob could not be decoded.
pub(crate) type Malformed = &'static str;

/// A decoder of one packed encoding: the elements, as text.
pub(crate) type Decode = fn(&[u8]) -> Result<Vec<Vec<u8>>, Malformed>;

/// The end marker of listpacks and ziplists.
const END: u8 = 0xff;

/// The elements of a listpack.
pub(crate) fn listpack(b: &[u8]) -> Result<Vec<Vec<u8>>, Malformed> {
    if b.len() < 7 {
        return Err("listpack shorter than its header");
    }
    let total = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    if total != b.len() {
        return Err("listpack size does not match its string");
    }
    let mut at = 6;
    let mut out = Vec::new();
    loop {
        let e = *b.get(at).ok_or("listpack without its end")?;
        if e == END {
            at += 1;
            break;
        }
        let start = at;
        let (value, size) = lp_entry(&b[at..])?;
        out.push(value);
        at += size;
        // The entry's length again, backwards, in 1 to 5 bytes.
        let back = backlen_size(size);
        at = at
            .checked_add(back)
            .filter(|&a| a <= b.len())
            .ok_or("listpack entry past the end")?;
        debug_assert!(at > start);
    }
    if at != b.len() {
        return Err("bytes after a listpack's end");
    }
    Ok(out)
}

/// How many bytes an entry of `size` bytes writes its length back in (Redis's
/// lpEncodeBacklen: 7 bits a byte, with its exact thresholds).
fn backlen_size(size: usize) -> usize {
    match size {
        0..=127 => 1,
        128..16_383 => 2,
        16_383..2_097_151 => 3,
        2_097_151..268_435_455 => 4,
        _ => 5,
    }
}

/// An element to write into a listpack.
pub(crate) enum Element<'a> {
    /// An integer, in the smallest integer encoding that holds it.
    Int(i64),
    /// A string, as a string whatever it holds.
    Str(&'a [u8]),
}

/// A listpack of `elements`, encoded as Redis encodes one.
pub(crate) fn write_listpack(elements: &[Element]) -> Vec<u8> {
    let mut body = Vec::new();
    for el in elements {
        let start = body.len();
        match *el {
            Element::Int(v) => match v {
                0..=127 => body.push(v as u8),
                -4096..=4095 => {
                    let u = (v as u16) & 0x1fff;
                    body.extend_from_slice(&[0xc0 | (u >> 8) as u8, u as u8]);
                }
                -32_768..=32_767 => {
                    body.push(0xf1);
                    body.extend_from_slice(&(v as i16).to_le_bytes());
                }
                -8_388_608..=8_388_607 => {
                    body.push(0xf2);
                    body.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
                }
                -2_147_483_648..=2_147_483_647 => {
                    body.push(0xf3);
                    body.extend_from_slice(&(v as i32).to_le_bytes());
                }
                _ => {
                    body.push(0xf4);
                    body.extend_from_slice(&v.to_le_bytes());
                }
            },
            Element::Str(s) => {
                match s.len() {
                    0..64 => body.push(0x80 | s.len() as u8),
                    64..4096 => {
                        body.extend_from_slice(&[0xe0 | (s.len() >> 8) as u8, s.len() as u8])
                    }
                    n => {
                        body.push(0xf0);
                        body.extend_from_slice(&(n as u32).to_le_bytes());
                    }
                }
                body.extend_from_slice(s);
            }
        }
        let len = body.len() - start;
        let mut back = [0u8; 5];
        let n = backlen_size(len);
        for (i, b) in back[..n].iter_mut().enumerate() {
            let shift = 7 * (n - 1 - i);
            *b = ((len >> shift) & 127) as u8 | if i > 0 { 128 } else { 0 };
        }
        body.extend_from_slice(&back[..n]);
    }
    let total = 6 + body.len() + 1;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(
        &u16::try_from(elements.len())
            .unwrap_or(u16::MAX)
            .to_le_bytes(),
    );
    out.extend_from_slice(&body);
    out.push(END);
    out
}

/// One listpack entry (without its back length): its value and its size.
fn lp_entry(b: &[u8]) -> Result<(Vec<u8>, usize), Malformed> {
    let need = |n: usize| {
        if b.len() >= n {
            Ok(())
        } else {
            Err("listpack entry past the end")
        }
    };
    let e = b[0];
    let int = |v: i64, size: usize| Ok((v.to_string().into_bytes(), size));
    let string = |len: usize, head: usize| {
        let end = head.checked_add(len).ok_or("listpack string too long")?;
        need(end)?;
        Ok((b[head..end].to_vec(), end))
    };
    match e {
        0x00..=0x7f => int(i64::from(e), 1),
        0x80..=0xbf => string(usize::from(e & 0x3f), 1),
        0xc0..=0xdf => {
            need(2)?;
            let v = i64::from(e & 0x1f) << 8 | i64::from(b[1]);
            int(if v >= 1 << 12 { v - (1 << 13) } else { v }, 2)
        }
        0xe0..=0xef => {
            need(2)?;
            string(usize::from(e & 0x0f) << 8 | usize::from(b[1]), 2)
        }
        0xf0 => {
            need(5)?;
            string(u32::from_le_bytes([b[1], b[2], b[3], b[4]]) as usize, 5)
        }
        0xf1 => {
            need(3)?;
            int(i64::from(i16::from_le_bytes([b[1], b[2]])), 3)
        }
        0xf2 => {
            need(4)?;
            // 24 bits, sign-extended.
            int(i64::from(i32::from_le_bytes([0, b[1], b[2], b[3]]) >> 8), 4)
        }
        0xf3 => {
            need(5)?;
            int(i64::from(i32::from_le_bytes([b[1], b[2], b[3], b[4]])), 5)
        }
        0xf4 => {
            need(9)?;
            let v = i64::from_le_bytes(b[1..9].try_into().expect("8 bytes"));
            int(v, 9)
        }
        _ => Err("unknown listpack entry encoding"),
    }
}

/// The elements of a ziplist.
pub(crate) fn ziplist(b: &[u8]) -> Result<Vec<Vec<u8>>, Malformed> {
    if b.len() < 11 {
        return Err("ziplist shorter than its header");
    }
    let total = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    if total != b.len() {
        return Err("ziplist size does not match its string");
    }
    let mut at = 10;
    let mut out = Vec::new();
    loop {
        let first = *b.get(at).ok_or("ziplist without its end")?;
        if first == END {
            at += 1;
            break;
        }
        // The previous entry's length: one byte, or 0xfe and four.
        at += if first < 0xfe { 1 } else { 5 };
        let rest = b.get(at..).ok_or("ziplist entry past the end")?;
        let (value, size) = zl_entry(rest)?;
        out.push(value);
        at += size;
    }
    if at != b.len() {
        return Err("bytes after a ziplist's end");
    }
    Ok(out)
}

/// One ziplist entry after its previous-length field: its value and its size.
fn zl_entry(b: &[u8]) -> Result<(Vec<u8>, usize), Malformed> {
    let need = |n: usize| {
        if b.len() >= n {
            Ok(())
        } else {
            Err("ziplist entry past the end")
        }
    };
    need(1)?;
    let e = b[0];
    let int = |v: i64, size: usize| Ok((v.to_string().into_bytes(), size));
    let string = |len: usize, head: usize| {
        let end = head.checked_add(len).ok_or("ziplist string too long")?;
        need(end)?;
        Ok((b[head..end].to_vec(), end))
    };
    match e >> 6 {
        0 => string(usize::from(e & 0x3f), 1),
        1 => {
            need(2)?;
            string(usize::from(e & 0x3f) << 8 | usize::from(b[1]), 2)
        }
        2 => {
            need(5)?;
            string(u32::from_be_bytes([b[1], b[2], b[3], b[4]]) as usize, 5)
        }
        _ => match e {
            0xc0 => {
                need(3)?;
                int(i64::from(i16::from_le_bytes([b[1], b[2]])), 3)
            }
            0xd0 => {
                need(5)?;
                int(i64::from(i32::from_le_bytes([b[1], b[2], b[3], b[4]])), 5)
            }
            0xe0 => {
                need(9)?;
                int(i64::from_le_bytes(b[1..9].try_into().expect("8 bytes")), 9)
            }
            0xf0 => {
                need(4)?;
                int(i64::from(i32::from_le_bytes([0, b[1], b[2], b[3]]) >> 8), 4)
            }
            0xfe => {
                need(2)?;
                int(i64::from(b[1] as i8), 2)
            }
            0xf1..=0xfd => int(i64::from(e & 0x0f) - 1, 1),
            _ => Err("unknown ziplist entry encoding"),
        },
    }
}

/// The members of an intset.
pub(crate) fn intset(b: &[u8]) -> Result<Vec<Vec<u8>>, Malformed> {
    if b.len() < 8 {
        return Err("intset shorter than its header");
    }
    let width = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let n = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
    if ![2, 4, 8].contains(&width) {
        return Err("unknown intset width");
    }
    if n.checked_mul(width).and_then(|s| s.checked_add(8)) != Some(b.len()) {
        return Err("intset size does not match its string");
    }
    Ok(b[8..]
        .chunks_exact(width)
        .map(|c| {
            let v = match width {
                2 => i64::from(i16::from_le_bytes([c[0], c[1]])),
                4 => i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                _ => i64::from_le_bytes(c.try_into().expect("8 bytes")),
            };
            v.to_string().into_bytes()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ziplist of `entries` (each an encoded entry after its previous-length byte).
    fn zl(entries: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0u8;
        for e in entries {
            body.push(prev);
            body.extend_from_slice(e);
            prev = (e.len() + 1) as u8;
        }
        let total = 10 + body.len() + 1;
        let mut out = (total as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&body);
        out.push(END);
        out
    }

    fn text(v: Vec<Vec<u8>>) -> Vec<String> {
        v.into_iter()
            .map(|b| String::from_utf8(b).expect("text"))
            .collect()
    }

    #[test]
    fn ziplist_entries_of_every_encoding() {
        let b = zl(&[
            &[0x03, b'a', b'b', b'c'],
            &[0x40, 0x02, b'x', b'y'],
            &[0xc0, 0x18, 0xfc],             // int16 -1000
            &[0xd0, 0x00, 0xca, 0x9a, 0x3b], // int32 1000000000
            &[0xe0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
            &[0xf0, 0xff, 0xff, 0xff], // int24 -1
            &[0xfe, 0x80],             // int8 -128
            &[0xf1],                   // immediate 0
            &[0xfd],                   // immediate 12
        ]);
        assert_eq!(
            text(ziplist(&b).expect("decodes")),
            [
                "abc",
                "xy",
                "-1000",
                "1000000000",
                &i64::MAX.to_string(),
                "-1",
                "-128",
                "0",
                "12"
            ]
        );
        let mut cut = b.clone();
        cut.truncate(b.len() - 2);
        assert!(ziplist(&cut).is_err());
    }

    #[test]
    fn listpack_entries_of_every_encoding() {
        let entries: [&[u8]; 7] = [
            &[0x05],                            // 7-bit 5
            &[0x82, b'h', b'i'],                // 6-bit string
            &[0xdf, 0xff],                      // 13-bit -1
            &[0xf1, 0x18, 0xfc],                // int16 -1000
            &[0xf2, 0x00, 0x00, 0x80],          // int24 -8388608
            &[0xf3, 0x00, 0xca, 0x9a, 0x3b],    // int32
            &[0xf4, 0, 0, 0, 0, 0, 0, 0, 0x80], // int64 min
        ];
        let mut body = Vec::new();
        for e in entries {
            body.extend_from_slice(e);
            body.push(e.len() as u8);
        }
        let mut b = ((6 + body.len() + 1) as u32).to_le_bytes().to_vec();
        b.extend_from_slice(&7u16.to_le_bytes());
        b.extend_from_slice(&body);
        b.push(END);
        assert_eq!(
            text(listpack(&b).expect("decodes")),
            [
                "5",
                "hi",
                "-1",
                "-1000",
                "-8388608",
                "1000000000",
                &i64::MIN.to_string()
            ]
        );
        for cut in 0..b.len() {
            assert!(listpack(&b[..cut]).is_err());
        }
    }

    #[test]
    fn written_listpacks_read_back() {
        let long = vec![b'z'; 5000];
        let mid = vec![b'y'; 100];
        let ints = [
            0,
            127,
            128,
            -1,
            -4096,
            4095,
            4096,
            -32768,
            40_000,
            -8_388_608,
            1 << 30,
            i64::MIN,
            i64::MAX,
        ];
        let mut els: Vec<Element> = ints.iter().map(|&v| Element::Int(v)).collect();
        els.extend([
            Element::Str(b"hi"),
            Element::Str(&mid),
            Element::Str(&long),
            Element::Str(b""),
        ]);
        let mut want: Vec<Vec<u8>> = ints.iter().map(|v| v.to_string().into_bytes()).collect();
        want.extend([b"hi".to_vec(), mid.clone(), long.clone(), Vec::new()]);
        assert_eq!(listpack(&write_listpack(&els)).expect("reads"), want);
    }

    #[test]
    fn intsets_of_each_width() {
        let mut b = 2u32.to_le_bytes().to_vec();
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&(-5i16).to_le_bytes());
        b.extend_from_slice(&300i16.to_le_bytes());
        assert_eq!(text(intset(&b).expect("decodes")), ["-5", "300"]);
        b[4] = 3;
        assert!(intset(&b).is_err(), "a count past the blob");
        let mut w = 8u32.to_le_bytes().to_vec();
        w.extend_from_slice(&1u32.to_le_bytes());
        w.extend_from_slice(&i64::MAX.to_le_bytes());
        assert_eq!(text(intset(&w).expect("decodes")), [i64::MAX.to_string()]);
    }
}
