//! ACL: users and their rules (SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI), what
//! categories hold (CAT), trying a command as a user (DRYRUN), passwords (GENPASS), the
//! log of denials (LOG) and the ACL file (LOAD, SAVE); and what a denial does.

use crate::Shared;
use crate::access::{catalog, check, load_file, to_acl};
use crate::dispatch::{help_err, lossy};
use crate::session::Session;
use concord_acl::{
    Category, Denied, GENPASS_DEFAULT_BITS, LogContext, LogEvent, LogReason, SelectorInfo, genpass,
    genpass_random_len,
};
use concord_engine::{CommandId, Engine, resolve};
use concord_resp::Out;

/// Records a denial or a failed authentication in ACL LOG.
pub(crate) fn log_event(
    sh: &Shared,
    s: &Session,
    reason: LogReason,
    context: LogContext,
    object: Vec<u8>,
    username: Vec<u8>,
) {
    let client_info = {
        let clients = sh.clients.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .get(&s.id)
            .map(|c| super::client::client_line(s.id, c, None).into_bytes())
            .unwrap_or_default()
    };
    let event = LogEvent {
        reason,
        context,
        object,
        username,
        client_info,
    };
    sh.access
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .log
        .add(event, crate::wall_ms() as i64);
}

/// What a denied command answers (`NOPERM ...`), after logging it.
pub(crate) fn denied(
    sh: &Shared,
    s: &Session,
    id: CommandId,
    args: &[&[u8]],
    d: &Denied,
    context: LogContext,
) -> String {
    let c = catalog();
    let aid = to_acl(id);
    let reason = LogReason::from(d.reason);
    log_event(
        sh,
        s,
        reason,
        context,
        d.log_object(c, aid, args),
        s.user.name().to_vec(),
    );
    lossy(&d.noperm_message(c, aid, &s.user))
}

/// ACL subcommands.
pub(crate) fn acl(s: &mut Session, sh: &Shared, _: &mut Engine, a: &[&[u8]], out: &mut Out) {
    let sub = lossy(a[1]).to_ascii_lowercase();
    match sub.as_str() {
        "setuser" => setuser(sh, a, out),
        "deluser" => deluser(sh, &a[2..], out),
        "getuser" => getuser(sh, a[2], out),
        "list" | "users" => {
            let a = sh.access.lock().unwrap_or_else(|p| p.into_inner());
            if sub == "list" {
                let lines = a.users.list();
                out.array(lines.len());
                for l in lines {
                    out.bulk(&l);
                }
            } else {
                out.array(a.users.len());
                for u in a.users.iter() {
                    out.bulk(u.name());
                }
            }
        }
        "whoami" => out.bulk(s.user.name()),
        "cat" => cat(a.get(2).copied(), out),
        "genpass" => genpass_reply(a.get(2).copied(), out),
        "log" if a.len() <= 3 => log(sh, a.get(2).copied(), out),
        "dryrun" => dryrun(sh, &a[2..], out),
        "load" | "save" => {
            let file = sh.cfg.aclfile.clone();
            if file.is_empty() {
                return out.error("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.");
            }
            if sub == "load" {
                load(sh, &file, out)
            } else {
                save(sh, &file, out)
            }
        }
        "help" => {
            out.help(
                "ACL",
                &[
                "CAT [<category>]",
                "    List all commands that belong to <category>, or all command categories",
                "    when no category is specified.",
                "DELUSER <username> [<username> ...]",
                "    Delete a list of users.",
                "DRYRUN <username> <command> [<arg> ...]",
                "    Returns whether the user can execute the given command without executing the command.",
                "GETUSER <username>",
                "    Get the user's details.",
                "GENPASS [<bits>]",
                "    Generate a secure 256-bit user password. The optional `bits` argument can",
                "    be used to specify a different size.",
                "LIST",
                "    Show users details in config file format.",
                "LOAD",
                "    Reload users from the ACL file.",
                "LOG [<count> | RESET]",
                "    Show the ACL log entries.",
                "SAVE",
                "    Save the current config to the ACL file.",
                "SETUSER <username> <attribute> [<attribute> ...]",
                "    Create or modify a user with the specified attributes.",
                "USERS",
                "    List all the registered usernames.",
                "WHOAMI",
                "    Return the current connection username.",
                ],
            );
        }
        _ => out.error(&help_err(a[1], "ACL")),
    }
}

/// ACL SETUSER name rules...
fn setuser(sh: &Shared, a: &[&[u8]], out: &mut Out) {
    let outcome = {
        let mut acc = sh.access.lock().unwrap_or_else(|p| p.into_inner());
        acc.users.setuser(catalog(), a[2], &a[3..])
    };
    match outcome {
        Ok(o) => {
            sh.users_changed();
            if o.recheck_subscriptions {
                kill_lost_subscribers(sh, a[2]);
            }
            out.ok();
        }
        Err(e) => out.error(&format!("ERR {}", lossy(&e.message()))),
    }
}

/// Closes the clients of `user` subscribed to a channel or pattern it may no longer use,
/// as Redis does when a user loses channels.
fn kill_lost_subscribers(sh: &Shared, user: &[u8]) {
    let Some(u) = sh.user(user) else {
        return;
    };
    super::client::kill_where(sh, |_, c| {
        c.user == user
            && (c.channels.iter().any(|ch| !u.check_channel(ch, false))
                || c.shard_channels
                    .iter()
                    .any(|ch| !u.check_channel(ch, false))
                || c.patterns.iter().any(|p| !u.check_channel(p, true)))
    });
}

/// Closes every client authenticated as one of `names`.
fn kill_clients_of(sh: &Shared, names: &[Vec<u8>]) {
    super::client::kill_where(sh, |_, c| names.contains(&c.user));
}

/// ACL DELUSER names...
fn deluser(sh: &Shared, names: &[&[u8]], out: &mut Out) {
    let removed = {
        let mut acc = sh.access.lock().unwrap_or_else(|p| p.into_inner());
        acc.users.deluser(names)
    };
    match removed {
        Ok(users) => {
            let names: Vec<Vec<u8>> = users.iter().map(|u| u.name().to_vec()).collect();
            sh.users_changed();
            kill_clients_of(sh, &names);
            out.int(names.len() as i64);
        }
        Err(e) => out.error(&format!("ERR {e}")),
    }
}

fn selector_fields(s: &SelectorInfo, out: &mut Out) {
    out.bulk(b"commands");
    out.bulk(&s.commands);
    out.bulk(b"keys");
    out.bulk(&s.keys);
    out.bulk(b"channels");
    out.bulk(&s.channels);
}

/// ACL GETUSER name.
fn getuser(sh: &Shared, name: &[u8], out: &mut Out) {
    let info = {
        let acc = sh.access.lock().unwrap_or_else(|p| p.into_inner());
        acc.users.get(name).map(|u| u.info())
    };
    let Some(info) = info else {
        return out.null();
    };
    out.map(6);
    out.bulk(b"flags");
    out.set(info.flags.len());
    for f in &info.flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"passwords");
    out.array(info.passwords.len());
    for p in &info.passwords {
        out.bulk(p.as_bytes());
    }
    selector_fields(&info.root, out);
    out.bulk(b"selectors");
    out.array(info.selectors.len());
    for s in &info.selectors {
        out.map(3);
        selector_fields(s, out);
    }
}

/// ACL CAT [category].
fn cat(category: Option<&[u8]>, out: &mut Out) {
    let Some(name) = category else {
        out.array(Category::ALL.len());
        for c in Category::ALL {
            out.bulk(c.name().as_bytes());
        }
        return;
    };
    let Some(c) = Category::parse(&lossy(name)) else {
        let shown = &name[..name.len().min(128)];
        return out.error(&format!("ERR Unknown category '{}'", lossy(shown)));
    };
    let names = catalog().commands_in(c);
    out.array(names.len());
    for n in names {
        out.bulk(n.as_bytes());
    }
}

/// ACL GENPASS [bits]: random bytes from the operating system.
fn genpass_reply(bits: Option<&[u8]>, out: &mut Out) {
    let bits = match bits {
        None => GENPASS_DEFAULT_BITS,
        Some(b) => match concord_crdt::num::parse_i64(b) {
            Some(n) => n,
            None => return out.error("ERR value is not an integer or out of range"),
        },
    };
    let len = match genpass_random_len(bits) {
        Ok(n) => n,
        Err(e) => return out.error(&format!("ERR {e}")),
    };
    let random: Vec<u8> = (0..len).map(|_| rand::random::<u8>()).collect();
    match genpass(bits, &random) {
        Ok(p) => out.bulk(p.as_bytes()),
        Err(e) => out.error(&format!("ERR {e}")),
    }
}

/// ACL LOG [count | RESET].
fn log(sh: &Shared, arg: Option<&[u8]>, out: &mut Out) {
    let mut count = 10usize;
    if let Some(a) = arg {
        if a.eq_ignore_ascii_case(b"reset") {
            sh.access
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .log
                .reset();
            return out.ok();
        }
        match concord_crdt::num::parse_i64(a) {
            Some(n) => count = usize::try_from(n.max(0)).unwrap_or(usize::MAX),
            None => return out.error("ERR value is not an integer or out of range"),
        }
    }
    let acc = sh.access.lock().unwrap_or_else(|p| p.into_inner());
    let now = crate::wall_ms() as i64;
    let entries: Vec<_> = acc.log.entries(count).collect();
    out.array(entries.len());
    for e in entries {
        out.map(10);
        out.bulk(b"count");
        out.int(i64::try_from(e.count).unwrap_or(i64::MAX));
        out.bulk(b"reason");
        out.bulk(e.reason.name().as_bytes());
        out.bulk(b"context");
        out.bulk(e.context.name().as_bytes());
        out.bulk(b"object");
        out.bulk(&e.object);
        out.bulk(b"username");
        out.bulk(&e.username);
        out.bulk(b"age-seconds");
        out.double(e.age_seconds(now));
        out.bulk(b"client-info");
        out.bulk(&e.client_info);
        out.bulk(b"entry-id");
        out.int(i64::try_from(e.entry_id).unwrap_or(i64::MAX));
        out.bulk(b"timestamp-created");
        out.int(e.timestamp_created);
        out.bulk(b"timestamp-last-updated");
        out.int(e.timestamp_last_updated);
    }
}

/// ACL DRYRUN user command [args...].
fn dryrun(sh: &Shared, a: &[&[u8]], out: &mut Out) {
    let Some(user) = sh.user(a[0]) else {
        return out.error(&format!("ERR User '{}' not found", lossy(a[0])));
    };
    let args = &a[1..];
    let id = match resolve(args) {
        Ok(id) => id,
        Err(concord_engine::Rejection::Arity(name)) => {
            return out.error(&format!(
                "ERR wrong number of arguments for '{name}' command"
            ));
        }
        Err(_) => return out.error(&format!("ERR Command '{}' not found", lossy(args[0]))),
    };
    match check(&user, crate::access::Rules::of(&user), id, args) {
        Ok(()) => out.ok(),
        Err(d) => out.bulk(&d.dryrun_message(catalog(), to_acl(id), &user, args)),
    }
}

/// ACL LOAD: the file replaces every user, or nothing changes. Clients of users other
/// than `default` are closed, as in Redis (their users were replaced).
fn load(sh: &Shared, file: &str, out: &mut Out) {
    let mut acc = sh.access.lock().unwrap_or_else(|p| p.into_inner());
    match load_file(file, &acc.users) {
        Ok(users) => {
            let gone: Vec<Vec<u8>> = acc
                .users
                .iter()
                .filter(|u| u.name() != concord_acl::DEFAULT_USER)
                .map(|u| u.name().to_vec())
                .collect();
            acc.users = users;
            drop(acc);
            sh.users_changed();
            kill_clients_of(sh, &gone);
            out.ok();
        }
        Err(e) => out.error(&format!("ERR {e}")),
    }
}

/// ACL SAVE: every user to the file, replaced atomically (temporary file, sync, rename).
fn save(sh: &Shared, file: &str, out: &mut Out) {
    let text = sh
        .access
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .users
        .to_acl_file();
    let path = std::path::Path::new(file);
    let r = (|| -> std::io::Result<()> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let d = concord_storage::RealDir::new(&dir)?;
        concord_storage::replace(&d, &name, &text)
    })();
    match r {
        Ok(()) => out.ok(),
        Err(e) => {
            tracing::warn!("ACL SAVE to {file}: {e}");
            out.error("ERR There was an error trying to save the ACLs. Please check the server logs for more information");
        }
    }
}
