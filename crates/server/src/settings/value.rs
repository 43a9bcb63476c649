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

/// Parses a size as Redis's configuration does.
pub fn parse_bytes(v: &str) -> Result<u64, String> {
    let lower = v.trim().to_ascii_lowercase();
    const UNITS: [(&str, u64); 6] = [
        ("gb", 1 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1_000),
    ];
    let (num, mult) = UNITS
        .iter()
        .find_map(|(suf, m)| lower.strip_suffix(suf).map(|n| (n, *m)))
        .unwrap_or((lower.strip_suffix('b').unwrap_or(&lower), 1));
    let n: u64 = num
        .parse()
        .map_err(|_| "argument must be a memory value".to_string())?;
    n.checked_mul(mult)
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
                *self = text
                    .trim()
                    .parse()
                    .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
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
integer_value!(u16, u64, usize, i64);

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
            _ => return Err("argument(s) must be one of the following: no, yes, local".into()),
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
