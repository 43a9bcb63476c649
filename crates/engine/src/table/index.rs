//! Command ids, lookups by name, and resolving a request to the command it runs.

use super::COMMANDS;
use super::spec::{CommandSpec, FindKeys, Flags};
use concord_acl::{Categories, Category};
use std::sync::OnceLock;

/// A dense id over every command: the top-level ones first, in [`COMMANDS`] order (so
/// `COMMANDS[id]` is the command), then the subcommands, container by container.
pub type CommandId = usize;

/// The longest top-level name [`command_id`] looks up (longer names are unknown).
const NAME_MAX: usize = 32;

/// What finding commands needs, built once from the table.
struct Index {
    /// Top-level names to ids.
    by_name: hashbrown::HashMap<&'static [u8], CommandId>,
    /// Every command by id.
    specs: Vec<&'static CommandSpec>,
    /// The container of each subcommand.
    parents: Vec<Option<CommandId>>,
    /// `name` or `container|name`.
    full_names: Vec<String>,
    /// The subcommands of each container, in table order.
    subs: Vec<Vec<CommandId>>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(build)
}

fn build() -> Index {
    let mut ix = Index {
        by_name: hashbrown::HashMap::with_capacity(COMMANDS.len()),
        specs: Vec::new(),
        parents: Vec::new(),
        full_names: Vec::new(),
        subs: Vec::new(),
    };
    for (id, c) in COMMANDS.iter().enumerate() {
        check(c, false);
        assert!(
            c.name.len() <= NAME_MAX,
            "{}: name too long to look up",
            c.name
        );
        let dup = ix.by_name.insert(c.name.as_bytes(), id);
        assert!(dup.is_none(), "{}: listed twice", c.name);
        ix.specs.push(c);
        ix.parents.push(None);
        ix.full_names.push(c.name.to_string());
        ix.subs.push(Vec::new());
    }
    for (id, c) in COMMANDS.iter().enumerate() {
        for s in c.subcommands {
            check(s, true);
            let sid = ix.specs.len();
            let dup = ix.subs[id].iter().any(|&o| ix.specs[o].name == s.name);
            assert!(!dup, "{}|{}: listed twice", c.name, s.name);
            ix.specs.push(s);
            ix.parents.push(Some(id));
            ix.full_names.push(format!("{}|{}", c.name, s.name));
            ix.subs.push(Vec::new());
            ix.subs[id].push(sid);
        }
    }
    ix
}

/// The table's invariants, checked once when the index is built.
fn check(c: &CommandSpec, sub: bool) {
    let n = c.name;
    assert!(
        !n.is_empty() && !n.contains('|') && n == n.to_ascii_lowercase(),
        "{n}: names are lower-case words"
    );
    assert!(c.arity != 0, "{n}: arity 0");
    assert!(
        !c.flags.has(Flags::MOVABLE_KEYS),
        "{n}: movable keys are computed, not declared"
    );
    if sub {
        assert!(c.subcommands.is_empty(), "{n}: one level of subcommands");
        assert!(
            c.handler.is_none(),
            "{n}: the container runs its subcommands"
        );
        assert!(
            c.arity.unsigned_abs() >= 2,
            "{n}: a subcommand has two words"
        );
    }
    for k in c.keys {
        match k.find {
            FindKeys::Range {
                last_key,
                step,
                limit,
            } => {
                assert!(step >= 1, "{n}: a range steps forward");
                assert!(limit >= 0, "{n}: a limit divides");
                assert!(
                    limit == 0 || last_key == -1,
                    "{n}: a limit needs last_key -1"
                );
            }
            FindKeys::KeyNum {
                key_num_idx, step, ..
            } => assert!(step >= 1 && key_num_idx >= 0, "{n}: bad keynum spec"),
            FindKeys::Unknown => {}
        }
    }
}

/// The id of a top-level command, by name, ignoring case.
pub fn command_id(name: &[u8]) -> Option<CommandId> {
    let mut buf = [0u8; NAME_MAX];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    index().by_name.get(&*lower).copied()
}

/// Finds a top-level command by name, ignoring case.
pub fn lookup_command(name: &[u8]) -> Option<&'static CommandSpec> {
    command_id(name).map(|i| &COMMANDS[i])
}

/// A command or subcommand by its full name (`get`, `config|get`), ignoring case, as
/// COMMAND INFO and COMMAND DOCS take names.
pub fn lookup_full_name(name: &[u8]) -> Option<CommandId> {
    let mut parts = name.split(|&b| b == b'|');
    let first = parts.next()?;
    let id = command_id(first)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(id),
        (Some(sub), None) => find_subcommand(id, sub),
        (Some(_), Some(_)) => None,
    }
}

/// The command with this id.
pub fn spec(id: CommandId) -> &'static CommandSpec {
    index().specs[id]
}

/// How many commands there are, subcommands included (ids are `0..command_count()`).
pub fn command_count() -> usize {
    index().specs.len()
}

/// The full name: `get`, or `config|get` for a subcommand.
pub fn full_name(id: CommandId) -> &'static str {
    &index().full_names[id]
}

/// The container of a subcommand.
pub fn parent(id: CommandId) -> Option<CommandId> {
    index().parents[id]
}

/// The subcommands of a container, in table order (empty for other commands).
pub fn subcommand_ids(id: CommandId) -> &'static [CommandId] {
    &index().subs[id]
}

/// A container's subcommand, by name, ignoring case.
pub fn find_subcommand(parent: CommandId, name: &[u8]) -> Option<CommandId> {
    subcommand_ids(parent)
        .iter()
        .copied()
        .find(|&s| spec(s).name.as_bytes().eq_ignore_ascii_case(name))
}

/// Every ACL category of a command: the declared ones and those its flags imply, as
/// Redis's `setImplicitACLCategories` adds them.
pub fn acl_categories(id: CommandId) -> Categories {
    let s = spec(id);
    let f = s.flags;
    let mut c = s.categories;
    if f.has(Flags::WRITE) {
        c = c.with(Category::Write);
    }
    // Scripts may write: EVAL_RO and friends are not @read.
    if f.has(Flags::READONLY) && !c.has(Category::Scripting) {
        c = c.with(Category::Read);
    }
    if f.has(Flags::ADMIN) {
        c = c.with(Category::Admin).with(Category::Dangerous);
    }
    if f.has(Flags::PUBSUB) {
        c = c.with(Category::PubSub);
    }
    if f.has(Flags::FAST) {
        c = c.with(Category::Fast);
    }
    if f.has(Flags::BLOCKING) {
        c = c.with(Category::Blocking);
    }
    // Every command is either @fast or @slow.
    if !c.has(Category::Fast) {
        c = c.with(Category::Slow);
    }
    c
}

/// Why a request cannot run; the text is Redis's error reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// No command has this name.
    #[error("ERR unknown command '{name}', with args beginning with: {args}")]
    UnknownCommand {
        /// The name as given (shortened, made printable).
        name: String,
        /// The first arguments, quoted, as Redis shows them.
        args: String,
    },
    /// The container has no subcommand of this name.
    #[error("ERR unknown subcommand '{sub}'. Try {container} HELP.")]
    UnknownSubcommand {
        /// The container's name, upper-case.
        container: String,
        /// The subcommand as given (shortened, made printable).
        sub: String,
    },
    /// The argument count does not fit the arity; the command's full name.
    #[error("ERR wrong number of arguments for '{0}' command")]
    Arity(&'static str),
}

/// The longest piece of an argument error texts quote, as Redis's `%.128s`.
const QUOTE_MAX: usize = 128;

/// An argument as C's `%.Ns` prints it (up to a NUL byte, at most `max` bytes), with line
/// breaks made spaces so the error reply stays one line.
fn printable(arg: &[u8], max: usize) -> Vec<u8> {
    let end = arg.iter().position(|&b| b == 0).unwrap_or(arg.len());
    arg[..end.min(max)]
        .iter()
        .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect()
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8_lossy(&b).into_owned()
}

impl Rejection {
    /// The rejection of a request whose name is no command.
    pub fn unknown_command(args: &[&[u8]]) -> Rejection {
        let name = args.first().map_or(Vec::new(), |n| printable(n, QUOTE_MAX));
        // Redis quotes arguments until the text reaches 128 bytes, cutting the last one.
        let mut shown = Vec::new();
        for a in args.iter().skip(1) {
            if shown.len() >= QUOTE_MAX {
                break;
            }
            let room = QUOTE_MAX - shown.len();
            shown.push(b'\'');
            shown.extend(printable(a, room));
            shown.extend_from_slice(b"' ");
        }
        Rejection::UnknownCommand {
            name: text(name),
            args: text(shown),
        }
    }

    /// The rejection of an unknown subcommand `sub` of the container `parent`.
    pub fn unknown_subcommand(parent: CommandId, sub: &[u8]) -> Rejection {
        Rejection::UnknownSubcommand {
            container: spec(parent).name.to_ascii_uppercase(),
            sub: text(printable(sub, QUOTE_MAX)),
        }
    }
}

/// The command (or subcommand, for a container) a request runs, with its arity checked,
/// as Redis's `processCommand` finds it: a container named alone is the container itself.
pub fn resolve(args: &[&[u8]]) -> Result<CommandId, Rejection> {
    let Some(id) = args.first().and_then(|n| command_id(n)) else {
        return Err(Rejection::unknown_command(args));
    };
    resolve_from(id, args)
}

/// As [`resolve`], for a request whose command `top` was already looked up (the server
/// caches its last command name).
pub fn resolve_from(id: CommandId, args: &[&[u8]]) -> Result<CommandId, Rejection> {
    let id = match args.get(1) {
        Some(sub) if !subcommand_ids(id).is_empty() => {
            find_subcommand(id, sub).ok_or_else(|| Rejection::unknown_subcommand(id, sub))?
        }
        _ => id,
    };
    if spec(id).arity_ok(args.len()) {
        Ok(id)
    } else {
        Err(Rejection::Arity(full_name(id)))
    }
}

/// Checks a container command's subcommand and its arity; the error reply if it fails.
/// The top-level arity is the caller's to check (the server's order of checks).
pub fn check_subcommand(id: CommandId, args: &[&[u8]]) -> Result<(), String> {
    let Some(sub) = args.get(1) else {
        return Ok(());
    };
    if subcommand_ids(id).is_empty() {
        return Ok(());
    }
    match find_subcommand(id, sub) {
        None => Err(Rejection::unknown_subcommand(id, sub).to_string()),
        Some(s) if !spec(s).arity_ok(args.len()) => Err(Rejection::Arity(full_name(s)).to_string()),
        Some(_) => Ok(()),
    }
}
