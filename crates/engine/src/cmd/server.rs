//! Server-level data commands: DBSIZE, FLUSHALL, CRDT.DIGEST.

use crate::Engine;
use crate::args::Args;
use crate::error::{CmdError, CmdResult};
use concord_crdt::{Digest, Kind, OpKind};
use concord_resp::Out;

/// DBSIZE
pub fn dbsize(e: &mut Engine, _a: Args, out: &mut Out) -> CmdResult {
    // As Redis: expired keys count until they are deleted.
    out.int(e.live_keys() as i64);
    Ok(())
}

/// FLUSHALL / FLUSHDB [ASYNC|SYNC]: one observed-remove of every key.
pub fn flushall(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    match a.len() {
        1 => {}
        2 if a.is(1, "async") || a.is(1, "sync") => {}
        _ => return Err(CmdError::Syntax),
    }
    e.emit(b"", OpKind::FlushAll);
    out.ok();
    Ok(())
}

/// CRDT.DIGEST: a hex digest of the visible dataset.
pub fn crdt_digest(e: &mut Engine, _a: Args, out: &mut Out) -> CmdResult {
    let d = digest(e);
    out.bulk(format!("{d:016x}").as_bytes());
    Ok(())
}

/// The digest of every visible key: name, type, value as reads show it, absolute expiry.
pub fn digest(e: &mut Engine) -> u64 {
    let now = e.now();
    let mut keys: Vec<&[u8]> = e
        .raw_keys()
        .iter()
        .filter(|(_, ks)| ks.has_value() && ks.expires_at().is_none_or(|t| t > now))
        .map(|(k, _)| k)
        .collect();
    keys.sort_unstable();
    let mut d = Digest::new();
    for k in keys {
        let Some(ks) = e.raw_keys().get(k) else {
            continue;
        };
        let Some(kind) = ks.visible() else { continue };
        d.bytes(k);
        d.bytes(kind.name().as_bytes());
        match kind {
            Kind::Str => d.bytes(
                &ks.string
                    .as_ref()
                    .map(|s| s.read().into_owned())
                    .unwrap_or_default(),
            ),
            Kind::Hash => {
                let mut f: Vec<(Vec<u8>, Vec<u8>)> = ks
                    .hash
                    .iter()
                    .flat_map(|h| h.iter())
                    .map(|(f, v)| (f.to_vec(), v.read().into_owned()))
                    .collect();
                f.sort();
                d.u64(f.len() as u64);
                for (f, v) in f {
                    d.bytes(&f);
                    d.bytes(&v);
                }
            }
            Kind::ZSet => {}
            Kind::Hll => d.bytes(&ks.hll.as_ref().map(|h| h.regs.encode()).unwrap_or_default()),
            Kind::Stream => {
                let st = ks.stream.as_deref();
                d.u64(st.map_or(0, |s| s.len()) as u64);
                for ((id, _), f) in st.iter().flat_map(|s| s.iter()) {
                    d.u64(id.ms);
                    d.u64(id.seq);
                    d.u64(f.len() as u64);
                    for b in f {
                        d.bytes(b);
                    }
                }
                if let Some(st) = st {
                    st.digest_groups(&mut d);
                }
            }
            Kind::List => {
                let l = ks.list.as_deref();
                d.u64(l.map_or(0, |l| l.len()) as u64);
                for x in l.iter().flat_map(|l| l.iter()) {
                    d.bytes(&x.value);
                }
            }
            Kind::Set => {
                let mut m: Vec<&[u8]> = ks.set.iter().flat_map(|s| s.iter()).collect();
                m.sort_unstable();
                d.u64(m.len() as u64);
                for x in m {
                    d.bytes(x);
                }
            }
        }
        if kind == Kind::ZSet
            && let Some(z) = &ks.zset
        {
            d.u64(z.len() as u64);
            z.index().walk(0, z.len(), false, |s, m| {
                d.bytes(m);
                d.u64(s.to_bits());
                true
            });
        }
        d.u64(ks.expires_at().unwrap_or(0));
    }
    d.finish()
}
