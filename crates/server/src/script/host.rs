//! What a script's commands reach: the engine with Redis's checks for commands called
//! from scripts, or (while a library loads) only the log.

use crate::Shared;
use crate::session::Session;
use concord_acl::LogContext;
use concord_engine::{CommandId, Engine, Flags, Rejection, command_id, resolve_from, spec};
use concord_resp::Out;
use concord_script::{CallCtx, Host};
use std::sync::atomic::Ordering;

/// The host of a library being loaded: it may only log.
pub(super) struct LogHost;

impl Host for LogHost {
    fn call(&mut self, _: &[&[u8]], _: &CallCtx, out: &mut Out) {
        out.error("ERR no commands while a library loads");
    }

    fn log(&mut self, level: u8, msg: &str) {
        log_line(level, msg);
    }

    fn acl_check(&mut self, _: &[&[u8]]) -> Option<bool> {
        None
    }
}

/// `redis.log` goes to the instance's log.
fn log_line(level: u8, msg: &str) {
    match level {
        0 | 1 => tracing::debug!(target: "concord::script", "{msg}"),
        2 => tracing::info!(target: "concord::script", "{msg}"),
        _ => tracing::warn!(target: "concord::script", "{msg}"),
    }
}

/// What a script's `redis.call` reaches: the command table and the engine, with the
/// checks Redis makes of commands called from scripts.
pub(super) struct ScriptHost<'a> {
    pub sh: &'a Shared,
    pub sess: &'a mut Session,
    pub e: &'a mut Engine,
}

impl ScriptHost<'_> {
    /// The refusal of a command called from a script, if any.
    fn refusal(&mut self, args: &[&[u8]], ctx: &CallCtx) -> Result<CommandId, String> {
        let Some(top) = command_id(args[0]) else {
            return Err("ERR Unknown Redis command called from script".into());
        };
        let id = match resolve_from(top, args) {
            Ok(id) => id,
            Err(Rejection::Arity(_)) => {
                return Err("ERR Wrong number of args calling Redis command from script".into());
            }
            Err(why) => return Err(why.to_string()),
        };
        let flags = spec(id).flags;
        if flags.has(Flags::NOSCRIPT) {
            return Err("ERR This Redis command is not allowed from script".into());
        }
        if !self.sess.rules.unrestricted
            && let Err(d) = crate::access::check(&self.sess.user, self.sess.rules, id, args)
        {
            let msg = crate::cmd::acl::denied(self.sh, self.sess, id, args, &d, LogContext::Lua);
            return Err(format!("ERR ACL failure in script: {msg}"));
        }
        if (flags.has(Flags::WRITE) || flags.has(Flags::MAY_REPLICATE)) && ctx.read_only {
            return Err("ERR Write commands are not allowed from read-only scripts.".into());
        }
        if flags.has(Flags::WRITE) {
            if self.sh.persist.closed.load(Ordering::Acquire) {
                return Err("ERR the server is shutting down".into());
            }
            if let Some(why) = self.sh.persist.write_error() {
                return Err(format!("MISCONF Errors writing to the AOF file: {why}"));
            }
            if let Some(why) = crate::cmd::member::write_refusal(self.sh) {
                return Err(why.to_string());
            }
        }
        if flags.has(Flags::DENYOOM)
            && !ctx.allow_oom
            && self.sess.hot.maxmemory > 0
            && crate::mem::counted(self.e) as u64 > self.sess.hot.maxmemory
        {
            return Err("OOM command not allowed when used memory > 'maxmemory'.".into());
        }
        // Last: once this passes, SCRIPT KILL answers UNKILLABLE.
        if flags.has(Flags::WRITE) && !self.sh.script.may_write() {
            return Err(concord_script::KILLED.into());
        }
        Ok(id)
    }
}

impl Host for ScriptHost<'_> {
    fn call(&mut self, args: &[&[u8]], ctx: &CallCtx, out: &mut Out) {
        let id = match self.refusal(args, ctx) {
            Ok(id) => id,
            Err(why) => return out.error(&why),
        };
        self.sess.resp3 = ctx.resp3;
        self.sess.run(self.sh, self.e, id, args, out);
        // A blocking command does not block in a script: its empty reply stands.
        let _ = self.e.take_block();
    }

    fn log(&mut self, level: u8, msg: &str) {
        log_line(level, msg);
    }

    fn acl_check(&mut self, args: &[&[u8]]) -> Option<bool> {
        let top = command_id(args[0])?;
        let id = resolve_from(top, args).ok()?;
        Some(
            self.sess.rules.unrestricted
                || crate::access::check(&self.sess.user, self.sess.rules, id, args).is_ok(),
        )
    }

    fn tick(&mut self) {
        // Stopped now if the instance is stopping and it has not written.
        if self.sh.script.stopping.load(Ordering::Acquire) {
            self.sh.script.stop();
        }
        crate::fiber::step_aside(self.sh);
    }
}
