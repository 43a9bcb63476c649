//! INFO's `total_error_replies` and errorstats section: every error reply a client gets,
//! counted by its code (the reply's first word), as Redis counts them. A command called
//! from a script is not counted itself: the script's own reply is (as Redis does for an
//! error that `redis.call` raised; one that `redis.pcall` caught is not counted here).

use crate::lock;
use concord_resp::Out;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The most distinct codes counted. Past it (a script inventing codes with
/// `redis.error_reply`, say) the table is replaced by one `ERRORSTATS_DISABLED` entry until
/// CONFIG RESETSTAT, as in Redis, so it cannot grow without end.
const MAX_CODES: usize = 128;

/// How far into a reply the end of its code is looked for (Redis's limit).
const CODE_SEARCH: usize = 32;

/// The entry that stands for the table once [`MAX_CODES`] was passed.
const DISABLED: &[u8] = b"ERRORSTATS_DISABLED";

/// The counters (shared by every client; touched only when an error is sent).
#[derive(Default)]
pub(crate) struct ErrorStats {
    tally: Mutex<Tally>,
}

#[derive(Default)]
struct Tally {
    total: u64,
    codes: BTreeMap<Vec<u8>, u64>,
    /// Counting by code stopped (the table is full).
    disabled: bool,
}

impl ErrorStats {
    /// Counts `reply` (one whole reply, as the client gets it) if it is an error.
    pub fn reply(&self, reply: &[u8]) {
        if reply.first() == Some(&b'-') {
            self.count(code_of(&reply[1..]));
        }
    }

    /// Counts an error reply whose text (after the `-`) is `text`.
    pub fn error(&self, text: &str) {
        self.count(code_of(text.as_bytes()));
    }

    /// Writes the error reply `text` into `out` and counts it.
    pub fn send(&self, out: &mut Out, text: &str) {
        self.error(text);
        out.error(text);
    }

    /// Counts an error reply with this code.
    fn count(&self, code: &[u8]) {
        let mut t = lock(&self.tally);
        t.total += 1;
        if t.disabled {
            return;
        }
        if let Some(n) = t.codes.get_mut(code) {
            *n += 1;
            return;
        }
        if t.codes.len() >= MAX_CODES {
            let codes: Vec<String> = t
                .codes
                .keys()
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            tracing::warn!(
                "errorstats stopped adding new error codes: {MAX_CODES} were reached (a script's \
                 error_reply misused?); CONFIG RESETSTAT counts them again. Codes: {}",
                codes.join(", ")
            );
            t.codes.clear();
            t.codes.insert(DISABLED.to_vec(), 1);
            t.disabled = true;
            return;
        }
        t.codes.insert(code.to_vec(), 1);
    }

    /// Error replies sent since the start or the last CONFIG RESETSTAT.
    pub fn total(&self) -> u64 {
        lock(&self.tally).total
    }

    /// INFO errorstats' lines, `errorstat_<code>:count=<n>`, codes in byte order.
    pub fn write_info(&self, s: &mut String) {
        use std::fmt::Write;
        for (code, n) in &lock(&self.tally).codes {
            // As Redis shows them: a ':' or a line break would break INFO's format.
            let safe: String = String::from_utf8_lossy(code)
                .chars()
                .map(|c| {
                    if matches!(c, ':' | '\r' | '\n') {
                        '_'
                    } else {
                        c
                    }
                })
                .collect();
            let _ = write!(s, "errorstat_{safe}:count={n}\r\n");
        }
    }

    /// CONFIG RESETSTAT: nothing counted, counting by code on again.
    pub fn reset(&self) {
        *lock(&self.tally) = Tally::default();
    }
}

/// An error's code, from its text (after the `-`): up to the first space within the
/// reply's first [`CODE_SEARCH`] bytes (the `-` included); `ERR` when there is none.
fn code_of(text: &[u8]) -> &[u8] {
    let head = &text[..text.len().min(CODE_SEARCH - 1)];
    match head.iter().position(|&b| b == b' ') {
        Some(end) => &text[..end],
        None => b"ERR",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_counted_as_redis_reads_them() {
        assert_eq!(code_of(b"ERR wrong\r\n"), b"ERR");
        assert_eq!(code_of(b"WRONGTYPE Operation\r\n"), b"WRONGTYPE");
        assert_eq!(
            code_of(b"NOSPACEINTHISVERYLONGERRORCODEXXXXXX x\r\n"),
            b"ERR"
        );
        let s = ErrorStats::default();
        s.reply(b"+OK\r\n");
        s.reply(b"-ERR a\r\n");
        s.reply(b"-NOSCRIPT b\r\n");
        s.reply(b"-ERR c\r\n");
        let mut info = String::new();
        s.write_info(&mut info);
        assert_eq!(
            info,
            "errorstat_ERR:count=2\r\nerrorstat_NOSCRIPT:count=1\r\n"
        );
        assert_eq!(s.total(), 3);
        s.reset();
        assert_eq!(s.total(), 0);
    }

    #[test]
    fn the_table_is_bounded() {
        let s = ErrorStats::default();
        for i in 0..MAX_CODES + 5 {
            s.reply(format!("-C{i} x\r\n").as_bytes());
        }
        let mut info = String::new();
        s.write_info(&mut info);
        assert_eq!(info, "errorstat_ERRORSTATS_DISABLED:count=1\r\n");
        assert_eq!(s.total(), (MAX_CODES + 5) as u64);
        s.reset();
        s.reply(b"-ERR x\r\n");
        let mut info = String::new();
        s.write_info(&mut info);
        assert_eq!(info, "errorstat_ERR:count=1\r\n");
    }
}
