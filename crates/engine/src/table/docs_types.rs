//! The shape of COMMAND DOCS data (`docs.rs`, generated from Redis 7.2's metadata), and
//! how a command's docs are found.

/// What COMMAND DOCS says of a command beyond its group and version (an empty string:
/// Redis has none and leaves the field out).
#[derive(Debug)]
pub struct Doc {
    /// One line on what it does.
    pub summary: &'static str,
    /// Its time complexity.
    pub complexity: &'static str,
    /// `deprecated`, `syscmd`.
    pub doc_flags: &'static [&'static str],
    /// The version that deprecated it.
    pub deprecated_since: &'static str,
    /// What replaces it.
    pub replaced_by: &'static str,
    /// Changes by version.
    pub history: &'static [(&'static str, &'static str)],
    /// Its arguments.
    pub args: &'static [Arg],
}

/// One argument of a command.
#[derive(Debug)]
pub struct Arg {
    /// Its name.
    pub name: &'static str,
    /// Its type (`key`, `string`, `integer`, `double`, `pattern`, `unix-time`,
    /// `pure-token`, `oneof`, `block`).
    pub kind: &'static str,
    /// How it is shown, when not its name.
    pub display: &'static str,
    /// The key spec it belongs to (-1: none).
    pub key_spec: i32,
    /// The token before it.
    pub token: &'static str,
    /// What it is for.
    pub summary: &'static str,
    /// The version that added it.
    pub since: &'static str,
    /// The version that deprecated it.
    pub deprecated_since: &'static str,
    /// [`OPTIONAL`], [`MULTIPLE`], [`MULTIPLE_TOKEN`].
    pub flags: u8,
    /// What a `oneof` or `block` holds.
    pub args: &'static [Arg],
}

/// The argument may be left out.
pub const OPTIONAL: u8 = 1;
/// The argument may repeat.
pub const MULTIPLE: u8 = 2;
/// The argument repeats with its token each time.
pub const MULTIPLE_TOKEN: u8 = 4;

/// The docs of a command or subcommand, by full name (`get`, `config|get`).
pub fn doc(full_name: &str) -> Option<&'static Doc> {
    let docs = super::docs::DOCS;
    docs.binary_search_by(|(n, _)| n.cmp(&full_name))
        .ok()
        .map(|i| &docs[i].1)
}
