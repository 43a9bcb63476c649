//! CLIENT: the connection's own settings, and listing and killing connections.

use crate::dispatch::{help_err, lossy};
use crate::pubsub::Msg;
use crate::session::{Replies, Session};
use crate::{ClientInfo, Shared};
use bytes::Bytes;
use concord_engine::{CommandId, Engine, command_id, full_name, resolve_from};
use concord_resp::Out;

/// Whether a client or library name is acceptable (printable, no spaces).
pub(crate) fn valid_name(n: &[u8]) -> bool {
    n.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

/// What CLIENT LIST shows of the client that asks: the command it runs (Redis shows it
/// as its last command) and the bytes of that command's arguments.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Running {
    /// The command running.
    pub id: CommandId,
    /// Bytes of its arguments (`argv-mem`).
    pub argv_bytes: usize,
}

impl Running {
    /// The command `a` of `s`, as resolved by the dispatcher.
    fn of(a: &[&[u8]]) -> Option<Running> {
        let top = command_id(a[0])?;
        let id = resolve_from(top, a).ok()?;
        Some(Running {
            id,
            argv_bytes: a.iter().map(|x| x.len()).sum(),
        })
    }
}

/// One CLIENT LIST line; `running` is the command the client runs now, when it is the
/// one asking.
pub(crate) fn client_line(id: u64, c: &ClientInfo, running: Option<Running>) -> String {
    let (sub, psub, ssub) = (c.channels.len(), c.patterns.len(), c.shard_channels.len());
    // Redis's letters, in its order.
    let shown = [
        (c.subscribed(), 'P'),
        (c.multi >= 0, 'x'),
        (c.tracking.is_some(), 't'),
        (c.tracking.is_some_and(|t| t.mode.bcast), 'B'),
    ];
    let mut flags: String = shown.iter().filter(|(on, _)| *on).map(|(_, f)| f).collect();
    if flags.is_empty() {
        flags.push('N');
    }
    let redir = c.tracking.map_or(-1, |t| t.redirect as i64);
    let (qbuf, qbuf_free) = c.query.get();
    let argv = running.map_or(0, |r| r.argv_bytes);
    let omem = c.output_bytes();
    format!(
        "id={id} addr={} laddr={} fd=8 name={} age={} idle={} flags={flags} db=0 sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem={omem} tot-mem={} events=r cmd={} user={} redir={redir} resp={} lib-name={} lib-ver={}",
        c.addr,
        c.laddr,
        lossy(&c.name),
        c.created.elapsed().as_secs(),
        c.last.elapsed().as_secs(),
        sub,
        psub,
        ssub,
        c.multi,
        qbuf,
        qbuf_free,
        argv,
        qbuf + qbuf_free + argv + omem,
        running
            .map(|r| r.id)
            .or(c.last_cmd)
            .map_or("NULL", full_name),
        lossy(&c.user),
        c.resp,
        lossy(&c.lib_name),
        lossy(&c.lib_ver),
    )
}

/// CLIENT ID|GETNAME|SETNAME|SETINFO|LIST|INFO|KILL|UNBLOCK|NO-EVICT|NO-TOUCH|REPLY|
/// TRACKING|CACHING|GETREDIR|TRACKINGINFO|PAUSE|UNPAUSE|HELP.
pub(crate) fn client(s: &mut Session, sh: &Shared, e: &mut Engine, a: &[&[u8]], out: &mut Out) {
    let sub = lossy(a[1]).to_ascii_uppercase();
    match (sub.as_str(), a.len()) {
        ("ID", 2) => out.int(s.id as i64),
        ("UNBLOCK", 3 | 4) => unblock(sh, e, a, out),
        ("GETNAME", 2) => {
            if s.name.is_empty() {
                out.null();
            } else {
                out.bulk(&s.name);
            }
        }
        ("SETNAME", 3) => {
            if !valid_name(a[2]) {
                out.error(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
            } else {
                s.set_name(sh, a[2].to_vec());
                out.ok();
            }
        }
        ("SETINFO", 4) => {
            let attr = lossy(a[2]).to_ascii_uppercase();
            if attr != "LIB-NAME" && attr != "LIB-VER" {
                return out.error(&format!("ERR Unrecognized option '{}'", lossy(a[2])));
            }
            if !valid_name(a[3]) {
                return out.error(&format!(
                    "ERR {attr} cannot contain spaces, newlines or special characters."
                ));
            }
            let v = a[3].to_vec();
            s.update_info(sh, |c| {
                if attr == "LIB-NAME" {
                    c.lib_name = v;
                } else {
                    c.lib_ver = v;
                }
            });
            out.ok();
        }
        ("LIST", _) => list(s, sh, a, out),
        ("INFO", 2) => {
            let clients = sh.clients.lock().unwrap_or_else(|p| p.into_inner());
            let line = clients
                .get(&s.id)
                .map(|c| client_line(s.id, c, Running::of(a)))
                .unwrap_or_default();
            out.verbatim(format!("{line}\n").as_bytes());
        }
        ("KILL", _) if a.len() >= 3 => kill(s, sh, a, out),
        ("PAUSE", 3 | 4) => crate::cmd::pause::pause(sh, a, out),
        ("UNPAUSE", 2) => crate::cmd::pause::unpause(sh, out),
        ("TRACKING", _) if a.len() >= 3 => crate::cmd::tracking::tracking(s, sh, e, a, out),
        ("CACHING", 3) => crate::cmd::tracking::caching(s, a, out),
        ("GETREDIR", 2) => crate::cmd::tracking::getredir(s, out),
        ("TRACKINGINFO", 2) => crate::cmd::tracking::trackinginfo(s, sh, out),
        // No client eviction (maxmemory-clients is 0) and no LRU/LFU clock to spare:
        // both modes change nothing here, but their argument is checked as in Redis.
        ("NO-EVICT" | "NO-TOUCH", 3) => match lossy(a[2]).to_ascii_uppercase().as_str() {
            "ON" | "OFF" => out.ok(),
            _ => out.error("ERR syntax error"),
        },
        ("REPLY", 3) => match lossy(a[2]).to_ascii_uppercase().as_str() {
            "ON" => {
                s.replies = Replies::On;
                out.ok();
            }
            // OFF and SKIP answer nothing, as in Redis.
            "OFF" => s.replies = Replies::Off,
            "SKIP" => {
                if s.replies != Replies::Off {
                    s.replies = Replies::SkipNext;
                }
            }
            _ => out.error("ERR syntax error"),
        },
        ("HELP", 2) => out.help(
            "CLIENT",
            &[
                "GETNAME",
                "ID",
                "INFO",
                "KILL <ip:port>",
                "KILL <option> <value> [<option> <value> [...]]",
                "LIST [options ...]",
                "SETNAME <name>",
                "SETINFO <option> <value>",
            ],
        ),
        _ => out.error(&help_err(a[1], "CLIENT")),
    }
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR].
fn unblock(sh: &Shared, e: &mut Engine, a: &[&[u8]], out: &mut Out) {
    let Some(id) = std::str::from_utf8(a[2])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    else {
        return out.error("ERR value is not an integer or out of range");
    };
    let error = match a.get(3).map(|m| lossy(m).to_ascii_uppercase()) {
        None => false,
        Some(m) if m == "TIMEOUT" => false,
        Some(m) if m == "ERROR" => true,
        Some(_) => return out.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
    };
    let w = sh
        .blocked
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(e, id);
    match w {
        // Not blocked on keys: perhaps in WAIT.
        None => out.int(i64::from(sh.waits.unblock(id, error))),
        Some(w) => {
            // The waiter's own timeout reply, or the error Redis sends.
            let reply = if error {
                Bytes::from_static(b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n")
            } else {
                w.timeout_reply
            };
            let _ = w.tx.try_send(Msg::Reply(reply, 0));
            out.int(1);
        }
    }
}

/// The kinds of client CLIENT LIST and CLIENT KILL filter by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientType {
    Normal,
    Pubsub,
    /// Redis's replication clients (`master`, `replica`, `slave`): Concord has none
    /// (peer links leave the client list once linked).
    Replication,
}

impl ClientType {
    fn parse(name: &[u8]) -> Option<ClientType> {
        match lossy(name).to_ascii_lowercase().as_str() {
            "normal" => Some(ClientType::Normal),
            "pubsub" => Some(ClientType::Pubsub),
            "master" | "replica" | "slave" => Some(ClientType::Replication),
            _ => None,
        }
    }

    fn of(c: &ClientInfo) -> ClientType {
        if !c.subscribed() {
            ClientType::Normal
        } else {
            ClientType::Pubsub
        }
    }
}

/// CLIENT LIST [TYPE type | ID id ...].
fn list(s: &Session, sh: &Shared, a: &[&[u8]], out: &mut Out) {
    let clients = sh.clients.lock().unwrap_or_else(|p| p.into_inner());
    let mut ids: Vec<u64> = clients.keys().copied().collect();
    ids.sort_unstable();
    if a.len() >= 4 && a[2].eq_ignore_ascii_case(b"id") {
        let mut want: Vec<u64> = Vec::with_capacity(a.len() - 3);
        for x in &a[3..] {
            match lossy(x).parse::<u64>() {
                Ok(id) if id > 0 => want.push(id),
                _ => return out.error("ERR Invalid client ID"),
            }
        }
        want.sort_unstable();
        ids.retain(|i| want.binary_search(i).is_ok());
    } else if a.len() == 4 && a[2].eq_ignore_ascii_case(b"type") {
        let Some(t) = ClientType::parse(a[3]) else {
            return out.error(&format!("ERR Unknown client type '{}'", lossy(a[3])));
        };
        ids.retain(|id| clients.get(id).is_some_and(|c| ClientType::of(c) == t));
    } else if a.len() != 2 {
        return out.error("ERR syntax error");
    }
    let mut text = String::new();
    for id in ids {
        if let Some(c) = clients.get(&id) {
            let running = if id == s.id { Running::of(a) } else { None };
            text.push_str(&client_line(id, c, running));
            text.push('\n');
        }
    }
    out.verbatim(text.as_bytes());
}

/// Closes the clients `which` picks: they leave CLIENT LIST at once, and their
/// connections close as soon as their tasks run (even one stuck writing). Returns how
/// many.
pub(crate) fn kill_where(sh: &Shared, mut which: impl FnMut(u64, &ClientInfo) -> bool) -> usize {
    let mut clients = sh.clients.lock().unwrap_or_else(|p| p.into_inner());
    let mut n = 0;
    clients.retain(|id, c| {
        if !which(*id, c) {
            return true;
        }
        c.kill.fire();
        n += 1;
        false
    });
    n
}

/// CLIENT KILL addr | CLIENT KILL <filter> <value> ...
fn kill(s: &mut Session, sh: &Shared, a: &[&[u8]], out: &mut Out) {
    if a.len() == 3 {
        // Old form: CLIENT KILL addr:port (one client)
        let addr = lossy(a[2]);
        let mut found = None;
        kill_where(sh, |id, c| {
            let hit = found.is_none() && c.addr.to_string() == addr;
            if hit {
                found = Some(id);
            }
            hit
        });
        return match found {
            Some(id) => {
                if id == s.id {
                    s.closing = true;
                }
                out.ok()
            }
            None => out.error("ERR No such client"),
        };
    }
    if !a.len().is_multiple_of(2) {
        return out.error("ERR syntax error");
    }
    let mut skipme = true;
    let mut filters: Vec<(String, String)> = Vec::new();
    let mut of_type = None;
    for p in a[2..].chunks(2) {
        let k = lossy(p[0]).to_ascii_lowercase();
        let v = lossy(p[1]);
        match k.as_str() {
            "id" if !v.parse::<u64>().is_ok_and(|id| id > 0) => {
                return out.error("ERR client-id should be greater than 0");
            }
            "maxage" if v.parse::<u64>().is_err() => return out.error("ERR syntax error"),
            "type" => match ClientType::parse(p[1]) {
                Some(t) => of_type = Some(t),
                None => return out.error(&format!("ERR Unknown client type '{v}'")),
            },
            "skipme" => match v.to_ascii_lowercase().as_str() {
                "yes" => skipme = true,
                "no" => skipme = false,
                _ => return out.error("ERR syntax error"),
            },
            "user" if sh.user(p[1]).is_none() => {
                return out.error(&format!("ERR No such user '{v}'"));
            }
            "id" | "addr" | "laddr" | "user" | "maxage" => filters.push((k, v)),
            _ => return out.error("ERR syntax error"),
        }
    }
    let me = s.id;
    let mut killed_me = false;
    let n = kill_where(sh, |id, c| {
        if skipme && id == me {
            return false;
        }
        let hit = of_type.is_none_or(|t| ClientType::of(c) == t)
            && filters.iter().all(|(k, v)| match k.as_str() {
                "id" => id.to_string() == *v,
                "addr" => c.addr.to_string() == *v,
                "laddr" => c.laddr.to_string() == *v,
                "user" => c.user == v.as_bytes(),
                "maxage" => v
                    .parse::<u64>()
                    .is_ok_and(|m| c.created.elapsed().as_secs() >= m),
                _ => false,
            });
        killed_me |= hit && id == me;
        hit
    });
    if killed_me {
        s.closing = true;
    }
    out.int(n as i64);
}
