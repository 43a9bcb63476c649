//! Selectors: what a set of rules allows (commands, first arguments, key patterns with
//! read/write permissions, channel patterns), and the selector rules that change them
//! (Redis 7.2's ACLSetSelector).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use concord_glob::{Pattern, glob_match};

use crate::catalog::{Catalog, CommandId, CommandInfo};
use crate::category::Category;
use crate::ordered::OrderedMap;
use crate::rules::{CommandRules, RuleError};
use crate::split::has_space_or_nul;

/// What a command does with a key, or what a key pattern permits: read, write, both,
/// or neither (a key the command only checks for, like EXISTS's, needs no permission but
/// still has to match some pattern).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Access {
    /// Reads the key's value (Redis key-spec flag ACCESS).
    pub read: bool,
    /// Changes the key (key-spec flags INSERT, DELETE or UPDATE).
    pub write: bool,
}

impl Access {
    /// Neither read nor write.
    pub const NONE: Access = Access {
        read: false,
        write: false,
    };
    /// Read only (`%R~`).
    pub const READ: Access = Access {
        read: true,
        write: false,
    };
    /// Write only (`%W~`).
    pub const WRITE: Access = Access {
        read: false,
        write: true,
    };
    /// Read and write (`~`, `%RW~`).
    pub const READ_WRITE: Access = Access {
        read: true,
        write: true,
    };

    /// Whether a pattern with this permission allows an access of `need`.
    pub fn covers(self, need: Access) -> bool {
        (self.read || !need.read) && (self.write || !need.write)
    }

    fn union(self, other: Access) -> Access {
        Access {
            read: self.read || other.read,
            write: self.write || other.write,
        }
    }
}

/// `acl-pubsub-default`: the channels a new user or selector starts with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PubsubDefault {
    /// `allchannels`: every channel.
    AllChannels,
    /// `resetchannels`: none (the default since Redis 7.0).
    #[default]
    ResetChannels,
}

/// One bit per command id, and the value of every bit past the end: `+@all` sets them
/// all, so commands the catalog does not have yet are allowed too (Redis's reserved
/// "future commands" bit).
#[derive(Clone, Debug, Default)]
struct CommandBits {
    words: Vec<u64>,
    fill: bool,
}

impl CommandBits {
    #[inline]
    fn word(&self, i: usize) -> u64 {
        match self.words.get(i) {
            Some(w) => *w,
            None if self.fill => u64::MAX,
            None => 0,
        }
    }

    #[inline]
    fn get(&self, id: CommandId) -> bool {
        self.word(id.index() / 64) >> (id.index() % 64) & 1 == 1
    }

    fn set(&mut self, id: CommandId, on: bool) {
        let (w, bit) = (id.index() / 64, 1u64 << (id.index() % 64));
        if self.words.len() <= w {
            let fill = if self.fill { u64::MAX } else { 0 };
            self.words.resize(w + 1, fill);
        }
        if on {
            self.words[w] |= bit;
        } else {
            self.words[w] &= !bit;
        }
    }

    fn set_all(&mut self, on: bool, ids: usize) {
        self.words.clear();
        self.words
            .resize(ids.div_ceil(64), if on { u64::MAX } else { 0 });
        self.fill = on;
    }
}

/// Equal when every bit is, however long the stored words.
impl PartialEq for CommandBits {
    fn eq(&self, other: &Self) -> bool {
        let n = self.words.len().max(other.words.len());
        self.fill == other.fill && (0..n).all(|i| self.word(i) == other.word(i))
    }
}

impl Eq for CommandBits {}

/// A set of permissions: a user has a root selector and any number of others, and may
/// run a command when one of them allows it all (command, keys and channels).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    commands: CommandBits,
    /// Lower-cased first arguments allowed for commands whose bit is off (`+select|0`).
    first_args: BTreeMap<CommandId, BTreeSet<Vec<u8>>>,
    all_keys: bool,
    keys: OrderedMap<Vec<u8>, Access>,
    /// The key patterns compiled for checking, built at the first check after a change.
    key_check: KeyCheck,
    all_channels: bool,
    channels: OrderedMap<Vec<u8>, ()>,
    rules: CommandRules,
}

/// Compiled key patterns; a cache, so it never makes two selectors differ.
#[derive(Clone, Debug, Default)]
struct KeyCheck(OnceLock<Vec<(Pattern, Access)>>);

impl PartialEq for KeyCheck {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for KeyCheck {}

impl Selector {
    /// A selector that allows nothing but, with `allchannels`, every channel.
    pub(crate) fn new(pubsub: PubsubDefault) -> Selector {
        Selector {
            commands: CommandBits::default(),
            first_args: BTreeMap::new(),
            all_keys: false,
            keys: OrderedMap::default(),
            key_check: KeyCheck::default(),
            all_channels: pubsub == PubsubDefault::AllChannels,
            channels: OrderedMap::default(),
            rules: CommandRules::default(),
        }
    }

    /// Applies one selector rule. On error the selector is unchanged.
    pub(crate) fn apply(&mut self, catalog: &Catalog, op: &[u8]) -> Result<(), RuleError> {
        // Any rule may change the keys: the compiled patterns are built again when needed.
        self.key_check = KeyCheck::default();
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if is("allkeys") || is("~*") {
            self.all_keys = true;
            self.keys.clear();
        } else if is("resetkeys") {
            self.all_keys = false;
            self.keys.clear();
        } else if is("allchannels") || is("&*") {
            self.all_channels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.all_channels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.set_all_commands(catalog, true);
        } else if is("nocommands") || is("-@all") {
            self.set_all_commands(catalog, false);
        } else {
            match op {
                [b'~' | b'%', ..] => self.add_key_pattern(op)?,
                [b'&', pattern @ ..] => self.add_channel_pattern(pattern)?,
                [sign @ (b'+' | b'-'), b'@', name @ ..] => {
                    let category = std::str::from_utf8(name)
                        .ok()
                        .and_then(Category::parse)
                        .ok_or(RuleError::UnknownCommand)?;
                    let allow = *sign == b'+';
                    for &id in catalog.category_members(category) {
                        self.set_command(id, allow);
                    }
                    self.rules.push(&op[1..], allow);
                }
                [b'+', name @ ..] => self.allow_command(catalog, name)?,
                [b'-', name @ ..] => {
                    let cmd = catalog.lookup(name).ok_or(RuleError::UnknownCommand)?;
                    self.change_command(cmd, false);
                    self.rules.push(cmd.name.as_bytes(), false);
                }
                _ => return Err(RuleError::Syntax),
            }
        }
        Ok(())
    }

    fn set_all_commands(&mut self, catalog: &Catalog, on: bool) {
        self.commands.set_all(on, catalog.len());
        self.rules.clear();
        self.first_args.clear();
    }

    /// `~pattern`, `%R~pattern`, `%W~pattern`, `%RW~pattern`.
    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeyPatternAfterAllKeys);
        }
        let (access, pattern) = match op {
            [b'%', rest @ ..] => {
                let mut access = Access::NONE;
                let mut tilde = None;
                for (i, &b) in rest.iter().enumerate() {
                    match b.to_ascii_uppercase() {
                        b'R' if !access.read => access.read = true,
                        b'W' if !access.write => access.write = true,
                        b'~' if access != Access::NONE => {
                            tilde = Some(i);
                            break;
                        }
                        _ => return Err(RuleError::Syntax),
                    }
                }
                // Redis takes `%R` (no `~`) as an empty pattern and `%` as a pattern with no
                // permission, which later crashes it when described: both are refused here.
                let tilde = tilde.ok_or(RuleError::Syntax)?;
                (access, &rest[tilde + 1..])
            }
            _ => (Access::READ_WRITE, &op[1..]),
        };
        if has_space_or_nul(pattern) {
            return Err(RuleError::Syntax);
        }
        let pattern = pattern.to_vec();
        match self.keys.get_mut(&pattern) {
            Some(have) => *have = have.union(access),
            None => self.keys.push(pattern, access),
        }
        Ok(())
    }

    /// `&pattern`.
    fn add_channel_pattern(&mut self, pattern: &[u8]) -> Result<(), RuleError> {
        if self.all_channels {
            return Err(RuleError::ChannelPatternAfterAllChannels);
        }
        if has_space_or_nul(pattern) {
            return Err(RuleError::Syntax);
        }
        let pattern = pattern.to_vec();
        if !self.channels.contains(&pattern) {
            self.channels.push(pattern, ());
        }
        Ok(())
    }

    /// `+cmd`, `+container|sub`, and the legacy `+cmd|first-arg`.
    fn allow_command(&mut self, catalog: &Catalog, name: &[u8]) -> Result<(), RuleError> {
        let Some(bar) = name.iter().rposition(|&b| b == b'|') else {
            let cmd = catalog.lookup(name).ok_or(RuleError::UnknownCommand)?;
            self.change_command(cmd, true);
            self.rules.push(cmd.name.as_bytes(), true);
            return Ok(());
        };
        let (base, arg) = (&name[..bar], &name[bar + 1..]);
        let cmd = catalog.lookup(base).ok_or(RuleError::UnknownCommand)?;
        if cmd.parent.is_some() {
            return Err(RuleError::FirstArgOfSubcommand);
        }
        if arg.is_empty() {
            return Err(RuleError::Syntax);
        }
        if cmd.subcommands.is_empty() {
            // Redis accepts blanks, NULs and quotes here, and then cannot describe the
            // user (it crashes re-reading its own rules): blanks and NULs are refused.
            if has_space_or_nul(arg) {
                return Err(RuleError::Syntax);
            }
            self.first_args
                .entry(cmd.id)
                .or_default()
                .insert(arg.to_ascii_lowercase());
        } else {
            let sub = catalog.lookup(name).ok_or(RuleError::UnknownCommand)?;
            self.change_command(sub, true);
        }
        self.rules.push(name, true);
        Ok(())
    }

    /// Redis's ACLChangeSelectorPerm: the command, its first-argument exceptions, and all
    /// its subcommands.
    fn change_command(&mut self, cmd: &CommandInfo, allow: bool) {
        self.set_command(cmd.id, allow);
        for &sub in &cmd.subcommands {
            self.commands.set(sub, allow);
        }
    }

    fn set_command(&mut self, id: CommandId, allow: bool) {
        self.commands.set(id, allow);
        self.first_args.remove(&id);
    }

    /// Whether the selector lets `cmd` run with these arguments (`args[0]` is the command
    /// name), keys and channels aside.
    pub(crate) fn allows_command(&self, cmd: &CommandInfo, args: &[&[u8]]) -> bool {
        if cmd.no_auth || self.commands.get(cmd.id) {
            return true;
        }
        let Some(allowed) = self.first_args.get(&cmd.id) else {
            return false;
        };
        let at = if cmd.parent.is_some() { 2 } else { 1 };
        args.get(at)
            .is_some_and(|arg| allowed.contains(&arg.to_ascii_lowercase()))
    }

    /// Whether the selector lets a command touch `key` with `access`.
    #[inline]
    pub fn allows_key(&self, key: &[u8], access: Access) -> bool {
        self.all_keys
            || self
                .compiled_keys()
                .iter()
                .any(|(pattern, have)| have.covers(access) && pattern.matches(key))
    }

    /// Whether the selector lets a command touch the keys `args[first]`, `args[first +
    /// step]`, ... up to `args[last]` with `access` (false when one is missing). A plain
    /// loop: this runs for every command of a user with key patterns.
    #[inline]
    pub fn allows_keys_at(
        &self,
        args: &[&[u8]],
        (first, last, step): (usize, usize, usize),
        access: Access,
    ) -> bool {
        if self.all_keys {
            return true;
        }
        let patterns = self.compiled_keys();
        let mut at = first;
        while at <= last {
            let Some(key) = args.get(at) else {
                return false;
            };
            if !patterns
                .iter()
                .any(|(pattern, have)| have.covers(access) && pattern.matches(key))
            {
                return false;
            }
            at += step.max(1);
        }
        true
    }

    /// The key patterns, compiled once per change (a check runs on every command).
    fn compiled_keys(&self) -> &[(Pattern, Access)] {
        self.key_check.0.get_or_init(|| {
            self.keys
                .iter()
                .map(|(p, a)| (Pattern::new(p), *a))
                .collect()
        })
    }

    /// Whether every key is allowed with `access` (`allkeys`, or a `*` pattern that covers
    /// it): SORT's BY and GET need this.
    pub fn allows_any_key(&self, access: Access) -> bool {
        self.all_keys
            || self
                .keys
                .iter()
                .any(|(pattern, have)| have.covers(access) && pattern.as_slice() == b"*")
    }

    /// Whether the selector lets a command publish or subscribe to `channel`: a plain
    /// channel is matched against the patterns, a PSUBSCRIBE pattern only literally (a
    /// narrower pattern than the user's is refused).
    pub fn allows_channel(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.all_channels || self.channels_list_allows(channel, is_pattern)
    }

    pub(crate) fn channels_list_allows(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.channels.iter().any(|(pattern, ())| {
            if is_pattern {
                pattern.as_slice() == channel
            } else {
                glob_match(pattern, channel, false)
            }
        })
    }

    /// Whether commands the catalog does not know are allowed (the rules start from
    /// `+@all` rather than `-@all`).
    pub fn allows_future_commands(&self) -> bool {
        self.commands.fill
    }

    /// Whether the command's bit is set (first-argument exceptions aside).
    #[inline]
    pub fn allows_command_id(&self, id: CommandId) -> bool {
        self.commands.get(id)
    }

    /// The first arguments allowed for a command whose bit is off (lower case).
    pub fn first_args(&self, id: CommandId) -> impl Iterator<Item = &[u8]> {
        self.first_args
            .get(&id)
            .into_iter()
            .flat_map(|s| s.iter().map(Vec::as_slice))
    }

    /// `allkeys`: every key, read and write.
    pub fn all_keys(&self) -> bool {
        self.all_keys
    }

    /// The key patterns in the order they were added, with their permissions.
    pub fn key_patterns(&self) -> impl Iterator<Item = (&[u8], Access)> {
        self.keys.iter().map(|(p, a)| (p.as_slice(), *a))
    }

    /// `allchannels`: every channel.
    pub fn all_channels(&self) -> bool {
        self.all_channels
    }

    /// The channel patterns in the order they were added.
    pub fn channel_patterns(&self) -> impl Iterator<Item = &[u8]> {
        self.channels.iter().map(|(p, ())| p.as_slice())
    }

    /// The command rules since the last `+@all`/`-@all`, as (lower-case body, allowed).
    pub(crate) fn command_rules(&self) -> impl Iterator<Item = (&[u8], bool)> {
        self.rules.iter()
    }

    /// Whether there is any command rule after the `+@all`/`-@all`.
    pub(crate) fn has_command_rules(&self) -> bool {
        !self.rules.is_empty()
    }
}
