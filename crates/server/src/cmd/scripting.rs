//! EVAL, EVALSHA, their read-only forms and SCRIPT. From a client they run on the script
//! thread ([`run_deferred`]); inside EXEC the transaction lends the engine it holds
//! ([`eval`]). See `crate::script` for why scripts have a thread of their own.

use crate::Shared;
use crate::dispatch::lossy;
use crate::script::{BUSY, EnginePtr, Job, ScriptCall};
use crate::session::Session;
use bytes::Bytes;
use concord_engine::{CommandId, Engine, full_name, resolve};
use concord_resp::Out;
use std::sync::{Arc, OnceLock};

/// The commands that run on the script thread when a client sends them.
fn deferred_ids() -> &'static [CommandId] {
    static IDS: OnceLock<Vec<CommandId>> = OnceLock::new();
    IDS.get_or_init(|| {
        let id = |args: &[&[u8]]| resolve(args).expect("a script command in the table");
        vec![
            id(&[b"eval", b"", b"0"]),
            id(&[b"evalsha", b"", b"0"]),
            id(&[b"eval_ro", b"", b"0"]),
            id(&[b"evalsha_ro", b"", b"0"]),
            id(&[b"script", b"load", b""]),
            id(&[b"script", b"exists", b""]),
            id(&[b"script", b"flush"]),
        ]
    })
}

/// Whether command `id` from a client runs on the script thread.
pub(crate) fn on_script_thread(id: CommandId) -> bool {
    deferred_ids().contains(&id)
}

/// An EVAL-family request's script and its keys and arguments, or the error reply.
fn parse_call(s: &Session, args: &[&[u8]], out: &mut Out) -> Option<ScriptCall> {
    let name = args[0].to_ascii_lowercase();
    let by_sha = name.starts_with(b"evalsha");
    let Some(numkeys) = std::str::from_utf8(args[2])
        .ok()
        .and_then(|n| n.parse::<i64>().ok())
    else {
        out.error("ERR value is not an integer or out of range");
        return None;
    };
    if numkeys < 0 {
        out.error("ERR Number of keys can't be negative");
        return None;
    }
    let rest = &args[3..];
    let Some(n) = usize::try_from(numkeys).ok().filter(|n| *n <= rest.len()) else {
        out.error("ERR Number of keys can't be greater than number of args");
        return None;
    };
    if by_sha && args[1].len() != 40 {
        out.error("NOSCRIPT No matching script. Please use EVAL.");
        return None;
    }
    let own = |v: &[&[u8]]| v.iter().map(|a| Bytes::copy_from_slice(a)).collect();
    Some(ScriptCall {
        script: Bytes::copy_from_slice(args[1]),
        by_sha,
        keys: own(&rest[..n]),
        args: own(&rest[n..]),
        read_only: name.ends_with(b"_ro"),
        user: Arc::clone(&s.user),
        resp3: s.resp3,
        limit: usize::MAX,
    })
}

/// Runs a deferred script command (its checks passed) on the script thread; its reply
/// goes to `out` unless CLIENT REPLY drops it.
pub(crate) async fn run_deferred(s: &mut Session, sh: &Shared, args: &[Bytes], out: &mut Out) {
    let view: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
    let Ok(id) = resolve(&view) else {
        return;
    };
    let mut reply = Out::new();
    reply.resp3 = s.resp3;
    let mut seq = 0;
    if !sh.script.claim(sh).await {
        reply.error(BUSY);
    } else {
        match full_name(id) {
            "eval" | "evalsha" | "eval_ro" | "evalsha_ro" => match parse_call(s, &view, &mut reply)
            {
                Some(mut call) => {
                    call.limit = out.limit.saturating_sub(out.len());
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    if !sh.script.send(Job::Run {
                        call: Box::new(call),
                        reply: tx,
                    }) {
                        sh.script.open();
                    }
                    match rx.await {
                        Ok((bytes, n)) => {
                            reply.raw(&bytes);
                            seq = n;
                        }
                        Err(_) => reply.error("ERR the script failed (a bug; please report it)"),
                    }
                }
                None => sh.script.open(),
            },
            "script|load" => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                if !sh.script.send(Job::Load(args[2].clone(), tx)) {
                    sh.script.open();
                }
                match rx.await {
                    Ok(Ok(sha)) => reply.bulk(sha.as_bytes()),
                    Ok(Err(e)) => reply.error(&e),
                    Err(_) => reply.error("ERR the script thread is gone"),
                }
            }
            "script|exists" => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                if !sh.script.send(Job::Exists(args[2..].to_vec(), tx)) {
                    sh.script.open();
                }
                let found = rx.await.unwrap_or_default();
                reply.array(found.len());
                for f in found {
                    reply.int(i64::from(f));
                }
            }
            "script|flush" => match view.get(2).map(|m| m.to_ascii_uppercase()) {
                None => flush(sh, &mut reply).await,
                Some(m) if m == b"SYNC" || m == b"ASYNC" => flush(sh, &mut reply).await,
                Some(_) => {
                    sh.script.open();
                    reply.error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
                }
            },
            _ => sh.script.open(),
        }
    }
    if seq > 0 && sh.persist.acks_wait() {
        sh.persist.wait_durable(seq).await;
    }
    let failed = reply.buf.first() == Some(&b'-');
    {
        let mut e = sh.engine.lock().unwrap_or_else(|p| p.into_inner());
        let st = &mut e.cmdstats[id];
        st.calls += 1;
        st.failed += u64::from(failed);
    }
    if !s.muted() {
        out.raw(&reply.buf);
    }
}

async fn flush(sh: &Shared, reply: &mut Out) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    if !sh.script.send(Job::Flush(tx)) {
        sh.script.open();
    }
    let _ = rx.await;
    reply.ok();
}

/// A request that arrives while a script is busy: SCRIPT KILL runs, everything else gets
/// BUSY.
pub(crate) fn while_busy(s: &mut Session, sh: &Shared, args: &[&[u8]], out: &mut Out) {
    let is_kill = args.len() == 2
        && args[0].eq_ignore_ascii_case(b"script")
        && args[1].eq_ignore_ascii_case(b"kill");
    let reply = if !is_kill {
        Err(BUSY)
    } else if !s.authed {
        Err("NOAUTH Authentication required.")
    } else {
        sh.script.kill()
    };
    if s.muted() {
        return;
    }
    match reply {
        Ok(()) => out.ok(),
        Err(e) => out.error(e),
    }
}

/// EVAL and friends inside EXEC: the transaction holds the engine and lends it to the
/// script thread, waiting (this thread blocked) until the script ends. No other client
/// runs meanwhile, so such a script is not stopped by SCRIPT KILL.
pub(crate) fn eval(s: &mut Session, sh: &Shared, e: &mut Engine, a: &[&[u8]], out: &mut Out) {
    let Some(mut call) = parse_call(s, a, out) else {
        return;
    };
    if sh
        .script
        .running
        .compare_exchange(
            false,
            true,
            std::sync::atomic::Ordering::AcqRel,
            std::sync::atomic::Ordering::Acquire,
        )
        .is_err()
    {
        return out.error(BUSY);
    }
    call.limit = out.limit.saturating_sub(out.len());
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let sent = sh.script.send(Job::Inline {
        call: Box::new(call),
        engine: EnginePtr(e as *mut Engine),
        reply: tx,
    });
    // Wait here whatever happens: the script thread may be using the engine.
    match rx.recv() {
        Ok(bytes) if sent => out.raw(&bytes),
        _ => {
            sh.script.open();
            out.error("ERR the script failed (a bug; please report it)");
        }
    }
}

/// SCRIPT KILL | HELP | DEBUG, and the others inside EXEC.
pub(crate) fn script(_: &mut Session, sh: &Shared, _: &mut Engine, a: &[&[u8]], out: &mut Out) {
    match a[1].to_ascii_lowercase().as_slice() {
        b"kill" => match sh.script.kill() {
            Ok(()) => out.ok(),
            Err(e) => out.error(e),
        },
        b"help" => out.help(
            "SCRIPT",
            &[
                "EXISTS <sha1> [<sha1> ...]",
                "    Return information about the existence of the scripts in the script cache.",
                "FLUSH [ASYNC|SYNC]",
                "    Flush the Lua scripts cache. Very dangerous on replicas.",
                "    When called without the optional mode argument, the behavior is determined by the",
                "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
                "    * ASYNC: Asynchronously flush the scripts cache.",
                "    * SYNC: Synchronously flush the scripts cache.",
                "KILL",
                "    Kill the currently executing Lua script.",
                "LOAD <script>",
                "    Load a script into the scripts cache without executing it.",
            ],
        ),
        b"debug" => out.error("ERR Concord has no Lua debugger: SCRIPT DEBUG is not supported"),
        sub => out.error(&format!(
            "ERR SCRIPT {} inside MULTI is not supported",
            lossy(sub).to_uppercase()
        )),
    }
}
