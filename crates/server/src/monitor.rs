//! MONITOR: every command that runs, as one line to each monitoring client, through
//! that client's queue and within its output limits (a monitor that stops reading is
//! disconnected, as Redis disconnects a client past its limits).

use crate::Shared;
use crate::pubsub::{Mailbox, Msg};
use crate::session::Session;
use bytes::Bytes;
use concord_engine::{CommandId, Flags, spec};
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The monitoring clients.
#[derive(Default)]
pub(crate) struct Monitors {
    /// Their queues, by client id.
    clients: Mutex<HashMap<u64, Mailbox>>,
    /// How many there are: the cheap test each command makes.
    count: AtomicUsize,
}

impl Monitors {
    /// Adds a monitoring client.
    pub fn add(&self, id: u64, mailbox: Mailbox) {
        let mut c = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        c.insert(id, mailbox);
        self.count.store(c.len(), Ordering::Release);
    }

    /// Removes a client, if it was monitoring.
    pub fn remove(&self, id: u64) {
        let mut c = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        c.remove(&id);
        self.count.store(c.len(), Ordering::Release);
    }
}

/// Appends `arg` quoted as Redis quotes it (`sdscatrepr`): printable bytes as they are,
/// `\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b` escaped, anything else as `\xhh`.
pub(crate) fn quote(text: &mut String, arg: &[u8]) {
    text.push('"');
    for &c in arg {
        match c {
            b'\\' => text.push_str("\\\\"),
            b'"' => text.push_str("\\\""),
            b'\n' => text.push_str("\\n"),
            b'\r' => text.push_str("\\r"),
            b'\t' => text.push_str("\\t"),
            0x07 => text.push_str("\\a"),
            0x08 => text.push_str("\\b"),
            c if c.is_ascii_graphic() || c == b' ' => text.push(c as char),
            c => {
                let _ = write!(text, "\\x{c:02x}");
            }
        }
    }
    text.push('"');
}

/// The line monitors get for a command: a status reply with the time, the database and
/// who ran it (`lua` for a script), then the arguments, passwords hidden.
pub(crate) fn line(now: SystemTime, who: &str, id: CommandId, args: &[&[u8]]) -> Bytes {
    let t = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut text = format!("+{}.{:06} [0 {who}]", t.as_secs(), t.subsec_micros());
    for arg in crate::redact::shown(id, args) {
        text.push(' ');
        quote(&mut text, &arg);
    }
    text.push_str("\r\n");
    Bytes::from(text)
}

/// Sends a command that ran to every monitor, unless Redis keeps it from them
/// (administrative commands and those flagged so).
pub(crate) fn feed(s: &Session, sh: &Shared, id: CommandId, args: &[&[u8]]) {
    if sh.monitors.count.load(Ordering::Acquire) == 0 {
        return;
    }
    if spec(id).flags.has(Flags::ADMIN) || spec(id).flags.has(Flags::SKIP_MONITOR) {
        return;
    }
    let who = if s.script {
        "lua".to_string()
    } else {
        s.addr.to_string()
    };
    let msg = line(SystemTime::now(), &who, id, args);
    let limit = s.hot.output_limits.normal;
    let clients = sh
        .monitors
        .clients
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    for mb in clients.values() {
        mb.deliver(Msg::Monitor(msg.clone()), &limit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_engine::command_id;
    use std::time::Duration;

    #[test]
    fn lines_are_quoted_as_redis_quotes_them() {
        let mut t = String::new();
        quote(&mut t, b"a \"b\"\\\n\r\t\x07\x08\x00\xff~");
        assert_eq!(t, r#""a \"b\"\\\n\r\t\a\b\x00\xff~""#);
        let at = UNIX_EPOCH + Duration::from_micros(1_339_518_083_107_412);
        let id = command_id(b"keys").expect("keys");
        let l = line(at, "127.0.0.1:60866", id, &[b"keys", b"*"]);
        assert_eq!(
            &l[..],
            b"+1339518083.107412 [0 127.0.0.1:60866] \"keys\" \"*\"\r\n"
        );
        let auth = command_id(b"auth").expect("auth");
        let l = line(at, "lua", auth, &[b"auth", b"pw"]);
        assert!(l.ends_with(b"[0 lua] \"auth\" \"(redacted)\"\r\n"));
    }
}
