//! Replies parsed back from their RESP bytes (RESP2 or RESP3): what a script's
//! `redis.call` sees, what a follower learns of the writes it ran, what MIGRATE reads of
//! its own DUMPs.
//!
//! The bytes come from the server's own writer, but the parser is careful anyway: depth
//! and lengths are checked, and anything it cannot read is an error, never a panic.

/// How deeply replies may nest (no command's reply comes close).
const MAX_DEPTH: usize = 64;

/// One parsed reply, borrowing its bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply<'a> {
    /// `+OK`.
    Status(&'a [u8]),
    /// `-ERR ...` (the text after `-`).
    Error(&'a [u8]),
    /// `:n`.
    Int(i64),
    /// `$n`; `None` for RESP2's null bulk.
    Bulk(Option<&'a [u8]>),
    /// `*n` or a push; `None` for RESP2's null array.
    Array(Option<Vec<Reply<'a>>>),
    /// RESP3 `%n`.
    Map(Vec<(Reply<'a>, Reply<'a>)>),
    /// RESP3 `~n`.
    Set(Vec<Reply<'a>>),
    /// RESP3 `_`.
    Null,
    /// RESP3 `#t` / `#f`.
    Bool(bool),
    /// RESP3 `,x`.
    Double(f64),
    /// RESP3 `(n`.
    BigNumber(&'a [u8]),
    /// RESP3 `=n` with its format and text.
    Verbatim(&'a [u8], &'a [u8]),
}

/// The bytes were not one whole reply.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed reply: {0}")]
pub struct BadReply(&'static str);

/// Parses the one reply at the start of `buf`; returns it and the bytes it took.
pub fn parse(buf: &[u8]) -> Result<(Reply<'_>, usize), BadReply> {
    let mut at = 0;
    let r = value(buf, &mut at, 0)?;
    Ok((r, at))
}

fn line<'a>(buf: &'a [u8], at: &mut usize) -> Result<&'a [u8], BadReply> {
    let rest = buf.get(*at..).ok_or(BadReply("truncated"))?;
    let end = rest
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or(BadReply("truncated line"))?;
    *at += end + 2;
    Ok(&rest[..end])
}

fn number(l: &[u8]) -> Result<i64, BadReply> {
    std::str::from_utf8(l)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(BadReply("bad length or integer"))
}

/// A count of elements, bounded by what the buffer could hold (each takes 3 bytes at
/// least), so a lying length cannot reserve memory.
fn count(l: &[u8], buf: &[u8], at: usize, per: usize) -> Result<usize, BadReply> {
    let n = usize::try_from(number(l)?).map_err(|_| BadReply("negative count"))?;
    if n.saturating_mul(3 * per) > buf.len().saturating_sub(at) {
        return Err(BadReply("count past the buffer"));
    }
    Ok(n)
}

fn blob<'a>(buf: &'a [u8], at: &mut usize, n: usize) -> Result<&'a [u8], BadReply> {
    let end = at.checked_add(n).ok_or(BadReply("length overflow"))?;
    let b = buf.get(*at..end).ok_or(BadReply("truncated bulk"))?;
    if buf.get(end..end + 2) != Some(b"\r\n") {
        return Err(BadReply("bulk without its end"));
    }
    *at = end + 2;
    Ok(b)
}

fn value<'a>(buf: &'a [u8], at: &mut usize, depth: usize) -> Result<Reply<'a>, BadReply> {
    if depth > MAX_DEPTH {
        return Err(BadReply("nested too deeply"));
    }
    let kind = *buf.get(*at).ok_or(BadReply("empty"))?;
    *at += 1;
    let l = line(buf, at)?;
    Ok(match kind {
        b'+' => Reply::Status(l),
        b'-' => Reply::Error(l),
        b':' => Reply::Int(number(l)?),
        b'$' | b'=' | b'!' => {
            if l == b"-1" {
                return Ok(Reply::Bulk(None));
            }
            let n = usize::try_from(number(l)?).map_err(|_| BadReply("negative length"))?;
            let b = blob(buf, at, n)?;
            match kind {
                b'$' => Reply::Bulk(Some(b)),
                b'!' => Reply::Error(b),
                _ if b.len() >= 4 && b[3] == b':' => Reply::Verbatim(&b[..3], &b[4..]),
                _ => return Err(BadReply("verbatim without a format")),
            }
        }
        b'*' | b'>' => {
            if l == b"-1" {
                return Ok(Reply::Array(None));
            }
            let n = count(l, buf, *at, 1)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(value(buf, at, depth + 1)?);
            }
            Reply::Array(Some(v))
        }
        b'~' => {
            let n = count(l, buf, *at, 1)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(value(buf, at, depth + 1)?);
            }
            Reply::Set(v)
        }
        b'%' => {
            let n = count(l, buf, *at, 2)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                let k = value(buf, at, depth + 1)?;
                v.push((k, value(buf, at, depth + 1)?));
            }
            Reply::Map(v)
        }
        b'|' => {
            // Attributes describe the reply that follows; scripts see only that.
            let n = count(l, buf, *at, 2)?;
            for _ in 0..2 * n {
                value(buf, at, depth + 1)?;
            }
            value(buf, at, depth + 1)?
        }
        b'_' => Reply::Null,
        b'#' => match l {
            b"t" => Reply::Bool(true),
            b"f" => Reply::Bool(false),
            _ => return Err(BadReply("bad boolean")),
        },
        b',' => Reply::Double(parse_double(l)?),
        b'(' => Reply::BigNumber(l),
        _ => return Err(BadReply("unknown type")),
    })
}

fn parse_double(l: &[u8]) -> Result<f64, BadReply> {
    match l {
        b"inf" => Ok(f64::INFINITY),
        b"-inf" => Ok(f64::NEG_INFINITY),
        b"nan" | b"-nan" => Ok(f64::NAN),
        _ => std::str::from_utf8(l)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(BadReply("bad double")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_parses_and_reports_its_length() {
        let buf = b"*3\r\n:1\r\n$3\r\nabc\r\n$-1\r\nrest";
        let (r, n) = parse(buf).unwrap();
        assert_eq!(n, buf.len() - 4);
        assert_eq!(
            r,
            Reply::Array(Some(vec![
                Reply::Int(1),
                Reply::Bulk(Some(b"abc")),
                Reply::Bulk(None)
            ]))
        );
        let (r, _) = parse(b"%1\r\n+a\r\n,1.5\r\n").unwrap();
        assert_eq!(
            r,
            Reply::Map(vec![(Reply::Status(b"a"), Reply::Double(1.5))])
        );
        let (r, _) = parse(b"=8\r\ntxt:abcd\r\n").unwrap();
        assert_eq!(r, Reply::Verbatim(b"txt", b"abcd"));
        assert_eq!(parse(b"#t\r\n").unwrap().0, Reply::Bool(true));
        assert_eq!(parse(b"_\r\n").unwrap().0, Reply::Null);
        assert_eq!(parse(b"-ERR x\r\n").unwrap().0, Reply::Error(b"ERR x"));
    }

    #[test]
    fn lies_and_truncations_are_errors() {
        for bad in [
            &b"*999999999999\r\n"[..],
            b"$5\r\nab\r\n",
            b"$2\r\nabXX",
            b"*-5\r\n",
            b":x\r\n",
            b"?\r\n",
            b"*1\r\n",
            b"",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let deep = "*1\r\n".repeat(100) + ":1\r\n";
        assert!(parse(deep.as_bytes()).is_err());
    }
}
