//! EVAL, EVALSHA, their read-only forms and SCRIPT. From a client they run on the script
//! thread ([`run_deferred`]), and so does an EXEC whose transaction holds one
//! ([`run_exec`]). See `crate::script` for why scripts have a thread of their own.

use crate::Shared;
use crate::dispatch::{Requests, lossy};
use crate::script::{BUSY, CallHead, FunctionJob, Job, ScriptCall, SentCall, Target};
use crate::session::Session;
use bytes::Bytes;
use concord_engine::{CommandId, Engine, resolve};
use concord_resp::Out;
use std::sync::{Arc, OnceLock};

/// The commands that run as script jobs when a client sends them.
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
            id(&[b"fcall", b"", b"0"]),
            id(&[b"fcall_ro", b"", b"0"]),
            id(&[b"function", b"delete", b""]),
            id(&[b"function", b"dump"]),
            id(&[b"function", b"flush"]),
            id(&[b"function", b"list"]),
            id(&[b"function", b"load", b""]),
            id(&[b"function", b"restore", b""]),
            id(&[b"function", b"stats"]),
        ]
    })
}

/// Whether a command named `name` may run as a script job (a test of the name only,
/// cheap enough for every batch; [`runs_as_job`] decides).
pub(crate) fn may_run_there(name: &[u8]) -> bool {
    [
        "eval",
        "evalsha",
        "eval_ro",
        "evalsha_ro",
        "fcall",
        "fcall_ro",
        "script",
        "function",
    ]
    .iter()
    .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
}

/// SCRIPT KILL (`function` false) or FUNCTION KILL's reply.
fn kill(sh: &Shared, function: bool, out: &mut Out) {
    match sh.script.kill(function) {
        Ok(()) => out.ok(),
        Err(e) => out.error(e),
    }
}

/// Whether command `id` from a client runs as a script job.
pub(crate) fn runs_as_job(id: CommandId) -> bool {
    deferred_ids().contains(&id)
}

/// An EVAL- or FCALL-family request's call (what runs, how many keys, for whom), or
/// the error reply.
fn parse_call(s: &Session, args: &[&[u8]], out: &mut Out) -> Option<CallHead> {
    let name = args[0];
    let starts = |p: &[u8]| name.len() >= p.len() && name[..p.len()].eq_ignore_ascii_case(p);
    let fcall = starts(b"fcall");
    let Some(numkeys) = std::str::from_utf8(args[2])
        .ok()
        .and_then(|n| n.parse::<i64>().ok())
    else {
        out.error(if fcall {
            "ERR Bad number of keys provided"
        } else {
            "ERR value is not an integer or out of range"
        });
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
    let target = if fcall {
        Target::Function
    } else if starts(b"evalsha") {
        if args[1].len() != 40 {
            out.error("NOSCRIPT No matching script. Please use EVAL.");
            return None;
        }
        Target::Sha
    } else {
        Target::Body
    };
    Some(CallHead {
        target,
        numkeys: n,
        read_only: name.len() > 3 && name[name.len() - 3..].eq_ignore_ascii_case(b"_ro"),
        user: Arc::clone(&s.user),
        resp3: s.resp3,
        caller: s.actor,
        track: s.track,
        caching: s.caching,
    })
}

/// Whether command `id` is an EVAL whose script declares `no-writes` (CLIENT PAUSE WRITE
/// lets it run; EVALSHA and FCALL are judged by their flags, which only the VM knows, so
/// they count as writes).
pub(crate) fn declares_no_writes(id: CommandId, args: &[&[u8]]) -> bool {
    id == crate::cmd::id_of("eval") && args.len() > 1 && concord_script::declares_no_writes(args[1])
}

/// Whether a request is an EVAL or FCALL (any form).
pub(crate) fn is_call<A: AsRef<[u8]>>(args: &[A]) -> bool {
    args.len() >= 3
        && [
            "eval",
            "evalsha",
            "eval_ro",
            "evalsha_ro",
            "fcall",
            "fcall_ro",
        ]
        .iter()
        .any(|n| args[0].as_ref().eq_ignore_ascii_case(n.as_bytes()))
}

/// The checks of one EVAL or FCALL before it runs (command `id` when the caller knows
/// it): its call, or the error reply.
fn check(
    s: &Session,
    sh: &Shared,
    id: Option<CommandId>,
    req: &[&[u8]],
) -> Result<(CommandId, CallHead), Out> {
    let mut reply = Out::new();
    reply.resp3 = s.resp3;
    let id = match id.map_or_else(|| resolve(req), Ok) {
        Ok(id) => id,
        Err(why) => {
            sh.errors.send(&mut reply, &why.to_string());
            return Err(reply);
        }
    };
    if sh.script.busy(sh) {
        reply.error(BUSY);
    } else if let Some(head) = parse_call(s, req, &mut reply) {
        return Ok((id, head));
    }
    sh.errors.reply(&reply.buf);
    Err(reply)
}

/// Writes one call's reply (its answer, or the error found before it ran) unless CLIENT
/// REPLY drops it (`first`: SKIP drops the first reply only).
fn answer(s: &Session, sh: &Shared, first: bool, reply: Result<Option<&[u8]>, Out>, out: &mut Out) {
    let muted = if first {
        s.muted()
    } else {
        s.replies == crate::session::Replies::Off
    };
    if muted {
        return;
    }
    match reply {
        Err(reply) => out.raw(&reply.buf),
        Ok(Some(bytes)) => out.raw(bytes),
        Ok(None) => sh
            .errors
            .send(out, "ERR the script failed (a bug; please report it)"),
    }
}

/// Runs one EVAL or FCALL (command `id` when the caller resolved it) straight from the
/// request, its reply to `out`.
pub(crate) async fn run_lone(
    s: &mut Session,
    sh: &Shared,
    id: Option<CommandId>,
    req: &[&[u8]],
    out: &mut Out,
) {
    let mut seq = 0;
    match check(s, sh, id, req) {
        Ok((id, head)) => {
            let call = ScriptCall {
                head: &head,
                req,
                limit: out.limit.saturating_sub(out.len()),
            };
            // The reply goes straight to the client, unless CLIENT REPLY drops it.
            let mut dropped = Out::new();
            let muted = s.muted();
            let to = if muted { &mut dropped } else { &mut *out };
            match sh.script.call(id, call, to).await {
                Some(n) => seq = n,
                None => answer(s, sh, true, Ok(None), out),
            }
        }
        Err(reply) => answer(s, sh, true, Err(reply), out),
    }
    if seq > 0 && sh.persist.acks_wait() {
        sh.persist.wait_durable(seq).await;
    }
}

/// Runs EVALs and FCALLs of one pipeline: each checked, then those that pass sent to
/// the script thread at once (a lone one runs here, see [`run_lone`]), their answers
/// awaited in order and written unless CLIENT REPLY drops them.
pub(crate) async fn run_calls(s: &mut Session, sh: &Shared, group: &impl Requests, out: &mut Out) {
    if group.count() == 1 {
        return run_lone(s, sh, None, &group.view(0), out).await;
    }
    // Each request's own reply (an error found here), or its place among the calls sent.
    let mut slots: Vec<Result<usize, Out>> = Vec::with_capacity(group.count());
    let limit = out.limit.saturating_sub(out.len());
    let mut calls = Vec::new();
    for i in 0..group.count() {
        match check(s, sh, None, &group.view(i)) {
            Ok((id, head)) => {
                slots.push(Ok(calls.len()));
                let req = group.owned(i);
                calls.push((id, SentCall { head, req, limit }));
            }
            Err(reply) => slots.push(Err(reply)),
        }
    }
    let (mut answers, mut seq) = (Vec::new(), 0);
    if !calls.is_empty()
        && let Some(done) = sh.script.run_calls(calls).await
    {
        (answers, seq) = done;
    }
    for (i, slot) in slots.into_iter().enumerate() {
        let reply = slot.map(|at| answers.get(at).map(|b| &b[..]));
        answer(s, sh, i == 0, reply, out);
    }
    if seq > 0 && sh.persist.acks_wait() {
        sh.persist.wait_durable(seq).await;
    }
}

/// Runs a deferred script command (its checks passed) as a script job; its reply
/// goes to `out` unless CLIENT REPLY drops it.
pub(crate) async fn run_deferred(s: &mut Session, sh: &Shared, args: &[Bytes], out: &mut Out) {
    let view: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
    if is_call(args) {
        return run_lone(s, sh, None, &view, out).await;
    }
    let Ok(id) = resolve(&view) else {
        return;
    };
    let mut reply = Out::new();
    reply.resp3 = s.resp3;
    if sh.script.busy(sh) {
        sh.errors.send(&mut reply, BUSY);
    } else {
        let (tx, rx) = tokio::sync::oneshot::channel();
        sh.script
            .run(Some(id), Job::Admin(args.to_vec(), s.resp3, tx))
            .await;
        match rx.await {
            Ok(bytes) => reply.raw(&bytes),
            Err(_) => reply.error("ERR the Lua VM is not available"),
        }
    }
    if !s.muted() {
        out.raw(&reply.buf);
    }
}

/// SCRIPT LOAD | EXISTS | FLUSH and FUNCTION's subcommands other than KILL and HELP, in
/// a script job (of their own, or an EXEC's).
pub(crate) fn admin(sh: &Shared, a: &[&[u8]], resp3: bool, out: &mut Out) {
    out.resp3 = resp3;
    if !a[0].eq_ignore_ascii_case(b"script") {
        return match functions(a, resp3) {
            Ok(job) => crate::script::functions(sh, job, out),
            Err(e) => out.error(&e),
        };
    }
    match a[1].to_ascii_lowercase().as_slice() {
        b"load" => match crate::script::load(sh, a[2]) {
            Ok(sha) => out.bulk(sha.as_bytes()),
            Err(e) => out.error(&e),
        },
        b"exists" => {
            let found = crate::script::exists(sh, &a[2..]);
            out.array(found.len());
            for f in found {
                out.int(i64::from(f));
            }
        }
        b"flush" => match a.get(2).map(|m| m.to_ascii_uppercase()) {
            Some(m) if m != b"SYNC" && m != b"ASYNC" => {
                out.error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
            }
            _ => {
                crate::script::flush(sh);
                out.ok();
            }
        },
        sub => out.error(&crate::dispatch::help_err(sub, "SCRIPT")),
    }
}

/// A request that arrives while a script is busy: SCRIPT KILL, FUNCTION KILL and FUNCTION
/// STATS run (if the client may run them), everything else gets BUSY.
pub(crate) fn while_busy(s: &mut Session, sh: &Shared, args: &[&[u8]], out: &mut Out) {
    // CLIENT REPLY SKIP drops this request's reply, as it would have any other.
    s.skipping = s.replies == crate::session::Replies::SkipNext;
    if s.skipping {
        s.replies = crate::session::Replies::On;
    }
    s.refresh(sh);
    let id = resolve(args).ok();
    let name = id.map(concord_engine::full_name);
    let reply = if !s.authed {
        Err("NOAUTH Authentication required.")
    } else if !matches!(
        name,
        Some("script|kill" | "function|kill" | "function|stats")
    ) {
        // As in Redis, a transaction being queued is failed by the refusal.
        if let Some(m) = &mut s.multi {
            m.error = true;
        }
        Err(BUSY)
    } else if let Some(denied) = id.filter(|_| !s.rules.unrestricted).and_then(|id| {
        let d = crate::access::check(&s.user, s.rules, id, args).err()?;
        Some(crate::cmd::acl::denied(
            sh,
            s,
            id,
            args,
            &d,
            concord_acl::LogContext::Toplevel,
        ))
    }) {
        let msg = format!("NOPERM {denied}");
        sh.errors.error(&msg);
        if !s.muted() {
            out.error(&msg);
        }
        return;
    } else if name == Some("function|stats") {
        if !s.muted() {
            stats(sh, true, out);
        }
        return;
    } else {
        sh.script.kill(name == Some("function|kill"))
    };
    if let Err(e) = reply {
        sh.errors.error(e);
    }
    if s.muted() {
        return;
    }
    match reply {
        Ok(()) => out.ok(),
        Err(e) => out.error(e),
    }
}

/// FUNCTION STATS while a script is busy: what runs, and the counts.
fn stats(sh: &Shared, busy: bool, out: &mut Out) {
    use std::sync::atomic::Ordering::Acquire;
    let name: &[u8] = if sh.script.function.load(Acquire) {
        b"function"
    } else {
        b"eval"
    };
    let counts = (
        sh.script.libraries.load(Acquire),
        sh.script.functions.load(Acquire),
    );
    write_stats(busy.then_some(name), counts, out);
}

/// FUNCTION STATS's reply.
fn write_stats(running: Option<&[u8]>, (libs, funcs): (usize, usize), out: &mut Out) {
    out.map(2);
    out.bulk(b"running_script");
    match running {
        Some(name) => {
            out.map(1);
            out.bulk(b"name");
            out.bulk(name);
        }
        None => out.null(),
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(libs as i64);
    out.bulk(b"functions_count");
    out.int(funcs as i64);
}

/// A FUNCTION subcommand's job, or the error reply for bad arguments.
fn functions(a: &[&[u8]], resp3: bool) -> Result<FunctionJob, String> {
    let own = |b: &[u8]| b.to_vec();
    let sub = a[1].to_ascii_lowercase();
    Ok(match sub.as_slice() {
        b"load" => {
            let mut replace = false;
            for opt in &a[2..a.len() - 1] {
                if !opt.eq_ignore_ascii_case(b"replace") {
                    return Err(format!("ERR Unknown option given: {}", lossy(opt)));
                }
                replace = true;
            }
            let code = own(a[a.len() - 1]);
            Box::new(move |sc, host, out| {
                out.resp3 = resp3;
                match sc.function_load(&code, replace, host) {
                    Ok(name) => {
                        out.bulk(name.as_bytes());
                        true
                    }
                    Err(e) => {
                        out.error(&e);
                        false
                    }
                }
            })
        }
        b"delete" => {
            let name = lossy(a[2]);
            Box::new(move |sc, _, out| match sc.function_delete(&name) {
                Ok(()) => {
                    out.ok();
                    true
                }
                Err(e) => {
                    out.error(&e);
                    false
                }
            })
        }
        b"flush" => {
            match a.get(2) {
                None => {}
                Some(m)
                    if a.len() == 3
                        && (m.eq_ignore_ascii_case(b"async")
                            || m.eq_ignore_ascii_case(b"sync")) => {}
                Some(_) if a.len() > 3 => {
                    return Err(format!(
                        "ERR unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
                        lossy(a[1])
                    ));
                }
                Some(_) => return Err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option".into()),
            }
            Box::new(|sc, _, out| {
                sc.function_flush();
                out.ok();
                true
            })
        }
        b"list" => {
            let (mut pattern, mut with_code, mut i) = (None, false, 2);
            while i < a.len() {
                if a[i].eq_ignore_ascii_case(b"withcode") && !with_code {
                    with_code = true;
                } else if a[i].eq_ignore_ascii_case(b"libraryname") && pattern.is_none() {
                    i += 1;
                    let p = a.get(i).ok_or("ERR library name argument was not given")?;
                    pattern = Some(own(p));
                } else {
                    return Err(format!("ERR Unknown argument {}", lossy(a[i])));
                }
                i += 1;
            }
            Box::new(move |sc, _, out| {
                out.resp3 = resp3;
                sc.function_list(pattern.as_deref(), with_code, out);
                false
            })
        }
        b"dump" => Box::new(|sc, _, out| {
            out.bulk(&sc.function_dump());
            false
        }),
        b"restore" => {
            if a.len() > 4 {
                return Err(format!(
                    "ERR unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
                    lossy(a[1])
                ));
            }
            let policy = match a.get(3).map(|p| p.to_ascii_uppercase()) {
                None => "APPEND",
                Some(p) if p == b"FLUSH" => "FLUSH",
                Some(p) if p == b"APPEND" => "APPEND",
                Some(p) if p == b"REPLACE" => "REPLACE",
                Some(_) => {
                    return Err("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.".into());
                }
            };
            let payload = own(a[2]);
            Box::new(
                move |sc, host, out| match sc.function_restore(&payload, policy, host) {
                    Ok(()) => {
                        out.ok();
                        true
                    }
                    Err(e) => {
                        out.error(&e);
                        false
                    }
                },
            )
        }
        b"stats" => Box::new(move |sc, _, out| {
            out.resp3 = resp3;
            write_stats(None, sc.function_counts(), out);
            false
        }),
        _ => return Err(crate::dispatch::help_err(a[1], "FUNCTION")),
    })
}

/// EVAL and friends inside EXEC, which runs as a script job ([`run_exec`]).
pub(crate) fn eval(s: &mut Session, sh: &Shared, e: &mut Engine, a: &[&[u8]], out: &mut Out) {
    let Some(head) = parse_call(s, a, out) else {
        return;
    };
    let call = ScriptCall {
        head: &head,
        req: a,
        limit: out.limit.saturating_sub(out.len()),
    };
    if !crate::script::run_inline(sh, &call, e, out) {
        out.error("ERR a script ran outside a script job (a bug; please report it)");
    }
}

/// Whether a queued request makes its EXEC run as a script job.
pub(crate) fn needs_job(args: &[&[u8]]) -> bool {
    args.first().is_some_and(|n| may_run_there(n))
}

/// EXEC of a transaction holding a script command (its checks passed): the session goes
/// with the job and comes back with the reply, so the transaction runs as a script job,
/// where a long script steps aside for others.
pub(crate) async fn run_exec(s: &mut Session, sh: &Shared, args: &[Bytes], out: &mut Out) {
    let view: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
    let Ok(id) = resolve(&view) else {
        return;
    };
    let mut reply = Out::new();
    reply.resp3 = s.resp3;
    let mut seq = 0;
    if sh.script.busy(sh) {
        // As in Redis: EXEC is refused and the transaction is kept, marked failed.
        if let Some(m) = &mut s.multi {
            m.error = true;
        }
        sh.errors.send(&mut reply, BUSY);
    } else {
        let stand_in = Session::new(sh, s.id, s.mailbox.clone(), std::time::Instant::now());
        let sess = Box::new(std::mem::replace(s, stand_in));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job = Job::Exec {
            sess,
            id,
            limit: out.limit.saturating_sub(out.len()),
            reply: tx,
        };
        sh.script.run(None, job).await;
        match rx.await {
            Ok((back, bytes, n)) => {
                *s = *back;
                reply.raw(&bytes);
                seq = n;
            }
            Err(_) => {
                // The session is lost with the job: the stand-in must not serve on.
                s.closing = true;
                sh.errors.send(
                    &mut reply,
                    "ERR the transaction failed (a bug; please report it)",
                );
            }
        }
    }
    if !s.muted() {
        out.raw(&reply.buf);
    }
    if seq > 0 && sh.persist.acks_wait() {
        sh.persist.wait_durable(seq).await;
    }
}

/// SCRIPT KILL | HELP | DEBUG, and the others inside EXEC.
pub(crate) fn script(s: &mut Session, sh: &Shared, _: &mut Engine, a: &[&[u8]], out: &mut Out) {
    match a[1].to_ascii_lowercase().as_slice() {
        b"kill" => kill(sh, false, out),
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
        // Inside EXEC, in its script job; from a client they come as jobs of their own.
        _ => admin(sh, a, s.resp3, out),
    }
}

/// FUNCTION KILL | HELP here; the others run in a script job (of their own, or an
/// EXEC's).
pub(crate) fn function(s: &mut Session, sh: &Shared, _: &mut Engine, a: &[&[u8]], out: &mut Out) {
    match a[1].to_ascii_lowercase().as_slice() {
        b"kill" => kill(sh, true, out),
        b"help" => out.help(
            "FUNCTION",
            &[
                "LOAD [REPLACE] <FUNCTION CODE>",
                "    Create a new library with the given library name and code.",
                "DELETE <LIBRARY NAME>",
                "    Delete the given library.",
                "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
                "    Return general information on all the libraries:",
                "    * Library name",
                "    * The engine used to run the Library",
                "    * Library description",
                "    * Functions list",
                "    * Library code (if WITHCODE is given)",
                "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
                "STATS",
                "    Return information about the current function running:",
                "    * Function name",
                "    * Command used to run the function",
                "    * Duration in MS that the function is running",
                "    If no function is running, return nil",
                "    In addition, returns a list of available engines.",
                "KILL",
                "    Kill the current running function.",
                "FLUSH [ASYNC|SYNC]",
                "    Delete all the libraries.",
                "    When called without the optional mode argument, the behavior is determined by the",
                "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
                "    * ASYNC: Asynchronously flush the libraries.",
                "    * SYNC: Synchronously flush the libraries.",
                "DUMP",
                "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
                "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
                "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
                "    control how to handle existing libraries (default APPEND):",
                "    * FLUSH: delete all existing libraries.",
                "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
                "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
                "      libraries with the new libraries (notice that even on this option there is a chance of failure",
                "      in case of functions name collision with another library).",
            ],
        ),
        _ => admin(sh, a, s.resp3, out),
    }
}
