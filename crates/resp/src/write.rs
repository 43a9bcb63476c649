//! The reply writer: RESP2 or RESP3, appended to one output buffer per connection.

use bytes::{BufMut, BytesMut};

/// A connection's output buffer and the protocol it speaks.
#[derive(Debug)]
pub struct Out {
    /// Bytes waiting to be written to the socket.
    pub buf: BytesMut,
    /// Whether the client switched to RESP3 with `HELLO 3`.
    pub resp3: bool,
    /// How many bytes may wait before the client is cut off (its output buffer's hard
    /// limit). Commands that write many elements stop early once it is passed, so one
    /// request can never build an unbounded reply; the connection then closes.
    pub limit: usize,
}

impl Default for Out {
    fn default() -> Self {
        Out {
            buf: BytesMut::new(),
            resp3: false,
            limit: usize::MAX,
        }
    }
}

impl Out {
    /// An empty buffer speaking RESP2.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the waiting bytes passed [`Out::limit`]: the reply being written will not
    /// be sent whole (the connection is closed instead), so every write from then on is
    /// dropped, and loops that only produce output should stop.
    pub fn over_limit(&self) -> bool {
        self.buf.len() > self.limit
    }

    fn line(&mut self, prefix: u8, body: &[u8]) {
        self.buf.reserve(body.len() + 3);
        self.buf.put_u8(prefix);
        self.buf.put_slice(body);
        self.buf.put_slice(b"\r\n");
    }

    fn len_line(&mut self, prefix: u8, n: i64) {
        let mut b = itoa_buf();
        let s = fmt_i64(&mut b, n);
        self.line(prefix, s);
    }

    /// `+OK`-style status reply.
    pub fn simple(&mut self, s: &str) {
        if self.over_limit() {
            return;
        }
        self.line(b'+', s.as_bytes());
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        if self.over_limit() {
            return;
        }
        self.buf.put_slice(b"+OK\r\n");
    }

    /// An error reply; `msg` starts with its code (`ERR ...`, `WRONGTYPE ...`).
    pub fn error(&mut self, msg: &str) {
        if self.over_limit() {
            return;
        }
        // Newlines would break framing.
        let clean: String = msg
            .chars()
            .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
            .collect();
        self.line(b'-', clean.as_bytes());
    }

    /// An integer reply.
    pub fn int(&mut self, n: i64) {
        if self.over_limit() {
            return;
        }
        self.len_line(b':', n);
    }

    /// A bulk string reply.
    pub fn bulk(&mut self, b: &[u8]) {
        if self.over_limit() {
            return;
        }
        self.len_line(b'$', b.len() as i64);
        self.buf.reserve(b.len() + 2);
        self.buf.put_slice(b);
        self.buf.put_slice(b"\r\n");
    }

    /// A bulk string of an integer's text.
    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa_buf();
        let s = fmt_i64(&mut b, n);
        let s = s.to_vec();
        self.bulk(&s);
    }

    /// The null reply (`$-1` in RESP2).
    pub fn null(&mut self) {
        if self.over_limit() {
            return;
        }
        if self.resp3 {
            self.buf.put_slice(b"_\r\n");
        } else {
            self.buf.put_slice(b"$-1\r\n");
        }
    }

    /// The null array reply (`*-1` in RESP2).
    pub fn null_array(&mut self) {
        if self.over_limit() {
            return;
        }
        if self.resp3 {
            self.buf.put_slice(b"_\r\n");
        } else {
            self.buf.put_slice(b"*-1\r\n");
        }
    }

    /// An array header of `n` elements.
    pub fn array(&mut self, n: usize) {
        if self.over_limit() {
            return;
        }
        self.len_line(b'*', n as i64);
    }

    /// A map header of `n` pairs (a flat array of 2n in RESP2).
    pub fn map(&mut self, n: usize) {
        if self.over_limit() {
            return;
        }
        if self.resp3 {
            self.len_line(b'%', n as i64);
        } else {
            self.len_line(b'*', 2 * n as i64);
        }
    }

    /// A set header of `n` elements (an array in RESP2).
    pub fn set(&mut self, n: usize) {
        if self.over_limit() {
            return;
        }
        if self.resp3 {
            self.len_line(b'~', n as i64);
        } else {
            self.len_line(b'*', n as i64);
        }
    }

    /// A push header of `n` elements (an array in RESP2).
    pub fn push(&mut self, n: usize) {
        if self.over_limit() {
            return;
        }
        if self.resp3 {
            self.len_line(b'>', n as i64);
        } else {
            self.len_line(b'*', n as i64);
        }
    }

    /// A double (a bulk string in RESP2).
    pub fn double(&mut self, v: f64) {
        if self.over_limit() {
            return;
        }
        let s = format_double(v);
        if self.resp3 {
            self.line(b',', s.as_bytes());
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// A boolean (the integers 1 and 0 in RESP2).
    pub fn boolean(&mut self, v: bool) {
        if self.over_limit() {
            return;
        }
        if self.resp3 {
            self.buf.put_slice(if v { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(i64::from(v));
        }
    }

    /// A verbatim text reply (a bulk string in RESP2).
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.over_limit() {
            return;
        }
        if self.resp3 {
            self.len_line(b'=', text.len() as i64 + 4);
            self.buf.put_slice(b"txt:");
            self.buf.put_slice(text);
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// Raw, already encoded bytes.
    pub fn raw(&mut self, b: &[u8]) {
        if self.over_limit() {
            return;
        }
        self.buf.put_slice(b);
    }

    /// A `<COMMAND> HELP` reply as Redis words it: a header, `lines` (each subcommand
    /// and, indented, what it does), then HELP itself.
    pub fn help(&mut self, command: &str, lines: &[&str]) {
        self.array(lines.len() + 3);
        self.simple(&format!(
            "{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
        ));
        for l in lines {
            self.simple(l);
        }
        self.simple("HELP");
        self.simple("    Print this help.");
    }

    /// The number of bytes waiting.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

fn itoa_buf() -> [u8; 24] {
    [0u8; 24]
}

fn fmt_i64(buf: &mut [u8; 24], n: i64) -> &[u8] {
    let mut i = buf.len();
    let neg = n < 0;
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// Appends a command as a client sends one (an array of bulk strings) to `into`.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A], into: &mut Vec<u8>) {
    into.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        let a = a.as_ref();
        into.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        into.extend_from_slice(a);
        into.extend_from_slice(b"\r\n");
    }
}

/// Prints a double as Redis replies one (`%.17g`), with `inf`, `-inf` and `nan`.
pub fn format_double(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let s = format!("{v:.16e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |m: &str| -> String {
        let mut m = m.to_string();
        if m.contains('.') {
            while m.ends_with('0') {
                m.pop();
            }
            if m.ends_with('.') {
                m.pop();
            }
        }
        m
    };
    if !(-4..17).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mant), exp.abs())
    } else {
        let decimals = (16 - exp).max(0) as usize;
        trim(&format!("{v:.decimals$}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp2_and_resp3() {
        let mut o = Out::new();
        o.map(1);
        o.bulk(b"a");
        o.double(1.5);
        o.null();
        assert_eq!(&o.buf[..], b"*2\r\n$1\r\na\r\n$3\r\n1.5\r\n$-1\r\n");
        let mut o = Out {
            resp3: true,
            ..Out::new()
        };
        o.map(1);
        o.bulk(b"a");
        o.double(1.5);
        o.null();
        o.int(-42);
        assert_eq!(&o.buf[..], b"%1\r\n$1\r\na\r\n,1.5\r\n_\r\n:-42\r\n");
    }

    #[test]
    fn writes_stop_past_the_limit() {
        let mut o = Out {
            limit: 10,
            ..Out::new()
        };
        o.bulk(b"0123456789");
        assert!(o.over_limit());
        let n = o.len();
        o.bulk(b"more");
        o.int(1);
        o.error("ERR x");
        assert_eq!(o.len(), n, "nothing is added once past the limit");
    }

    #[test]
    fn doubles_like_redis() {
        assert_eq!(format_double(1.0), "1");
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(-2.5e-5), "-2.5000000000000001e-05");
        assert_eq!(format_double(123456789.0), "123456789");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
    }
}
