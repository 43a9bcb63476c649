//! The errors a rule can give, and the ordered list of command rules a selector keeps to
//! describe itself (Redis 7.2's `command_rules`).

use std::collections::{BTreeMap, BTreeSet};

use crate::ordered::OrderedMap;

/// Why one rule (`+get`, `~key*`, `>pass`, ...) was refused, with Redis's texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// `+cmd`, `-cmd` or `+@cat` names nothing known.
    #[error("Unknown command or category name in ACL")]
    UnknownCommand,
    /// The rule is not understood, or a pattern holds blanks or NUL.
    #[error("Syntax error")]
    Syntax,
    /// A key pattern after `allkeys`.
    #[error(
        "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
    )]
    KeyPatternAfterAllKeys,
    /// A channel pattern after `allchannels`.
    #[error(
        "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"
    )]
    ChannelPatternAfterAllChannels,
    /// `<pass` or `!hash` of a password the user does not have.
    #[error("The password you are trying to remove from the user does not exist")]
    NoSuchPassword,
    /// `#hash` or `!hash` that is not 64 lower-case hex digits.
    #[error(
        "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
    )]
    BadHash,
    /// `+cmd|sub|arg`.
    #[error("Allowing first-arg of a subcommand is not supported")]
    FirstArgOfSubcommand,
}

/// The command rules of a selector since its last `+@all`/`-@all`, in order, each kept
/// once: a rule replaces an earlier equal one, and a rule on a whole command replaces the
/// earlier rules on its subcommands and first arguments. Replaying them after `+@all` or
/// `-@all` rebuilds the selector's command bitmap (the invariant Redis checks when it
/// describes a user).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CommandRules {
    /// Rule body (`get`, `config|get`, `select|0`, `@read`, lower case) → allowed.
    rules: OrderedMap<Vec<u8>, bool>,
    /// Command name → bodies `command|...` in `rules`, to drop them in one step.
    by_command: BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>>,
}

impl CommandRules {
    /// Forgets every rule (`+@all`, `-@all`).
    pub(crate) fn clear(&mut self) {
        self.rules.clear();
        self.by_command.clear();
    }

    /// Appends `+body` or `-body`, dropping the earlier rules it makes pointless.
    pub(crate) fn push(&mut self, body: &[u8], allow: bool) {
        let body = body.to_ascii_lowercase();
        self.remove(&body);
        if let Some(bar) = body.iter().position(|&b| b == b'|') {
            self.by_command
                .entry(body[..bar].to_vec())
                .or_default()
                .insert(body.clone());
        }
        self.rules.push(body, allow);
    }

    fn remove(&mut self, body: &[u8]) {
        let body = body.to_vec();
        self.rules.remove(&body);
        match body.iter().position(|&b| b == b'|') {
            Some(bar) => {
                if let Some(set) = self.by_command.get_mut(&body[..bar]) {
                    set.remove(&body);
                    if set.is_empty() {
                        self.by_command.remove(&body[..bar]);
                    }
                }
            }
            // A rule on a whole command also replaces those on its parts. (Bodies have at
            // most one `|`: rules with more are refused.)
            None => {
                for sub in self.by_command.remove(&body).unwrap_or_default() {
                    self.rules.remove(&sub);
                }
            }
        }
    }

    /// Whether there is no rule.
    pub(crate) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules in order, as (body, allowed).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], bool)> {
        self.rules.iter().map(|(k, v)| (k.as_slice(), *v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(r: &CommandRules) -> String {
        r.iter()
            .map(|(b, a)| {
                format!(
                    "{}{}",
                    if a { '+' } else { '-' },
                    String::from_utf8_lossy(b)
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn apply(rules: &[&str]) -> String {
        let mut r = CommandRules::default();
        for rule in rules {
            let (allow, body) = (rule.starts_with('+'), &rule[1..]);
            r.push(body.as_bytes(), allow);
        }
        show(&r)
    }

    // The compaction cases of Redis's "ACL GETUSER provides correct results" test.
    #[test]
    fn compacts_like_redis() {
        assert_eq!(
            apply(&["-@hash", "-@slow", "+hget", "-@hash"]),
            "-@slow +hget -@hash"
        );
        assert_eq!(apply(&["+@HASH", "+@hash", "+@HaSh"]), "+@hash");
        assert_eq!(
            apply(&["+@hash", "+@slow", "+@set", "+@set", "+@slow", "+@hash"]),
            "+@set +@slow +@hash"
        );
        assert_eq!(apply(&["+hget", "-hset", "+hset", "-hget"]), "+hset -hget");
        assert_eq!(
            apply(&[
                "+client|list",
                "+client|list",
                "+config|get",
                "+config",
                "+acl|list",
                "-acl"
            ]),
            "+client|list +config -acl"
        );
        assert_eq!(
            apply(&["+select|0", "+select|0", "+debug|segfault", "+debug"]),
            "+select|0 +debug"
        );
        assert_eq!(
            apply(&["+config", "+config|get", "-config|set", "+config"]),
            "+config"
        );
        assert_eq!(
            apply(&["-client", "+client|id", "+client|setname"]),
            "-client +client|id +client|setname"
        );
        // A subcommand rule does not remove the whole command's rule.
        assert_eq!(apply(&["+config", "-config|set"]), "+config -config|set");
        let mut r = CommandRules::default();
        r.push(b"get", true);
        r.clear();
        assert!(r.is_empty());
    }
}
