//! Hash commands.

use crate::cmd::hashes;
use crate::table::spec::{CommandSpec, KeySpec, acl, cmd, flags, kf};

pub(super) const COMMANDS: &[CommandSpec] = &[
    cmd("hset", -4, "hash", "2.0.0")
        .flags(flags![WRITE, DENYOOM, FAST])
        .acl(acl![Hash])
        .keys(&[KeySpec::at(1, kf![RW, UPDATE])])
        .run(hashes::hset),
    cmd("hmset", -4, "hash", "2.0.0")
        .flags(flags![WRITE, DENYOOM, FAST])
        .acl(acl![Hash])
        .keys(&[KeySpec::at(1, kf![RW, UPDATE])])
        .run(hashes::hset),
    cmd("hsetnx", 4, "hash", "2.0.0")
        .flags(flags![WRITE, DENYOOM, FAST])
        .acl(acl![Hash])
        .keys(&[KeySpec::at(1, kf![RW, INSERT])])
        .run(hashes::hsetnx),
    cmd("hget", 3, "hash", "2.0.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![Hash])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(hashes::hget),
    cmd("hmget", -3, "hash", "2.0.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![Hash])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(hashes::hmget),
    cmd("hgetall", 2, "hash", "2.0.0")
        .flags(flags![READONLY])
        .acl(acl![Hash])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(hashes::hgetall),
    cmd("hkeys", 2, "hash", "2.0.0")
        .flags(flags![READONLY])
        .acl(acl![Hash])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(hashes::hgetall),
    cmd("hvals", 2, "hash", "2.0.0")
        .flags(flags![READONLY])
        .acl(acl![Hash])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(hashes::hgetall),
    cmd("hdel", -3, "hash", "2.0.0")
        .flags(flags![WRITE, FAST])
        .acl(acl![Hash])
        .keys(&[KeySpec::at(1, kf![RW, DELETE])])
        .run(hashes::hdel),
    cmd("hexists", 3, "hash", "2.0.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![Hash])
        .keys(&[KeySpec::at(1, kf![RO])])
        .run(hashes::hexists),
    cmd("hlen", 2, "hash", "2.0.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![Hash])
        .keys(&[KeySpec::at(1, kf![RO])])
        .run(hashes::hlen),
    cmd("hstrlen", 3, "hash", "3.2.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![Hash])
        .keys(&[KeySpec::at(1, kf![RO])])
        .run(hashes::hstrlen),
    cmd("hincrby", 4, "hash", "2.0.0")
        .flags(flags![WRITE, DENYOOM, FAST])
        .acl(acl![Hash])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, UPDATE])])
        .run(hashes::hincrby),
    cmd("hincrbyfloat", 4, "hash", "2.6.0")
        .flags(flags![WRITE, DENYOOM, FAST])
        .acl(acl![Hash])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, UPDATE])])
        .run(hashes::hincrbyfloat),
    cmd("hrandfield", -2, "hash", "6.2.0")
        .flags(flags![READONLY])
        .acl(acl![Hash])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(hashes::hrandfield),
    cmd("hscan", -3, "hash", "2.8.0")
        .flags(flags![READONLY])
        .acl(acl![Hash])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(hashes::hscan),
];
