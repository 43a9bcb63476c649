//! A script's flags, from its `#!lua flags=...` first line.

/// The flags a script declares (none without a shebang: the compatible mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptFlags(u8);

impl ScriptFlags {
    /// `no-writes`: the script only reads.
    pub const NO_WRITES: ScriptFlags = ScriptFlags(1);
    /// `allow-oom`: it may run past `maxmemory`.
    pub const ALLOW_OOM: ScriptFlags = ScriptFlags(1 << 1);
    /// `allow-stale`: meaningless without replicas; accepted.
    pub const ALLOW_STALE: ScriptFlags = ScriptFlags(1 << 2);
    /// `no-cluster`: meaningless without cluster mode; accepted.
    pub const NO_CLUSTER: ScriptFlags = ScriptFlags(1 << 3);
    /// `allow-cross-slot-keys`: meaningless without cluster mode; accepted.
    pub const ALLOW_CROSS_SLOT: ScriptFlags = ScriptFlags(1 << 4);
    /// The script had a shebang (flags were declared, even none).
    pub const DECLARED: ScriptFlags = ScriptFlags(1 << 5);

    /// Whether every flag of `other` is set.
    pub fn has(self, other: ScriptFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets.
    pub fn with(self, other: ScriptFlags) -> ScriptFlags {
        ScriptFlags(self.0 | other.0)
    }

    /// The flags by name, as FUNCTION LIST shows them.
    pub fn names(self) -> Vec<&'static str> {
        NAMES
            .iter()
            .filter(|(_, f)| self.has(*f))
            .map(|(n, _)| *n)
            .collect()
    }

    /// A flag by its name.
    pub fn by_name(name: &[u8]) -> Option<ScriptFlags> {
        NAMES
            .iter()
            .find(|(n, _)| n.as_bytes() == name)
            .map(|(_, f)| *f)
    }
}

const NAMES: &[(&str, ScriptFlags)] = &[
    ("no-writes", ScriptFlags::NO_WRITES),
    ("allow-oom", ScriptFlags::ALLOW_OOM),
    ("allow-stale", ScriptFlags::ALLOW_STALE),
    ("no-cluster", ScriptFlags::NO_CLUSTER),
    ("allow-cross-slot-keys", ScriptFlags::ALLOW_CROSS_SLOT),
];

/// Whether a script body's shebang declares `no-writes` (a body without one, or with a
/// bad one, may write).
pub fn declares_no_writes(body: &[u8]) -> bool {
    shebang(body).is_ok_and(|(f, _)| f.has(ScriptFlags::NO_WRITES))
}

/// The flags of a script body and how many bytes its shebang line takes (its line feed
/// stays with the body, so line numbers do not move). Errors carry Redis's texts.
pub(crate) fn shebang(body: &[u8]) -> Result<(ScriptFlags, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags::default(), 0));
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err("Invalid script shebang".into());
    };
    let parts = concord_resp::split_args(&body[..end])
        .filter(|p| !p.is_empty())
        .ok_or_else(|| "Invalid engine in script shebang".to_string())?;
    if parts[0] != b"#!lua" {
        return Err(format!(
            "Unexpected engine in script shebang: {}",
            String::from_utf8_lossy(&parts[0])
        ));
    }
    let mut flags = ScriptFlags::DECLARED;
    for p in &parts[1..] {
        let Some(list) = p.strip_prefix(b"flags=") else {
            return Err(format!(
                "Unknown lua shebang option: {}",
                String::from_utf8_lossy(p)
            ));
        };
        for name in list.split(|&b| b == b',').filter(|n| !n.is_empty()) {
            let f = ScriptFlags::by_name(name).ok_or_else(|| {
                format!(
                    "Unexpected flag in script shebang: {}",
                    String::from_utf8_lossy(name)
                )
            })?;
            flags = flags.with(f);
        }
    }
    Ok((flags, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebangs_as_redis_reads_them() {
        assert_eq!(shebang(b"return 1"), Ok((ScriptFlags::default(), 0)));
        let (f, n) = shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert!(f.has(ScriptFlags::NO_WRITES) && f.has(ScriptFlags::ALLOW_OOM));
        assert_eq!(n, 31);
        assert_eq!(shebang(b"#!lua"), Err("Invalid script shebang".into()));
        assert_eq!(
            shebang(b"#!luax\n"),
            Err("Unexpected engine in script shebang: #!luax".into())
        );
        assert_eq!(
            shebang(b"#!lua foo=1\n"),
            Err("Unknown lua shebang option: foo=1".into())
        );
        assert_eq!(
            shebang(b"#!lua flags=x\n"),
            Err("Unexpected flag in script shebang: x".into())
        );
    }
}
