//! Connection, transaction and pub/sub commands (Redis's `connection`, `transactions`
//! and `pubsub` groups).

use crate::table::spec::{Channels, CommandSpec, KeySpec, acl, cmd, flags, kf};

pub(super) const COMMANDS: &[CommandSpec] = &[
    cmd("ping", -1, "connection", "1.0.0")
        .flags(flags![FAST, SENTINEL, SUBSCRIBED_OK])
        .acl(acl![Connection]),
    cmd("echo", 2, "connection", "1.0.0")
        .flags(flags![LOADING, STALE, FAST])
        .acl(acl![Connection]),
    cmd("hello", -1, "connection", "6.0.0")
        .flags(flags![
            NOSCRIPT, LOADING, STALE, FAST, NO_AUTH, SENTINEL, ALLOW_BUSY
        ])
        .acl(acl![Connection]),
    cmd("auth", -2, "connection", "1.0.0")
        .flags(flags![
            NOSCRIPT, LOADING, STALE, FAST, NO_AUTH, SENTINEL, ALLOW_BUSY
        ])
        .acl(acl![Connection]),
    cmd("select", 2, "connection", "1.0.0")
        .flags(flags![LOADING, STALE, FAST])
        .acl(acl![Connection]),
    cmd("quit", -1, "connection", "1.0.0")
        .flags(flags![
            ALLOW_BUSY,
            NOSCRIPT,
            LOADING,
            STALE,
            FAST,
            NO_AUTH,
            NOT_QUEUED,
            SUBSCRIBED_OK
        ])
        .acl(acl![Connection]),
    cmd("reset", 1, "connection", "6.2.0")
        .flags(flags![
            NOSCRIPT,
            LOADING,
            STALE,
            FAST,
            NO_AUTH,
            ALLOW_BUSY,
            NOT_QUEUED,
            SUBSCRIBED_OK
        ])
        .acl(acl![Connection]),
    cmd("client", -2, "connection", "2.4.0")
        .flags(flags![SENTINEL])
        .subs(CLIENT),
    cmd("multi", 1, "transactions", "1.2.0")
        .flags(flags![
            NOSCRIPT, LOADING, STALE, FAST, ALLOW_BUSY, NOT_QUEUED
        ])
        .acl(acl![Transaction]),
    cmd("exec", 1, "transactions", "1.2.0")
        .flags(flags![NOSCRIPT, LOADING, STALE, SKIP_SLOWLOG, NOT_QUEUED])
        .acl(acl![Transaction]),
    cmd("discard", 1, "transactions", "2.0.0")
        .flags(flags![
            NOSCRIPT, LOADING, STALE, FAST, ALLOW_BUSY, NOT_QUEUED
        ])
        .acl(acl![Transaction]),
    cmd("watch", -2, "transactions", "2.2.0")
        .flags(flags![
            NOSCRIPT, LOADING, STALE, FAST, ALLOW_BUSY, NOT_QUEUED
        ])
        .acl(acl![Transaction])
        .keys(&[KeySpec::at(1, kf![RO]).range(-1, 1, 0)]),
    cmd("unwatch", 1, "transactions", "2.2.0")
        .flags(flags![NOSCRIPT, LOADING, STALE, FAST, ALLOW_BUSY])
        .acl(acl![Transaction]),
    cmd("subscribe", -2, "pubsub", "2.0.0")
        .flags(flags![
            PUBSUB,
            NOSCRIPT,
            LOADING,
            STALE,
            SENTINEL,
            SUBSCRIBED_OK
        ])
        .channels(Channels::Subscribe),
    cmd("unsubscribe", -1, "pubsub", "2.0.0")
        .flags(flags![
            PUBSUB,
            NOSCRIPT,
            LOADING,
            STALE,
            SENTINEL,
            SUBSCRIBED_OK
        ])
        .channels(Channels::Unsubscribe),
    cmd("psubscribe", -2, "pubsub", "2.0.0")
        .flags(flags![
            PUBSUB,
            NOSCRIPT,
            LOADING,
            STALE,
            SENTINEL,
            SUBSCRIBED_OK
        ])
        .channels(Channels::SubscribePattern),
    cmd("punsubscribe", -1, "pubsub", "2.0.0")
        .flags(flags![
            PUBSUB,
            NOSCRIPT,
            LOADING,
            STALE,
            SENTINEL,
            SUBSCRIBED_OK
        ])
        .channels(Channels::UnsubscribePattern),
    cmd("publish", 3, "pubsub", "2.0.0")
        .flags(flags![
            PUBSUB,
            LOADING,
            STALE,
            FAST,
            MAY_REPLICATE,
            SENTINEL
        ])
        .channels(Channels::Publish),
    cmd("ssubscribe", -2, "pubsub", "7.0.0")
        .flags(flags![PUBSUB, NOSCRIPT, LOADING, STALE, SUBSCRIBED_OK])
        .keys(SHARD_CHANNELS)
        .channels(Channels::Subscribe),
    cmd("sunsubscribe", -1, "pubsub", "7.0.0")
        .flags(flags![PUBSUB, NOSCRIPT, LOADING, STALE, SUBSCRIBED_OK])
        .keys(SHARD_CHANNELS)
        .channels(Channels::Unsubscribe),
    cmd("spublish", 3, "pubsub", "7.0.0")
        .flags(flags![PUBSUB, LOADING, STALE, FAST, MAY_REPLICATE])
        .keys(&[KeySpec::at(1, kf![NOT_KEY]).range(0, 1, 0)])
        .channels(Channels::Publish),
    cmd("pubsub", -2, "pubsub", "2.8.0").subs(PUBSUB),
];

/// Shard channels are declared as keys Redis Cluster routes by, never as keys.
const SHARD_CHANNELS: &[KeySpec] = &[KeySpec::at(1, kf![NOT_KEY]).range(-1, 1, 0)];

const CLIENT: &[CommandSpec] = &[
    cmd("id", 2, "connection", "5.0.0")
        .flags(flags![NOSCRIPT, LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
    cmd("getname", 2, "connection", "2.6.9")
        .flags(flags![NOSCRIPT, LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
    cmd("setname", 3, "connection", "2.6.9")
        .flags(flags![NOSCRIPT, LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
    cmd("setinfo", 4, "connection", "7.2.0")
        .flags(flags![NOSCRIPT, LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
    cmd("list", -2, "connection", "2.4.0")
        .flags(flags![ADMIN, NOSCRIPT, LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
    cmd("info", 2, "connection", "6.2.0")
        .flags(flags![NOSCRIPT, LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
    cmd("kill", -3, "connection", "2.4.0")
        .flags(flags![ADMIN, NOSCRIPT, LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
    cmd("unblock", -3, "connection", "5.0.0")
        .flags(flags![ADMIN, NOSCRIPT, LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
    cmd("no-evict", 3, "connection", "7.0.0")
        .flags(flags![ADMIN, NOSCRIPT, LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
    cmd("no-touch", 3, "connection", "7.2.0")
        .flags(flags![NOSCRIPT, LOADING, STALE])
        .acl(acl![Connection]),
    cmd("tracking", -3, "connection", "6.0.0")
        .flags(flags![NOSCRIPT, LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
    cmd("caching", 3, "connection", "6.0.0")
        .flags(flags![NOSCRIPT, LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
    cmd("getredir", 2, "connection", "6.0.0")
        .flags(flags![NOSCRIPT, LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
    cmd("trackinginfo", 2, "connection", "6.2.0")
        .flags(flags![NOSCRIPT, LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
    cmd("pause", -3, "connection", "3.0.0")
        .flags(flags![ADMIN, NOSCRIPT, LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
    cmd("unpause", 2, "connection", "6.2.0")
        .flags(flags![ADMIN, NOSCRIPT, LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
    cmd("reply", 3, "connection", "3.2.0")
        .flags(flags![NOSCRIPT, LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
    cmd("help", 2, "connection", "5.0.0")
        .flags(flags![LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
];

const PUBSUB: &[CommandSpec] = &[
    cmd("channels", -2, "pubsub", "2.8.0").flags(flags![PUBSUB, LOADING, STALE]),
    cmd("numsub", -2, "pubsub", "2.8.0").flags(flags![PUBSUB, LOADING, STALE]),
    cmd("numpat", 2, "pubsub", "2.8.0").flags(flags![PUBSUB, LOADING, STALE]),
    cmd("shardchannels", -2, "pubsub", "7.0.0").flags(flags![PUBSUB, LOADING, STALE]),
    cmd("shardnumsub", -2, "pubsub", "7.0.0").flags(flags![PUBSUB, LOADING, STALE]),
    cmd("help", 2, "pubsub", "6.2.0").flags(flags![LOADING, STALE]),
];
