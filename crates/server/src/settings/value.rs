//! The kinds of value a setting holds: how each is parsed from a flag, a config-file line
//! or CONFIG SET, and how CONFIG GET shows it.

use super::TlsAuthClients;
use crate::limits::OutputLimits;
use crate::sync::{PeerAddr, RemovedMember};
use concord_engine::StreamIdMode;
use concord_storage::Fsync;
use std::path::PathBuf;

/// A byte count, written with Redis's suffixes: `k` (1000), `kb` (1024), `m`, `mb`, `g`,
/// `gb`, any case.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bytes(pub u64);

/// Parses an integer as Redis does (`string2ll`): an optional `-`, digits, no leading
/// `+`, blanks or zeros, so every spelling of a number has one meaning.
pub fn parse_int(v: &str) -> Option<i64> {
    let digits = v.strip_prefix('-').unwrap_or(v);
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && v != "-0";
    if canonical { v.parse().ok() } else { None }
}

/// Parses a size as Redis's configuration does (`memtoll`): an integer with an optional
/// unit `b`, `k` (1000), `kb` (1024), `m`, `mb`, `g`, `gb`, in any case.
pub fn parse_bytes(v: &str) -> Result<u64, String> {
    const UNITS: [(&str, u64); 7] = [
        ("gb", 1 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1_000),
        ("b", 1),
    ];
    let lower = v.to_ascii_lowercase();
    let (num, mult) = UNITS
        .iter()
        .find_map(|(suf, m)| lower.strip_suffix(suf).map(|n| (n, *m)))
        .unwrap_or((&lower, 1));
    parse_int(num)
        .and_then(|n| u64::try_from(n).ok())
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| "argument must be a memory value".to_string())
}

/// A kind of value a setting holds: how it is parsed and shown.
pub trait Value: Sized {
    /// Sets the value from its text (some kinds merge into the current value).
    fn set_from(&mut self, text: &str) -> Result<(), String>;
    /// The text CONFIG GET shows.
    fn show(&self) -> String;
    /// The value as a number, for range checks.
    fn number(&self) -> Option<i128> {
        None
    }
}

fn yes_no(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

impl Value for bool {
    fn set_from(&mut self, text: &str) -> Result<(), String> {
        *self = yes_no(text)?;
        Ok(())
    }
    fn show(&self) -> String {
        if *self { "yes" } else { "no" }.into()
    }
}

macro_rules! integer_value {
    ($($t:ty),*) => {$(
        impl Value for $t {
            fn set_from(&mut self, text: &str) -> Result<(), String> {
                *self = parse_int(text)
                    .and_then(|n| n.try_into().ok())
                    .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
                Ok(())
            }
            fn show(&self) -> String {
                self.to_string()
            }
            fn number(&self) -> Option<i128> {
                Some(*self as i128)
            }
        }
    )*};
}
integer_value!(u16, u32, u64, usize, i64);

impl Value for Bytes {
    fn set_from(&mut self, text: &str) -> Result<(), String> {
        self.0 = parse_bytes(text)?;
        Ok(())
    }
    fn show(&self) -> String {
        self.0.to_string()
    }
    fn number(&self) -> Option<i128> {
        Some(i128::from(self.0))
    }
}

impl Value for String {
    fn set_from(&mut self, text: &str) -> Result<(), String> {
        *self = text.to_string();
        Ok(())
    }
    fn show(&self) -> String {
        self.clone()
    }
}

impl Value for PathBuf {
    fn set_from(&mut self, text: &str) -> Result<(), String> {
        *self = PathBuf::from(text);
        Ok(())
    }
    fn show(&self) -> String {
        self.display().to_string()
    }
}

/// A password: empty means none.
impl Value for Option<String> {
    fn set_from(&mut self, text: &str) -> Result<(), String> {
        *self = (!text.is_empty()).then(|| text.to_string());
        Ok(())
    }
    fn show(&self) -> String {
        self.clone().unwrap_or_default()
    }
}

impl Value for Fsync {
    fn set_from(&mut self, text: &str) -> Result<(), String> {
        *self = text
            .to_ascii_lowercase()
            .parse()
            .map_err(|_| "argument(s) must be one of the following: always, everysec, no")?;
        Ok(())
    }
    fn show(&self) -> String {
        self.as_str().into()
    }
}

impl Value for concord_engine::Policy {
    fn set_from(&mut self, text: &str) -> Result<(), String> {
        *self = concord_engine::Policy::parse(text).ok_or(
            "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction",
        )?;
        Ok(())
    }
    fn show(&self) -> String {
        self.name().into()
    }
}

impl Value for StreamIdMode {
    fn set_from(&mut self, text: &str) -> Result<(), String> {
        *self = StreamIdMode::parse(&text.to_ascii_lowercase())
            .ok_or("argument(s) must be one of the following: strict, semi-strict, liberal")?;
        Ok(())
    }
    fn show(&self) -> String {
        self.name().into()
    }
}

/// `user` lines accumulate, one user each.
impl Value for Vec<String> {
    fn set_from(&mut self, text: &str) -> Result<(), String> {
        if text.split_whitespace().next().is_none() {
            return Err("user directive without a username".into());
        }
        self.push(text.to_string());
        Ok(())
    }
    fn show(&self) -> String {
        String::new()
    }
}

/// A setting of which each line or flag adds items (space separated).
pub trait Listed: std::str::FromStr<Err = String> + std::fmt::Display {}
impl Listed for PeerAddr {}
impl Listed for RemovedMember {}

/// `peer` and `removed-peer` accumulate: each line or flag adds its items.
impl<T: Listed> Value for Vec<T> {
    fn set_from(&mut self, text: &str) -> Result<(), String> {
        for p in text.split_whitespace() {
            self.push(p.parse()?);
        }
        Ok(())
    }
    fn show(&self) -> String {
        let v: Vec<String> = self.iter().map(T::to_string).collect();
        v.join(" ")
    }
}

impl Value for OutputLimits {
    fn set_from(&mut self, text: &str) -> Result<(), String> {
        self.merge(text)
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl Value for TlsAuthClients {
    fn set_from(&mut self, text: &str) -> Result<(), String> {
        *self = match text.to_ascii_lowercase().as_str() {
            "yes" => TlsAuthClients::Yes,
            "no" => TlsAuthClients::No,
            "optional" => TlsAuthClients::Optional,
            _ => return Err("argument(s) must be one of the following: no, yes, optional".into()),
        };
        Ok(())
    }
    fn show(&self) -> String {
        match self {
            TlsAuthClients::Yes => "yes",
            TlsAuthClients::No => "no",
            TlsAuthClients::Optional => "optional",
        }
        .into()
    }
}

/// `save`: snapshot points, each "after `secs` seconds if at least `changes` writes".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SavePoints(pub Vec<SavePoint>);

/// One snapshot point of `save`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SavePoint {
    /// Seconds since the last snapshot.
    pub secs: u64,
    /// Writes since the last snapshot.
    pub changes: u64,
}

impl Value for SavePoints {
    /// Replaces the points (a config file's repeated `save` lines are joined by its
    /// reader first); `""` removes them all.
    fn set_from(&mut self, text: &str) -> Result<(), String> {
        const INVALID: &str = "Invalid save parameters";
        let words: Vec<&str> = text.split_whitespace().collect();
        if !words.len().is_multiple_of(2) {
            return Err(INVALID.into());
        }
        let number = |w: &str| {
            parse_int(w)
                .and_then(|n| u64::try_from(n).ok())
                .filter(|&n| n <= i32::MAX as u64)
                .ok_or(INVALID)
        };
        let points = words
            .chunks(2)
            .map(|p| {
                Ok(SavePoint {
                    secs: number(p[0])?,
                    changes: number(p[1])?,
                })
            })
            .collect::<Result<Vec<_>, &str>>()?;
        self.0 = points;
        Ok(())
    }
    fn show(&self) -> String {
        let v: Vec<String> = self
            .0
            .iter()
            .map(|p| format!("{} {}", p.secs, p.changes))
            .collect();
        v.join(" ")
    }
}

/// `loglevel`, Redis's four levels and `nothing`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogLevel {
    /// Everything, for development.
    Debug,
    /// Much that is rarely useful.
    Verbose,
    /// What production wants to see.
    #[default]
    Notice,
    /// Only what is important.
    Warning,
    /// Nothing at all.
    Nothing,
}

impl LogLevel {
    /// Every level with its name, in CONFIG's order.
    pub const ALL: [(LogLevel, &'static str); 5] = [
        (LogLevel::Debug, "debug"),
        (LogLevel::Verbose, "verbose"),
        (LogLevel::Notice, "notice"),
        (LogLevel::Warning, "warning"),
        (LogLevel::Nothing, "nothing"),
    ];
}

impl Value for LogLevel {
    fn set_from(&mut self, text: &str) -> Result<(), String> {
        *self = LogLevel::ALL
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(text))
            .map(|(l, _)| *l)
            .ok_or_else(|| one_of(LogLevel::ALL.map(|(_, n)| n).as_slice()))?;
        Ok(())
    }
    fn show(&self) -> String {
        LogLevel::ALL
            .iter()
            .find(|(l, _)| l == self)
            .map_or("notice", |(_, n)| n)
            .into()
    }
}

/// Redis's message for a value that is none of an enum's names.
pub fn one_of(names: &[&str]) -> String {
    format!(
        "argument(s) must be one of the following: {}",
        names.join(", ")
    )
}

/// A memory size or a percentage of `maxmemory` (`maxmemory-clients`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryOrPercent {
    /// Bytes.
    Bytes(u64),
    /// Percent of `maxmemory`, at most 100.
    Percent(u64),
}

impl Default for MemoryOrPercent {
    fn default() -> Self {
        MemoryOrPercent::Bytes(0)
    }
}

impl Value for MemoryOrPercent {
    fn set_from(&mut self, text: &str) -> Result<(), String> {
        *self = match text.strip_suffix('%') {
            Some(p) => {
                let p = parse_int(p)
                    .and_then(|n| u64::try_from(n).ok())
                    .ok_or("argument must be a memory or percent value")?;
                if p > 100 {
                    return Err("percentage argument must be less or equal to 100".into());
                }
                MemoryOrPercent::Percent(p)
            }
            None => MemoryOrPercent::Bytes(
                parse_bytes(text).map_err(|_| "argument must be a memory or percent value")?,
            ),
        };
        Ok(())
    }
    fn show(&self) -> String {
        match self {
            MemoryOrPercent::Bytes(b) => b.to_string(),
            // Redis keeps a percentage as a negative number: 0% is 0.
            MemoryOrPercent::Percent(0) => "0".into(),
            MemoryOrPercent::Percent(p) => format!("{p}%"),
        }
    }
}

/// Checks `text` as a value of kind `T` and accepts it only if it means what `only`
/// means: Redis's own error for a malformed value, Concord's reason for another one.
pub fn only<T: Value + Default + PartialEq>(text: &str, only: &str) -> Result<(), String> {
    let (mut got, mut want) = (T::default(), T::default());
    got.set_from(text)?;
    want.set_from(only).map_err(|e| format!("{only}: {e}"))?;
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "Concord supports only '{}' here (got '{text}'); see \"Not implemented\" in the README",
            want.show()
        ))
    }
}

/// Like [`only`] for an enum given by its names.
pub fn only_name(text: &str, names: &[&str], only: &str) -> Result<(), String> {
    if !names.iter().any(|n| n.eq_ignore_ascii_case(text)) {
        return Err(one_of(names));
    }
    if only.eq_ignore_ascii_case(text) {
        Ok(())
    } else {
        Err(format!(
            "Concord supports only '{only}' here (got '{text}'); see \"Not implemented\" in the README"
        ))
    }
}

/// `maxmemory-clients`: evicting clients is not built, so only "no limit" (`0`, `0%`)
/// is accepted; a malformed value gets Redis's error.
pub fn no_client_limit(text: &str) -> Result<(), String> {
    let mut m = MemoryOrPercent::default();
    m.set_from(text)?;
    match m {
        MemoryOrPercent::Bytes(0) | MemoryOrPercent::Percent(0) => Ok(()),
        _ => Err(format!(
            "Concord supports only '0' here (got '{text}'); see \"Not implemented\" in the README"
        )),
    }
}

/// `replicaof`: Concord's instances are peers, never replicas of a primary, so only
/// "none" is accepted (empty, or Redis's `no one`).
pub fn no_primary(text: &str) -> Result<(), String> {
    if text.trim().is_empty() || text.eq_ignore_ascii_case("no one") {
        Ok(())
    } else {
        Err(format!(
            "Concord instances are peers (--peer), not replicas of a primary (got '{text}'); see \"Not implemented\" in the README"
        ))
    }
}

/// Who may run a protected command such as DEBUG (`enable-debug-command`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protected {
    /// Nobody.
    #[default]
    No,
    /// Every client.
    Yes,
    /// Clients connected over the loopback interface.
    Local,
}

impl Value for Protected {
    fn set_from(&mut self, text: &str) -> Result<(), String> {
        *self = match text.to_ascii_lowercase().as_str() {
            "no" => Protected::No,
            "yes" => Protected::Yes,
            "local" => Protected::Local,
            _ => return Err(one_of(&["no", "yes", "local"])),
        };
        Ok(())
    }
    fn show(&self) -> String {
        match self {
            Protected::No => "no",
            Protected::Yes => "yes",
            Protected::Local => "local",
        }
        .into()
    }
}
