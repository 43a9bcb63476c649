//! MULTI, EXEC, DISCARD, WATCH and UNWATCH.

use crate::Shared;
use crate::session::{Multi, Session};
use concord_acl::LogContext;
use concord_engine::{Engine, resolve};
use concord_resp::Out;
use smallvec::SmallVec;
use std::sync::OnceLock;

/// Whether command `id` is EXEC (which runs with the flags of what it queued).
pub(crate) fn is_exec(id: usize) -> bool {
    static EXEC: OnceLock<usize> = OnceLock::new();
    *EXEC.get_or_init(|| super::id_of("exec")) == id
}

/// Whether a request is EXEC.
pub(crate) fn is_exec_request(args: &[bytes::Bytes]) -> bool {
    args.len() == 1 && args[0].eq_ignore_ascii_case(b"exec")
}

/// MULTI.
pub(crate) fn multi(s: &mut Session, _: &Shared, _: &mut Engine, _: &[&[u8]], out: &mut Out) {
    if s.multi.is_some() {
        return out.error("ERR MULTI calls can not be nested");
    }
    s.multi = Some(Multi::default());
    out.ok();
}

/// DISCARD.
pub(crate) fn discard(s: &mut Session, _: &Shared, e: &mut Engine, _: &[&[u8]], out: &mut Out) {
    if s.multi.take().is_none() {
        return out.error("ERR DISCARD without MULTI");
    }
    s.unwatch(e);
    out.ok();
}

/// EXEC: runs the queued commands as one group of ops (committed after EXEC), unless a
/// queued command was refused or a WATCHed key changed.
pub(crate) fn exec(s: &mut Session, sh: &Shared, e: &mut Engine, _: &[&[u8]], out: &mut Out) {
    let Some(m) = s.multi.take() else {
        return out.error("ERR EXEC without MULTI");
    };
    if m.error {
        s.unwatch(e);
        return out.error("EXECABORT Transaction discarded because of previous errors.");
    }
    if s.watching && e.is_dirty(s.id) {
        s.unwatch(e);
        return out.null_array();
    }
    s.unwatch(e);
    out.array(m.queue.len());
    s.in_exec = true;
    for args in m.queue {
        let view: SmallVec<[&[u8]; 8]> = args.iter().map(|a| &a[..]).collect();
        let id = match resolve(&view) {
            Ok(id) => id,
            // Checked when queued; should it fail now, the reply still has one element
            // per queued command.
            Err(why) => {
                sh.errors.send(out, &why.to_string());
                continue;
            }
        };
        // Rules may have changed since the command was queued.
        if !s.rules.unrestricted
            && let Err(d) = crate::access::check(&s.user, s.rules, id, &view)
        {
            let why = crate::cmd::acl::denied(sh, s, id, &view, &d, LogContext::Multi);
            let msg = format!(
                "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {why}"
            );
            sh.errors.send(out, &msg);
            continue;
        }
        s.run(sh, e, id, &view, out);
        // Inside a transaction a blocking command answers at once.
        e.take_block();
    }
    s.in_exec = false;
}

/// WATCH key [key ...].
pub(crate) fn watch(s: &mut Session, _: &Shared, e: &mut Engine, a: &[&[u8]], out: &mut Out) {
    if s.multi.is_some() {
        return out.error("ERR WATCH inside MULTI is not allowed");
    }
    for k in &a[1..] {
        e.watch(s.id, k);
    }
    s.watching = true;
    out.ok();
}

/// UNWATCH.
pub(crate) fn unwatch(s: &mut Session, _: &Shared, e: &mut Engine, _: &[&[u8]], out: &mut Out) {
    s.unwatch(e);
    out.ok();
}
