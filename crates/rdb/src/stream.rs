//! Streams as the RDB keeps them (types 15, 19 and 21: Redis 5–6, 7.0, 7.2): listpacks of
//! entries keyed by a master ID, the stream's ids and counters, then its consumer groups
//! with their pending entries and consumers.

use crate::packed;

/// A stream entry's id.
pub type StreamId = (u64, u64);

/// A stream entry: its id and its fields and values, in order.
pub type StreamEntry = (StreamId, Vec<(Vec<u8>, Vec<u8>)>);

/// A stream: its entries in order, its ids and counters, its consumer groups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stream {
    /// The entries, by id (deleted entries are not kept).
    pub entries: Vec<StreamEntry>,
    /// The last id ever given.
    pub last_id: StreamId,
    /// Entries ever added (Redis 7.0 on; `None` from an older file).
    pub entries_added: Option<u64>,
    /// The largest id deleted (`(0, 0)` when unknown).
    pub max_deleted: StreamId,
    /// The consumer groups.
    pub groups: Vec<Group>,
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Group {
    /// Its name.
    pub name: Vec<u8>,
    /// The last id delivered to it.
    pub last_id: StreamId,
    /// Entries it has read (Redis 7.0 on; `None` from an older file).
    pub entries_read: Option<u64>,
    /// Its pending entries, each with its consumer.
    pub pending: Vec<Pending>,
    /// Its consumers, pending entries or not.
    pub consumers: Vec<Consumer>,
}

/// An entry delivered and not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The entry's id.
    pub id: StreamId,
    /// When it was last delivered (ms since the epoch).
    pub delivery_ms: u64,
    /// How many times it was delivered.
    pub deliveries: u64,
    /// The consumer it was delivered to.
    pub consumer: Vec<u8>,
}

/// A consumer of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    /// Its name.
    pub name: Vec<u8>,
    /// When it was last seen (ms since the epoch).
    pub seen_ms: u64,
}

/// Entry flags in a stream listpack (Redis's `STREAM_ITEM_FLAG_*`).
const DELETED: u64 = 1;
const SAME_FIELDS: u64 = 2;

/// A listpack's elements, read front to back.
struct Items(std::vec::IntoIter<Vec<u8>>);

impl Items {
    fn bytes(&mut self) -> Result<Vec<u8>, packed::Malformed> {
        self.0.next().ok_or("stream listpack ends early")
    }

    fn signed(&mut self) -> Result<i64, packed::Malformed> {
        let s = self.bytes()?;
        std::str::from_utf8(&s)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or("stream listpack holds a non-integer where a number belongs")
    }

    fn int(&mut self) -> Result<u64, packed::Malformed> {
        u64::try_from(self.signed()?).map_err(|_| "stream listpack holds a negative count")
    }

    /// A count of elements that must still be there.
    fn count(&mut self, per: u64) -> Result<u64, packed::Malformed> {
        let n = self.int()?;
        if n.saturating_mul(per) > self.0.len() as u64 {
            return Err("stream listpack counts more elements than it holds");
        }
        Ok(n)
    }
}

/// The entries of one listpack whose ids are relative to `master`, appended to `out`.
pub(crate) fn entries(
    master: StreamId,
    blob: &[u8],
    out: &mut Vec<StreamEntry>,
) -> Result<(), packed::Malformed> {
    let mut it = Items(packed::listpack(blob)?.into_iter());
    // The master entry: its counts, the master fields, a zero.
    let (_valid, _deleted) = (it.int()?, it.int()?);
    let n = it.count(1)?;
    let master_fields = (0..n).map(|_| it.bytes()).collect::<Result<Vec<_>, _>>()?;
    if it.int()? != 0 {
        return Err("stream master entry is not terminated");
    }
    while it.0.len() > 0 {
        let flags = it.int()?;
        // Differences from the master id, as int64: the sequence's is negative for an
        // entry of a later millisecond whose sequence restarted below the master's.
        let ms = master.0.wrapping_add(it.signed()? as u64);
        let seq = master.1.wrapping_add(it.signed()? as u64);
        let mut fields = Vec::new();
        if flags & SAME_FIELDS != 0 {
            for name in &master_fields {
                fields.push((name.clone(), it.bytes()?));
            }
        } else {
            for _ in 0..it.count(2)? {
                let name = it.bytes()?;
                fields.push((name, it.bytes()?));
            }
        }
        // The entry's element count, kept for walking backwards.
        it.int()?;
        if flags & DELETED == 0 {
            if out.last().is_some_and(|(last, _)| *last >= (ms, seq)) {
                return Err("stream entries out of order");
            }
            out.push(((ms, seq), fields));
        }
    }
    Ok(())
}

/// A master ID as a node key: 16 bytes, ms then seq, big endian.
pub(crate) fn node_key(b: &[u8]) -> Option<StreamId> {
    let b: &[u8; 16] = b.try_into().ok()?;
    Some((
        u64::from_be_bytes(b[..8].try_into().ok()?),
        u64::from_be_bytes(b[8..].try_into().ok()?),
    ))
}
