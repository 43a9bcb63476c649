//! What the table says about a request's keys and channels: key specs applied to arguments
//! as Redis's `getKeysFromCommandWithSpecs` applies them, and the legacy first/last/step
//! range COMMAND INFO still shows.
//!
//! Every function here takes hostile arguments: counts that are huge, negative or not
//! numbers, keywords at the very end, too few arguments. None panics, and none allocates
//! more than one entry per argument.

use super::getkeys::c_eq;
use super::index::{CommandId, spec};
use super::spec::{
    BeginSearch, ChannelRef, ChannelRole, Channels, FindKeys, KeyFlags, KeyRef, KeyRefs, KeySpec,
};
use smallvec::SmallVec;

/// The keys of a request (`args[0]` is the command name; for a subcommand, `args[1]` is
/// its name), with how the command uses each. Key specs give them, unless one declares
/// variable flags or they fail on these arguments: then the command's own finder does, as
/// in Redis. Empty when the arguments are malformed.
pub fn keys(id: CommandId, args: &[&[u8]]) -> KeyRefs {
    let s = spec(id);
    let has_key_spec = s.keys.iter().any(|k| !k.flags.has(KeyFlags::NOT_KEY));
    let variable = s.keys.iter().any(|k| k.flags.has(KeyFlags::VARIABLE_FLAGS));
    if has_key_spec
        && !variable
        && let Some(found) = by_specs(s.keys, args)
    {
        return found;
    }
    let mut found = s.getkeys.map(|f| f(args)).unwrap_or_default();
    // The finders guard their positions; this keeps a slip from reaching an index.
    found.retain(|k| k.pos < args.len());
    found
}

/// Whether the command may have keys at all (COMMAND GETKEYS refuses those that cannot).
pub fn has_keys(id: CommandId) -> bool {
    let s = spec(id);
    s.getkeys.is_some() || s.keys.iter().any(|k| !k.flags.has(KeyFlags::NOT_KEY))
}

/// The keys every spec finds, in spec order; `None` when a spec does not fit the arguments
/// (or is incomplete), so the command's own finder must decide.
fn by_specs(specs: &[KeySpec], args: &[&[u8]]) -> Option<KeyRefs> {
    // Argument counts fit in i64 with room: no arithmetic below overflows.
    let argc = args.len() as i64;
    let mut found = KeyRefs::new();
    for k in specs {
        if k.flags.has(KeyFlags::NOT_KEY) {
            continue;
        }
        let first = match k.begin {
            BeginSearch::Index(pos) => i64::from(pos),
            BeginSearch::Keyword {
                keyword,
                start_from,
            } => match find_keyword(args, keyword, i64::from(start_from)) {
                Some(at) => at + 1,
                // No keyword, no keys from this spec: not an error.
                None => continue,
            },
            BeginSearch::Unknown => return None,
        };
        let (first, last, step) = match k.find {
            FindKeys::Range {
                last_key,
                step,
                limit,
            } => {
                let last_key = i64::from(last_key);
                let last = if last_key >= 0 {
                    first + last_key
                } else if limit == 0 {
                    argc + last_key
                } else {
                    // Only 1/limit of what follows holds keys (XREAD's STREAMS k1 k2 id1 id2).
                    first + ((argc - first) / i64::from(limit) + last_key)
                };
                (first, last, i64::from(step))
            }
            FindKeys::KeyNum {
                key_num_idx,
                first_key,
                step,
            } => {
                let at = usize::try_from(first + i64::from(key_num_idx)).ok()?;
                let n = concord_crdt::num::parse_i64(args.get(at)?)?;
                if n < 0 {
                    return None;
                }
                // Redis keeps the count in a C int: it wraps, as there.
                let n = i64::from(n as i32);
                let first = first + i64::from(first_key);
                (first, first + n - 1, i64::from(step))
            }
            FindKeys::Unknown => return None,
        };
        if last >= argc || last < first || first >= argc || first < 0 {
            return None;
        }
        let mut i = first;
        while i <= last {
            // In range: 0 <= first <= i <= last < argc.
            found.push(KeyRef {
                pos: i as usize,
                flags: k.flags,
            });
            i += step.max(1);
        }
        if k.flags.has(KeyFlags::INCOMPLETE) {
            return None;
        }
    }
    Some(found)
}

/// Where `keyword` is, searching from `start_from` towards the end (backwards from the
/// end when it is negative), as Redis searches: the last argument is never taken, since a
/// key must follow.
fn find_keyword(args: &[&[u8]], keyword: &str, start_from: i64) -> Option<i64> {
    let argc = args.len() as i64;
    let (start, end) = if start_from > 0 {
        (start_from, argc - 1)
    } else {
        (argc + start_from, 1)
    };
    let up = start <= end;
    let mut i = start;
    while i != end {
        if i >= argc || i < 1 {
            return None;
        }
        if c_eq(args[i as usize], keyword) {
            return Some(i);
        }
        i += if up { 1 } else { -1 };
    }
    None
}

/// The channel arguments of a request and what it does with each.
pub fn channels(id: CommandId, args: &[&[u8]]) -> SmallVec<[ChannelRef; 4]> {
    let (role, pattern, count) = match spec(id).channels {
        Channels::None => return SmallVec::new(),
        Channels::Publish => (ChannelRole::Publish, false, Some(1)),
        Channels::Subscribe => (ChannelRole::Subscribe, false, None),
        Channels::SubscribePattern => (ChannelRole::Subscribe, true, None),
        Channels::Unsubscribe => (ChannelRole::Unsubscribe, false, None),
        Channels::UnsubscribePattern => (ChannelRole::Unsubscribe, true, None),
    };
    let end = count.map_or(args.len(), |n: usize| (1 + n).min(args.len()));
    (1..end)
        .map(|pos| ChannelRef { pos, pattern, role })
        .collect()
}

/// The legacy (first, last, step) key range of COMMAND INFO, derived from the key specs as
/// Redis's `populateCommandLegacyRangeSpec` does: (0, 0, 0) when no plain range covers
/// the keys.
#[inline]
pub fn legacy_range(id: CommandId) -> (i32, i32, i32) {
    legacy_cached(id).0
}

/// Whether key positions depend on the arguments (COMMAND INFO's `movablekeys`).
#[inline]
pub fn movable_keys(id: CommandId) -> bool {
    legacy_cached(id).1
}

/// [`legacy`] of every command, worked out once: requests ask for it all the time (key
/// prefetching, ACL checks).
#[inline]
fn legacy_cached(id: CommandId) -> Legacy {
    static ALL: std::sync::OnceLock<Vec<Legacy>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| (0..super::command_count()).map(legacy).collect())
        .get(id)
        .copied()
        .unwrap_or(((0, 0, 0), false))
}

/// A legacy (first, last, step) range and whether the keys are movable.
type Legacy = ((i32, i32, i32), bool);

/// The legacy range and whether the keys are movable.
fn legacy(id: CommandId) -> Legacy {
    let specs = spec(id).keys;
    let plain = |k: &KeySpec| match (k.begin, k.find) {
        (BeginSearch::Index(pos), FindKeys::Range { last_key, step, .. }) => {
            Some((pos, last_key, step))
        }
        _ => None,
    };
    if let [only] = specs
        && let Some((pos, last_key, step)) = plain(only)
    {
        // One range spec is the legacy range itself.
        let last = if last_key >= 0 {
            pos + last_key
        } else {
            last_key
        };
        let movable = only.flags.has(KeyFlags::INCOMPLETE);
        return ((pos, last, step), movable);
    }
    let mut movable = false;
    let mut first = i32::MAX;
    let mut last: i32 = 0;
    let mut prev_last: i32 = 0;
    for k in specs {
        let Some((pos, last_key, step)) = plain(k) else {
            movable = true;
            continue;
        };
        // Only consecutive ranges of single steps merge into one legacy range.
        if step != 1 || (prev_last != 0 && prev_last != pos - 1) {
            movable = true;
            continue;
        }
        if k.flags.has(KeyFlags::INCOMPLETE) {
            movable = true;
        }
        first = first.min(pos);
        let abs_last = if last_key >= 0 {
            last_key + pos
        } else {
            last_key
        };
        // Compared unsigned, as Redis does: a negative (from the end) last key wins.
        last = (last as u32).max(abs_last as u32) as i32;
        prev_last = last;
    }
    if first == i32::MAX {
        return ((0, 0, 0), movable || !specs.is_empty());
    }
    ((first, last, 1), movable)
}
