//! Keyspace notifications on the server's side: the `notify-keyspace-events` setting, and
//! publishing what the engine recorded to `__keyspace@0__:<key>` and
//! `__keyevent@0__:<event>` through this instance's pub/sub.

use crate::Shared;
use crate::settings::Value;
use concord_engine::{Engine, NotifyFlags};

/// Prefix of the channels named after a key (Concord has one database, 0).
const KEYSPACE: &[u8] = b"__keyspace@0__:";
/// Prefix of the channels named after an event.
const KEYEVENT: &[u8] = b"__keyevent@0__:";

impl Value for NotifyFlags {
    fn set_from(&mut self, text: &str) -> Result<(), String> {
        *self = NotifyFlags::parse(text)
            .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string())?;
        Ok(())
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

/// CONFIG SET notify-keyspace-events: the engine records the classes now on.
pub(crate) fn apply(_: &Shared, e: &mut Engine, c: &crate::ServerConfig) -> Result<(), String> {
    e.set_notify(c.notify_keyspace_events);
    Ok(())
}

/// `prefix` then `name`, in `buf`.
fn join<'b>(buf: &'b mut Vec<u8>, prefix: &[u8], name: &[u8]) -> &'b [u8] {
    buf.clear();
    buf.extend_from_slice(prefix);
    buf.extend_from_slice(name);
    buf
}

/// Publishes the events `e` recorded, oldest first. Called with the engine locked, at the
/// end of every unit of work and before a PUBLISH, so events keep command order.
pub(crate) fn publish(sh: &Shared, e: &mut Engine) {
    if !e.has_events() {
        return;
    }
    let flags = e.notify_flags().0;
    let (space, event) = (
        flags & NotifyFlags::KEYSPACE != 0,
        flags & NotifyFlags::KEYEVENT != 0,
    );
    let mut ps = sh.pubsub.lock().unwrap_or_else(|p| p.into_inner());
    if ps.is_empty() {
        // Nobody would receive them: nothing to build.
        e.clear_events();
        return;
    }
    // One buffer for every channel name; messages are copied only for a receiver.
    let mut channel = Vec::new();
    e.take_events(|name, key| {
        let name = name.as_bytes();
        if space {
            ps.publish_slices(join(&mut channel, KEYSPACE, key), name);
        }
        if event {
            ps.publish_slices(join(&mut channel, KEYEVENT, name), key);
        }
    });
}
