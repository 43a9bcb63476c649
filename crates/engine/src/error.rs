//! Error replies, with Redis's exact texts.

/// Why a command failed; its `Display` is the error reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmdError {
    /// The key holds another type.
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    /// An argument is not an integer.
    #[error("ERR value is not an integer or out of range")]
    NotInt,
    /// An argument is not a float.
    #[error("ERR value is not a valid float")]
    NotFloat,
    /// An increment would leave the 64-bit range.
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    /// Options do not parse.
    #[error("ERR syntax error")]
    Syntax,
    /// The key does not exist.
    #[error("ERR no such key")]
    NoSuchKey,
    /// Wrong argument count for the named command.
    #[error("ERR wrong number of arguments for '{0}' command")]
    Arity(String),
    /// Any other error; the text includes its code.
    #[error("{0}")]
    Other(String),
}

impl CmdError {
    /// An error with a free text, which must start with its code.
    pub fn msg(s: impl Into<String>) -> Self {
        CmdError::Other(s.into())
    }
}

/// The result of a command handler.
pub type CmdResult = Result<(), CmdError>;
