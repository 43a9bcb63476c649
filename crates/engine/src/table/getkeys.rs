//! Commands' own key finders, for what key specs cannot say: flags that depend on the
//! arguments (SET with GET, BITFIELD with only GETs) and the fallback when a spec does not
//! fit the arguments. Each follows the matching Redis function's rules, including what it
//! returns for malformed requests (usually no keys), and never reads past the arguments.

use super::spec::{KeyFlags, KeyRef, KeyRefs};

/// Whether an argument equals `word` ignoring ASCII case, compared as C strings: Redis's
/// `strcasecmp` stops at a NUL byte, so `get\0x` is `get` there and here alike.
pub(super) fn c_eq(arg: &[u8], word: &str) -> bool {
    let end = arg.iter().position(|&b| b == 0).unwrap_or(arg.len());
    arg[..end].eq_ignore_ascii_case(word.as_bytes())
}

/// C's `atoi` as glibc has it: leading white space, a sign, digits up to the first other
/// byte (a NUL ends the string), saturated to 64 bits by `strtol`, then cut to an `int`.
fn atoi(arg: &[u8]) -> i32 {
    let mut it = arg
        .iter()
        .copied()
        .take_while(|&b| b != 0)
        .skip_while(|&b| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .peekable();
    let neg = match it.peek() {
        Some(b'-') => {
            it.next();
            true
        }
        Some(b'+') => {
            it.next();
            false
        }
        _ => false,
    };
    let mut v: i64 = 0;
    for b in it.take_while(u8::is_ascii_digit) {
        let d = i64::from(b - b'0');
        v = if neg {
            v.saturating_mul(10).saturating_sub(d)
        } else {
            v.saturating_mul(10).saturating_add(d)
        };
    }
    // `(int)` of a long keeps the low 32 bits.
    v as i32
}

/// One key, when the request has that argument.
fn one(args: &[&[u8]], pos: usize, flags: KeyFlags) -> KeyRefs {
    let mut k = KeyRefs::new();
    if pos < args.len() {
        k.push(KeyRef { pos, flags });
    }
    k
}

/// A counted list of keys: the count at `count_at`, the keys from `first` every `step`,
/// then the destination at `store` if any (Redis's `genericGetKeys`, flags left empty).
fn counted(
    args: &[&[u8]],
    store: Option<usize>,
    count_at: usize,
    first: usize,
    step: usize,
) -> KeyRefs {
    let mut k = KeyRefs::new();
    let (Some(count), Some(room)) = (args.get(count_at), args.len().checked_sub(first)) else {
        return k;
    };
    let n = atoi(count);
    // No keys when the command will refuse the count anyway.
    let Ok(n) = usize::try_from(n) else {
        return k;
    };
    if n < 1 || n > room / step {
        return k;
    }
    k.extend((0..n).map(|i| KeyRef {
        pos: first + i * step,
        flags: KeyFlags::NONE,
    }));
    if let Some(s) = store {
        k.push(KeyRef {
            pos: s,
            flags: KeyFlags::NONE,
        });
    }
    k
}

/// SET key value [... GET ...]: the key is read (and returned) only with GET.
pub(super) fn set(args: &[&[u8]]) -> KeyRefs {
    let get = args.iter().skip(3).any(|a| c_eq(a, "get"));
    let flags = if get {
        KeyFlags::RW | KeyFlags::ACCESS | KeyFlags::UPDATE
    } else {
        KeyFlags::OW | KeyFlags::UPDATE
    };
    one(args, 1, flags)
}

/// BITFIELD key [GET|SET|INCRBY|OVERFLOW ...]: read-only when every operation is a GET
/// (a malformed one counts as a write, to be safe).
pub(super) fn bitfield(args: &[&[u8]]) -> KeyRefs {
    let mut readonly = true;
    let mut i = 2;
    while i < args.len() {
        let rest = args.len() - i - 1;
        let a = args[i];
        if c_eq(a, "get") && rest >= 2 {
            i += 3;
        } else if (c_eq(a, "set") || c_eq(a, "incrby")) && rest >= 3 {
            readonly = false;
            break;
        } else if c_eq(a, "overflow") && rest >= 1 {
            i += 2;
        } else {
            readonly = false;
            break;
        }
    }
    let flags = if readonly {
        KeyFlags::RO | KeyFlags::ACCESS
    } else {
        KeyFlags::RW | KeyFlags::ACCESS | KeyFlags::UPDATE
    };
    one(args, 1, flags)
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
pub(super) fn sintercard(args: &[&[u8]]) -> KeyRefs {
    counted(args, None, 1, 2, 1)
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count], and ZMPOP (MIN|MAX).
pub(super) fn lmpop(args: &[&[u8]]) -> KeyRefs {
    counted(args, None, 1, 2, 1)
}

/// EVAL/EVALSHA/FCALL (and their _RO forms) script numkeys key [key ...] arg [arg ...]
pub(super) fn eval(args: &[&[u8]]) -> KeyRefs {
    counted(args, None, 2, 3, 1)
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count], and BZMPOP (MIN|MAX).
pub(super) fn blmpop(args: &[&[u8]]) -> KeyRefs {
    counted(args, None, 2, 3, 1)
}

/// ZUNION/ZINTER/ZDIFF/ZINTERCARD numkeys key [key ...] [options]
pub(super) fn zunion_inter_diff(args: &[&[u8]]) -> KeyRefs {
    counted(args, None, 1, 2, 1)
}

/// ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE destination numkeys key [key ...] [options]
pub(super) fn zunion_inter_diff_store(args: &[&[u8]]) -> KeyRefs {
    counted(args, Some(1), 2, 3, 1)
}

/// XREAD/XREADGROUP [options] STREAMS key [key ...] id [id ...]: half of what follows the
/// first STREAMS that is not an option's value are keys.
pub(super) fn xread(args: &[&[u8]]) -> KeyRefs {
    let mut k = KeyRefs::new();
    let mut streams = None;
    let mut i = 1;
    while i < args.len() {
        let a = args[i];
        if c_eq(a, "block") || c_eq(a, "count") {
            i += 2;
        } else if c_eq(a, "group") {
            i += 3;
        } else if c_eq(a, "noack") {
            i += 1;
        } else if c_eq(a, "streams") {
            streams = Some(i);
            break;
        } else {
            break;
        }
    }
    let Some(at) = streams else {
        return k;
    };
    let rest = args.len() - at - 1;
    if rest == 0 || !rest.is_multiple_of(2) {
        return k;
    }
    k.extend((at + 1..at + 1 + rest / 2).map(|pos| KeyRef {
        pos,
        flags: KeyFlags::NONE,
    }));
    k
}

/// GEORADIUS/GEORADIUSBYMEMBER key ... [STORE key | STOREDIST key]: the source, and the
/// last destination given.
pub(super) fn georadius(args: &[&[u8]]) -> KeyRefs {
    let mut k = one(args, 1, KeyFlags::NONE);
    let mut store = None;
    let mut i = 5;
    while i < args.len() {
        if (c_eq(args[i], "store") || c_eq(args[i], "storedist")) && i + 1 < args.len() {
            store = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    if let Some(pos) = store
        && !k.is_empty()
    {
        k.push(KeyRef {
            pos,
            flags: KeyFlags::NONE,
        });
    }
    k
}

/// SORT key [options]: the key, and the destination of the last STORE. Options are
/// skipped as Redis's `sortGetKeys` skips them (LIMIT takes two arguments, GET and BY
/// one, anything else none; the word after STORE is looked at as an option too).
pub(super) fn sort(args: &[&[u8]]) -> KeyRefs {
    let mut k = one(args, 1, KeyFlags::RO | KeyFlags::ACCESS);
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        let a = args[i];
        if c_eq(a, "limit") {
            i += 2;
        } else if c_eq(a, "get") || c_eq(a, "by") {
            i += 1;
        } else if c_eq(a, "store") && i + 1 < args.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    if let Some(pos) = store {
        k.push(KeyRef {
            pos,
            flags: KeyFlags::OW | KeyFlags::UPDATE,
        });
    }
    k
}

/// SORT_RO key [options]: only the key (BY and GET patterns are not key names).
pub(super) fn sort_ro(args: &[&[u8]]) -> KeyRefs {
    one(args, 1, KeyFlags::RO | KeyFlags::ACCESS)
}

/// MIGRATE: the key argument, or with `KEYS` (and an empty key argument) every argument
/// after it; `AUTH` and `AUTH2` take their arguments along (Redis's migrateGetKeys).
pub(super) fn migrate(args: &[&[u8]]) -> KeyRefs {
    let (mut first, mut num) = (3, 1);
    let mut i = 6;
    while i < args.len() {
        if c_eq(args[i], "auth") {
            i += 1;
        } else if c_eq(args[i], "auth2") {
            if args.len() - i < 3 {
                break;
            }
            i += 2;
        } else if c_eq(args[i], "keys") {
            if args.get(3).is_some_and(|k| !k.is_empty()) {
                break;
            }
            first = i + 1;
            num = args.len() - first;
            break;
        }
        i += 1;
    }
    (first..first + num)
        .filter(|&pos| pos < args.len())
        .map(|pos| KeyRef {
            pos,
            flags: KeyFlags::RW | KeyFlags::ACCESS | KeyFlags::DELETE,
        })
        .collect()
}
