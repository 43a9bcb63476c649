//! Commands the server runs itself (they act on connections, the server or replication
//! rather than on data), one file per family. The engine's table lists every command; the
//! ones without a data handler are found here by id.

pub(crate) mod acl;
pub(crate) mod admin;
pub(crate) mod auth;
pub(crate) mod client;
pub(crate) mod config;
pub(crate) mod connection;
pub(crate) mod crdt;
pub(crate) mod debug;
pub(crate) mod introspect;
pub(crate) mod member;
pub(crate) mod memory;
pub(crate) mod migrate;
pub(crate) mod multi;
pub(crate) mod pause;
pub(crate) mod pubsub;
pub(crate) mod role;
pub(crate) mod scripting;
pub(crate) mod tracking;

use crate::Shared;
use crate::session::Session;
use concord_engine::{COMMANDS, Engine, command_id};
use concord_resp::Out;
use std::sync::OnceLock;

/// A server command's handler: the connection, the instance, the engine (locked for the
/// batch), the arguments (name first, arity already checked) and the reply buffer.
pub(crate) type Handler = fn(&mut Session, &Shared, &mut Engine, &[&[u8]], &mut Out);

/// Every server command, by the name the engine's table gives it.
static HANDLERS: &[(&str, Handler)] = &[
    ("ping", connection::ping),
    ("echo", connection::echo),
    ("quit", connection::quit),
    ("select", connection::select),
    ("reset", connection::reset),
    ("time", connection::time),
    ("auth", auth::auth),
    ("hello", auth::hello),
    ("multi", multi::multi),
    ("exec", multi::exec),
    ("discard", multi::discard),
    ("watch", multi::watch),
    ("unwatch", multi::unwatch),
    ("subscribe", pubsub::subscribe),
    ("psubscribe", pubsub::psubscribe),
    ("unsubscribe", pubsub::unsubscribe),
    ("punsubscribe", pubsub::punsubscribe),
    ("publish", pubsub::publish),
    ("ssubscribe", pubsub::ssubscribe),
    ("sunsubscribe", pubsub::sunsubscribe),
    ("spublish", pubsub::spublish),
    ("pubsub", pubsub::pubsub),
    ("client", client::client),
    ("config", config::config),
    ("acl", acl::acl),
    ("info", admin::info),
    ("save", admin::save),
    ("bgsave", admin::bgsave),
    ("bgrewriteaof", admin::bgrewriteaof),
    ("lastsave", admin::lastsave),
    ("shutdown", admin::shutdown),
    ("slowlog", introspect::slowlog),
    ("monitor", admin::monitor),
    ("role", role::role),
    ("replicaof", role::replicaof),
    ("migrate", migrate::refuse),
    ("slaveof", role::replicaof),
    ("memory", memory::memory),
    ("debug", debug::debug),
    ("lolwut", debug::lolwut),
    ("wait", role::wait),
    ("latency", introspect::latency),
    ("function", scripting::function),
    ("fcall", scripting::eval),
    ("fcall_ro", scripting::eval),
    ("eval", scripting::eval),
    ("evalsha", scripting::eval),
    ("eval_ro", scripting::eval),
    ("evalsha_ro", scripting::eval),
    ("script", scripting::script),
    ("crdt.link", crdt::link),
    ("crdt.sync", crdt::sync),
    ("crdt.member", member::member),
    ("crdt.writes", member::writes),
    ("crdt.flush", member::flush),
];

/// Handlers by command id, built once.
fn by_id() -> &'static [Option<Handler>] {
    static BY_ID: OnceLock<Vec<Option<Handler>>> = OnceLock::new();
    BY_ID.get_or_init(|| {
        let mut v = vec![None; COMMANDS.len()];
        for (name, h) in HANDLERS {
            let id = command_id(name.as_bytes())
                .unwrap_or_else(|| panic!("server command {name} is not in the table"));
            assert!(v[id].is_none(), "server command {name} registered twice");
            v[id] = Some(*h);
        }
        v
    })
}

/// The server's handler of command `id`, if the server runs it.
pub(crate) fn handler(id: usize) -> Option<Handler> {
    by_id().get(id).copied().flatten()
}

/// The id of a server command, looked up once (for the few checks that need to know one
/// command from another, such as EXEC taking the flags of what it runs).
pub(crate) fn id_of(name: &'static str) -> usize {
    command_id(name.as_bytes()).unwrap_or_else(|| panic!("{name} is not in the table"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command runs somewhere: in the engine or here, never both, never neither.
    #[test]
    fn every_command_has_exactly_one_handler() {
        for (id, spec) in COMMANDS.iter().enumerate() {
            let here = handler(id).is_some();
            assert_ne!(
                here,
                spec.handler.is_some(),
                "{}: engine handler {}, server handler {here}",
                spec.name,
                spec.handler.is_some()
            );
        }
    }
}
