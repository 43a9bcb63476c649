//! Typed access to a command's arguments.

use crate::error::CmdError;
use concord_crdt::num::{parse_f64, parse_i64};

/// A command's arguments; index 0 is the command name.
#[derive(Clone, Copy, Debug)]
pub struct Args<'a>(pub &'a [&'a [u8]]);

impl<'a> Args<'a> {
    /// The number of arguments, the name included.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no arguments at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Argument `i` as bytes.
    pub fn get(&self, i: usize) -> &'a [u8] {
        self.0[i]
    }

    /// Arguments from `i` on.
    pub fn from(&self, i: usize) -> &'a [&'a [u8]] {
        &self.0[i.min(self.0.len())..]
    }

    /// Argument `i` as a 64-bit integer.
    pub fn int(&self, i: usize) -> Result<i64, CmdError> {
        parse_i64(self.0[i]).ok_or(CmdError::NotInt)
    }

    /// Argument `i` as a float (NaN refused).
    pub fn float(&self, i: usize) -> Result<f64, CmdError> {
        parse_f64(self.0[i]).ok_or(CmdError::NotFloat)
    }

    /// Whether argument `i` equals `word`, ignoring ASCII case.
    pub fn is(&self, i: usize, word: &str) -> bool {
        self.0
            .get(i)
            .is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()))
    }

    /// Argument `i` upper-cased, for matching options.
    pub fn upper(&self, i: usize) -> String {
        String::from_utf8_lossy(self.0[i]).to_ascii_uppercase()
    }

    /// The command name in lower case, as error texts show it.
    pub fn name(&self) -> String {
        String::from_utf8_lossy(self.0[0]).to_ascii_lowercase()
    }
}
