//! MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password |
//! AUTH2 username password] [KEYS key ...]: moves keys to another server (Redis or
//! Concord) with DUMP's payload and RESTORE, then deletes them here unless COPY.
//!
//! It talks to the other server, so it runs after its batch, without holding the engine
//! meanwhile: the keys are dumped, and afterwards deleted, through this client's own
//! requests (the one dispatch path: ACL, write holds, replication of the deletes).

use crate::Shared;
use crate::session::Session;
use bytes::Bytes;
use concord_engine::{CommandId, Engine, command_id};
use concord_resp::Out;
use concord_resp::reply::{self, Reply};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The longest reply line read from the target.
const MAX_LINE: u64 = 64 * 1024;
/// What one write to the target may take at most `timeout` for (Redis's 64 KB).
const WRITE_CHUNK: usize = 64 * 1024;

/// MIGRATE's id, looked up once.
pub(crate) fn is(id: CommandId) -> bool {
    static ID: OnceLock<Option<CommandId>> = OnceLock::new();
    *ID.get_or_init(|| command_id(b"migrate")) == Some(id)
}

/// Whether a kept request is a MIGRATE.
pub(crate) fn is_request(args: &[Bytes]) -> bool {
    args.first()
        .is_some_and(|n| n.eq_ignore_ascii_case(b"migrate"))
}

/// MIGRATE where it cannot wait for the other server: in a transaction or a script.
pub(crate) fn refuse(_: &mut Session, _: &Shared, _: &mut Engine, _: &[&[u8]], out: &mut Out) {
    out.error("ERR MIGRATE is not supported inside a transaction or a script");
}

/// What a MIGRATE asks.
struct Request {
    host: String,
    port: u16,
    keys: Vec<Bytes>,
    db: i64,
    timeout: Duration,
    copy: bool,
    replace: bool,
    /// The user (AUTH2) and the password.
    auth: Option<(Option<Bytes>, Bytes)>,
}

fn parse(a: &[Bytes]) -> Result<Request, String> {
    let syntax = || "ERR syntax error".to_string();
    let not_int = || "ERR value is not an integer or out of range".to_string();
    let (mut copy, mut replace, mut auth) = (false, false, None);
    let mut keys = vec![a[3].clone()];
    let mut j = 6;
    while j < a.len() {
        let more = a.len() - 1 - j;
        let w = |s: &str| a[j].eq_ignore_ascii_case(s.as_bytes());
        if w("copy") {
            copy = true;
        } else if w("replace") {
            replace = true;
        } else if w("auth") {
            if more < 1 {
                return Err(syntax());
            }
            auth = Some((None, a[j + 1].clone()));
            j += 1;
        } else if w("auth2") {
            if more < 2 {
                return Err(syntax());
            }
            auth = Some((Some(a[j + 1].clone()), a[j + 2].clone()));
            j += 2;
        } else if w("keys") {
            if !a[3].is_empty() {
                return Err(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string"
                        .into(),
                );
            }
            keys = a[j + 1..].to_vec();
            break;
        } else {
            return Err(syntax());
        }
        j += 1;
    }
    let int = |b: &Bytes| {
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(not_int)
    };
    let timeout = int(&a[5])?;
    let db = int(&a[4])?;
    let port = std::str::from_utf8(&a[2])
        .ok()
        .and_then(|p| p.parse::<u16>().ok())
        .ok_or_else(|| "IOERR error or timeout connecting to the client".to_string())?;
    Ok(Request {
        host: String::from_utf8_lossy(&a[1]).into_owned(),
        port,
        keys,
        db,
        timeout: Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 }),
        copy,
        replace,
        auth,
    })
}

/// Runs a MIGRATE kept from its batch.
pub(crate) async fn run(s: &mut Session, sh: &Shared, args: &[Bytes], out: &mut Out) {
    let mut reply = Out::new();
    reply.resp3 = s.resp3;
    match migrate(s, sh, args).await {
        Ok(status) => reply.simple(status),
        Err(e) => sh.errors.send(&mut reply, &e),
    }
    if !s.muted() {
        out.raw(&reply.buf);
    }
}

/// A key to move: its name, its payload, its time to live in ms (0: none).
type Dumped = (Bytes, Vec<u8>, i64);

async fn migrate(s: &mut Session, sh: &Shared, args: &[Bytes]) -> Result<&'static str, String> {
    let req = parse(args)?;
    if is_this_instance(sh, &req) {
        // Redis blocks on itself until the timeout; RESTORE then DEL here would lose the
        // keys.
        return Err("IOERR error or timeout reading to target instance".into());
    }
    // The inner requests' replies are read here whatever CLIENT REPLY says of the
    // client's own.
    let (replies, skipping) = (s.replies, s.skipping);
    s.replies = crate::session::Replies::On;
    s.skipping = false;
    let result = async {
        let dumped = dump(s, sh, &req.keys).await?;
        if dumped.is_empty() {
            return Ok("NOKEY");
        }
        let sent = send(&req, &dumped).await;
        // Keys the target took are deleted here even when the exchange failed later.
        let moved = match &sent {
            Ok((moved, _)) | Err((moved, _)) => moved.clone(),
        };
        if !req.copy && !moved.is_empty() {
            let mut del = vec![Bytes::from_static(b"DEL")];
            del.extend(moved);
            let mut scratch = Out::new();
            s.run_some(sh, &vec![del], &mut scratch).await;
            if let Some(b'-') = scratch.buf.first() {
                return Err(String::from_utf8_lossy(&scratch.buf[1..])
                    .trim_end()
                    .to_string());
            }
        }
        match sent {
            Ok((_, Some(e))) => Err(format!("ERR Target instance replied with error: {e}")),
            Ok((_, None)) => Ok("OK"),
            Err((_, e)) => Err(e),
        }
    }
    .await;
    s.replies = replies;
    s.skipping = skipping;
    result
}

/// Whether the target is this instance (a loopback address and its own port).
fn is_this_instance(sh: &Shared, req: &Request) -> bool {
    let local = matches!(req.host.as_str(), "localhost" | "::1") || req.host.starts_with("127.");
    local && req.port == sh.port
}

/// DUMP and PTTL of each key, through this client's requests; the keys that exist.
async fn dump(s: &mut Session, sh: &Shared, keys: &[Bytes]) -> Result<Vec<Dumped>, String> {
    let mut reqs: Vec<Vec<Bytes>> = Vec::with_capacity(keys.len() * 2);
    for k in keys {
        reqs.push(vec![Bytes::from_static(b"DUMP"), k.clone()]);
        reqs.push(vec![Bytes::from_static(b"PTTL"), k.clone()]);
    }
    let mut scratch = Out::new();
    s.run_some(sh, &reqs, &mut scratch).await;
    let mut buf = &scratch.buf[..];
    let mut next = || -> Result<Reply<'_>, String> {
        let (r, used) = reply::parse(buf).map_err(|_| "ERR MIGRATE could not read its own DUMP")?;
        buf = &buf[used..];
        match r {
            // An error (an ACL refusal): MIGRATE answers it.
            Reply::Error(e) => Err(String::from_utf8_lossy(e).into_owned()),
            r => Ok(r),
        }
    };
    let mut found = Vec::new();
    for k in keys {
        let payload = next()?;
        let ttl = next()?;
        if let (Reply::Bulk(Some(p)), Reply::Int(ttl)) = (payload, ttl) {
            // -1: no expiry (0 to RESTORE); under a millisecond left: 1, as in Redis.
            let ttl = if ttl < 0 { 0 } else { ttl.max(1) };
            found.push((k.clone(), p.to_vec(), ttl));
        }
    }
    Ok(found)
}

/// The keys the target took, and then its first refusal (or the I/O error that ended the
/// exchange).
type Sent = (Vec<Bytes>, Option<String>);

/// Sends AUTH, SELECT and one RESTORE per key.
async fn send(req: &Request, keys: &[Dumped]) -> Result<Sent, (Vec<Bytes>, String)> {
    let connect = tokio::time::timeout(
        req.timeout,
        TcpStream::connect((req.host.as_str(), req.port)),
    );
    let sock = match connect.await {
        Ok(Ok(s)) => s,
        // Redis connects without waiting and learns of a refusal when it writes.
        Ok(Err(_)) => {
            return Err((
                Vec::new(),
                "IOERR error or timeout writing to target instance".into(),
            ));
        }
        Err(_) => {
            return Err((
                Vec::new(),
                "IOERR error or timeout connecting to the client".into(),
            ));
        }
    };
    let _ = sock.set_nodelay(true);
    let (rd, mut wr) = sock.into_split();
    let mut wire = Vec::new();
    let mut expected = 0;
    if let Some((user, pw)) = &req.auth {
        let mut a: Vec<&[u8]> = vec![b"AUTH"];
        if let Some(u) = user {
            a.push(u);
        }
        a.push(pw);
        concord_resp::encode_command(&a, &mut wire);
        expected += 1;
    }
    let db = req.db.to_string();
    concord_resp::encode_command(&[&b"SELECT"[..], db.as_bytes()], &mut wire);
    expected += 1;
    let preamble = expected;
    for (k, payload, ttl) in keys {
        let ttl = ttl.to_string();
        let mut a: Vec<&[u8]> = vec![b"RESTORE", k, ttl.as_bytes(), payload];
        if req.replace {
            a.push(b"REPLACE");
        }
        concord_resp::encode_command(&a, &mut wire);
        expected += 1;
    }
    // The timeout bounds each chunk, as Redis's does, not the whole of a large MIGRATE.
    for chunk in wire.chunks(WRITE_CHUNK) {
        match tokio::time::timeout(req.timeout, wr.write_all(chunk)).await {
            Ok(Ok(())) => {}
            _ => {
                return Err((
                    Vec::new(),
                    "IOERR error or timeout writing to target instance".into(),
                ));
            }
        }
    }
    let mut rd = BufReader::new(rd);
    let (mut moved, mut first_error) = (Vec::new(), None);
    for i in 0..expected {
        let mut line = Vec::new();
        let mut limited = (&mut rd).take(MAX_LINE);
        let read = limited.read_until(b'\n', &mut line);
        match tokio::time::timeout(req.timeout, read).await {
            Ok(Ok(n)) if n > 0 && line.ends_with(b"\n") => {}
            _ => {
                return Err((
                    moved,
                    "IOERR error or timeout reading to target instance".into(),
                ));
            }
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        if let Some(e) = text.strip_prefix('-') {
            first_error.get_or_insert_with(|| e.to_string());
            if i < preamble {
                // AUTH or SELECT refused: nothing was moved.
                return Ok((Vec::new(), first_error));
            }
        } else if i >= preamble {
            moved.push(keys[i - preamble].0.clone());
        }
    }
    Ok((moved, first_error))
}
