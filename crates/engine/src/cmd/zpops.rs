//! Sorted-set pops: ZPOPMIN/ZPOPMAX, ZMPOP and the blocking BZPOPMIN/BZPOPMAX/BZMPOP.
//!
//! As with the list pops, a blocking command that finds nothing writes the reply of a
//! timeout (a null array) and records a block on the engine; the connection layer waits,
//! or, inside a transaction or a script, sends that reply as it is.

use super::lists::{block_on, timeout_arg};
use super::mpop_args;
use super::zsets::{by_rank, get_zset, reply_items};
use crate::Engine;
use crate::NotifyFlags as N;
use crate::args::Args;
use crate::error::{CmdError, CmdResult};
use concord_crdt::{Blob, OpKind};
use concord_resp::Out;

/// Which end of a sorted set a pop takes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// The lowest scores first.
    Min,
    /// The highest scores first.
    Max,
}

/// Removes up to `n` members from one end of the sorted set at `key`; returns them, with
/// their scores, in pop order. Reads at most `n` members, however large `n` is.
fn pop_end(e: &mut Engine, key: &[u8], n: usize, end: End) -> Result<Vec<(Blob, f64)>, CmdError> {
    let last = i64::try_from(n).unwrap_or(i64::MAX) - 1;
    let items = match get_zset(e, key)? {
        Some(z) if n > 0 => by_rank(z, 0, last, end == End::Max),
        _ => Vec::new(),
    };
    if !items.is_empty() {
        e.emit(
            key,
            OpKind::ZRem(items.iter().map(|(m, _)| m.clone()).collect()),
        );
        let event = match end {
            End::Min => "zpopmin",
            End::Max => "zpopmax",
        };
        e.notify_removal(N::ZSET, event, key);
    }
    Ok(items)
}

/// The first of `keys` that holds a sorted set; WRONGTYPE when the first existing key
/// holds another type (as Redis checks them, in order).
fn first_zset<'a>(e: &mut Engine, keys: &[&'a [u8]]) -> Result<Option<&'a [u8]>, CmdError> {
    for k in keys {
        if get_zset(e, k)?.is_some() {
            return Ok(Some(k));
        }
    }
    Ok(None)
}

/// ZPOPMIN / ZPOPMAX key [count]
pub fn zpop(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let end = if a.is(0, "zpopmax") {
        End::Max
    } else {
        End::Min
    };
    let count = match a.len() {
        2 => None,
        3 => {
            // Redis answers a count that is not a number as one out of range.
            let bad = || CmdError::msg("ERR value is out of range, must be positive");
            let c = a.int(2).map_err(|_| bad())?;
            Some(usize::try_from(c).map_err(|_| bad())?)
        }
        _ => return Err(CmdError::Syntax),
    };
    let items = pop_end(e, a.get(1), count.unwrap_or(1), end)?;
    if count.is_some() && out.resp3 {
        reply_items(out, &items, true);
    } else {
        out.array(items.len() * 2);
        for (m, s) in &items {
            out.bulk(m);
            out.double(*s);
        }
    }
    Ok(())
}

/// Parses ZMPOP's `numkeys key [key ...] MIN|MAX [COUNT count]` from argument `at`.
fn zmpop_args<'a>(a: &Args<'a>, at: usize) -> Result<(&'a [&'a [u8]], End, usize), CmdError> {
    let (keys, max, count) = mpop_args(a, at, ["min", "max"])?;
    Ok((keys, if max { End::Max } else { End::Min }, count))
}

/// Pops from the first sorted set of `keys`; writes `[key, [[member, score], ...]]`, or a
/// null array when every key is empty. Returns whether something was popped.
fn mpop(
    e: &mut Engine,
    keys: &[&[u8]],
    end: End,
    count: usize,
    out: &mut Out,
) -> Result<bool, CmdError> {
    let Some(key) = first_zset(e, keys)? else {
        out.null_array();
        return Ok(false);
    };
    let items = pop_end(e, key, count, end)?;
    out.array(2);
    out.bulk(key);
    out.array(items.len());
    for (m, s) in &items {
        out.array(2);
        out.bulk(m);
        out.double(*s);
    }
    Ok(true)
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
pub fn zmpop(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let (keys, end, count) = zmpop_args(&a, 1)?;
    mpop(e, keys, end, count, out)?;
    Ok(())
}

/// BZPOPMIN / BZPOPMAX key [key ...] timeout
pub fn bzpop(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let end = if a.is(0, "bzpopmax") {
        End::Max
    } else {
        End::Min
    };
    let timeout = timeout_arg(a.get(a.len() - 1), e.now())?;
    let keys = &a.0[1..a.len() - 1];
    if let Some(key) = first_zset(e, keys)?
        && let Some((m, s)) = pop_end(e, key, 1, end)?.first()
    {
        out.array(3);
        out.bulk(key);
        out.bulk(m);
        out.double(*s);
        return Ok(());
    }
    out.null_array();
    block_on(e, keys, timeout);
    Ok(())
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
pub fn bzmpop(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    // Redis parses the options before the timeout.
    let (keys, end, count) = zmpop_args(&a, 2)?;
    let timeout = timeout_arg(a.get(1), e.now())?;
    if !mpop(e, keys, end, count, out)? {
        block_on(e, keys, timeout);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::Engine;
    use crate::cmd::run_text as run;

    #[test]
    fn zmpop_pops_from_the_first_nonempty_set_and_bounds_its_arguments() {
        let mut e = Engine::new(Default::default());
        run(&mut e, &["zadd", "z", "1", "a", "2", "b", "3", "c"]);
        assert_eq!(
            run(&mut e, &["zmpop", "2", "nope", "z", "max", "count", "2"]),
            "*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"
        );
        // A count far beyond the set takes what is there.
        let huge = i64::MAX.to_string();
        assert_eq!(
            run(&mut e, &["zmpop", "1", "z", "min", "count", &huge]),
            "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
        );
        assert_eq!(run(&mut e, &["exists", "z"]), ":0\r\n");
        assert_eq!(run(&mut e, &["zmpop", "1", "z", "min"]), "*-1\r\n");
        let numkeys = "-ERR numkeys should be greater than 0\r\n";
        assert_eq!(run(&mut e, &["zmpop", "0", "z", "min"]), numkeys);
        assert_eq!(run(&mut e, &["zmpop", "x", "z", "min"]), numkeys);
        assert_eq!(run(&mut e, &["zmpop", "-1", "z", "min"]), numkeys);
        let syntax = "-ERR syntax error\r\n";
        assert_eq!(run(&mut e, &["zmpop", &huge, "z", "min"]), syntax);
        assert_eq!(run(&mut e, &["zmpop", "2", "z", "min"]), syntax);
        assert_eq!(run(&mut e, &["zmpop", "1", "z", "left"]), syntax);
        assert_eq!(
            run(
                &mut e,
                &["zmpop", "1", "z", "min", "count", "1", "count", "1"]
            ),
            syntax
        );
        let count = "-ERR count should be greater than 0\r\n";
        assert_eq!(
            run(&mut e, &["zmpop", "1", "z", "min", "count", "0"]),
            count
        );
        assert_eq!(
            run(&mut e, &["zmpop", "1", "z", "min", "count", "-3"]),
            count
        );
        assert_eq!(
            run(&mut e, &["zmpop", "1", "z", "min", "count", "x"]),
            count
        );
        run(&mut e, &["set", "s", "v"]);
        assert!(run(&mut e, &["zmpop", "2", "s", "z", "min"]).starts_with("-WRONGTYPE"));
    }

    #[test]
    fn blocking_pops_answer_at_once_or_record_a_block() {
        let mut e = Engine::new(Default::default());
        run(&mut e, &["zadd", "z", "1", "a", "2", "b"]);
        assert_eq!(
            run(&mut e, &["bzpopmax", "y", "z", "0"]),
            "*3\r\n$1\r\nz\r\n$1\r\nb\r\n$1\r\n2\r\n"
        );
        assert!(e.take_block().is_none());
        assert_eq!(run(&mut e, &["bzpopmin", "y", "0.5"]), "*-1\r\n");
        let b = e.take_block().expect("blocks");
        assert_eq!((b.keys.len(), b.timeout_ms), (1, 500));
        assert_eq!(run(&mut e, &["bzmpop", "1", "1", "y", "min"]), "*-1\r\n");
        assert_eq!(e.take_block().map(|b| b.timeout_ms), Some(1000));
        assert_eq!(
            run(&mut e, &["bzpopmin", "z", "-1"]),
            "-ERR timeout is negative\r\n"
        );
        for huge in ["1e300", "inf", "1e400", "9223372036854775.807"] {
            assert_eq!(
                run(&mut e, &["bzpopmin", "z", huge]),
                "-ERR timeout is out of range\r\n",
                "{huge}"
            );
        }
        for bad in ["x", " 1", "1 ", "", "1e5000", "nan"] {
            assert_eq!(
                run(&mut e, &["bzpopmin", "z", bad]),
                "-ERR timeout is not a float or out of range\r\n",
                "{bad:?}"
            );
        }
        assert_eq!(
            run(&mut e, &["bzpopmin", "z", "-inf"]),
            "-ERR timeout is negative\r\n"
        );
        // A tiny negative timeout rounds to 0 (forever); a tiny positive one to 1 ms.
        assert_eq!(run(&mut e, &["bzpopmin", "y", "-0.0001"]), "*-1\r\n");
        assert_eq!(e.take_block().map(|b| b.timeout_ms), Some(0));
        assert_eq!(run(&mut e, &["bzpopmin", "y", "1e-400"]), "*-1\r\n");
        assert_eq!(e.take_block().map(|b| b.timeout_ms), Some(1));
        // Large timeouts Redis 7.2 accepts are accepted.
        assert_eq!(run(&mut e, &["bzpopmin", "y", "1e13"]), "*-1\r\n");
        assert_eq!(
            e.take_block().map(|b| b.timeout_ms),
            Some(10_000_000_000_000_000)
        );
        assert_eq!(
            run(&mut e, &["bzmpop", "x", "1", "z", "min"]),
            "-ERR timeout is not a float or out of range\r\n"
        );
        // Options are checked before the timeout.
        assert_eq!(
            run(&mut e, &["bzmpop", "x", "1", "z", "mid"]),
            "-ERR syntax error\r\n"
        );
        assert!(e.take_block().is_none());
    }
}
