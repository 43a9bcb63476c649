//! Access control lists as Redis 7.2 has them: users with passwords, command rules by
//! category, command and subcommand, key patterns with read and write permissions,
//! channel patterns and selectors; the check every command passes before it runs.
//!
//! Pure logic: no I/O, no clock (the caller passes time in), so it is unit-tested and
//! fuzzed on its own.

mod catalog;
mod category;
mod check;
mod describe;
mod file;
mod ordered;
mod password;
mod rules;
mod selector;
mod split;
mod user;
mod users;

pub use catalog::{Catalog, CatalogError, CommandId, CommandInfo};
pub use category::{Categories, Category};
pub use check::{Denied, DeniedReason};
pub use describe::{SelectorInfo, UserInfo};
pub use file::{AclFileError, FileProblem};
pub use rules::RuleError;
pub use password::{Digest, GENPASS_DEFAULT_BITS, GENPASS_MAX_BITS, GenpassError, genpass, genpass_random_len, hash_password, to_hex};
pub use selector::{Access, PubsubDefault, Selector};
pub use user::{SetUserError, User};
pub use users::{AuthError, ConfigUserError, DEFAULT_USER, DeleteDefaultUser, SetUserOutcome, Users};
