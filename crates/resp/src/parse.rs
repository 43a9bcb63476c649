//! Incremental request parsing: multibulk arrays of bulk strings and inline commands.

use bytes::{Buf, Bytes, BytesMut};

/// Bounds on what a client may send.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest bulk string (Redis's proto-max-bulk-len, 512 MB).
    pub max_bulk: usize,
    /// Largest argument count of one request.
    pub max_args: usize,
    /// Largest inline request or count line (Redis's 64 KB).
    pub max_inline: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk: 512 * 1024 * 1024,
            max_args: i32::MAX as usize,
            max_inline: 64 * 1024,
        }
    }
}

/// A protocol error; the connection is answered with it and closed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("Protocol error: {0}")]
pub struct ParseError(pub &'static str);

#[derive(Debug, Default)]
enum State {
    #[default]
    Start,
    /// Inside a multibulk with this many arguments still to read.
    Args { left: usize },
    /// Waiting for a bulk body of this length.
    Bulk { left: usize, len: usize },
}

/// Parses requests out of a growing buffer, resuming where the last call stopped.
#[derive(Debug, Default)]
pub struct RequestParser {
    state: State,
    args: Vec<Bytes>,
    /// Emptied argument vectors handed back by the caller, reused for the next requests.
    spare: Vec<Vec<Bytes>>,
    limits: Limits,
    /// Smaller bounds apply before authentication, as in Redis.
    unauthenticated: bool,
}

impl RequestParser {
    /// A parser with the given limits.
    pub fn new(limits: Limits) -> Self {
        RequestParser {
            limits,
            ..Default::default()
        }
    }

    /// Takes back a request's argument vector once it is done with, to save an allocation
    /// per request. Keeps a few small ones only.
    pub fn recycle(&mut self, mut args: Vec<Bytes>) {
        if self.spare.len() < 64 && args.capacity() > 0 && args.capacity() <= 64 {
            args.clear();
            self.spare.push(args);
        }
    }

    /// Applies Redis's tighter bounds for clients that have not authenticated.
    pub fn set_unauthenticated(&mut self, yes: bool) {
        self.unauthenticated = yes;
    }

    /// Takes the next complete request out of `buf`, if there is one.
    pub fn next(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ParseError> {
        loop {
            match self.state {
                State::Start => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    if buf[0] != b'*' {
                        match self.inline(buf)? {
                            Some(args) if args.is_empty() => continue,
                            other => return Ok(other),
                        }
                    }
                    let Some(n) = self.count_line(buf, "too big mbulk count string")? else {
                        return Ok(None);
                    };
                    if n > i64::from(i32::MAX) || n as u64 > self.limits.max_args as u64 {
                        return Err(ParseError("invalid multibulk length"));
                    }
                    if self.unauthenticated && n > 10 {
                        return Err(ParseError("unauthenticated multibulk length"));
                    }
                    if n <= 0 {
                        continue;
                    }
                    let n = n as usize;
                    self.args = match self.spare.pop() {
                        Some(v) => v,
                        None => Vec::with_capacity(n.min(1024)),
                    };
                    self.args.reserve(n.min(1024));
                    self.state = State::Args { left: n };
                }
                State::Args { left } => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    if buf[0] != b'$' {
                        return Err(ParseError(expected_dollar(buf[0])));
                    }
                    let Some(len) = self.count_line(buf, "too big bulk count string")? else {
                        return Ok(None);
                    };
                    if len < 0 || len as u64 > self.limits.max_bulk as u64 {
                        return Err(ParseError("invalid bulk length"));
                    }
                    if self.unauthenticated && len > 16384 {
                        return Err(ParseError("unauthenticated bulk length"));
                    }
                    let len = len as usize;
                    // Reserve up front so a large value arrives without repeated copies.
                    if len >= 32 * 1024 {
                        buf.reserve((len + 2).saturating_sub(buf.len()));
                    }
                    self.state = State::Bulk { left, len };
                }
                State::Bulk { left, len } => {
                    if buf.len() < len + 2 {
                        return Ok(None);
                    }
                    let arg = buf.split_to(len).freeze();
                    if &buf[..2] != b"\r\n" {
                        // Redis drops the two bytes without checking; so do we.
                    }
                    buf.advance(2);
                    self.args.push(arg);
                    if left == 1 {
                        self.state = State::Start;
                        return Ok(Some(std::mem::take(&mut self.args)));
                    }
                    self.state = State::Args { left: left - 1 };
                }
            }
        }
    }

    /// Reads a `*N\r\n` or `$N\r\n` line; `None` when it is not complete yet.
    fn count_line(
        &self,
        buf: &mut BytesMut,
        too_big: &'static str,
    ) -> Result<Option<i64>, ParseError> {
        let Some(nl) = memchr(b'\r', buf) else {
            if buf.len() > self.limits.max_inline {
                return Err(ParseError(too_big));
            }
            return Ok(None);
        };
        if nl + 1 >= buf.len() {
            return Ok(None);
        }
        let digits = &buf[1..nl];
        let n = parse_count(digits).ok_or(ParseError(if buf[0] == b'*' {
            "invalid multibulk length"
        } else {
            "invalid bulk length"
        }))?;
        buf.advance(nl + 2);
        Ok(Some(n))
    }

    /// Parses one inline command line; `Some(vec![])` for an empty line.
    fn inline(&self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ParseError> {
        let Some(nl) = memchr(b'\n', buf) else {
            if buf.len() > self.limits.max_inline {
                return Err(ParseError("too big inline request"));
            }
            return Ok(None);
        };
        let mut line = buf.split_to(nl + 1);
        line.truncate(nl);
        if line.last() == Some(&b'\r') {
            line.truncate(nl - 1);
        }
        let args = split_args(&line).ok_or(ParseError("unbalanced quotes in request"))?;
        Ok(Some(args.into_iter().map(Bytes::from).collect()))
    }
}

fn expected_dollar(got: u8) -> &'static str {
    // Redis names the byte it got; keep a small table so the message stays static.
    const MSGS: [&str; 4] = [
        "expected '$', got '*'",
        "expected '$', got ':'",
        "expected '$', got '+'",
        "expected '$', got '-'",
    ];
    match got {
        b'*' => MSGS[0],
        b':' => MSGS[1],
        b'+' => MSGS[2],
        b'-' => MSGS[3],
        _ => "expected '$'",
    }
}

/// C's `isspace`.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

fn parse_count(d: &[u8]) -> Option<i64> {
    if d.is_empty() || d.len() > 19 {
        return None;
    }
    let (neg, d) = match d[0] {
        b'-' => (true, &d[1..]),
        _ => (false, d),
    };
    if d.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &c in d {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
    }
    Some(if neg { -v } else { v })
}

/// Splits an inline command line as Redis's `sdssplitargs` does: whitespace separated,
/// with "double quotes" (escapes \n \r \t \b \a \\ \" \xHH) and 'single quotes'.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    // Redis splits a C string: a NUL byte ends the line.
    let line = match line.iter().position(|&b| b == 0) {
        Some(p) => &line[..p],
        None => line,
    };
    let mut out = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Some(out);
        }
        let mut cur = Vec::new();
        let mut inq = false;
        let mut insq = false;
        loop {
            if inq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    let h = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                    cur.push(h(line[i + 2]) * 16 + h(line[i + 3]));
                    i += 3;
                } else if line[i] == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        c => c,
                    });
                } else if line[i] == b'"' {
                    // A closing quote must be followed by a space or the end.
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return None;
                    }
                    inq = false;
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else if insq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if line[i] == b'\'' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return None;
                    }
                    insq = false;
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    c if is_space(c) => {
                        break;
                    }
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        let _ = (inq, insq);
        out.push(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Bytes>>, ParseError> {
        let mut p = RequestParser::default();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(r) = p.next(&mut buf)? {
            out.push(r);
        }
        Ok(out)
    }

    #[test]
    fn multibulk_and_inline() {
        let r = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\nset a \"b c\"\r\n\r\n").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0], vec![Bytes::from("GET"), Bytes::from("k")]);
        assert_eq!(r[1], vec![Bytes::from("PING")]);
        assert_eq!(
            r[2],
            vec![Bytes::from("set"), Bytes::from("a"), Bytes::from("b c")]
        );
    }

    #[test]
    fn protocol_errors() {
        assert_eq!(
            parse_all(b"*x\r\n"),
            Err(ParseError("invalid multibulk length"))
        );
        assert_eq!(
            parse_all(b"*1\r\n$-5\r\n"),
            Err(ParseError("invalid bulk length"))
        );
        assert_eq!(
            parse_all(b"*1\r\n:5\r\n"),
            Err(ParseError("expected '$', got ':'"))
        );
        assert_eq!(
            parse_all(b"set \"a\r\n"),
            Err(ParseError("unbalanced quotes in request"))
        );
        assert_eq!(
            parse_all(b"*1\r\n$600000000\r\n"),
            Err(ParseError("invalid bulk length"))
        );
        let big = vec![b'a'; 70 * 1024];
        assert_eq!(parse_all(&big), Err(ParseError("too big inline request")));
    }

    #[test]
    fn escapes_in_inline() {
        assert_eq!(
            split_args(b"a \"\\x41\\n\" 'it\\'s'").unwrap(),
            vec![b"a".to_vec(), b"A\n".to_vec(), b"it's".to_vec()]
        );
        assert_eq!(split_args(b"\"a\"b"), None);
    }

    proptest! {
        /// Any split of a valid stream yields the same requests.
        #[test]
        fn byte_by_byte_equals_whole(args in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 1..6), cut in any::<usize>()) {
            let mut wire = format!("*{}\r\n", args.len()).into_bytes();
            for a in &args {
                wire.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                wire.extend_from_slice(a);
                wire.extend_from_slice(b"\r\n");
            }
            let cut = cut % wire.len();
            let mut p = RequestParser::default();
            let mut buf = BytesMut::from(&wire[..cut]);
            let first = p.next(&mut buf).unwrap();
            prop_assert!(first.is_none());
            buf.extend_from_slice(&wire[cut..]);
            let got = p.next(&mut buf).unwrap().unwrap();
            let want: Vec<Bytes> = args.into_iter().map(Bytes::from).collect();
            prop_assert_eq!(got, want);
        }

        /// Arbitrary bytes never panic the parser.
        #[test]
        fn garbage_never_panics(input in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_all(&input);
        }
    }
}
