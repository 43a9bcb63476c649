//! The Redis commands that recreate a key read from a file: what `concord import` sends and
//! what an instance following a Redis primary runs after the transfer.

use crate::{Entry, Value};

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
    }
    if let Some(at) = e.expire_ms {
        out.push(vec![word("PEXPIREAT"), key, at.to_string().into_bytes()]);
    }
    out
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
