//! The command table: Redis 7.2's metadata for every command Concord implements (arity,
//! flags, ACL categories, key specs, channels, subcommands), the handler of each data
//! command, and what is derived from the metadata: command ids, request resolution, the keys
//! and channels of a request, and the legacy key range COMMAND INFO shows.

mod data;
mod docs;
pub(crate) mod docs_types;
mod getkeys;
mod index;
mod keys;
mod spec;
#[cfg(test)]
mod tests;

pub use index::{
    CommandId, Rejection, acl_categories, check_subcommand, command_count, command_id,
    find_subcommand, full_name, lookup_command, lookup_full_name, parent, resolve, resolve_from,
    spec, subcommand_ids,
};
pub use keys::{channels, has_keys, keys, legacy_range, movable_keys};
pub use spec::{
    BeginSearch, ChannelRef, ChannelRole, Channels, CommandSpec, FindKeys, Flags, GetKeysFn,
    Handler, KeyFlags, KeyRef, KeyRefs, KeySpec,
};

use crate::Engine;
use crate::args::Args;
use concord_resp::Out;

/// Every top-level command Concord knows; a command's position is its [`CommandId`].
pub static COMMANDS: &[CommandSpec] = &data::ALL;

/// Per-command counters for INFO commandstats.
#[derive(Clone, Copy, Debug, Default)]
pub struct CmdStat {
    /// Times it ran.
    pub calls: u64,
    /// Nanoseconds spent (INFO shows microseconds).
    pub nanos: u64,
    /// Runs that replied with an error.
    pub failed: u64,
    /// Calls refused before running (arity, auth, ...).
    pub rejected: u64,
    /// Runs per latency bucket, for LATENCY HISTOGRAM: bucket `k` holds runs of at most
    /// about 2^k µs (the server sorts them in; the last bucket takes everything slower).
    pub latency: [u64; LATENCY_BUCKETS],
}

/// Whether a write command's reads of keys are reads (Redis looks them up for reading, so
/// a missing one is a `keymiss` and a keyspace miss): their sources, or the value they
/// return. A `match` on the name: asked for every write, it compares few bytes.
fn reads_first(name: &str) -> bool {
    matches!(
        name,
        "set"
            | "getset"
            | "getdel"
            | "getex"
            | "copy"
            | "bitop"
            | "pfmerge"
            | "sinterstore"
            | "sunionstore"
            | "sdiffstore"
            | "zunionstore"
            | "zinterstore"
            | "zdiffstore"
            | "zrangestore"
            | "georadius"
            | "georadiusbymember"
            | "geosearchstore"
            | "sort"
    )
}

/// How many latency buckets each command keeps: 1 µs to about 1 s, doubling, as Redis's
/// per-command histograms report them.
pub const LATENCY_BUCKETS: usize = 21;

/// Runs the handler of a command whose arity and subcommand were already checked. Returns
/// false when it is not a data command.
pub(crate) fn run_checked(
    e: &mut Engine,
    spec: &CommandSpec,
    args: &[&[u8]],
    out: &mut Out,
) -> bool {
    let Some(h) = spec.handler else {
        return false;
    };
    // Whether its lookups are reads: keyspace hits and misses, `keymiss` events. A
    // container's flags are its subcommand's (XGROUP CREATE writes).
    let flags = if spec.subcommands.is_empty() {
        spec.flags
    } else {
        resolve(args).map_or(spec.flags, |id| index::spec(id).flags)
    };
    e.reading = !flags.has(Flags::WRITE) || reads_first(spec.name);
    if let Err(err) = h(e, Args(args), out) {
        out.error(&err.to_string());
    }
    e.reading = false;
    true
}

/// Runs a data command: arity and subcommand checks, handler, error reply. Returns false
/// when the name is not a data command (the connection layer's, or unknown).
pub(crate) fn execute(e: &mut Engine, args: &[&[u8]], out: &mut Out) -> bool {
    let Some(id) = args.first().and_then(|n| command_id(n)) else {
        return false;
    };
    let spec = &COMMANDS[id];
    if spec.handler.is_none() {
        return false;
    }
    match resolve(args) {
        Ok(_) => run_checked(e, spec, args, out),
        Err(why) => {
            out.error(&why.to_string());
            true
        }
    }
}
