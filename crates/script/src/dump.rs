//! FUNCTION DUMP's payload, in Redis's format so dumps move between Redis and Concord:
//! for each library the function opcode (0xF5) and its code as an RDB string, then the
//! RDB version (2 bytes, little-endian) and a CRC64 (Jones) of everything before it.

/// The opcode before each library's code.
const OPCODE_FUNCTION2: u8 = 0xF5;
/// The RDB version written (Redis 7.2's).
const RDB_VERSION: u16 = 11;
/// A compressed RDB string (LZF).
const ENC_LZF: u8 = 0xC3;

/// Why a payload was refused; the texts are Redis's.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DumpError {
    /// The version or the checksum is wrong.
    #[error("DUMP payload version or checksum are wrong")]
    Checksum,
    /// Something in it is not a library.
    #[error("given type is not a function")]
    NotFunction,
    /// Its data is malformed.
    #[error("can not read data type")]
    Malformed,
}

/// Redis's CRC64 (Jones polynomial, reflected, no final xor).
pub(crate) fn crc64(data: &[u8]) -> u64 {
    const POLY: u64 = 0x95AC_9329_AC4B_C9B5;
    let mut crc = 0u64;
    for &b in data {
        crc ^= u64::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
        }
    }
    crc
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    if n < 64 {
        out.push(n as u8);
    } else if n < 16384 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if let Ok(n) = u32::try_from(n) {
        out.push(0x80);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
}

/// The payload of these libraries' codes (uncompressed strings, which Redis reads too).
pub(crate) fn dump<'a>(codes: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(OPCODE_FUNCTION2);
        put_len(&mut out, code.len());
        out.extend_from_slice(code);
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, DumpError> {
        let v = *self.b.get(self.at).ok_or(DumpError::Malformed)?;
        self.at += 1;
        Ok(v)
    }

    fn take(&mut self, n: usize) -> Result<&[u8], DumpError> {
        let end = self.at.checked_add(n).ok_or(DumpError::Malformed)?;
        let v = self.b.get(self.at..end).ok_or(DumpError::Malformed)?;
        self.at = end;
        Ok(v)
    }

    /// A length, or an encoded string's kind (`Err(kind)` in the `Ok`).
    fn len(&mut self) -> Result<Result<usize, u8>, DumpError> {
        let first = self.byte()?;
        Ok(match first >> 6 {
            0 => Ok(usize::from(first & 0x3f)),
            1 => Ok((usize::from(first & 0x3f) << 8) | usize::from(self.byte()?)),
            2 if first == 0x80 => {
                let b: [u8; 4] = self.take(4)?.try_into().expect("four bytes");
                Ok(u32::from_be_bytes(b) as usize)
            }
            2 if first == 0x81 => {
                let b: [u8; 8] = self.take(8)?.try_into().expect("eight bytes");
                Ok(usize::try_from(u64::from_be_bytes(b)).map_err(|_| DumpError::Malformed)?)
            }
            3 => Err(first),
            _ => return Err(DumpError::Malformed),
        })
    }

    fn string(&mut self) -> Result<Vec<u8>, DumpError> {
        match self.len()? {
            Ok(n) => Ok(self.take(n)?.to_vec()),
            Err(0xC0) => Ok((self.byte()? as i8).to_string().into_bytes()),
            Err(0xC1) => {
                let b: [u8; 2] = self.take(2)?.try_into().expect("two bytes");
                Ok(i16::from_le_bytes(b).to_string().into_bytes())
            }
            Err(0xC2) => {
                let b: [u8; 4] = self.take(4)?.try_into().expect("four bytes");
                Ok(i32::from_le_bytes(b).to_string().into_bytes())
            }
            Err(ENC_LZF) => {
                let clen = self.len()?.map_err(|_| DumpError::Malformed)?;
                let len = self.len()?.map_err(|_| DumpError::Malformed)?;
                // The output can be no larger than LZF could expand this input to.
                if len > clen.saturating_mul(256) {
                    return Err(DumpError::Malformed);
                }
                let data = self.take(clen)?;
                lzf_decompress(data, len)
            }
            Err(_) => Err(DumpError::Malformed),
        }
    }
}

/// LZF decompression (the format Redis compresses RDB strings with), into exactly `len`
/// bytes.
fn lzf_decompress(input: &[u8], len: usize) -> Result<Vec<u8>, DumpError> {
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 32 {
            let n = ctrl + 1;
            let lit = input.get(i..i + n).ok_or(DumpError::Malformed)?;
            out.extend_from_slice(lit);
            i += n;
        } else {
            let mut n = ctrl >> 5;
            if n == 7 {
                n += usize::from(*input.get(i).ok_or(DumpError::Malformed)?);
                i += 1;
            }
            let back =
                ((ctrl & 0x1f) << 8) + usize::from(*input.get(i).ok_or(DumpError::Malformed)?) + 1;
            i += 1;
            let start = out.len().checked_sub(back).ok_or(DumpError::Malformed)?;
            for k in 0..n + 2 {
                let b = out[start + k];
                out.push(b);
            }
        }
        if out.len() > len {
            return Err(DumpError::Malformed);
        }
    }
    if out.len() != len {
        return Err(DumpError::Malformed);
    }
    Ok(out)
}

/// The libraries' codes in a payload.
pub(crate) fn restore(payload: &[u8]) -> Result<Vec<Vec<u8>>, DumpError> {
    if payload.len() < 10 {
        return Err(DumpError::Checksum);
    }
    let (body, crc) = payload.split_at(payload.len() - 8);
    let version = u16::from_le_bytes([body[body.len() - 2], body[body.len() - 1]]);
    let crc = u64::from_le_bytes(crc.try_into().expect("eight bytes"));
    if version > RDB_VERSION || crc64(body) != crc {
        return Err(DumpError::Checksum);
    }
    let data = &body[..body.len() - 2];
    let mut r = Reader { b: data, at: 0 };
    let mut codes = Vec::new();
    while r.at < data.len() {
        if r.byte()? != OPCODE_FUNCTION2 {
            return Err(DumpError::NotFunction);
        }
        codes.push(r.string()?);
    }
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_is_redis_s() {
        assert_eq!(crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn payloads_round_trip_and_damage_is_refused() {
        let long = vec![b'x'; 20_000];
        let codes: Vec<&[u8]> = vec![b"#!lua name=a\nreturn 1", &long];
        let p = dump(codes.iter().copied());
        assert_eq!(restore(&p).unwrap(), vec![codes[0].to_vec(), long.clone()]);
        let mut bad = p.clone();
        bad[3] ^= 1;
        assert_eq!(restore(&bad), Err(DumpError::Checksum));
        assert_eq!(restore(b"short"), Err(DumpError::Checksum));
        // A payload with a lying length is refused, not allocated.
        let mut lie = vec![
            OPCODE_FUNCTION2,
            0x81,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
        ];
        lie.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = crc64(&lie);
        lie.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(restore(&lie), Err(DumpError::Malformed));
    }

    #[test]
    fn lzf_strings_are_read() {
        // "aaaaaaaaaa": a literal 'a' then a back-reference of 9 bytes at distance 1.
        let data = [0x00, b'a', (7 << 5), 9 - 2 - 7, 0x00];
        assert_eq!(lzf_decompress(&data, 10).unwrap(), b"aaaaaaaaaa");
        assert!(lzf_decompress(&[0xE0, 0x00, 0x05], 10).is_err());
    }
}
