//! A peer that lies: arbitrary bytes as an encoded op group must be refused cleanly, and
//! whatever does decode must encode back to the same bytes.

#![no_main]

use concord_crdt::codec::{decode_group, encode_group};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ops) = decode_group(data) {
        let again = encode_group(&ops);
        let back = decode_group(&again).expect("re-encoded group decodes");
        assert_eq!(format!("{ops:?}"), format!("{back:?}"));
    }
});
