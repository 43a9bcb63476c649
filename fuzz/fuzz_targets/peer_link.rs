//! A peer that lies during the link handshake and after it: arbitrary words as the
//! CRDT.LINK a peer sends, then arbitrary bytes as the frames of a link, fed to both the
//! serving side (requests) and the pulling side (replies, applied to an engine). Every
//! refusal must be an error, never a panic.

#![no_main]

use concord_engine::{Engine, EngineConfig};
use concord_replication::{Config, Msg, PROTO_MIN, PROTO_VERSION, Replication, Serve};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte says how long the handshake part is, the second at which protocol
    // version the link runs.
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let Some((&v, data)) = data.split_first() else {
        return;
    };
    let version = PROTO_MIN + u16::from(v) % (PROTO_VERSION - PROTO_MIN + 1);
    let (hello, mut frames) = data.split_at((split as usize).min(data.len()));
    let mut r = Replication::new(Config::new(1, [1, 2, 3].into(), "db"));
    let words: Vec<&[u8]> = hello.split(|&b| b == b' ').collect();
    if let [proto, db, from, to, ..] = words[..] {
        let _ = r.check_hello(proto, db, from, to);
    }
    let mut e = Engine::new(EngineConfig::default());
    e.set_time(1_700_000_000_000);
    let mut serve = Serve::new(2, version);
    // Frames are read off the same bytes twice: once as requests, once as replies.
    let mut as_replies = frames;
    while let Ok(Some((m, used))) = Msg::decode(frames, version) {
        if r.serve_request(&mut serve, m).is_err() || used == 0 {
            break;
        }
        frames = &frames[used..];
    }
    while let Ok(Some((m, used))) = Msg::decode(as_replies, version) {
        if r.receive(&mut e, 2, m, 1_700_000_000_000).is_err() || used == 0 {
            break;
        }
        e.commit();
        as_replies = &as_replies[used..];
    }
});
