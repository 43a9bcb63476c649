//! PING, ECHO, QUIT, SELECT, RESET and TIME.

use crate::Shared;
use crate::session::Session;
use concord_engine::Engine;
use concord_resp::Out;

/// PING [message]: in RESP2 subscriber mode the reply is a `pong` message.
pub(crate) fn ping(s: &mut Session, _: &Shared, _: &mut Engine, a: &[&[u8]], out: &mut Out) {
    let msg = match a.len() {
        1 => None,
        2 => Some(a[1]),
        _ => return out.error("ERR wrong number of arguments for 'ping' command"),
    };
    if s.subscribed_resp2() {
        out.array(2);
        out.bulk(b"pong");
        out.bulk(msg.unwrap_or(b""));
    } else {
        match msg {
            None => out.simple("PONG"),
            Some(m) => out.bulk(m),
        }
    }
}

/// ECHO message.
pub(crate) fn echo(_: &mut Session, _: &Shared, _: &mut Engine, a: &[&[u8]], out: &mut Out) {
    out.bulk(a[1]);
}

/// QUIT: answers, then closes.
pub(crate) fn quit(s: &mut Session, _: &Shared, _: &mut Engine, _: &[&[u8]], out: &mut Out) {
    out.ok();
    s.closing = true;
}

/// SELECT index: there is one database, 0.
pub(crate) fn select(_: &mut Session, _: &Shared, _: &mut Engine, a: &[&[u8]], out: &mut Out) {
    match concord_crdt::num::parse_i64(a[1]) {
        Some(0) => out.ok(),
        Some(_) => out.error("ERR DB index is out of range"),
        None => out.error("ERR value is not an integer or out of range"),
    }
}

/// RESET: the connection as new.
pub(crate) fn reset(s: &mut Session, sh: &Shared, e: &mut Engine, _: &[&[u8]], out: &mut Out) {
    s.reset(sh, e);
    out.resp3 = false;
    out.simple("RESET");
}

/// TIME: seconds and microseconds of the wall clock.
pub(crate) fn time(_: &mut Session, _: &Shared, _: &mut Engine, _: &[&[u8]], out: &mut Out) {
    let us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    out.array(2);
    out.bulk((us / 1_000_000).to_string().as_bytes());
    out.bulk((us % 1_000_000).to_string().as_bytes());
}
