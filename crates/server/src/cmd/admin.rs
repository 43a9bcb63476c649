//! Server administration: INFO, COMMAND, SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE, SHUTDOWN and
//! FUNCTION (of which only FLUSH, there being no functions).

use crate::Shared;
use crate::dispatch::{help_err, lossy};
use crate::persist::BgKind;
use crate::session::Session;
use concord_engine::{COMMANDS, CommandSpec, Engine, lookup_command};
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

/// FUNCTION FLUSH: there are no functions to flush.
pub(crate) fn function(_: &mut Session, _: &Shared, _: &mut Engine, a: &[&[u8]], out: &mut Out) {
    if a.len() >= 2 && a[1].eq_ignore_ascii_case(b"flush") {
        out.ok();
    } else {
        out.error(&help_err(a[1], "FUNCTION"));
    }
}

/// COMMAND [COUNT | INFO names | DOCS names | LIST | GETKEYS cmd args]
pub(crate) fn command(_: &mut Session, _: &Shared, _: &mut Engine, a: &[&[u8]], out: &mut Out) {
    let sub = a
        .get(1)
        .map(|s| lossy(s).to_ascii_uppercase())
        .unwrap_or_default();
    match sub.as_str() {
        "" => {
            out.array(COMMANDS.len());
            for c in COMMANDS {
                command_info(c, out);
            }
        }
        "COUNT" => out.int(COMMANDS.len() as i64),
        "INFO" => {
            if a.len() == 2 {
                out.array(COMMANDS.len());
                for c in COMMANDS {
                    command_info(c, out);
                }
                return;
            }
            out.array(a.len() - 2);
            for n in &a[2..] {
                match lookup_command(n) {
                    Some(c) => command_info(c, out),
                    None => out.null(),
                }
            }
        }
        "DOCS" => {
            let specs: Vec<&CommandSpec> = if a.len() == 2 {
                COMMANDS.iter().collect()
            } else {
                a[2..].iter().filter_map(|n| lookup_command(n)).collect()
            };
            out.map(specs.len());
            for c in specs {
                out.bulk(c.name.as_bytes());
                out.map(3);
                out.bulk(b"summary");
                out.bulk(format!("The {} command", c.name.to_ascii_uppercase()).as_bytes());
                out.bulk(b"since");
                out.bulk(b"1.0.0");
                out.bulk(b"group");
                out.bulk(c.group.as_bytes());
            }
        }
        "LIST" => {
            out.array(COMMANDS.len());
            for c in COMMANDS {
                out.bulk(c.name.as_bytes());
            }
        }
        "GETKEYS" if a.len() >= 3 => {
            let Some(c) = lookup_command(a[2]) else {
                return out.error("ERR Invalid command specified");
            };
            let args = &a[2..];
            if !c.arity_ok(args.len()) {
                return out.error("ERR Invalid number of arguments specified for command");
            }
            if c.first_key == 0 {
                return out.error("ERR The command has no key arguments");
            }
            let last = if c.last_key < 0 {
                args.len() as i32 + c.last_key
            } else {
                c.last_key
            };
            let keys: Vec<&[u8]> = (c.first_key..=last)
                .step_by(c.step.max(1) as usize)
                .filter_map(|i| args.get(i as usize).copied())
                .collect();
            out.array(keys.len());
            for k in keys {
                out.bulk(k);
            }
        }
        _ => out.error(&help_err(a[1], "COMMAND")),
    }
}

fn command_info(c: &CommandSpec, out: &mut Out) {
    out.array(10);
    out.bulk(c.name.as_bytes());
    out.int(i64::from(c.arity));
    let flags = c.flags.names();
    out.set(flags.len());
    for f in flags {
        out.simple(f);
    }
    out.int(i64::from(c.first_key));
    out.int(i64::from(c.last_key));
    out.int(i64::from(c.step));
    out.set(1);
    out.simple(&format!("@{}", c.group));
    out.set(0);
    out.array(0);
    out.array(0);
}
