//! SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE, PUBLISH and PUBSUB; and how messages
//! are written to subscribers.

use crate::Shared;
use crate::dispatch::{help_err, lossy};
use crate::pubsub::{Msg, Space};
use crate::session::Session;
use bytes::Bytes;
use concord_engine::Engine;
use concord_resp::Out;

/// SUBSCRIBE channel [channel ...].
pub(crate) fn subscribe(s: &mut Session, sh: &Shared, _: &mut Engine, a: &[&[u8]], out: &mut Out) {
    join(s, sh, Space::Channel, &a[1..], out);
}

/// PSUBSCRIBE pattern [pattern ...].
pub(crate) fn psubscribe(s: &mut Session, sh: &Shared, _: &mut Engine, a: &[&[u8]], out: &mut Out) {
    join(s, sh, Space::Pattern, &a[1..], out);
}

/// SSUBSCRIBE shardchannel [shardchannel ...].
pub(crate) fn ssubscribe(s: &mut Session, sh: &Shared, _: &mut Engine, a: &[&[u8]], out: &mut Out) {
    join(s, sh, Space::Shard, &a[1..], out);
}

/// UNSUBSCRIBE [channel ...].
pub(crate) fn unsubscribe(
    s: &mut Session,
    sh: &Shared,
    _: &mut Engine,
    a: &[&[u8]],
    out: &mut Out,
) {
    leave(s, sh, Space::Channel, &a[1..], out);
}

/// PUNSUBSCRIBE [pattern ...].
pub(crate) fn punsubscribe(
    s: &mut Session,
    sh: &Shared,
    _: &mut Engine,
    a: &[&[u8]],
    out: &mut Out,
) {
    leave(s, sh, Space::Pattern, &a[1..], out);
}

/// SUNSUBSCRIBE [shardchannel ...].
pub(crate) fn sunsubscribe(
    s: &mut Session,
    sh: &Shared,
    _: &mut Engine,
    a: &[&[u8]],
    out: &mut Out,
) {
    leave(s, sh, Space::Shard, &a[1..], out);
}

/// The words of a namespace's subscribe and unsubscribe replies.
fn words(space: Space) -> (&'static [u8], &'static [u8]) {
    match space {
        Space::Channel => (b"subscribe", b"unsubscribe"),
        Space::Pattern => (b"psubscribe", b"punsubscribe"),
        Space::Shard => (b"ssubscribe", b"sunsubscribe"),
    }
}

/// The count a subscribe or unsubscribe reply shows: shard channels are counted apart
/// from channels and patterns, as in Redis.
fn count(s: &Session, space: Space) -> i64 {
    match space {
        Space::Shard => s.shard_channels.len() as i64,
        _ => (s.channels.len() + s.patterns.len()) as i64,
    }
}

/// Tells what CLIENT LIST (and ACL changes) see of the subscriptions what changed: only
/// the names changed, so that subscribing one channel at a time stays linear.
fn record(s: &Session, sh: &Shared, space: Space, names: Vec<Bytes>, joined: bool) {
    if names.is_empty() {
        return;
    }
    s.update_info(sh, |c| {
        let set = c.subscriptions_mut(space);
        for n in names {
            if joined {
                set.insert(n);
            } else {
                set.remove(&n);
            }
        }
    });
}

fn join(s: &mut Session, sh: &Shared, space: Space, names: &[&[u8]], out: &mut Out) {
    let (word, _) = words(space);
    let mut ps = sh.pubsub.lock().unwrap_or_else(|p| p.into_inner());
    let mut joined = Vec::new();
    for &n in names {
        let n = Bytes::copy_from_slice(n);
        if ps.subscribe(space, &n, s.id, &s.mailbox) {
            s.subscriptions_mut(space).insert(n.clone());
            joined.push(n.clone());
        }
        out.push(3);
        out.bulk(word);
        out.bulk(&n);
        out.int(count(s, space));
    }
    drop(ps);
    record(s, sh, space, joined, true);
}

fn leave(s: &mut Session, sh: &Shared, space: Space, names: &[&[u8]], out: &mut Out) {
    let (_, word) = words(space);
    let targets: Vec<Bytes> = if names.is_empty() {
        s.subscriptions_mut(space).iter().cloned().collect()
    } else {
        names.iter().map(|n| Bytes::copy_from_slice(n)).collect()
    };
    let mut ps = sh.pubsub.lock().unwrap_or_else(|p| p.into_inner());
    if targets.is_empty() {
        out.push(3);
        out.bulk(word);
        out.null();
        out.int(count(s, space));
    }
    let mut left = Vec::new();
    for n in targets {
        ps.unsubscribe(space, &n, s.id);
        let was = s.subscriptions_mut(space).remove(&n);
        out.push(3);
        out.bulk(word);
        out.bulk(&n);
        out.int(count(s, space));
        if was {
            left.push(n);
        }
    }
    drop(ps);
    record(s, sh, space, left, false);
}

/// SPUBLISH shardchannel message: delivered to this instance's subscribers only (a
/// shard channel lives on the instance, as on one shard in Redis Cluster).
pub(crate) fn spublish(_: &mut Session, sh: &Shared, _: &mut Engine, a: &[&[u8]], out: &mut Out) {
    let n = sh
        .pubsub
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .spublish(&Bytes::copy_from_slice(a[1]), &Bytes::copy_from_slice(a[2]));
    out.int(n as i64);
}

/// PUBLISH channel message: delivered here, and forwarded to peers (best effort).
pub(crate) fn publish(_: &mut Session, sh: &Shared, e: &mut Engine, a: &[&[u8]], out: &mut Out) {
    // Keyspace events of the commands before this one go first.
    crate::notify::publish(sh, e);
    let n = sh
        .pubsub
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .publish(&Bytes::copy_from_slice(a[1]), &Bytes::copy_from_slice(a[2]));
    if !sh.cfg.peers.is_empty() {
        // No receiver (no link up) is fine.
        let _ = sh
            .publishes
            .send((a[1].to_vec().into(), a[2].to_vec().into()));
    }
    out.int(n as i64);
}

/// PUBSUB CHANNELS|NUMSUB|NUMPAT|SHARDCHANNELS|SHARDNUMSUB.
pub(crate) fn pubsub(_: &mut Session, sh: &Shared, _: &mut Engine, a: &[&[u8]], out: &mut Out) {
    let ps = sh.pubsub.lock().unwrap_or_else(|p| p.into_inner());
    let sub = lossy(a[1]).to_ascii_uppercase();
    match (sub.as_str(), a.len()) {
        ("CHANNELS", 2 | 3) => {
            let ch = ps.channels(Space::Channel, a.get(2).map(|p| &p[..]));
            out.array(ch.len());
            for c in ch {
                out.bulk(&c);
            }
        }
        ("NUMSUB", _) => {
            out.map(a.len() - 2);
            for c in &a[2..] {
                out.bulk(c);
                out.int(ps.numsub(Space::Channel, c) as i64);
            }
        }
        ("NUMPAT", 2) => out.int(ps.numpat() as i64),
        ("SHARDCHANNELS", 2 | 3) => {
            let ch = ps.channels(Space::Shard, a.get(2).map(|p| &p[..]));
            out.array(ch.len());
            for c in ch {
                out.bulk(&c);
            }
        }
        ("SHARDNUMSUB", _) => {
            out.map(a.len() - 2);
            for c in &a[2..] {
                out.bulk(c);
                out.int(ps.numsub(Space::Shard, c) as i64);
            }
        }
        ("HELP", 2) => out.help(
            "PUBSUB",
            &[
                "CHANNELS [<pattern>]",
                "    Channels with subscribers, those matching the pattern if one is given.",
                "NUMPAT",
                "    How many pattern subscriptions there are.",
                "NUMSUB [<channel> ...]",
                "    Subscribers of each channel named (pattern subscriptions not counted).",
                "SHARDCHANNELS [<pattern>]",
                "    Shard channels with subscribers, those matching the pattern if one is given.",
                "SHARDNUMSUB [<shardchannel> ...]",
                "    Subscribers of each shard channel named.",
            ],
        ),
        _ => out.error(&help_err(a[1], "PUBSUB")),
    }
}

/// Writes a message for a subscriber.
pub(crate) fn encode(m: Msg, subscribed: bool, out: &mut Out) {
    match m {
        Msg::Message { channel, payload } => {
            out.push(3);
            out.bulk(b"message");
            out.bulk(&channel);
            out.bulk(&payload);
        }
        Msg::PMessage {
            pattern,
            channel,
            payload,
        } => {
            out.push(4);
            out.bulk(b"pmessage");
            out.bulk(&pattern);
            out.bulk(&channel);
            out.bulk(&payload);
        }
        Msg::SMessage { channel, payload } => {
            out.push(3);
            out.bulk(b"smessage");
            out.bulk(&channel);
            out.bulk(&payload);
        }
        Msg::Monitor(line) => out.raw(&line),
        Msg::Invalidate { keys, redirected } => {
            crate::tracking::encode(keys.as_deref(), redirected, subscribed, out)
        }
        // Only RESP3 can tell a client on its own connection, as in Redis.
        Msg::RedirBroken(id) if out.resp3 => {
            out.push(2);
            out.bulk(b"tracking-redir-broken");
            out.int(id as i64);
        }
        Msg::RedirBroken(_) => {}
        Msg::Reply(..) | Msg::Refresh => {}
    }
}
