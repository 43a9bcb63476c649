//! Access control lists as Redis 7.2 has them: users with passwords, command rules by
//! category, command and subcommand, key patterns with read and write permissions,
//! channel patterns and selectors; the check every command passes before it runs.
//!
//! Pure logic: no I/O, no clock and no randomness (the caller passes time and random
//! bytes in), so it is unit-tested and fuzzed on its own. The server renders replies
//! from the data returned here.
//!
//! # The model
//!
//! - A [`Catalog`] is the command vocabulary, built once from the server's command table:
//!   each command and subcommand gets a dense [`CommandId`], its [`Categories`] and its
//!   NO_AUTH flag.
//! - A [`User`] has flags (`on`/`off`, `nopass`, `sanitize-payload`), SHA-256 password
//!   digests, a root [`Selector`] (rules given outside parentheses) and extra selectors
//!   (`(...)`). A selector holds a bitmap of allowed command ids (plus whether commands
//!   unknown to the catalog are allowed: `+@all` rather than `-@all`), first arguments
//!   allowed for commands without subcommands (`+select|0`), key patterns each with read
//!   and/or write permission, channel patterns, and the ordered, compacted command rules
//!   Redis 7.2 keeps to describe the selector.
//! - Rules are applied exactly as Redis's ACLSetUser and ACLSetSelector do, with the same
//!   error texts; a rule list applies entirely or not at all. [`User::describe`] gives the
//!   `ACL LIST` form, which applied to a new user gives the same user back.
//! - [`User::check`] is Redis's per-command check: a command runs if one selector allows
//!   the command, all its keys (with the access each needs) and all its channels.
//! - [`Users`] is the set of users with `default`; [`AclLog`] is `ACL LOG`; ACL files are
//!   read by [`Users::load_acl_file`] and written by [`Users::to_acl_file`].
//!
//! ```
//! use concord_acl::{Access, Catalog, Categories, Category, PubsubDefault, Users};
//!
//! let mut catalog = Catalog::new();
//! let get = catalog
//!     .add_command("get", Categories::of(&[Category::Read, Category::String]), false)
//!     .unwrap();
//! let mut users = Users::new(&catalog, PubsubDefault::ResetChannels);
//! let rules: [&[u8]; 4] = [b"on", b">secret", b"+@read", b"%R~cache:*"];
//! users.setuser(&catalog, b"alice", &rules).unwrap();
//!
//! let alice = users.authenticate(b"alice", b"secret").unwrap();
//! let args: [&[u8]; 2] = [b"GET", b"cache:1"];
//! assert!(alice.check(&catalog, get, &args, &[(1, Access::READ)], &[]).is_ok());
//! let args: [&[u8]; 2] = [b"GET", b"other"];
//! let denied = alice.check(&catalog, get, &args, &[(1, Access::READ)], &[]).unwrap_err();
//! assert_eq!(denied.noperm_message(&catalog, get, alice), b"No permissions to access a key");
//! assert_eq!(
//!     String::from_utf8(alice.acl_list_line()).unwrap(),
//!     "user alice on sanitize-payload \
//!      #2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b \
//!      %R~cache:* resetchannels -@all +@read"
//! );
//! ```
//!
//! # Bytes
//!
//! Names, passwords, patterns and first arguments are bytes, as in Redis: invalid UTF-8
//! is fine everywhere. Where Redis's C strings would stop at a NUL byte, the whole input
//! counts here: a NUL in a username, pattern or first argument is refused as Redis
//! refuses blanks, a rule or command name with a NUL matches nothing, and a NUL inside a
//! selector is a syntax error.
//!
//! # Where this differs from Redis 7.2
//!
//! Only where Redis 7.2.6 crashes, silently drops rules, or writes rules it cannot read
//! back:
//!
//! - `%` and `%R`/`%W` without `~` are syntax errors (Redis adds an empty pattern, or
//!   one without permission that crashes ACL LIST).
//! - A `+cmd|first-arg` holding blanks or NUL is a syntax error (Redis accepts it and
//!   then crashes describing the user).
//! - A selector body with unbalanced quotes or a NUL is a syntax error (Redis adds an
//!   empty selector without a word).
//! - In a selector's description, a rule holding a quote or ending with `)` is quoted,
//!   and a read-write `*` key pattern that is not `allkeys` is written `%RW~*` (Redis
//!   writes `~*`, which reads back as `allkeys`): otherwise saving and loading the ACL
//!   file would change the user, even give the root selector a selector's keys.
//! - The `user` directive errors of the configuration file name the rule at fault
//!   (Redis names an argument two places before it).
//! - An ACL file is read whole (Redis stops at a NUL byte), and a line with an unclosed
//!   selector is reported rather than crashing.
//! - `ACL CAT <category>` lists commands in catalog order (Redis: hash table order).
//!
//! # Costs
//!
//! There is no limit on rules, patterns, selectors or users beyond memory. Lists that
//! rules add to and remove from (passwords, patterns, command rules, first arguments) are
//! indexed, so applying `n` rules costs `O(n log n)` plus, for each category rule, the
//! size of the category; Redis's linear searches would be quadratic. Checking a key or
//! channel costs one bounded glob match per pattern.

#![warn(missing_docs)]

mod catalog;
mod category;
mod check;
mod describe;
mod file;
mod log;
mod ordered;
mod password;
mod rules;
mod selector;
mod split;
mod user;
mod users;

#[cfg(test)]
mod tests;

pub use catalog::{Catalog, CatalogError, CommandId, CommandInfo};
pub use category::{Categories, Category};
pub use check::{Denied, DeniedReason};
pub use describe::{SelectorInfo, UserInfo};
pub use file::{AclFileError, FileProblem};
pub use log::{
    AclLog, DEFAULT_LOG_MAX_LEN, DenialStats, LogContext, LogEntry, LogEvent, LogReason,
};
pub use password::{
    Digest, GENPASS_DEFAULT_BITS, GENPASS_MAX_BITS, GenpassError, genpass, genpass_random_len,
    hash_password, to_hex,
};
pub use rules::RuleError;
pub use selector::{Access, PubsubDefault, Selector};
pub use user::{SetUserError, User};
pub use users::{
    AuthError, ConfigUserError, DEFAULT_USER, DeleteDefaultUser, SetUserOutcome, Users,
};
