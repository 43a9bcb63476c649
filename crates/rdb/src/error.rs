//! Why a file could not be read, and where.

/// A file that could not be read: what was wrong and at which byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("RDB file unreadable at offset {offset}: {kind}")]
pub struct RdbError {
    /// The offset in the file where reading failed.
    pub offset: usize,
    /// What was wrong.
    pub kind: ErrorKind,
}

/// What was wrong with a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// It does not start with `REDIS` and four digits.
    #[error("not an RDB file (no REDIS header)")]
    NotRdb,
    /// A version this reader does not read.
    #[error("RDB version {0} is not supported (versions 9 to 11 are)")]
    Version(u16),
    /// The file ends in the middle of something.
    #[error("the file ends early")]
    Truncated,
    /// A length larger than anything the file can hold, or than the limits allow.
    #[error("length {0} is too large")]
    TooLong(u64),
    /// An encoding or opcode byte this reader does not know.
    #[error("unknown {what} {byte}")]
    Unknown {
        /// What the byte was meant to be.
        what: &'static str,
        /// Its value.
        byte: u8,
    },
    /// A value type this reader does not read (yet), on the key named.
    #[error("key '{key}': value type {kind} is not supported")]
    Unsupported {
        /// The value type byte.
        kind: u8,
        /// The key, printable.
        key: String,
    },
    /// A packed collection (listpack, ziplist, intset) or a value that is not well formed.
    #[error("malformed value: {0}")]
    Malformed(&'static str),
    /// Compressed data that does not decompress to its stated length.
    #[error("compressed string is damaged")]
    Lzf,
    /// The checksum at the end does not match the file.
    #[error("checksum mismatch (file says {stated:#018x}, contents give {computed:#018x})")]
    Checksum {
        /// The checksum the file states.
        stated: u64,
        /// The checksum of its contents.
        computed: u64,
    },
    /// Bytes after the end marker and checksum.
    #[error("bytes after the end of the file")]
    Trailing,
}
