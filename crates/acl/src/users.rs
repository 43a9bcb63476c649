//! The set of users: the `default` user, `ACL SETUSER`/`DELUSER`, `requirepass`,
//! authentication, and `user` directives of the configuration file.

use std::collections::{BTreeMap, BTreeSet};

use crate::catalog::Catalog;
use crate::password::{Digest, hash_password, matches_any};
use crate::rules::RuleError;
use crate::selector::PubsubDefault;
use crate::split::{has_space_or_nul, merge_selectors};
use crate::user::{SetUserError, User};

/// The user every connection starts as.
pub const DEFAULT_USER: &[u8] = b"default";

/// Every user, by name (in byte order: the order of `ACL LIST`, `ACL USERS`, `ACL SAVE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Users {
    users: BTreeMap<Vec<u8>, User>,
    pubsub_default: PubsubDefault,
}

/// What `ACL SETUSER` did, for the server to act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetUserOutcome {
    /// The user did not exist before.
    pub created: bool,
    /// The user may have lost channels: the server checks every subscription of the
    /// user's clients with [`User::check_channel`] and disconnects those that fail.
    pub recheck_subscriptions: bool,
}

/// `ACL DELUSER default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("The 'default' user cannot be removed")]
pub struct DeleteDefaultUser;

/// A refused `AUTH` or `HELLO AUTH`: the same for an unknown user, a disabled one and a
/// wrong password, so that a client learns nothing about which users exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("WRONGPASS invalid username-password pair or user is disabled.")]
pub struct AuthError;

/// A refused `user` directive of the configuration file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigUserError {
    /// A directive without a name.
    #[error("user directive without a username")]
    MissingName,
    /// Names cannot hold blanks or NUL bytes.
    #[error("Spaces not allowed in ACL usernames")]
    InvalidUsername,
    /// The same user twice.
    #[error(
        "Error in user declaration '{}': Duplicate user found. A user can only be defined once in config files",
        String::from_utf8_lossy(.name)
    )]
    Duplicate {
        /// The name given twice.
        name: Vec<u8>,
    },
    /// A `(` never closed.
    #[error("Error in user declaration '{}': Unmatched parenthesis", String::from_utf8_lossy(.rule))]
    UnmatchedParenthesis {
        /// The argument that opened the selector.
        rule: Vec<u8>,
    },
    /// A rule failed.
    #[error("Error in user declaration '{}': {error}", String::from_utf8_lossy(.rule))]
    Rule {
        /// The rule.
        rule: Vec<u8>,
        /// Why.
        error: RuleError,
    },
}

impl Users {
    /// Only the `default` user: `on nopass ~* &* +@all`.
    pub fn new(catalog: &Catalog, pubsub_default: PubsubDefault) -> Users {
        let mut users = BTreeMap::new();
        users.insert(DEFAULT_USER.to_vec(), default_user(catalog, pubsub_default));
        Users {
            users,
            pubsub_default,
        }
    }

    /// `acl-pubsub-default`.
    pub fn pubsub_default(&self) -> PubsubDefault {
        self.pubsub_default
    }

    /// Changes `acl-pubsub-default`: users and selectors created from now on (and
    /// `reset`) start with it; existing ones keep their channels.
    pub fn set_pubsub_default(&mut self, pubsub_default: PubsubDefault) {
        self.pubsub_default = pubsub_default;
    }

    /// A user by name.
    pub fn get(&self, name: &[u8]) -> Option<&User> {
        self.users.get(name)
    }

    /// The `default` user.
    pub fn default_user(&self) -> &User {
        // Always present: it is created with the set and cannot be deleted.
        assert!(self.users.contains_key(DEFAULT_USER));
        &self.users[DEFAULT_USER]
    }

    /// The users, ordered by name bytes.
    pub fn iter(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    /// Number of users (at least 1: `default`).
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Always false: `default` is always there.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// `ACL LIST`: one line per user.
    pub fn list(&self) -> Vec<Vec<u8>> {
        self.iter().map(User::acl_list_line).collect()
    }

    /// `ACL SETUSER name rules...`: creates the user if needed and applies the rules, all
    /// or none.
    pub fn setuser(
        &mut self,
        catalog: &Catalog,
        name: &[u8],
        rules: &[&[u8]],
    ) -> Result<SetUserOutcome, SetUserError> {
        if has_space_or_nul(name) {
            return Err(SetUserError::InvalidUsername);
        }
        let pubsub = self.pubsub_default;
        match self.users.get_mut(name) {
            Some(user) => {
                let before = user.clone();
                user.apply_rules(catalog, pubsub, rules)?;
                Ok(SetUserOutcome {
                    created: false,
                    recheck_subscriptions: user.may_have_lost_channels(&before),
                })
            }
            None => {
                let mut user = User::new(name, pubsub);
                user.apply_rules(catalog, pubsub, rules)?;
                self.users.insert(name.to_vec(), user);
                Ok(SetUserOutcome {
                    created: true,
                    recheck_subscriptions: false,
                })
            }
        }
    }

    /// `ACL DELUSER names...`: the users removed (the server disconnects their clients;
    /// the reply is how many). Refused, removing nothing, if `default` is named.
    pub fn deluser(&mut self, names: &[&[u8]]) -> Result<Vec<User>, DeleteDefaultUser> {
        if names.contains(&DEFAULT_USER) {
            return Err(DeleteDefaultUser);
        }
        Ok(names
            .iter()
            .filter_map(|name| self.users.remove(*name))
            .collect())
    }

    /// `requirepass`: the default user gets this one password, or `nopass` (Redis's
    /// ACLUpdateDefaultUserPassword).
    pub fn set_default_password(&mut self, password: Option<&[u8]>) {
        if let Some(user) = self.users.get_mut(DEFAULT_USER) {
            user.set_only_password(password);
        }
    }

    /// `AUTH name password`: the user, if it is on and the password is one of its own
    /// (or it is `nopass`). The password is hashed and compared in constant time even for
    /// unknown or disabled users, so the time taken does not tell them apart.
    pub fn authenticate(&self, name: &[u8], password: &[u8]) -> Result<&User, AuthError> {
        match self.users.get(name) {
            Some(user) => {
                // Matched before looking at `on`, so a disabled user costs the same.
                let matches = user.password_matches(password);
                if user.is_enabled() && matches {
                    Ok(user)
                } else {
                    Err(AuthError)
                }
            }
            None => {
                // The work a real user costs, for nothing.
                let digest = hash_password(password);
                let none: [Digest; 1] = [[0; 32]];
                let _ = matches_any(none.iter(), &digest);
                Err(AuthError)
            }
        }
    }

    /// Applies the `user` directives of the configuration file (each: name, then rules)
    /// at startup, all or none. `default` is reset before its rules apply; other names
    /// must be new. Unlike in an ACL file, tokens were split by the configuration parser.
    pub fn apply_config(
        &mut self,
        catalog: &Catalog,
        directives: &[Vec<Vec<u8>>],
    ) -> Result<(), ConfigUserError> {
        let pubsub = self.pubsub_default;
        let mut staged = self.users.clone();
        let mut seen = BTreeSet::new();
        for directive in directives {
            let Some((name, rules)) = directive.split_first() else {
                return Err(ConfigUserError::MissingName);
            };
            if !seen.insert(name.as_slice()) {
                return Err(ConfigUserError::Duplicate { name: name.clone() });
            }
            if has_space_or_nul(name) {
                return Err(ConfigUserError::InvalidUsername);
            }
            let rules: Vec<&[u8]> = rules.iter().map(Vec::as_slice).collect();
            let merged =
                merge_selectors(&rules).map_err(|start| ConfigUserError::UnmatchedParenthesis {
                    rule: rules[start].to_vec(),
                })?;
            let mut user = User::new(name, pubsub);
            for op in &merged {
                user.apply(catalog, pubsub, op)
                    .map_err(|error| ConfigUserError::Rule {
                        rule: op.to_vec(),
                        error,
                    })?;
            }
            staged.insert(name.clone(), user);
        }
        self.users = staged;
        Ok(())
    }

    /// A set of users for `ACL LOAD`: `default` is made as at startup if missing.
    pub(crate) fn from_users(
        catalog: &Catalog,
        pubsub_default: PubsubDefault,
        mut users: BTreeMap<Vec<u8>, User>,
    ) -> Users {
        users
            .entry(DEFAULT_USER.to_vec())
            .or_insert_with(|| default_user(catalog, pubsub_default));
        Users {
            users,
            pubsub_default,
        }
    }
}

/// Redis's ACLCreateDefaultUser.
fn default_user(catalog: &Catalog, pubsub: PubsubDefault) -> User {
    let mut user = User::new(DEFAULT_USER, pubsub);
    for op in ["+@all", "~*", "&*", "on", "nopass"] {
        let applied = user.apply(catalog, pubsub, op.as_bytes());
        assert!(applied.is_ok(), "default user rule {op}");
    }
    user
}
