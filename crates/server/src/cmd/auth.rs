//! AUTH and HELLO: who the client is and which protocol it speaks.

use crate::Shared;
use crate::dispatch::lossy;
use crate::session::Session;
use crate::settings::ServerConfig;
use concord_acl::{LogContext, LogReason};
use concord_engine::Engine;
use concord_resp::Out;
use std::sync::Arc;

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// `requirepass` changed: the default user gets that one password (or none). New
/// connections must authenticate with it; connections already authenticated stay so,
/// as in Redis.
pub(crate) fn apply_requirepass(
    sh: &Shared,
    _: &mut Engine,
    c: &ServerConfig,
) -> Result<(), String> {
    sh.access
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .users
        .set_default_password(c.requirepass.as_deref().map(str::as_bytes));
    sh.users_changed();
    Ok(())
}

/// Authenticates `user` / `pass` for the session (AUTH, HELLO AUTH); a failure is
/// logged in ACL LOG, as Redis does.
fn authenticate(s: &mut Session, sh: &Shared, command: &[u8], user: &[u8], pass: &[u8]) -> bool {
    let found = {
        let a = sh.access.lock().unwrap_or_else(|p| p.into_inner());
        a.users
            .authenticate(user, pass)
            .map(|u| (Arc::new(u.clone()), !u.is_nopass()))
    };
    match found {
        Ok((u, proven)) => {
            s.authed = true;
            s.password_proven = proven;
            s.set_user(sh, u);
            true
        }
        Err(_) => {
            crate::cmd::acl::log_event(
                sh,
                s,
                LogReason::Auth,
                LogContext::Toplevel,
                command.to_ascii_uppercase(),
                user.to_vec(),
            );
            false
        }
    }
}

/// AUTH [username] password.
pub(crate) fn auth(s: &mut Session, sh: &Shared, _: &mut Engine, a: &[&[u8]], out: &mut Out) {
    if a.len() > 3 {
        return out.error("ERR syntax error");
    }
    let (user, pass) = if a.len() == 3 {
        (a[1], a[2])
    } else {
        (&b"default"[..], a[1])
    };
    if a.len() == 2 && sh.default_nopass() {
        return out.error(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        );
    }
    if authenticate(s, sh, a[0], user, pass) {
        out.ok();
    } else {
        out.error(WRONGPASS);
    }
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]].
pub(crate) fn hello(s: &mut Session, sh: &Shared, _: &mut Engine, a: &[&[u8]], out: &mut Out) {
    let mut proto = if s.resp3 { 3 } else { 2 };
    let mut i = 1;
    if a.len() >= 2 {
        match concord_crdt::num::parse_i64(a[1]) {
            Some(v @ (2 | 3)) => proto = v,
            Some(_) => return out.error("NOPROTO unsupported protocol version"),
            None => return out.error("ERR Protocol version is not an integer or out of range"),
        }
        i = 2;
    }
    let mut name = None;
    let mut credentials = None;
    while i < a.len() {
        if a[i].eq_ignore_ascii_case(b"auth") && i + 2 < a.len() {
            credentials = Some((a[i + 1], a[i + 2]));
            i += 3;
        } else if a[i].eq_ignore_ascii_case(b"setname") && i + 1 < a.len() {
            if !super::client::valid_name(a[i + 1]) {
                return out.error(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
            }
            name = Some(a[i + 1].to_vec());
            i += 2;
        } else {
            return out.error(&format!(
                "ERR Syntax error in HELLO option '{}'",
                lossy(a[i])
            ));
        }
    }
    // Every option checked first: a refused HELLO changes nothing (Redis's order).
    if let Some((user, pass)) = credentials
        && !authenticate(s, sh, a[0], user, pass)
    {
        return out.error(WRONGPASS);
    }
    if !s.authed {
        return out.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(n) = name {
        s.set_name(sh, n);
    }
    s.resp3 = proto == 3;
    out.resp3 = s.resp3;
    s.update_info(sh, |c| c.resp = proto as u8);
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::info::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(proto);
    out.bulk(b"id");
    out.int(s.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
}
