//! AUTH and HELLO: who the client is and which protocol it speaks.

use crate::Shared;
use crate::dispatch::lossy;
use crate::session::Session;
use crate::settings::ServerConfig;
use concord_engine::Engine;
use concord_resp::Out;

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// Whether new connections must authenticate (the default user has a password).
pub(crate) fn required(sh: &Shared) -> bool {
    sh.config
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .requirepass
        .is_some()
}

/// `requirepass` changed: from now on new connections must authenticate with it;
/// connections already authenticated stay so, as in Redis.
pub(crate) fn apply_requirepass(_: &Shared, _: &ServerConfig) -> Result<(), String> {
    Ok(())
}

/// Compares without an early exit, so the time taken does not tell how much matched.
fn same(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, x) in a.iter().enumerate() {
        diff |= x ^ b.get(i).copied().unwrap_or(!x);
    }
    diff == 0
}

/// How a user / password pair checked out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Not a valid pair.
    Wrong,
    /// Valid, for a user that needs no password.
    NoPassword,
    /// Valid, and a password was proven.
    Password,
}

/// Checks `user` / `pass`.
fn check_password(sh: &Shared, user: &[u8], pass: &[u8]) -> Check {
    if user != b"default" {
        return Check::Wrong;
    }
    let cfg = sh.config.read().unwrap_or_else(|p| p.into_inner());
    match &cfg.requirepass {
        None => Check::NoPassword,
        Some(pw) if same(pw.as_bytes(), pass) => Check::Password,
        Some(_) => Check::Wrong,
    }
}

/// Records a successful authentication on the session.
fn authenticated(s: &mut Session, how: Check) {
    s.authed = true;
    s.password_proven = how == Check::Password;
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
    if a.len() == 2 && !required(sh) {
        return out.error(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        );
    }
    match check_password(sh, user, pass) {
        Check::Wrong => out.error(WRONGPASS),
        how => {
            authenticated(s, how);
            out.ok();
        }
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
    while i < a.len() {
        if a[i].eq_ignore_ascii_case(b"auth") && i + 2 < a.len() {
            match check_password(sh, a[i + 1], a[i + 2]) {
                Check::Wrong => return out.error(WRONGPASS),
                how => authenticated(s, how),
            }
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

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn comparison() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
        assert!(!same(b"ab", b"abc"));
        assert!(same(b"", b""));
    }
}
