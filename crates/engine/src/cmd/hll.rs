//! HyperLogLog: PFADD, PFCOUNT, PFMERGE on Redis's estimator and representation.

use super::{prepare_create, typed};
use crate::Engine;
use crate::NotifyFlags as N;
use crate::args::Args;
use crate::error::{CmdError, CmdResult};
use concord_crdt::hll::{HllError, Registers, decode, pattern};
use concord_crdt::{Counted, Kind, OpKind};
use concord_resp::Out;

fn not_hll() -> CmdError {
    CmdError::msg("WRONGTYPE Key is not a valid HyperLogLog string value.")
}

/// The registers of the HLL at `key`: `None` when absent; an error when it holds another
/// type or a string that is not an HLL.
fn registers(e: &mut Engine, key: &[u8]) -> Result<Option<Registers>, CmdError> {
    Ok(stored(e, key)?.map(|(r, _)| r))
}

/// Like [`registers`], and whether they are stored as a HyperLogLog (not as a string that
/// happens to hold one).
fn stored(e: &mut Engine, key: &[u8]) -> Result<Option<(Registers, bool)>, CmdError> {
    let Some(ks) = typed(e, key, Kind::Str)? else {
        return Ok(None);
    };
    if ks.visible() == Some(Kind::Hll) {
        return Ok(ks.hll.as_ref().map(|h| (h.regs.clone(), true)));
    }
    let v = ks.string.as_deref().map(Counted::read).unwrap_or_default();
    match decode(&v) {
        Ok(r) => Ok(Some((r, false))),
        Err(HllError::NotHll) => Err(not_hll()),
        Err(HllError::Corrupt) => Err(CmdError::msg("INVALIDOBJ Corrupted HLL object detected")),
    }
}

/// PFADD key [element ...]
pub fn pfadd(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let key = a.get(1);
    // An HLL already and a few elements: compare with its registers in place (a copy of
    // 16 KB of registers would cost more than the add).
    let in_place = typed(e, key, Kind::Str)?
        .filter(|ks| ks.visible() == Some(Kind::Hll) && a.len() - 2 <= 32)
        .and_then(|ks| ks.hll.as_ref());
    let raised = match in_place {
        Some(h) => {
            let mut raised: Vec<(u16, u8)> = Vec::new();
            for el in a.from(2) {
                let (i, v) = pattern(el);
                let was = raised
                    .iter()
                    .find(|r| r.0 == i)
                    .map_or_else(|| h.regs.get(usize::from(i)), |r| r.1);
                if v > was {
                    raised.retain(|r| r.0 != i);
                    raised.push((i, v));
                }
            }
            if raised.is_empty() {
                out.int(0);
                return Ok(());
            }
            Some(raised)
        }
        _ => None,
    };
    let (created, raised) = match raised {
        Some(raised) => (false, raised),
        None => {
            let current = stored(e, key)?;
            let created = current.as_ref().is_none_or(|(_, hll)| !hll);
            let (mut regs, _) = current.unwrap_or_default();
            // The registers raised, each once with its final value (a list of them
            // rescanned per element was quadratic for a PFADD of many elements).
            let mut touched: Vec<u16> = Vec::new();
            for el in a.from(2) {
                let (i, v) = pattern(el);
                if regs.raise(i, v) {
                    touched.push(i);
                }
            }
            // A string holding an HLL becomes one: all its registers go with the first add.
            let raised = if created {
                regs.nonzero()
            } else {
                touched.sort_unstable();
                touched.dedup();
                touched
                    .into_iter()
                    .map(|i| (i, regs.get(usize::from(i))))
                    .collect()
            };
            (created, raised)
        }
    };
    if created || !raised.is_empty() {
        if current_absent(e, key) {
            prepare_create(e, key);
        }
        e.emit(key, OpKind::PfAdd(raised));
        e.notify(N::STRING, "pfadd", key);
        out.int(1);
    } else {
        out.int(0);
    }
    Ok(())
}

/// PFCOUNT key [key ...]
pub fn pfcount(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let mut union: Option<Registers> = None;
    for k in a.from(1) {
        if let Some(r) = registers(e, k)? {
            match &mut union {
                None => union = Some(r),
                Some(u) => u.join(&r),
            }
        }
    }
    out.int(union.map_or(0, |u| u.count()) as i64);
    Ok(())
}

/// PFMERGE destkey [sourcekey ...]
pub fn pfmerge(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let dst = a.get(1);
    // Every key is checked in argument order, the destination first, as Redis does.
    let current = stored(e, dst)?;
    let mut union = Registers::default();
    for k in a.from(2) {
        if let Some(r) = registers(e, k)? {
            union.join(&r);
        }
    }
    let created = current.as_ref().is_none_or(|(_, hll)| !hll);
    let (mut cur, _) = current.unwrap_or_default();
    if created {
        // Whatever the destination held as a string goes with the merge.
        union.join(&cur);
        cur = Registers::default();
    }
    let raised: Vec<(u16, u8)> = union
        .nonzero()
        .into_iter()
        .filter(|&(i, v)| cur.get(usize::from(i)) < v)
        .collect();
    if current_absent(e, dst) {
        prepare_create(e, dst);
    }
    if created || !raised.is_empty() {
        e.emit(dst, OpKind::PfAdd(raised));
    }
    // Redis announces a merge as a mass add, changed or not.
    e.notify(N::STRING, "pfadd", dst);
    out.ok();
    Ok(())
}

fn current_absent(e: &mut Engine, key: &[u8]) -> bool {
    e.lookup(key, true).is_none()
}
