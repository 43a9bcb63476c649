//! The types of the command table: what Redis 7.2 declares about a command (flags, ACL
//! categories, key specs, channels, subcommands) and how Concord runs it.

use crate::Engine;
use crate::args::Args;
use crate::error::CmdResult;
use concord_acl::Categories;
use concord_resp::Out;
use smallvec::SmallVec;

/// A data command's handler.
pub type Handler = fn(&mut Engine, Args, &mut Out) -> CmdResult;

/// Finds the keys of a request where key specs cannot (Redis's per-command `getkeys`).
pub type GetKeysFn = fn(&[&[u8]]) -> KeyRefs;

/// The key arguments of one request, in the order Redis reports them.
pub type KeyRefs = SmallVec<[KeyRef; 4]>;

/// A command's flags: Redis 7.2's, plus two of Concord's own that COMMAND never shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(pub u64);

impl Flags {
    /// No flag.
    pub const NONE: Flags = Flags(0);
    /// Modifies the dataset.
    pub const WRITE: Flags = Flags(1 << 0);
    /// Only reads the dataset.
    pub const READONLY: Flags = Flags(1 << 1);
    /// May grow memory use (refused when over maxmemory).
    pub const DENYOOM: Flags = Flags(1 << 2);
    /// Implemented by a module.
    pub const MODULE: Flags = Flags(1 << 3);
    /// Administrative.
    pub const ADMIN: Flags = Flags(1 << 4);
    /// Pub/sub related.
    pub const PUBSUB: Flags = Flags(1 << 5);
    /// Not allowed in scripts.
    pub const NOSCRIPT: Flags = Flags(1 << 6);
    /// May block the client.
    pub const BLOCKING: Flags = Flags(1 << 7);
    /// Allowed while the dataset loads.
    pub const LOADING: Flags = Flags(1 << 8);
    /// Allowed on a replica with stale data.
    pub const STALE: Flags = Flags(1 << 9);
    /// Not shown to MONITOR.
    pub const SKIP_MONITOR: Flags = Flags(1 << 10);
    /// Not logged by the slow log.
    pub const SKIP_SLOWLOG: Flags = Flags(1 << 11);
    /// Allowed on an importing slot after ASKING.
    pub const ASKING: Flags = Flags(1 << 12);
    /// O(1) or O(log n) and never delays the server.
    pub const FAST: Flags = Flags(1 << 13);
    /// Allowed before authentication.
    pub const NO_AUTH: Flags = Flags(1 << 14);
    /// May replicate although it is not a write (hidden by COMMAND).
    pub const MAY_REPLICATE: Flags = Flags(1 << 15);
    /// Exists in sentinel mode too (hidden by COMMAND).
    pub const SENTINEL: Flags = Flags(1 << 16);
    /// Exists only in sentinel mode (hidden by COMMAND).
    pub const ONLY_SENTINEL: Flags = Flags(1 << 17);
    /// Its keys may all be absent from a request.
    pub const NO_MANDATORY_KEYS: Flags = Flags(1 << 18);
    /// Refused unless enabled by configuration (hidden by COMMAND).
    pub const PROTECTED: Flags = Flags(1 << 19);
    /// Refused while the dataset loads asynchronously.
    pub const NO_ASYNC_LOADING: Flags = Flags(1 << 20);
    /// Refused inside MULTI.
    pub const NO_MULTI: Flags = Flags(1 << 21);
    /// Key positions depend on the arguments; computed, never declared in the table.
    pub const MOVABLE_KEYS: Flags = Flags(1 << 22);
    /// Allowed while a script or function runs too long.
    pub const ALLOW_BUSY: Flags = Flags(1 << 23);
    /// May touch keys it does not name, like SCAN (hidden by COMMAND).
    pub const TOUCHES_ARBITRARY_KEYS: Flags = Flags(1 << 24);
    /// Concord: runs at once inside MULTI instead of being queued.
    pub const NOT_QUEUED: Flags = Flags(1 << 40);
    /// Concord: allowed while a RESP2 connection is in subscriber mode.
    pub const SUBSCRIBED_OK: Flags = Flags(1 << 41);

    /// The names COMMAND INFO shows, in its order (the hidden flags have none).
    const NAMES: [(Flags, &'static str); 20] = [
        (Flags::WRITE, "write"),
        (Flags::READONLY, "readonly"),
        (Flags::DENYOOM, "denyoom"),
        (Flags::MODULE, "module"),
        (Flags::ADMIN, "admin"),
        (Flags::PUBSUB, "pubsub"),
        (Flags::NOSCRIPT, "noscript"),
        (Flags::BLOCKING, "blocking"),
        (Flags::LOADING, "loading"),
        (Flags::STALE, "stale"),
        (Flags::SKIP_MONITOR, "skip_monitor"),
        (Flags::SKIP_SLOWLOG, "skip_slowlog"),
        (Flags::ASKING, "asking"),
        (Flags::FAST, "fast"),
        (Flags::NO_AUTH, "no_auth"),
        (Flags::NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (Flags::NO_ASYNC_LOADING, "no_async_loading"),
        (Flags::NO_MULTI, "no_multi"),
        (Flags::MOVABLE_KEYS, "movablekeys"),
        (Flags::ALLOW_BUSY, "allow_busy"),
    ];

    /// Whether every flag of `other` is set.
    pub const fn has(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets of flags (`|` for constant contexts).
    #[must_use]
    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// The flag names COMMAND INFO shows, in its order.
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMES
            .iter()
            .filter(|(f, _)| self.has(*f))
            .map(|(_, n)| *n)
            .collect()
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, o: Flags) -> Flags {
        self.union(o)
    }
}

/// How a command uses one of its keys (Redis's key spec flags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KeyFlags(pub u16);

impl KeyFlags {
    /// No flag (what Redis's own key finders report for some commands).
    pub const NONE: KeyFlags = KeyFlags(0);
    /// Read-only: reads the value without changing it.
    pub const RO: KeyFlags = KeyFlags(1 << 0);
    /// Read-write: changes the value, or reads it to decide what to write.
    pub const RW: KeyFlags = KeyFlags(1 << 1);
    /// Overwrite: replaces the value without reading it.
    pub const OW: KeyFlags = KeyFlags(1 << 2);
    /// Remove: deletes the key.
    pub const RM: KeyFlags = KeyFlags(1 << 3);
    /// Returns, copies or uses the user data of the value.
    pub const ACCESS: KeyFlags = KeyFlags(1 << 4);
    /// Updates the data, adding or changing it.
    pub const UPDATE: KeyFlags = KeyFlags(1 << 5);
    /// Only adds data, never changes or removes any.
    pub const INSERT: KeyFlags = KeyFlags(1 << 6);
    /// Explicitly deletes some data.
    pub const DELETE: KeyFlags = KeyFlags(1 << 7);
    /// Not a key, but hashed like one (cluster slot).
    pub const NOT_KEY: KeyFlags = KeyFlags(1 << 8);
    /// The spec may miss keys; the command's own finder is authoritative.
    pub const INCOMPLETE: KeyFlags = KeyFlags(1 << 9);
    /// The flags depend on the arguments; the command's own finder gives them.
    pub const VARIABLE_FLAGS: KeyFlags = KeyFlags(1 << 10);

    /// The names COMMAND INFO and GETKEYSANDFLAGS show, in their order.
    const NAMES: [(KeyFlags, &'static str); 11] = [
        (KeyFlags::RO, "RO"),
        (KeyFlags::RW, "RW"),
        (KeyFlags::OW, "OW"),
        (KeyFlags::RM, "RM"),
        (KeyFlags::ACCESS, "access"),
        (KeyFlags::UPDATE, "update"),
        (KeyFlags::INSERT, "insert"),
        (KeyFlags::DELETE, "delete"),
        (KeyFlags::NOT_KEY, "not_key"),
        (KeyFlags::INCOMPLETE, "incomplete"),
        (KeyFlags::VARIABLE_FLAGS, "variable_flags"),
    ];

    /// Whether every flag of `other` is set.
    pub const fn has(self, other: KeyFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets of flags (`|` for constant contexts).
    #[must_use]
    pub const fn union(self, other: KeyFlags) -> KeyFlags {
        KeyFlags(self.0 | other.0)
    }

    /// The flag names, in Redis's order.
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMES
            .iter()
            .filter(|(f, _)| self.has(*f))
            .map(|(_, n)| *n)
            .collect()
    }
}

impl std::ops::BitOr for KeyFlags {
    type Output = KeyFlags;
    fn bitor(self, o: KeyFlags) -> KeyFlags {
        self.union(o)
    }
}

/// Where the search for a key spec's keys starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BeginSearch {
    /// At this argument (the command name is 0).
    Index(i32),
    /// After the first argument equal to `keyword` (ignoring case), searching from
    /// `start_from` forward, or backward from the end when it is negative.
    Keyword {
        /// The keyword, as Redis declares it.
        keyword: &'static str,
        /// Where the search starts.
        start_from: i32,
    },
    /// Not expressible; the command's own finder is needed.
    Unknown,
}

/// Which keys follow where the search began.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FindKeys {
    /// Keys up to `last_key` (relative to the first; negative counts from the end), every
    /// `step` arguments; with a `limit`, only 1/limit of what remains.
    Range {
        /// The last key, relative to the first; -1 is the last argument.
        last_key: i32,
        /// Arguments from one key to the next.
        step: i32,
        /// With a negative `last_key`: the remaining arguments are divided by this.
        limit: i32,
    },
    /// An argument gives the number of keys.
    KeyNum {
        /// Where the count is, relative to the start.
        key_num_idx: i32,
        /// Where the first key is, relative to the start.
        first_key: i32,
        /// Arguments from one key to the next.
        step: i32,
    },
    /// Not expressible; the command's own finder is needed.
    Unknown,
}

/// One group of key arguments and how the command uses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpec {
    /// How the keys are used.
    pub flags: KeyFlags,
    /// Where the search starts.
    pub begin: BeginSearch,
    /// Which arguments are keys from there.
    pub find: FindKeys,
}

impl KeySpec {
    /// One key at argument `pos`.
    pub(super) const fn at(pos: i32, flags: KeyFlags) -> KeySpec {
        KeySpec {
            flags,
            begin: BeginSearch::Index(pos),
            find: FindKeys::Range {
                last_key: 0,
                step: 1,
                limit: 0,
            },
        }
    }

    /// One key right after `keyword`, searched from `start_from`.
    pub(super) const fn keyword(
        keyword: &'static str,
        start_from: i32,
        flags: KeyFlags,
    ) -> KeySpec {
        KeySpec {
            flags,
            begin: BeginSearch::Keyword {
                keyword,
                start_from,
            },
            find: FindKeys::Range {
                last_key: 0,
                step: 1,
                limit: 0,
            },
        }
    }

    /// Keys no spec can place (the command's own finder finds them).
    pub(super) const fn unknown(flags: KeyFlags) -> KeySpec {
        KeySpec {
            flags,
            begin: BeginSearch::Unknown,
            find: FindKeys::Unknown,
        }
    }

    /// The same start, with a range of keys.
    pub(super) const fn range(self, last_key: i32, step: i32, limit: i32) -> KeySpec {
        KeySpec {
            find: FindKeys::Range {
                last_key,
                step,
                limit,
            },
            ..self
        }
    }

    /// The same start, with a counted list of keys.
    pub(super) const fn keynum(self, key_num_idx: i32, first_key: i32, step: i32) -> KeySpec {
        KeySpec {
            find: FindKeys::KeyNum {
                key_num_idx,
                first_key,
                step,
            },
            ..self
        }
    }
}

/// Which arguments of a command are pub/sub channels, and in what role.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Channels {
    /// None.
    #[default]
    None,
    /// Argument 1 is a channel published to.
    Publish,
    /// Every argument from 1 is a channel subscribed to.
    Subscribe,
    /// Every argument from 1 is a pattern subscribed to.
    SubscribePattern,
    /// Every argument from 1 is a channel unsubscribed from.
    Unsubscribe,
    /// Every argument from 1 is a pattern unsubscribed from.
    UnsubscribePattern,
}

/// One command or subcommand: what COMMAND reports about it and how to run it.
#[derive(Clone, Copy, Debug)]
pub struct CommandSpec {
    /// Lower-case name; for a subcommand only the subcommand word.
    pub name: &'static str,
    /// Redis arity: exact when positive, minimum when negative; the name (and for a
    /// subcommand, the container's name) counts.
    pub arity: i32,
    /// Flags, as declared (movable keys are computed: [`movable_keys`](crate::movable_keys)).
    pub flags: Flags,
    /// The ACL categories Redis declares explicitly; the flags imply more
    /// ([`acl_categories`](crate::acl_categories)).
    pub categories: Categories,
    /// Redis's documentation group (`string`, `sorted_set`, `generic`, ...).
    pub group: &'static str,
    /// The Redis version that introduced it.
    pub since: &'static str,
    /// Where its keys are.
    pub keys: &'static [KeySpec],
    /// The command's own key finder, for what the key specs cannot say.
    pub getkeys: Option<GetKeysFn>,
    /// Which arguments are channels.
    pub channels: Channels,
    /// Subcommands, for a container command like CONFIG.
    pub subcommands: &'static [CommandSpec],
    /// The data handler; `None` for commands the connection layer runs and for
    /// subcommands (their container's handler runs them).
    pub handler: Option<Handler>,
}

impl CommandSpec {
    /// Whether `n` arguments (the name included) satisfy the arity.
    pub fn arity_ok(&self, n: usize) -> bool {
        if self.arity >= 0 {
            n == self.arity as usize
        } else {
            n >= self.arity.unsigned_abs() as usize
        }
    }

    /// Sets the flags.
    pub(super) const fn flags(self, flags: Flags) -> CommandSpec {
        CommandSpec { flags, ..self }
    }

    /// Sets the explicit ACL categories.
    pub(super) const fn acl(self, categories: Categories) -> CommandSpec {
        CommandSpec { categories, ..self }
    }

    /// Sets the key specs.
    pub(super) const fn keys(self, keys: &'static [KeySpec]) -> CommandSpec {
        CommandSpec { keys, ..self }
    }

    /// Sets the command's own key finder.
    pub(super) const fn getkeys(self, f: GetKeysFn) -> CommandSpec {
        CommandSpec {
            getkeys: Some(f),
            ..self
        }
    }

    /// Sets which arguments are channels.
    pub(super) const fn channels(self, channels: Channels) -> CommandSpec {
        CommandSpec { channels, ..self }
    }

    /// Sets the subcommands.
    pub(super) const fn subs(self, subcommands: &'static [CommandSpec]) -> CommandSpec {
        CommandSpec {
            subcommands,
            ..self
        }
    }

    /// Sets the data handler.
    pub(super) const fn run(self, handler: Handler) -> CommandSpec {
        CommandSpec {
            handler: Some(handler),
            ..self
        }
    }
}

/// A command with no flags, categories, keys or handler yet.
pub(super) const fn cmd(
    name: &'static str,
    arity: i32,
    group: &'static str,
    since: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags: Flags::NONE,
        categories: Categories::NONE,
        group,
        since,
        keys: &[],
        getkeys: None,
        channels: Channels::None,
        subcommands: &[],
        handler: None,
    }
}

/// One key argument of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyRef {
    /// Its position in the request (the command name is 0).
    pub pos: usize,
    /// How the command uses it.
    pub flags: KeyFlags,
}

/// What a request does with a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelRole {
    /// Publishes to it.
    Publish,
    /// Subscribes to it.
    Subscribe,
    /// Unsubscribes from it.
    Unsubscribe,
}

/// One channel argument of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelRef {
    /// Its position in the request (the command name is 0).
    pub pos: usize,
    /// Whether it is a pattern (PSUBSCRIBE, PUNSUBSCRIBE).
    pub pattern: bool,
    /// What the request does with it.
    pub role: ChannelRole,
}

/// [`Flags`] from named flags: `flags![WRITE, DENYOOM]`.
macro_rules! flags {
    ($($f:ident),* $(,)?) => {
        $crate::table::Flags(0 $(| $crate::table::Flags::$f.0)*)
    };
}

/// [`KeyFlags`] from named flags: `kf![RW, ACCESS]`.
macro_rules! kf {
    ($($f:ident),* $(,)?) => {
        $crate::table::KeyFlags(0 $(| $crate::table::KeyFlags::$f.0)*)
    };
}

/// ACL categories from their names: `acl![String, Fast]`.
macro_rules! acl {
    ($($c:ident),* $(,)?) => {
        concord_acl::Categories::of(&[$(concord_acl::Category::$c),*])
    };
}

pub(super) use {acl, flags, kf};
