//! COMMAND: what the command table says about the commands, in Redis 7.2's reply shapes.

use crate::Engine;
use crate::args::Args;
use crate::error::{CmdError, CmdResult};
use crate::table::docs_types::{Arg, Doc, MULTIPLE, MULTIPLE_TOKEN, OPTIONAL, doc};
use crate::table::{
    BeginSearch, COMMANDS, CommandId, FindKeys, Flags, KeySpec, Rejection, acl_categories,
    command_id, find_subcommand, full_name, has_keys, keys, legacy_range, lookup_full_name,
    movable_keys, spec, subcommand_ids,
};
use concord_acl::Category;
use concord_resp::Out;

/// COMMAND [COUNT | INFO [name ...] | DOCS [name ...] | LIST [FILTERBY ...] |
/// GETKEYS command [arg ...] | GETKEYSANDFLAGS command [arg ...] | HELP]
pub fn command(_e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    if a.len() == 1 {
        all_info(out);
        return Ok(());
    }
    match a.upper(1).as_str() {
        "COUNT" => out.int(COMMANDS.len() as i64),
        "INFO" if a.len() == 2 => all_info(out),
        "INFO" => {
            out.array(a.len() - 2);
            for n in a.from(2) {
                match lookup_full_name(n) {
                    Some(id) => info(id, out),
                    None => out.null(),
                }
            }
        }
        "DOCS" if a.len() == 2 => {
            out.map(COMMANDS.len());
            for id in 0..COMMANDS.len() {
                out.bulk(full_name(id).as_bytes());
                docs(id, out);
            }
        }
        "DOCS" => {
            // Unknown names are left out, so count the known ones first.
            let found: Vec<CommandId> = a
                .from(2)
                .iter()
                .filter_map(|n| lookup_full_name(n))
                .collect();
            out.map(found.len());
            for id in found {
                out.bulk(full_name(id).as_bytes());
                docs(id, out);
            }
        }
        "LIST" => list(a, out)?,
        "GETKEYS" => getkeys(a.from(2), false, out)?,
        "GETKEYSANDFLAGS" => getkeys(a.from(2), true, out)?,
        "HELP" => help(out),
        _ => {
            // The table's subcommands are what the caller checked against; this is a slip.
            let id = command_id(b"command").ok_or(CmdError::Syntax)?;
            return Err(CmdError::msg(
                Rejection::unknown_subcommand(id, a.get(1)).to_string(),
            ));
        }
    }
    Ok(())
}

/// Every top-level command's COMMAND INFO.
fn all_info(out: &mut Out) {
    out.array(COMMANDS.len());
    for id in 0..COMMANDS.len() {
        info(id, out);
    }
}

/// One command's COMMAND INFO: name, arity, flags, first/last/step, ACL categories, tips,
/// key specs, subcommands.
fn info(id: CommandId, out: &mut Out) {
    let s = spec(id);
    let (first, last, step) = legacy_range(id);
    let flags = if movable_keys(id) {
        s.flags | Flags::MOVABLE_KEYS
    } else {
        s.flags
    };
    out.array(10);
    out.bulk(full_name(id).as_bytes());
    out.int(i64::from(s.arity));
    simple_set(&flags.names(), out);
    out.int(i64::from(first));
    out.int(i64::from(last));
    out.int(i64::from(step));
    let cats: Vec<String> = acl_categories(id)
        .iter()
        .map(|c: Category| format!("@{}", c.name()))
        .collect();
    out.set(cats.len());
    for c in &cats {
        out.simple(c);
    }
    // Tips (request and response policies) are not part of the table.
    out.set(0);
    out.set(s.keys.len());
    for k in s.keys {
        key_spec(k, out);
    }
    let subs = subcommand_ids(id);
    if subs.is_empty() {
        out.set(0);
    } else {
        out.array(subs.len());
        for &sub in subs {
            info(sub, out);
        }
    }
}

/// Names as a set of status replies, the way Redis lists flags.
fn simple_set(names: &[&str], out: &mut Out) {
    out.set(names.len());
    for n in names {
        out.simple(n);
    }
}

/// A key spec as a map: flags, begin_search, find_keys.
fn key_spec(k: &KeySpec, out: &mut Out) {
    out.map(3);
    out.bulk(b"flags");
    simple_set(&k.flags.names(), out);
    out.bulk(b"begin_search");
    out.map(2);
    out.bulk(b"type");
    match k.begin {
        BeginSearch::Index(pos) => {
            out.bulk(b"index");
            out.bulk(b"spec");
            out.map(1);
            out.bulk(b"index");
            out.int(i64::from(pos));
        }
        BeginSearch::Keyword {
            keyword,
            start_from,
        } => {
            out.bulk(b"keyword");
            out.bulk(b"spec");
            out.map(2);
            out.bulk(b"keyword");
            out.bulk(keyword.as_bytes());
            out.bulk(b"startfrom");
            out.int(i64::from(start_from));
        }
        BeginSearch::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
        }
    }
    out.bulk(b"find_keys");
    out.map(2);
    out.bulk(b"type");
    match k.find {
        FindKeys::Range {
            last_key,
            step,
            limit,
        } => {
            out.bulk(b"range");
            out.bulk(b"spec");
            out.map(3);
            out.bulk(b"lastkey");
            out.int(i64::from(last_key));
            out.bulk(b"keystep");
            out.int(i64::from(step));
            out.bulk(b"limit");
            out.int(i64::from(limit));
        }
        FindKeys::KeyNum {
            key_num_idx,
            first_key,
            step,
        } => {
            out.bulk(b"keynum");
            out.bulk(b"spec");
            out.map(3);
            out.bulk(b"keynumidx");
            out.int(i64::from(key_num_idx));
            out.bulk(b"firstkey");
            out.int(i64::from(first_key));
            out.bulk(b"keystep");
            out.int(i64::from(step));
        }
        FindKeys::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
        }
    }
}

/// One command's COMMAND DOCS, in Redis's order: summary, since, group, complexity,
/// doc flags, deprecation, history, arguments (from Redis's metadata, where Concord's
/// own commands have none), and its subcommands' docs.
fn docs(id: CommandId, out: &mut Out) {
    let s = spec(id);
    let subs = subcommand_ids(id);
    let d = doc(full_name(id));
    let text = |f: fn(&Doc) -> &'static str| d.map(f).filter(|t| !t.is_empty());
    let summary = text(|d| d.summary);
    let complexity = text(|d| d.complexity);
    let deprecated = text(|d| d.deprecated_since);
    let replaced = text(|d| d.replaced_by);
    let doc_flags = d.map_or(&[][..], |d| d.doc_flags);
    let history = d.map_or(&[][..], |d| d.history);
    let args = d.map_or(&[][..], |d| d.args);
    let n = 2
        + [summary, complexity, deprecated, replaced]
            .iter()
            .filter(|t| t.is_some())
            .count()
        + usize::from(!doc_flags.is_empty())
        + usize::from(!history.is_empty())
        + usize::from(!args.is_empty())
        + usize::from(!subs.is_empty());
    out.map(n);
    if let Some(t) = summary {
        out.bulk(b"summary");
        out.bulk(t.as_bytes());
    }
    out.bulk(b"since");
    out.bulk(s.since.as_bytes());
    out.bulk(b"group");
    // The table keeps the metadata's names; COMMAND DOCS spells `sorted_set` Redis's way.
    out.bulk(s.group.replace('_', "-").as_bytes());
    if let Some(t) = complexity {
        out.bulk(b"complexity");
        out.bulk(t.as_bytes());
    }
    if !doc_flags.is_empty() {
        out.bulk(b"doc_flags");
        simple_set(doc_flags, out);
    }
    if let Some(t) = deprecated {
        out.bulk(b"deprecated_since");
        out.bulk(t.as_bytes());
    }
    if let Some(t) = replaced {
        out.bulk(b"replaced_by");
        out.bulk(t.as_bytes());
    }
    if !history.is_empty() {
        out.bulk(b"history");
        out.set(history.len());
        for (version, change) in history {
            out.array(2);
            out.bulk(version.as_bytes());
            out.bulk(change.as_bytes());
        }
    }
    if !args.is_empty() {
        out.bulk(b"arguments");
        arg_list(args, out);
    }
    if !subs.is_empty() {
        out.bulk(b"subcommands");
        out.map(subs.len());
        for &sub in subs {
            out.bulk(full_name(sub).as_bytes());
            docs(sub, out);
        }
    }
}

/// Arguments as COMMAND DOCS lists them: each a map of what it has.
fn arg_list(args: &[Arg], out: &mut Out) {
    out.array(args.len());
    for a in args {
        let nested = a.kind == "oneof" || a.kind == "block";
        let n = 2
            + usize::from(!nested)
            + usize::from(a.key_spec >= 0)
            + [a.token, a.summary, a.since, a.deprecated_since]
                .iter()
                .filter(|t| !t.is_empty())
                .count()
            + usize::from(a.flags != 0)
            + usize::from(nested);
        out.map(n);
        out.bulk(b"name");
        out.bulk(a.name.as_bytes());
        out.bulk(b"type");
        out.bulk(a.kind.as_bytes());
        if !nested {
            out.bulk(b"display_text");
            let shown = if a.display.is_empty() {
                a.name
            } else {
                a.display
            };
            out.bulk(shown.as_bytes());
        }
        if a.key_spec >= 0 {
            out.bulk(b"key_spec_index");
            out.int(i64::from(a.key_spec));
        }
        for (field, value) in [
            ("token", a.token),
            ("summary", a.summary),
            ("since", a.since),
            ("deprecated_since", a.deprecated_since),
        ] {
            if !value.is_empty() {
                out.bulk(field.as_bytes());
                out.bulk(value.as_bytes());
            }
        }
        if a.flags != 0 {
            out.bulk(b"flags");
            let names: Vec<&str> = [
                (OPTIONAL, "optional"),
                (MULTIPLE, "multiple"),
                (MULTIPLE_TOKEN, "multiple_token"),
            ]
            .iter()
            .filter(|(bit, _)| a.flags & bit != 0)
            .map(|(_, name)| *name)
            .collect();
            simple_set(&names, out);
        }
        if nested {
            out.bulk(b"arguments");
            arg_list(a.args, out);
        }
    }
}

/// Which commands COMMAND LIST keeps.
enum Filter<'a> {
    All,
    /// Commands of a module: Concord has none.
    Module,
    /// Commands in an ACL category (none for an unknown category).
    Category(Option<Category>),
    /// Commands whose full name matches a glob pattern, ignoring case.
    Pattern(&'a [u8]),
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: full names,
/// each container followed by its subcommands.
fn list(a: Args, out: &mut Out) -> CmdResult {
    let mut filter = Filter::All;
    let mut i = 2;
    while i < a.len() {
        // FILTERBY must come with exactly its two arguments.
        if !a.is(i, "filterby") || a.len() - 1 - i != 2 {
            return Err(CmdError::Syntax);
        }
        let arg = a.get(i + 2);
        filter = if a.is(i + 1, "module") {
            Filter::Module
        } else if a.is(i + 1, "aclcat") {
            Filter::Category(std::str::from_utf8(arg).ok().and_then(Category::parse))
        } else if a.is(i + 1, "pattern") {
            Filter::Pattern(arg)
        } else {
            return Err(CmdError::Syntax);
        };
        i += 3;
    }
    let names: Vec<&str> = (0..COMMANDS.len())
        .flat_map(|id| std::iter::once(id).chain(subcommand_ids(id).iter().copied()))
        .filter(|&id| match &filter {
            Filter::All => true,
            Filter::Module => false,
            Filter::Category(c) => c.is_some_and(|c| acl_categories(id).has(c)),
            Filter::Pattern(p) => crate::glob_match(p, full_name(id).as_bytes(), true),
        })
        .map(full_name)
        .collect();
    out.array(names.len());
    for n in names {
        out.bulk(n.as_bytes());
    }
    Ok(())
}

/// The command a request names, its subcommand found as Redis's `lookupCommand` finds
/// it, without an arity check.
fn lookup_request(args: &[&[u8]]) -> Option<CommandId> {
    let id = command_id(args.first()?)?;
    match args.get(1) {
        Some(sub) if !subcommand_ids(id).is_empty() => find_subcommand(id, sub),
        _ => Some(id),
    }
}

/// COMMAND GETKEYS / GETKEYSANDFLAGS: the keys of `args`, a whole request.
fn getkeys(args: &[&[u8]], with_flags: bool, out: &mut Out) -> CmdResult {
    let Some(id) = lookup_request(args) else {
        return Err(CmdError::msg("ERR Invalid command specified"));
    };
    if !has_keys(id) {
        return Err(CmdError::msg("ERR The command has no key arguments"));
    }
    let s = spec(id);
    if !s.arity_ok(args.len()) {
        return Err(CmdError::msg(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let found = keys(id, args);
    if found.is_empty() {
        if s.flags.has(Flags::NO_MANDATORY_KEYS) {
            out.array(0);
            return Ok(());
        }
        return Err(CmdError::msg("ERR Invalid arguments specified for command"));
    }
    out.array(found.len());
    for k in found {
        if with_flags {
            out.array(2);
            out.bulk(args[k.pos]);
            simple_set(&k.flags.names(), out);
        } else {
            out.bulk(args[k.pos]);
        }
    }
    Ok(())
}

/// COMMAND HELP
fn help(out: &mut Out) {
    out.help(
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about every command.",
            "COUNT",
            "    Return how many commands there are.",
            "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
            "    Return the command names, or only those that match the filter.",
            "INFO [<command-name> ...]",
            "    Return details about the named commands, or about every command when none",
            "    is named.",
            "DOCS [<command-name> ...]",
            "    Return documentation of the named commands, or of every command when none is",
            "    named.",
            "GETKEYS <full-command>",
            "    Return the keys a full command would access.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys a full command would access, and how it would use each.",
        ],
    );
}
