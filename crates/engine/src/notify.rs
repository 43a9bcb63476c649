//! Keyspace notifications: which classes of events are on (`notify-keyspace-events`), and
//! the events the commands and applied ops record for the server to publish. The engine
//! only records them; publishing is the server's (no I/O here).

use crate::Engine;
use concord_crdt::{Amount, OpKind};

/// The classes of events and the channels they go to, as Redis's letters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NotifyFlags(pub u32);

impl NotifyFlags {
    /// `K`: events go to `__keyspace@0__:<key>`.
    pub const KEYSPACE: u32 = 1 << 0;
    /// `E`: events go to `__keyevent@0__:<event>`.
    pub const KEYEVENT: u32 = 1 << 1;
    /// `g`: generic commands (DEL, EXPIRE, RENAME, ...).
    pub const GENERIC: u32 = 1 << 2;
    /// `$`: string commands.
    pub const STRING: u32 = 1 << 3;
    /// `l`: list commands.
    pub const LIST: u32 = 1 << 4;
    /// `s`: set commands.
    pub const SET: u32 = 1 << 5;
    /// `h`: hash commands.
    pub const HASH: u32 = 1 << 6;
    /// `z`: sorted set commands.
    pub const ZSET: u32 = 1 << 7;
    /// `x`: a key expired.
    pub const EXPIRED: u32 = 1 << 8;
    /// `e`: a key was evicted (`maxmemory`).
    pub const EVICTED: u32 = 1 << 9;
    /// `t`: stream commands.
    pub const STREAM: u32 = 1 << 10;
    /// `m`: a read found no key (not part of `A`).
    pub const KEY_MISS: u32 = 1 << 11;
    /// `d`: module events (reserved: Concord has no modules).
    pub const MODULE: u32 = 1 << 13;
    /// `n`: a key was created (not part of `A`).
    pub const NEW: u32 = 1 << 14;
    /// `A`: every class but `m` and `n`.
    pub const ALL: u32 = Self::GENERIC
        | Self::STRING
        | Self::LIST
        | Self::SET
        | Self::HASH
        | Self::ZSET
        | Self::EXPIRED
        | Self::EVICTED
        | Self::STREAM
        | Self::MODULE;

    /// Parses Redis's letters; `None` for a letter that names no class.
    pub fn parse(text: &str) -> Option<NotifyFlags> {
        let mut f = 0;
        for c in text.chars() {
            f |= match c {
                'A' => Self::ALL,
                'g' => Self::GENERIC,
                '$' => Self::STRING,
                'l' => Self::LIST,
                's' => Self::SET,
                'h' => Self::HASH,
                'z' => Self::ZSET,
                'x' => Self::EXPIRED,
                'e' => Self::EVICTED,
                'K' => Self::KEYSPACE,
                'E' => Self::KEYEVENT,
                't' => Self::STREAM,
                'm' => Self::KEY_MISS,
                'd' => Self::MODULE,
                'n' => Self::NEW,
                _ => return None,
            };
        }
        Some(NotifyFlags(f))
    }

    /// The classes that record events: none unless a channel kind (`K` or `E`) is on, so
    /// that a setting that publishes nothing costs nothing.
    pub fn recorded(self) -> u32 {
        if self.0 & (Self::KEYSPACE | Self::KEYEVENT) == 0 {
            0
        } else {
            self.0 & !(Self::KEYSPACE | Self::KEYEVENT)
        }
    }
}

impl std::fmt::Display for NotifyFlags {
    /// Redis's canonical text: `A` or the class letters in its order, then `K`, `E`, `m`
    /// (`n` is not shown next to `A`, as in Redis).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const ORDER: [(u32, char); 11] = [
            (NotifyFlags::GENERIC, 'g'),
            (NotifyFlags::STRING, '$'),
            (NotifyFlags::LIST, 'l'),
            (NotifyFlags::SET, 's'),
            (NotifyFlags::HASH, 'h'),
            (NotifyFlags::ZSET, 'z'),
            (NotifyFlags::EXPIRED, 'x'),
            (NotifyFlags::EVICTED, 'e'),
            (NotifyFlags::STREAM, 't'),
            (NotifyFlags::MODULE, 'd'),
            (NotifyFlags::NEW, 'n'),
        ];
        const TAIL: [(u32, char); 3] = [
            (NotifyFlags::KEYSPACE, 'K'),
            (NotifyFlags::KEYEVENT, 'E'),
            (NotifyFlags::KEY_MISS, 'm'),
        ];
        let mut s = String::new();
        if self.0 & Self::ALL == Self::ALL {
            s.push('A');
        } else {
            s.extend(
                ORDER
                    .iter()
                    .filter(|(b, _)| self.0 & b != 0)
                    .map(|(_, c)| c),
            );
        }
        s.extend(TAIL.iter().filter(|(b, _)| self.0 & b != 0).map(|(_, c)| c));
        f.write_str(&s)
    }
}

/// Events to publish, oldest first: names with where their key ends in one byte buffer,
/// so recording one allocates nothing once the buffers have grown.
#[derive(Debug, Default)]
pub(crate) struct Events {
    /// Event name (`set`, `lpush`, `expired`, ...) and the end of its key in `keys`.
    names: Vec<(&'static str, usize)>,
    keys: Vec<u8>,
}

impl Events {
    /// Records event `name` on `key`.
    pub(crate) fn push(&mut self, name: &'static str, key: &[u8]) {
        self.keys.extend_from_slice(key);
        self.names.push((name, self.keys.len()));
    }

    fn clear(&mut self) {
        self.names.clear();
        self.keys.clear();
    }
}

/// The event a peer's op is published as: named after the effect that arrived (an op does
/// not say which command made it), with its class. `None`: an op with no event of its
/// own (internal bookkeeping, or FLUSHALL, which Redis does not announce per key).
pub(crate) fn remote_event(kind: &OpKind, had_expiry: bool) -> Option<(u32, &'static str)> {
    let amount = |a: &Amount, int: &'static str, float: &'static str| match a {
        Amount::Int(_) => int,
        Amount::Float(_) => float,
    };
    Some(match kind {
        OpKind::SetStr(..) => (NotifyFlags::STRING, "set"),
        OpKind::IncrStr(a) => (NotifyFlags::STRING, amount(a, "incrby", "incrbyfloat")),
        OpKind::DelKey => (NotifyFlags::GENERIC, "del"),
        OpKind::Expire(Some(_)) => (NotifyFlags::GENERIC, "expire"),
        // Also sent before a write that creates a key: only clearing a real expiry is one.
        OpKind::Expire(None) if had_expiry => (NotifyFlags::GENERIC, "persist"),
        OpKind::HSet(_) => (NotifyFlags::HASH, "hset"),
        OpKind::HIncr(_, a) => (NotifyFlags::HASH, amount(a, "hincrby", "hincrbyfloat")),
        OpKind::HDel(_) => (NotifyFlags::HASH, "hdel"),
        OpKind::SAdd(_) => (NotifyFlags::SET, "sadd"),
        OpKind::SRem(_) => (NotifyFlags::SET, "srem"),
        OpKind::ZAdd(_) => (NotifyFlags::ZSET, "zadd"),
        OpKind::ZIncr(..) => (NotifyFlags::ZSET, "zincr"),
        OpKind::ZRem(_) => (NotifyFlags::ZSET, "zrem"),
        OpKind::ListInsert { .. } => (NotifyFlags::LIST, "linsert"),
        OpKind::ListRemove(_) => (NotifyFlags::LIST, "lrem"),
        OpKind::ListSet(..) => (NotifyFlags::LIST, "lset"),
        OpKind::PfAdd(_) => (NotifyFlags::STRING, "pfadd"),
        OpKind::XAdd { .. } => (NotifyFlags::STREAM, "xadd"),
        OpKind::XDel(_) => (NotifyFlags::STREAM, "xdel"),
        OpKind::XTrim(_) => (NotifyFlags::STREAM, "xtrim"),
        OpKind::XGroupCreate { .. } => (NotifyFlags::STREAM, "xgroup-create"),
        OpKind::XGroupSetId(..) => (NotifyFlags::STREAM, "xgroup-setid"),
        OpKind::XGroupDestroy(_) => (NotifyFlags::STREAM, "xgroup-destroy"),
        OpKind::XSetId { .. } => (NotifyFlags::STREAM, "xsetid"),
        OpKind::Restore(_) => (NotifyFlags::GENERIC, "restore"),
        OpKind::Expire(None) | OpKind::HllDel | OpKind::XGroupAdvance(..) | OpKind::FlushAll => {
            return None;
        }
    })
}

impl Engine {
    /// Sets which events are recorded (`notify-keyspace-events`).
    pub fn set_notify(&mut self, flags: NotifyFlags) {
        self.notify_flags = flags;
        self.notify_mask = flags.recorded();
        if self.notify_mask == 0 {
            self.clear_events();
        }
    }

    /// The `notify-keyspace-events` setting the engine records for.
    pub fn notify_flags(&self) -> NotifyFlags {
        self.notify_flags
    }

    /// Whether events wait to be published.
    pub fn has_events(&self) -> bool {
        !self.events.names.is_empty()
    }

    /// Drops the recorded events.
    pub fn clear_events(&mut self) {
        self.events.clear();
    }

    /// Hands the recorded events to `f` (name, key), oldest first, and drops them.
    pub fn take_events(&mut self, mut f: impl FnMut(&'static str, &[u8])) {
        let mut start = 0;
        for &(name, end) in &self.events.names {
            f(name, &self.events.keys[start..end]);
            start = end;
        }
        self.events.clear();
    }

    /// Records event `name` of class `class` on `key` if that class is on (one branch
    /// when notifications are off).
    #[inline]
    pub(crate) fn notify(&mut self, class: u32, name: &'static str, key: &[u8]) {
        if self.notify_mask & class != 0 {
            self.events.push(name, key);
        }
    }

    /// Like [`Engine::notify`] for a write that removes from a collection, followed by
    /// `del` when that left the key empty (gone), as Redis announces it.
    pub(crate) fn notify_removal(&mut self, class: u32, name: &'static str, key: &[u8]) {
        if self.notify_mask & (class | NotifyFlags::GENERIC) == 0 {
            return;
        }
        self.notify(class, name, key);
        if !self.raw_keys().get(key).is_some_and(|ks| ks.has_value()) {
            self.notify(NotifyFlags::GENERIC, "del", key);
        }
    }

    /// Whether any event class is recorded (to skip work done only for events).
    #[inline]
    pub(crate) fn notifying(&self) -> bool {
        self.notify_mask != 0
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn letters_print_back_in_redis_order() {
        let show = |s: &str| NotifyFlags::parse(s).map(|f| f.to_string());
        assert_eq!(show(""), Some(String::new()));
        assert_eq!(show("KEA"), Some("AKE".into()));
        assert_eq!(show("Ex$lg"), Some("g$lxE".into()));
        assert_eq!(show("mnK"), Some("nKm".into()));
        assert_eq!(show("g$lshzxetdK"), Some("AK".into()));
        assert_eq!(show("AnE"), Some("AE".into()));
        assert_eq!(show("KEA?"), None);
        assert_eq!(show("a"), None);
    }

    /// Runs one command and closes its group.
    pub(crate) fn run(e: &mut Engine, cmd: &[&str]) {
        let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
        let mut out = concord_resp::Out::new();
        assert!(e.execute(&args, &mut out));
        e.commit();
    }

    fn names(e: &mut Engine) -> Vec<String> {
        let mut v = Vec::new();
        e.take_events(|name, key| v.push(format!("{name} {}", String::from_utf8_lossy(key))));
        v
    }

    #[test]
    fn commands_record_their_events_in_order() {
        let mut e = Engine::new(crate::EngineConfig::default());
        run(&mut e, &["set", "off", "v"]);
        assert!(
            !e.has_events(),
            "nothing is recorded while the setting is empty"
        );
        e.set_notify(NotifyFlags::parse("KEAn").expect("flags"));
        run(&mut e, &["rpush", "l", "a"]);
        run(&mut e, &["lpop", "l"]);
        run(&mut e, &["get", "nope"]);
        assert_eq!(names(&mut e), ["new l", "rpush l", "lpop l", "del l"]);
        e.set_notify(NotifyFlags::parse("Km").expect("flags"));
        run(&mut e, &["get", "nope"]);
        run(&mut e, &["incr", "nope"]);
        assert_eq!(names(&mut e), ["keymiss nope"]);
    }

    #[test]
    fn a_peers_ops_record_the_events_of_their_effect() {
        let (mut a, mut b) = crate::cmd::peered_pair();
        b.set_notify(NotifyFlags::parse("KEA").expect("flags"));
        run(&mut a, &["hset", "h", "f", "v"]);
        run(&mut a, &["hdel", "h", "f"]);
        run(&mut a, &["incrbyfloat", "n", "1.5"]);
        let groups: Vec<std::sync::Arc<[concord_crdt::Op]>> =
            a.log().groups().map(|g| g.decode().into()).collect();
        for g in &groups {
            assert_eq!(b.apply_remote(g).ok(), Some(true));
        }
        assert_eq!(
            names(&mut b),
            ["hset h", "hdel h", "del h", "incrbyfloat n"]
        );
    }

    #[test]
    fn nothing_is_recorded_without_a_channel_kind() {
        assert_eq!(NotifyFlags::parse("A").map(|f| f.recorded()), Some(0));
        assert_eq!(
            NotifyFlags::parse("K$").map(|f| f.recorded()),
            Some(NotifyFlags::STRING)
        );
    }
}
