//! The arguments the slow log and MONITOR show of a request: passwords replaced by
//! `(redacted)`, where Redis replaces them.

use concord_engine::{CommandId, full_name};
use std::borrow::Cow;

/// What a hidden argument shows instead.
pub(crate) const REDACTED: &[u8] = b"(redacted)";

/// Settings whose values CONFIG SET hides (they are passwords).
const SENSITIVE_SETTINGS: &[&str] = &["requirepass", "peer-password", "masterauth"];

/// Which arguments of a request are hidden: AUTH's password (and user), HELLO's AUTH
/// pair, MIGRATE's AUTH and AUTH2, every argument of ACL SETUSER, and the value of a
/// password setting in CONFIG SET.
pub(crate) fn hidden(id: CommandId, args: &[&[u8]]) -> impl Fn(usize) -> bool {
    let name = full_name(id);
    let mut hide = vec![false; args.len()];
    match name {
        "auth" => hide.iter_mut().skip(1).for_each(|h| *h = true),
        "acl|setuser" => hide.iter_mut().skip(2).for_each(|h| *h = true),
        "hello" => {
            let mut j = 2;
            while j < args.len() {
                if args[j].eq_ignore_ascii_case(b"auth") && j + 2 < args.len() {
                    hide[j + 1] = true;
                    hide[j + 2] = true;
                    j += 3;
                } else {
                    j += 1;
                }
            }
        }
        "migrate" => {
            // AUTH password and AUTH2 username password, before KEYS.
            let mut j = 6;
            while j < args.len() && !args[j].eq_ignore_ascii_case(b"keys") {
                if args[j].eq_ignore_ascii_case(b"auth") && j + 1 < args.len() {
                    hide[j + 1] = true;
                    j += 2;
                } else if args[j].eq_ignore_ascii_case(b"auth2") && j + 2 < args.len() {
                    hide[j + 1] = true;
                    hide[j + 2] = true;
                    j += 3;
                } else {
                    j += 1;
                }
            }
        }
        "config|set" => {
            for j in (2..args.len().saturating_sub(1)).step_by(2) {
                let setting = String::from_utf8_lossy(args[j]);
                if SENSITIVE_SETTINGS
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(&setting))
                {
                    hide[j + 1] = true;
                }
            }
        }
        _ => {}
    }
    move |i| hide.get(i).copied().unwrap_or(false)
}

/// The arguments as shown: each one, or [`REDACTED`] in its place.
pub(crate) fn shown<'a>(id: CommandId, args: &[&'a [u8]]) -> Vec<Cow<'a, [u8]>> {
    let hide = hidden(id, args);
    args.iter()
        .enumerate()
        .map(|(i, a)| {
            if hide(i) {
                Cow::Borrowed(REDACTED)
            } else {
                Cow::Borrowed(*a)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_engine::{command_id, resolve_from};

    fn show(args: &[&str]) -> Vec<String> {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        let id = resolve_from(command_id(a[0]).expect("known"), &a).expect("resolves");
        shown(id, &a)
            .iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect()
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(show(&["AUTH", "pw"]), ["AUTH", "(redacted)"]);
        assert_eq!(
            show(&["auth", "u", "pw"]),
            ["auth", "(redacted)", "(redacted)"]
        );
        assert_eq!(
            show(&["HELLO", "3", "AUTH", "u", "p", "SETNAME", "n"]),
            [
                "HELLO",
                "3",
                "AUTH",
                "(redacted)",
                "(redacted)",
                "SETNAME",
                "n"
            ]
        );
        assert_eq!(
            show(&["acl", "setuser", "bob", ">pw"]),
            ["acl", "setuser", "(redacted)", "(redacted)"]
        );
        assert_eq!(
            show(&["config", "set", "requirepass", "x", "hz", "5"]),
            ["config", "set", "requirepass", "(redacted)", "hz", "5"]
        );
        assert_eq!(show(&["SET", "k", "v"]), ["SET", "k", "v"]);
    }
}
