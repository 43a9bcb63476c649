//! The permission check every command passes (Redis 7.2's ACLSelectorCheckCmd and
//! ACLCheckAllUserCommandPerm), and the texts of its denials.

use crate::catalog::{Catalog, CommandId, CommandInfo};
use crate::selector::{Access, Selector};
use crate::user::User;

/// What a denied command lacked. The order is Redis's: when no selector allows a command,
/// the denial reported is the greatest (reason, then argument position) among them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeniedReason {
    /// The command itself.
    Command,
    /// A key.
    Key,
    /// A channel.
    Channel,
}

/// A refused command: why, and the argument at fault (0 for the command itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Denied {
    /// What was missing.
    pub reason: DeniedReason,
    /// Index in `args` of the key or channel refused; 0 for a command.
    pub pos: usize,
}

impl User {
    /// Whether the user may run command `id` with `args` (`args[0]` is the command name).
    ///
    /// `keys` are the key arguments with what the command does to each (from the key specs:
    /// ACCESS is a read; INSERT, DELETE and UPDATE are writes), in key-spec order. `channels`
    /// are the channel arguments the command publishes or subscribes to (not those it
    /// unsubscribes from), each with whether it is a PSUBSCRIBE pattern.
    ///
    /// Each selector is tried in turn, the root first; the command runs if one allows the
    /// command and all its keys and channels. Otherwise the denial is Redis's: a key or
    /// channel refused by some selector wins over the command, a channel over a key, and a
    /// later argument over an earlier one.
    pub fn check(
        &self,
        catalog: &Catalog,
        id: CommandId,
        args: &[&[u8]],
        keys: &[(usize, Access)],
        channels: &[(usize, bool)],
    ) -> Result<(), Denied> {
        let mut worst = Denied {
            reason: DeniedReason::Command,
            pos: 0,
        };
        let Some(cmd) = catalog.get(id) else {
            return Err(worst);
        };
        // Most users have only the root selector: its verdict is the answer.
        if self.selectors().is_empty() {
            return check_selector(self.root(), cmd, args, keys, channels);
        }
        for selector in self.all_selectors() {
            match check_selector(selector, cmd, args, keys, channels) {
                Ok(()) => return Ok(()),
                Err(denied) => worst = worst.max(denied),
            }
        }
        Err(worst)
    }

    /// Whether some selector allows the command (as [`User::check`]) and also `access` to
    /// every key: SORT refuses BY and GET patterns without it.
    pub fn check_with_any_key(
        &self,
        catalog: &Catalog,
        id: CommandId,
        args: &[&[u8]],
        keys: &[(usize, Access)],
        channels: &[(usize, bool)],
        access: Access,
    ) -> bool {
        let Some(cmd) = catalog.get(id) else {
            return false;
        };
        self.all_selectors().any(|s| {
            check_selector(s, cmd, args, keys, channels).is_ok() && s.allows_any_key(access)
        })
    }

    /// Whether some selector allows `access` to `key` (scripts and modules check keys on
    /// their own).
    pub fn check_key(&self, key: &[u8], access: Access) -> bool {
        self.all_selectors().any(|s| s.allows_key(key, access))
    }

    /// Whether some selector allows publishing or subscribing to `channel` (`is_pattern`
    /// for PSUBSCRIBE). After `ACL SETUSER`, a subscriber whose user no longer passes this
    /// for one of its subscriptions is disconnected (see
    /// [`User::may_have_lost_channels`]).
    pub fn check_channel(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.all_selectors()
            .any(|s| s.allows_channel(channel, is_pattern))
    }

    /// Whether going from `before` to `self` may have taken a channel away from the user's
    /// subscribers, so that the server has to check each subscription of the user's
    /// clients with [`User::check_channel`]. False when a selector now has `allchannels`, or
    /// when every channel pattern of `before` is still there (and `before` had no
    /// `allchannels`) — Redis's ACLKillPubsubClientsIfNeeded shortcuts.
    pub fn may_have_lost_channels(&self, before: &User) -> bool {
        if self.all_selectors().any(Selector::all_channels) {
            return false;
        }
        let now: std::collections::BTreeSet<&[u8]> = self
            .all_selectors()
            .flat_map(Selector::channel_patterns)
            .collect();
        before
            .all_selectors()
            .any(|s| s.all_channels() || s.channel_patterns().any(|p| !now.contains(p)))
    }
}

/// Redis's ACLSelectorCheckCmd: the command, then each key, then each channel.
fn check_selector(
    selector: &Selector,
    cmd: &CommandInfo,
    args: &[&[u8]],
    keys: &[(usize, Access)],
    channels: &[(usize, bool)],
) -> Result<(), Denied> {
    if !selector.allows_command(cmd, args) {
        return Err(Denied {
            reason: DeniedReason::Command,
            pos: 0,
        });
    }
    if !selector.all_keys() {
        for &(pos, access) in keys {
            if !selector.allows_key(arg(args, pos), access) {
                return Err(Denied {
                    reason: DeniedReason::Key,
                    pos,
                });
            }
        }
    }
    if !selector.all_channels() {
        for &(pos, is_pattern) in channels {
            if !selector.channels_list_allows(arg(args, pos), is_pattern) {
                return Err(Denied {
                    reason: DeniedReason::Channel,
                    pos,
                });
            }
        }
    }
    Ok(())
}

fn arg<'a>(args: &[&'a [u8]], pos: usize) -> &'a [u8] {
    args.get(pos).copied().unwrap_or_default()
}

impl Denied {
    /// The text after `NOPERM ` in the error reply: the command is named, keys and
    /// channels are not (Redis 7.2 does not reveal them to the client).
    pub fn noperm_message(&self, catalog: &Catalog, id: CommandId, user: &User) -> Vec<u8> {
        match self.reason {
            DeniedReason::Command => command_message(catalog, id, user),
            DeniedReason::Key => b"No permissions to access a key".to_vec(),
            DeniedReason::Channel => b"No permissions to access a channel".to_vec(),
        }
    }

    /// The reply of `ACL DRYRUN` for this denial, naming the key or channel.
    pub fn dryrun_message(
        &self,
        catalog: &Catalog,
        id: CommandId,
        user: &User,
        args: &[&[u8]],
    ) -> Vec<u8> {
        let what = match self.reason {
            DeniedReason::Command => return command_message(catalog, id, user),
            DeniedReason::Key => &b"' key"[..],
            DeniedReason::Channel => b"' channel",
        };
        let mut m = b"User ".to_vec();
        m.extend_from_slice(user.name());
        m.extend_from_slice(b" has no permissions to access the '");
        m.extend_from_slice(arg(args, self.pos));
        m.extend_from_slice(what);
        m
    }

    /// The `object` of the ACL LOG entry: the command's full name, or the key or channel.
    pub fn log_object(&self, catalog: &Catalog, id: CommandId, args: &[&[u8]]) -> Vec<u8> {
        match self.reason {
            DeniedReason::Command => command_name(catalog, id).to_vec(),
            DeniedReason::Key | DeniedReason::Channel => arg(args, self.pos).to_vec(),
        }
    }
}

fn command_name(catalog: &Catalog, id: CommandId) -> &[u8] {
    catalog.get(id).map_or(&b""[..], |c| c.name.as_bytes())
}

fn command_message(catalog: &Catalog, id: CommandId, user: &User) -> Vec<u8> {
    let mut m = b"User ".to_vec();
    m.extend_from_slice(user.name());
    m.extend_from_slice(b" has no permissions to run the '");
    m.extend_from_slice(command_name(catalog, id));
    m.extend_from_slice(b"' command");
    m
}
