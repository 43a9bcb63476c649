//! The Redis serialization protocol: an incremental request parser and a reply writer
//! that speaks RESP2 and RESP3.

mod parse;
mod write;

pub use parse::{Batch, Limits, ParseError, RequestParser, quote_arg, split_args};
pub use write::{Out, encode_command, format_double};
