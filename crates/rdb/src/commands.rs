//! The Redis commands that recreate a key read from a file: what `concord import` sends and
//! what an instance following a Redis primary runs after the transfer.

use crate::{Entry, Stream, StreamId, Value};

/// Elements per command for a large collection (a command stays small).
pub const ELEMENTS_PER_COMMAND: usize = 1024;

/// The writes that make `e` on a database: the key replaced, its value in commands of at
/// most [`ELEMENTS_PER_COMMAND`] elements, then its expiry.
pub fn commands(e: Entry) -> Vec<Vec<Vec<u8>>> {
    let key = e.key;
    let word = |s: &str| s.as_bytes().to_vec();
    let mut out = Vec::new();
    let mut chunked = |name: &str, items: Vec<Vec<u8>>, per: usize| {
        out.push(vec![word("DEL"), key.clone()]);
        for c in items.chunks(ELEMENTS_PER_COMMAND * per) {
            let mut cmd = Vec::with_capacity(c.len() + 2);
            cmd.push(word(name));
            cmd.push(key.clone());
            cmd.extend(c.iter().cloned());
            out.push(cmd);
        }
    };
    match e.value {
        Value::String(v) => {
            let mut cmd = vec![word("SET"), key.clone(), v];
            if let Some(at) = e.expire_ms {
                cmd.extend([word("PXAT"), at.to_string().into_bytes()]);
            }
            return vec![cmd];
        }
        Value::List(v) => chunked("RPUSH", v, 1),
        Value::Set(v) => chunked("SADD", v, 1),
        Value::Hash(v) => chunked("HSET", v.into_iter().flat_map(|(f, x)| [f, x]).collect(), 2),
        Value::ZSet(v) => chunked(
            "ZADD",
            v.into_iter().flat_map(|(m, s)| [score(s), m]).collect(),
            2,
        ),
        Value::Stream(st) => {
            out.push(vec![word("DEL"), key.clone()]);
            stream(&key, st, &mut out);
        }
    }
    if let Some(at) = e.expire_ms {
        out.push(vec![word("PEXPIREAT"), key, at.to_string().into_bytes()]);
    }
    out
}

/// A stream id as commands write it.
fn id((ms, seq): StreamId) -> Vec<u8> {
    format!("{ms}-{seq}").into_bytes()
}

/// A stream as Redis's own rewrite writes it: XADD per entry (or an empty stream made
/// with `MAXLEN 0`), XSETID with its counters, then each group (XGROUP CREATE), its
/// pending entries (XCLAIM ... FORCE, with their delivery time and count) and its
/// consumers without pending entries (XGROUP CREATECONSUMER).
fn stream(key: &[u8], st: Stream, out: &mut Vec<Vec<Vec<u8>>>) {
    let word = |s: &str| s.as_bytes().to_vec();
    let count = st.entries.len() as u64;
    if st.entries.is_empty() {
        out.push(
            [
                word("XADD"),
                key.to_vec(),
                word("MAXLEN"),
                word("0"),
                word("0-1"),
                word("x"),
                word("y"),
            ]
            .to_vec(),
        );
    }
    for (eid, fields) in st.entries {
        let mut cmd = vec![word("XADD"), key.to_vec(), id(eid)];
        cmd.extend(fields.into_iter().flat_map(|(f, v)| [f, v]));
        out.push(cmd);
    }
    out.push(vec![
        word("XSETID"),
        key.to_vec(),
        id(st.last_id),
        word("ENTRIESADDED"),
        st.entries_added.unwrap_or(count).to_string().into_bytes(),
        word("MAXDELETEDID"),
        id(st.max_deleted),
    ]);
    for g in st.groups {
        let mut create = vec![
            word("XGROUP"),
            word("CREATE"),
            key.to_vec(),
            g.name.clone(),
            id(g.last_id),
        ];
        if let Some(read) = g.entries_read {
            create.extend([word("ENTRIESREAD"), read.to_string().into_bytes()]);
        }
        out.push(create);
        for p in &g.pending {
            out.push(vec![
                word("XCLAIM"),
                key.to_vec(),
                g.name.clone(),
                p.consumer.clone(),
                word("0"),
                id(p.id),
                word("TIME"),
                p.delivery_ms.to_string().into_bytes(),
                word("RETRYCOUNT"),
                p.deliveries.to_string().into_bytes(),
                word("JUSTID"),
                word("FORCE"),
            ]);
        }
        for c in g.consumers {
            if !g.pending.iter().any(|p| p.consumer == c.name) {
                out.push(vec![
                    word("XGROUP"),
                    word("CREATECONSUMER"),
                    key.to_vec(),
                    g.name.clone(),
                    c.name,
                ]);
            }
        }
    }
}

/// A score as ZADD reads it back exactly (`inf`, `-inf`, or the shortest exact digits).
pub fn score(s: f64) -> Vec<u8> {
    if s.is_infinite() {
        return if s > 0.0 {
            b"inf".to_vec()
        } else {
            b"-inf".to_vec()
        };
    }
    format!("{s:?}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(value: Value, expire_ms: Option<u64>) -> Entry {
        Entry {
            db: 0,
            key: b"k".to_vec(),
            expire_ms,
            value,
        }
    }

    #[test]
    fn a_string_is_one_set_with_its_expiry() {
        let c = commands(entry(Value::String(b"v".to_vec()), Some(7)));
        assert_eq!(
            c,
            vec![vec![
                b"SET".to_vec(),
                b"k".to_vec(),
                b"v".to_vec(),
                b"PXAT".to_vec(),
                b"7".to_vec()
            ]]
        );
    }

    #[test]
    fn a_large_collection_is_chunked_after_a_delete() {
        let members: Vec<Vec<u8>> = (0..2500).map(|i| i.to_string().into_bytes()).collect();
        let c = commands(entry(Value::Set(members), Some(9)));
        assert_eq!(c.len(), 1 + 3 + 1);
        assert_eq!(c[0], vec![b"DEL".to_vec(), b"k".to_vec()]);
        assert_eq!(c[1].len(), 2 + ELEMENTS_PER_COMMAND);
        assert_eq!(c[3].len(), 2 + 2500 - 2 * ELEMENTS_PER_COMMAND);
        assert_eq!(c[4][0], b"PEXPIREAT".to_vec());
    }

    #[test]
    fn scores_read_back_exactly() {
        for s in [0.1, -2.5e-300, 1e300, f64::INFINITY, f64::NEG_INFINITY, 3.0] {
            let text = String::from_utf8(score(s)).unwrap();
            let back: f64 = text.replace("inf", "infinity").parse().unwrap();
            assert_eq!(back.to_bits(), s.to_bits(), "{text}");
        }
    }
}
