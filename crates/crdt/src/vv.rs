//! Version vectors: what an instance has applied, per origin.

use crate::clock::{Dot, Origin};
use std::fmt;

/// For each origin, the highest gap-free sequence number applied.
///
/// A vector sorted by origin: a database has a handful of members (and incarnations), so a
/// search of a short contiguous array beats a tree on every op issued or applied.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct VersionVector {
    entries: Vec<(Origin, u64)>,
}

impl VersionVector {
    /// An empty vector.
    pub fn new() -> Self {
        Self::default()
    }

    /// The highest sequence applied from `origin` (0 when none).
    pub fn get(&self, origin: Origin) -> u64 {
        match self.entries.binary_search_by_key(&origin, |e| e.0) {
            Ok(i) => self.entries[i].1,
            Err(_) => 0,
        }
    }

    /// Whether `dot` is covered.
    pub fn contains(&self, dot: &Dot) -> bool {
        dot.seq <= self.get(dot.origin)
    }

    /// Raises the entry of `origin` to at least `seq`.
    pub fn raise(&mut self, origin: Origin, seq: u64) {
        match self.entries.binary_search_by_key(&origin, |e| e.0) {
            Ok(i) => {
                let e = &mut self.entries[i].1;
                if seq > *e {
                    *e = seq;
                }
            }
            Err(i) => self.entries.insert(i, (origin, seq)),
        }
    }

    /// Records `dot` as applied; callers keep sequences gap-free.
    pub fn add(&mut self, dot: Dot) {
        self.raise(dot.origin, dot.seq);
    }

    /// The entry-wise maximum of both vectors.
    pub fn join(&mut self, other: &VersionVector) {
        for &(o, s) in &other.entries {
            self.raise(o, s);
        }
    }

    /// Whether every entry of `other` is covered by this vector.
    pub fn covers(&self, other: &VersionVector) -> bool {
        other.entries.iter().all(|&(o, s)| self.get(o) >= s)
    }

    /// The entry-wise minimum, over origins present in both.
    pub fn meet(&self, other: &VersionVector) -> VersionVector {
        let entries = self
            .entries
            .iter()
            .filter_map(|&(o, s)| {
                let m = s.min(other.get(o));
                (m > 0).then_some((o, m))
            })
            .collect();
        VersionVector { entries }
    }

    /// The entries, sorted by origin.
    pub fn iter(&self) -> impl Iterator<Item = (Origin, u64)> + '_ {
        self.entries.iter().copied()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The number of origins recorded.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

impl FromIterator<(Origin, u64)> for VersionVector {
    /// Sorted once, whatever order the entries come in (a peer's vector of many origins
    /// costs `n log n`, never `n²`); an origin given twice keeps its highest sequence.
    fn from_iter<I: IntoIterator<Item = (Origin, u64)>>(iter: I) -> Self {
        let mut entries: Vec<(Origin, u64)> = iter.into_iter().collect();
        entries.sort_unstable();
        // Sorted by (origin, seq): of equal origins the last has the highest sequence.
        entries.dedup_by(|later, kept| {
            if later.0 == kept.0 {
                kept.1 = later.1;
                true
            } else {
                false
            }
        });
        VersionVector { entries }
    }
}

/// Why a vector's text did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a version vector (id.incarnation=seq,...)")]
pub struct VvParseError(String);

impl std::str::FromStr for VersionVector {
    type Err = VvParseError;

    /// Parses the `crdt_vv` text: `id.incarnation=seq` pairs, comma separated (empty: no
    /// entries). Ids are 1..65535; an origin given twice keeps its highest sequence.
    fn from_str(s: &str) -> Result<Self, VvParseError> {
        let bad = || VvParseError(s.chars().take(64).collect());
        if s.is_empty() {
            return Ok(VersionVector::new());
        }
        s.split(',')
            .map(|pair| {
                let (origin, seq) = pair.split_once('=').ok_or_else(bad)?;
                let (id, inc) = origin.split_once('.').ok_or_else(bad)?;
                let id: u16 = id.parse().ok().filter(|&i| i > 0).ok_or_else(bad)?;
                let inc: u32 = inc.parse().map_err(|_| bad())?;
                let seq: u64 = seq.parse().map_err(|_| bad())?;
                Ok((Origin::new(id, inc), seq))
            })
            .collect()
    }
}

impl fmt::Display for VersionVector {
    /// `origin=seq` pairs sorted by origin, comma separated: the `crdt_vv` text of INFO.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (o, s) in self.iter() {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{o}={s}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_and_join() {
        let a = Origin::new(1, 0);
        let b = Origin::new(2, 0);
        let mut v = VersionVector::new();
        v.add(Dot::new(a, 1));
        v.add(Dot::new(a, 2));
        assert!(v.contains(&Dot::new(a, 2)));
        assert!(!v.contains(&Dot::new(a, 3)));
        assert!(!v.contains(&Dot::new(b, 1)));
        let w: VersionVector = [(b, 4)].into_iter().collect();
        v.join(&w);
        assert!(v.covers(&w));
        assert_eq!(v.to_string(), "1.0=2,2.0=4");
        assert_eq!(v.meet(&w).to_string(), "2.0=4");
        let u: VersionVector = [(b, 1), (a, 7), (b, 9), (a, 3)].into_iter().collect();
        assert_eq!(u.to_string(), "1.0=7,2.0=9");
    }

    #[test]
    fn text_round_trips_and_refuses_garbage() {
        for text in [
            "",
            "1.0=2",
            "1.0=2,2.4=9",
            "65535.4294967295=18446744073709551615",
        ] {
            let v: VersionVector = text.parse().expect(text);
            assert_eq!(v.to_string(), text);
        }
        for bad in [
            "1",
            "1.0",
            "0.1=2",
            "1.0=-1",
            "1.0=2,",
            "a.b=c",
            "65536.0=1",
            "1.0=2=3",
        ] {
            assert!(bad.parse::<VersionVector>().is_err(), "{bad}");
        }
    }
}
