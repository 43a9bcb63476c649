//! The manifest names the files that make up the durable state: at most one snapshot and
//! the append-only files to replay after it, oldest first. It is replaced atomically, so a
//! crash leaves either the old list or the new one.

use std::fmt::Write as _;

/// The manifest's file name.
pub const MANIFEST: &str = "concord.manifest";
const HEADER: &str = "concord-manifest 1";

/// The files that make up the durable state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The snapshot to load first.
    pub snapshot: Option<String>,
    /// The append-only files to replay after it, oldest first.
    pub aofs: Vec<String>,
}

/// A manifest that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("manifest line {line}: {why}")]
pub struct ManifestError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub why: String,
}

/// The file name of the snapshot of generation `g`.
pub fn snapshot_name(g: u64) -> String {
    format!("concord.{g}.snap")
}

/// The file name of the append-only file of generation `g`.
pub fn aof_name(g: u64) -> String {
    format!("concord.{g}.aof")
}

/// The generation in a file name written by [`snapshot_name`] or [`aof_name`].
pub fn generation_of(name: &str) -> Option<u64> {
    let rest = name.strip_prefix("concord.")?;
    let (g, ext) = rest.split_once('.')?;
    matches!(ext, "snap" | "aof").then(|| g.parse().ok())?
}

fn valid_file(name: &str) -> bool {
    generation_of(name).is_some()
}

impl Manifest {
    /// The text written to disk.
    pub fn encode(&self) -> String {
        let mut s = format!("{HEADER}\n");
        if let Some(snap) = &self.snapshot {
            let _ = writeln!(s, "snapshot {snap}");
        }
        for a in &self.aofs {
            let _ = writeln!(s, "aof {a}");
        }
        s
    }

    /// Parses the text of a manifest.
    pub fn decode(text: &[u8]) -> Result<Manifest, ManifestError> {
        let err = |line, why: &str| ManifestError {
            line,
            why: why.into(),
        };
        let text = std::str::from_utf8(text).map_err(|_| err(1, "not UTF-8"))?;
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, l)) if l == HEADER => {}
            Some((_, l)) if l.starts_with("concord-manifest ") => {
                return Err(err(1, "unsupported manifest version"));
            }
            _ => return Err(err(1, "not a Concord manifest")),
        }
        let mut m = Manifest::default();
        for (i, l) in lines {
            let n = i + 1;
            if l.is_empty() {
                continue;
            }
            let (what, name) = l
                .split_once(' ')
                .ok_or_else(|| err(n, "expected `kind name`"))?;
            if !valid_file(name) {
                return Err(err(n, "bad file name"));
            }
            match what {
                "snapshot" if m.snapshot.is_none() && m.aofs.is_empty() => {
                    m.snapshot = Some(name.into())
                }
                "aof" => m.aofs.push(name.into()),
                _ => return Err(err(n, "unexpected entry")),
            }
        }
        Ok(m)
    }

    /// The largest generation named.
    pub fn generation(&self) -> u64 {
        self.snapshot
            .iter()
            .chain(&self.aofs)
            .filter_map(|n| generation_of(n))
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let m = Manifest {
            snapshot: Some(snapshot_name(3)),
            aofs: vec![aof_name(3), aof_name(4)],
        };
        assert_eq!(Manifest::decode(m.encode().as_bytes()).unwrap(), m);
        assert_eq!(m.generation(), 4);
        assert!(Manifest::decode(b"concord-manifest 2\n").is_err());
        assert!(Manifest::decode(b"hello\n").is_err());
        assert!(Manifest::decode(b"concord-manifest 1\naof ../etc/passwd\n").is_err());
        assert!(
            Manifest::decode(b"concord-manifest 1\naof concord.1.aof\nsnapshot concord.1.snap\n")
                .is_err()
        );
        assert_eq!(generation_of("concord.12.aof"), Some(12));
        assert_eq!(generation_of("concord.x.aof"), None);
    }
}
