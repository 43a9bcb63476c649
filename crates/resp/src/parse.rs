//! Incremental request parsing: multibulk arrays of bulk strings and inline commands.

use bytes::Bytes;

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

/// One complete request of a [`Batch`].
#[derive(Debug)]
enum Req {
    /// Its arguments are `spans[from..to]`, ranges of the buffer.
    Spans(usize, usize),
    /// An inline command: its arguments are unquoted copies.
    Inline(Vec<Bytes>),
}

/// Requests parsed out of a buffer without copying: each argument is a range of it. Valid
/// until the caller drops the bytes [`RequestParser::advance`] reports.
#[derive(Debug, Default)]
pub struct Batch {
    /// Argument ranges of the complete requests, then of the one being read.
    spans: Vec<(usize, usize)>,
    reqs: Vec<Req>,
    /// Where in `spans` the request being read starts.
    partial: usize,
    /// Bytes the complete requests cover, from the start of the buffer.
    consumed: usize,
    /// How long the buffer must grow to hold the bulk being read, when that is large.
    need: usize,
}

impl Batch {
    /// The number of complete requests.
    pub fn len(&self) -> usize {
        self.reqs.len()
    }

    /// Whether there is no complete request.
    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// The arguments of request `i`; `buf` is the buffer it was parsed from.
    pub fn args<'a>(&'a self, i: usize, buf: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        let (spans, inline): (&[(usize, usize)], &[Bytes]) = match &self.reqs[i] {
            Req::Spans(from, to) => (&self.spans[*from..*to], &[]),
            Req::Inline(args) => (&[], args),
        };
        spans
            .iter()
            .map(move |&(a, b)| &buf[a..b])
            .chain(inline.iter().map(|x| &x[..]))
    }

    /// How many bytes the buffer should hold to take the large bulk being read in one
    /// piece (0 when nothing large is pending).
    pub fn need(&self) -> usize {
        self.need
    }
}

/// Parses requests out of a growing buffer, resuming where the last call stopped.
#[derive(Debug, Default)]
pub struct RequestParser {
    state: State,
    /// How far into the buffer parsing has got.
    pos: usize,
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

    /// Applies Redis's tighter bounds for clients that have not authenticated; parsing then
    /// stops after each request, so the caller can lift them right after an AUTH.
    pub fn set_unauthenticated(&mut self, yes: bool) {
        self.unauthenticated = yes;
    }

    /// Changes the largest bulk string accepted from the next one on (CONFIG SET
    /// proto-max-bulk-len).
    pub fn set_max_bulk(&mut self, max_bulk: usize) {
        self.limits.max_bulk = max_bulk;
    }

    /// Whether the tighter bounds apply.
    pub fn unauthenticated(&self) -> bool {
        self.unauthenticated
    }

    /// Parses the complete requests in `buf` into `batch`, keeping what is incomplete for
    /// the next call (with `buf` grown by what arrived since). On an error, the requests
    /// before it are still in `batch`.
    pub fn parse(&mut self, buf: &[u8], batch: &mut Batch) -> Result<(), ParseError> {
        batch.need = 0;
        loop {
            match self.state {
                State::Start => {
                    if self.pos >= buf.len() {
                        return Ok(());
                    }
                    if buf[self.pos] != b'*' {
                        let Some(args) = self.inline(buf)? else {
                            return Ok(());
                        };
                        let got = !args.is_empty();
                        if got {
                            batch.reqs.push(Req::Inline(args));
                        }
                        batch.consumed = self.pos;
                        if got && self.unauthenticated {
                            return Ok(());
                        }
                        continue;
                    }
                    let Some(n) = self.count_line(buf, "too big mbulk count string")? else {
                        return Ok(());
                    };
                    // A count of zero or less is an empty request, skipped as in Redis.
                    if n > i64::from(i32::MAX) || (n > 0 && n as u64 > self.limits.max_args as u64)
                    {
                        return Err(ParseError("invalid multibulk length"));
                    }
                    if self.unauthenticated && n > 10 {
                        return Err(ParseError("unauthenticated multibulk length"));
                    }
                    if n <= 0 {
                        batch.consumed = self.pos;
                        continue;
                    }
                    batch.partial = batch.spans.len();
                    batch.spans.reserve((n as usize).min(1024));
                    self.state = State::Args { left: n as usize };
                }
                State::Args { left } => {
                    if self.pos >= buf.len() {
                        return Ok(());
                    }
                    if buf[self.pos] != b'$' {
                        return Err(ParseError(expected_dollar(buf[self.pos])));
                    }
                    let Some(len) = self.count_line(buf, "too big bulk count string")? else {
                        return Ok(());
                    };
                    if len < 0 || len as u64 > self.limits.max_bulk as u64 {
                        return Err(ParseError("invalid bulk length"));
                    }
                    if self.unauthenticated && len > 16384 {
                        return Err(ParseError("unauthenticated bulk length"));
                    }
                    self.state = State::Bulk {
                        left,
                        len: len as usize,
                    };
                }
                State::Bulk { left, len } => {
                    let end = self.pos + len;
                    if buf.len() < end + 2 {
                        // Reserve up front so a large value arrives without repeated copies.
                        if len >= 32 * 1024 {
                            batch.need = end + 2;
                        }
                        return Ok(());
                    }
                    // Redis drops the two bytes after a bulk without checking; so do we.
                    batch.spans.push((self.pos, end));
                    self.pos = end + 2;
                    if left == 1 {
                        batch
                            .reqs
                            .push(Req::Spans(batch.partial, batch.spans.len()));
                        batch.partial = batch.spans.len();
                        batch.consumed = self.pos;
                        self.state = State::Start;
                        if self.unauthenticated {
                            return Ok(());
                        }
                    } else {
                        self.state = State::Args { left: left - 1 };
                    }
                }
            }
        }
    }

    /// Forgets the complete requests of `batch` (run by now) and returns how many bytes
    /// the caller drops from the front of its buffer; the request being read stays.
    pub fn advance(&mut self, batch: &mut Batch) -> usize {
        let n = batch.consumed;
        batch.reqs.clear();
        batch.spans.drain(..batch.partial);
        for s in &mut batch.spans {
            s.0 -= n;
            s.1 -= n;
        }
        batch.partial = 0;
        batch.consumed = 0;
        batch.need = batch.need.saturating_sub(n);
        self.pos -= n;
        n
    }

    /// Reads a `*N\r\n` or `$N\r\n` line at the cursor; `None` when it is not complete.
    fn count_line(&mut self, buf: &[u8], too_big: &'static str) -> Result<Option<i64>, ParseError> {
        let line = &buf[self.pos..];
        // The usual line, a few digits and CRLF, read in one pass; anything else (a sign,
        // a long number, a stray byte, a line not all here yet) takes the careful path.
        let digits = line
            .iter()
            .skip(1)
            .take(FAST_DIGITS + 1)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if (1..=FAST_DIGITS).contains(&digits) && line.get(digits + 1) == Some(&b'\r') {
            if line.len() < digits + 3 {
                return Ok(None);
            }
            let n = line[1..=digits]
                .iter()
                .fold(0i64, |v, &c| v * 10 + i64::from(c - b'0'));
            self.pos += digits + 3;
            return Ok(Some(n));
        }
        self.count_line_slow(buf, too_big)
    }

    /// [`RequestParser::count_line`] for every line, the fast path's too.
    fn count_line_slow(
        &mut self,
        buf: &[u8],
        too_big: &'static str,
    ) -> Result<Option<i64>, ParseError> {
        let line = &buf[self.pos..];
        let Some(nl) = memchr(b'\r', line) else {
            if line.len() > self.limits.max_inline {
                return Err(ParseError(too_big));
            }
            return Ok(None);
        };
        if nl + 1 >= line.len() {
            return Ok(None);
        }
        let n = parse_count(&line[1..nl]).ok_or(ParseError(if line[0] == b'*' {
            "invalid multibulk length"
        } else {
            "invalid bulk length"
        }))?;
        self.pos += nl + 2;
        Ok(Some(n))
    }

    /// Parses one inline command line at the cursor; `Some(vec![])` for an empty line.
    fn inline(&mut self, buf: &[u8]) -> Result<Option<Vec<Bytes>>, ParseError> {
        let rest = &buf[self.pos..];
        let Some(nl) = memchr(b'\n', rest) else {
            if rest.len() > self.limits.max_inline {
                return Err(ParseError("too big inline request"));
            }
            return Ok(None);
        };
        let mut line = &rest[..nl];
        if line.last() == Some(&b'\r') {
            line = &line[..nl - 1];
        }
        let args = split_args(line).ok_or(ParseError("unbalanced quotes in request"))?;
        self.pos += nl + 1;
        Ok(Some(args.into_iter().map(Bytes::from).collect()))
    }
}

/// Redis's error for a request argument that does not start with '$': it names the byte
/// it got (printable ASCII here; the text stays static, made once).
fn expected_dollar(got: u8) -> &'static str {
    static MSGS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    let msgs = MSGS.get_or_init(|| {
        (0x20u8..0x7f)
            .map(|c| &*Box::leak(format!("expected '$', got '{}'", c as char).into_boxed_str()))
            .collect()
    });
    match got {
        0x20..0x7f => msgs[usize::from(got - 0x20)],
        _ => "expected '$'",
    }
}

/// C's `isspace`.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Counts of up to this many digits take the fast path (they cannot overflow an i64).
const FAST_DIGITS: usize = 18;

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

/// Writes a word so that [`split_args`] gives it back unchanged: as is when it is plain,
/// else in double quotes with escapes (config files, CONFIG REWRITE).
pub fn quote_arg(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'\\'));
    if plain {
        return word.to_string();
    }
    let mut out = String::from("\"");
    for c in word.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", c as u8)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
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
                    // Inside a token only these end it (sdssplitargs skips the other
                    // blanks between tokens, not within one).
                    b' ' | b'\n' | b'\r' | b'\t' => break,
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
        let mut batch = Batch::default();
        let r = p.parse(input, &mut batch);
        let out = (0..batch.len())
            .map(|i| batch.args(i, input).map(Bytes::copy_from_slice).collect())
            .collect();
        r.map(|()| out)
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
            parse_all(b"*2\r\nfoo\r\n"),
            Err(ParseError("expected '$', got 'f'"))
        );
        assert_eq!(
            parse_all(b"*1\r\n\x01\r\n"),
            Err(ParseError("expected '$'"))
        );
        // A count of zero or less is an empty request: what follows is read.
        assert_eq!(
            parse_all(b"*-1\r\nPING\r\n"),
            Ok(vec![vec![Bytes::from("PING")]])
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
        #[test]
        fn count_lines_read_the_same_on_both_paths(
            body in proptest::collection::vec(proptest::sample::select(&b"0123456789-\r\nx"[..]), 0..24),
            star in any::<bool>(),
        ) {
            let mut line = vec![if star { b'*' } else { b'$' }];
            line.extend_from_slice(&body);
            let (mut fast, mut slow) = (RequestParser::new(Limits::default()), RequestParser::new(Limits::default()));
            let a = fast.count_line(&line, "too big");
            let b = slow.count_line_slow(&line, "too big");
            prop_assert_eq!(a, b);
            prop_assert_eq!(fast.pos, slow.pos);
        }

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
            let mut batch = Batch::default();
            // A prefix holds no complete request; advancing drops nothing of it.
            let mut buf = wire[..cut].to_vec();
            p.parse(&buf, &mut batch).unwrap();
            prop_assert!(batch.is_empty());
            prop_assert_eq!(p.advance(&mut batch), 0);
            buf.extend_from_slice(&wire[cut..]);
            p.parse(&buf, &mut batch).unwrap();
            prop_assert_eq!(batch.len(), 1);
            let got: Vec<Bytes> = batch.args(0, &buf).map(Bytes::copy_from_slice).collect();
            let want: Vec<Bytes> = args.into_iter().map(Bytes::from).collect();
            prop_assert_eq!(got, want);
            prop_assert_eq!(p.advance(&mut batch), wire.len());
        }

        /// Requests split anywhere across reads, with the buffer's front dropped after each
        /// batch as the server does, come out whole and in order.
        #[test]
        fn advancing_between_reads_keeps_requests(reqs in proptest::collection::vec(proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..12), 1..4), 1..8), step in 1usize..40) {
            let mut wire = Vec::new();
            for args in &reqs {
                wire.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
                for a in args {
                    wire.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                    wire.extend_from_slice(a);
                    wire.extend_from_slice(b"\r\n");
                }
            }
            let mut p = RequestParser::default();
            let mut batch = Batch::default();
            let mut buf: Vec<u8> = Vec::new();
            let mut got: Vec<Vec<Vec<u8>>> = Vec::new();
            for chunk in wire.chunks(step) {
                buf.extend_from_slice(chunk);
                p.parse(&buf, &mut batch).unwrap();
                for i in 0..batch.len() {
                    got.push(batch.args(i, &buf).map(<[u8]>::to_vec).collect());
                }
                let n = p.advance(&mut batch);
                buf.drain(..n);
            }
            prop_assert!(buf.is_empty());
            prop_assert_eq!(got, reqs);
        }

        /// Arbitrary bytes never panic the parser.
        #[test]
        fn garbage_never_panics(input in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_all(&input);
        }
    }
}
