//! The Redis serialization protocol: an incremental request parser, a reply writer that
//! speaks RESP2 and RESP3, and a bounded parser of replies.

mod parse;
pub mod reply;
mod write;

pub use parse::{Batch, Limits, ParseError, RequestParser, quote_arg, split_args};
pub use write::{Out, encode_command, format_double};
