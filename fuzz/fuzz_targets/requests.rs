//! Hostile client input: arbitrary bytes, delivered in arbitrary pieces, go through the
//! request parser and every complete request runs against an engine. Nothing may panic.

#![no_main]

use bytes::{Buf, BytesMut};
use concord_engine::{Engine, EngineConfig};
use concord_resp::{Batch, Limits, Out, RequestParser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks where the input is cut, so partial reads are exercised too.
    let (cut, data) = match data.split_first() {
        Some((c, rest)) => (*c as usize, rest),
        None => return,
    };
    let limits = Limits { max_bulk: 1 << 20, max_args: 1 << 12, max_inline: 1 << 12 };
    let mut parser = RequestParser::new(limits);
    let mut engine = Engine::new(EngineConfig::default());
    engine.set_time(1_700_000_000_000);
    let mut out = Out::new();
    let mut buf = BytesMut::new();
    let mut batch = Batch::default();
    let step = cut.max(1);
    for chunk in data.chunks(step) {
        buf.extend_from_slice(chunk);
        let failed = parser.parse(&buf, &mut batch).is_err();
        for i in 0..batch.len() {
            let args: Vec<&[u8]> = batch.args(i, &buf).collect();
            if !args.is_empty() {
                engine.execute(&args, &mut out);
                engine.commit();
            }
        }
        buf.advance(parser.advance(&mut batch));
        if failed {
            return;
        }
        out.buf.clear();
    }
});
