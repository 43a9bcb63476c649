//! Server administration: INFO, SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE, SHUTDOWN and

use crate::Shared;
use crate::persist::BgKind;
use crate::session::Session;
use concord_engine::Engine;
use concord_resp::Out;
use std::sync::atomic::Ordering;

/// INFO [section ...].
pub(crate) fn info(_: &mut Session, sh: &Shared, e: &mut Engine, a: &[&[u8]], out: &mut Out) {
    let text = crate::info::render(sh, e, &a[1..]);
    out.verbatim(text.as_bytes());
}

/// SAVE: a snapshot written in place.
pub(crate) fn save(_: &mut Session, sh: &Shared, e: &mut Engine, _: &[&[u8]], out: &mut Out) {
    match sh.persist.save(e) {
        Ok(()) => out.ok(),
        Err(x) => out.error(&x),
    }
}

/// BGSAVE [SCHEDULE].
pub(crate) fn bgsave(_: &mut Session, sh: &Shared, e: &mut Engine, a: &[&[u8]], out: &mut Out) {
    let schedule = match a.get(1) {
        None => false,
        Some(x) if x.eq_ignore_ascii_case(b"schedule") && a.len() == 2 => true,
        Some(_) => return out.error("ERR syntax error"),
    };
    let p = &sh.persist;
    if schedule && p.running().is_some() {
        p.scheduled.store(true, Ordering::Relaxed);
        return out.simple("Background saving scheduled");
    }
    match p.start_background(BgKind::Save, e) {
        Ok(()) => out.simple("Background saving started"),
        Err(x) => out.error(&x),
    }
}

/// BGREWRITEAOF.
pub(crate) fn bgrewriteaof(
    _: &mut Session,
    sh: &Shared,
    e: &mut Engine,
    _: &[&[u8]],
    out: &mut Out,
) {
    let p = &sh.persist;
    if p.running().is_some() {
        p.scheduled.store(true, Ordering::Relaxed);
        return out.simple("Background append only file rewriting scheduled");
    }
    match p.start_background(BgKind::Rewrite, e) {
        Ok(()) => out.simple("Background append only file rewriting started"),
        Err(x) => out.error(&x),
    }
}

/// LASTSAVE.
pub(crate) fn lastsave(_: &mut Session, sh: &Shared, _: &mut Engine, _: &[&[u8]], out: &mut Out) {
    out.int(sh.persist.lastsave.load(Ordering::Relaxed) as i64);
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: a clean stop (the append-only file is
/// synced either way); SAVE also writes a snapshot first. No reply on success: the
/// connection closes, as with Redis.
pub(crate) fn shutdown(s: &mut Session, sh: &Shared, e: &mut Engine, a: &[&[u8]], out: &mut Out) {
    let (mut save, mut nosave, mut abort) = (false, false, false);
    for x in &a[1..] {
        match x.to_ascii_uppercase().as_slice() {
            b"SAVE" => save = true,
            b"NOSAVE" => nosave = true,
            b"NOW" | b"FORCE" => {}
            b"ABORT" => abort = true,
            _ => return out.error("ERR syntax error"),
        }
    }
    if save && nosave || abort && a.len() > 2 {
        return out.error("ERR syntax error");
    }
    if abort {
        return out.error("ERR No shutdown in progress.");
    }
    if save && let Err(x) = sh.persist.save(e) {
        return out.error(&format!("ERR Errors trying to SHUTDOWN. Check logs. ({x})"));
    }
    sh.shutdown.notify_one();
    s.closing = true;
}

/// MONITOR: from now on the client is sent every command that runs.
pub(crate) fn monitor(s: &mut Session, sh: &Shared, _: &mut Engine, _: &[&[u8]], out: &mut Out) {
    if s.in_exec {
        // A transaction expects one reply per command.
        return out.error("ERR MONITOR isn't allowed for DENY BLOCKING client");
    }
    if s.monitoring {
        // Already monitoring: Redis answers nothing.
        return;
    }
    s.monitoring = true;
    sh.monitors.add(s.id, s.mailbox.clone());
    out.ok();
}
