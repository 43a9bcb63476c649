//! Stream commands.

use crate::cmd::streams;
use crate::table::getkeys;
use crate::table::spec::{CommandSpec, KeySpec, acl, cmd, flags, kf};

pub(super) const COMMANDS: &[CommandSpec] = &[
    cmd("xadd", -5, "stream", "5.0.0")
        .flags(flags![WRITE, DENYOOM, FAST])
        .acl(acl![Stream])
        .keys(&[KeySpec::at(1, kf![RW, UPDATE])])
        .run(streams::xadd),
    cmd("xrange", -4, "stream", "5.0.0")
        .flags(flags![READONLY])
        .acl(acl![Stream])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(streams::xrange),
    cmd("xrevrange", -4, "stream", "5.0.0")
        .flags(flags![READONLY])
        .acl(acl![Stream])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(streams::xrange),
    cmd("xlen", 2, "stream", "5.0.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![Stream])
        .keys(&[KeySpec::at(1, kf![RO])])
        .run(streams::xlen),
    cmd("xdel", -3, "stream", "5.0.0")
        .flags(flags![WRITE, FAST])
        .acl(acl![Stream])
        .keys(&[KeySpec::at(1, kf![RW, DELETE])])
        .run(streams::xdel),
    cmd("xtrim", -4, "stream", "5.0.0")
        .flags(flags![WRITE])
        .acl(acl![Stream])
        .keys(&[KeySpec::at(1, kf![RW, DELETE])])
        .run(streams::xtrim),
    cmd("xread", -4, "stream", "5.0.0")
        .flags(flags![BLOCKING, READONLY])
        .acl(acl![Stream])
        .keys(&[KeySpec::keyword("STREAMS", 1, kf![RO, ACCESS]).range(-1, 1, 2)])
        .getkeys(getkeys::xread)
        .run(streams::xread),
    cmd("xsetid", -3, "stream", "5.0.0")
        .flags(flags![WRITE, DENYOOM, FAST])
        .acl(acl![Stream])
        .keys(&[KeySpec::at(1, kf![RW, UPDATE])])
        .run(streams::xsetid),
    cmd("xinfo", -2, "stream", "5.0.0")
        .subs(XINFO)
        .run(streams::xinfo),
    // Redis declares no flags on the container itself, only on its subcommands (the
    // server checks the resolved subcommand's).
    cmd("xgroup", -2, "stream", "5.0.0")
        .subs(XGROUP)
        .run(streams::xgroup),
    cmd("xreadgroup", -7, "stream", "5.0.0")
        .flags(flags![BLOCKING, WRITE])
        .acl(acl![Stream])
        .keys(&[KeySpec::keyword("STREAMS", 4, kf![RO, ACCESS]).range(-1, 1, 2)])
        .getkeys(getkeys::xread)
        .run(streams::xreadgroup),
    cmd("xack", -4, "stream", "5.0.0")
        .flags(flags![WRITE, FAST])
        .acl(acl![Stream])
        .keys(&[KeySpec::at(1, kf![RW, UPDATE])])
        .run(streams::xack),
    cmd("xpending", -3, "stream", "5.0.0")
        .flags(flags![READONLY])
        .acl(acl![Stream])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(streams::xpending),
    cmd("xclaim", -6, "stream", "5.0.0")
        .flags(flags![WRITE, FAST])
        .acl(acl![Stream])
        .keys(&[KeySpec::at(1, kf![RW, UPDATE])])
        .run(streams::xclaim),
    cmd("xautoclaim", -6, "stream", "6.2.0")
        .flags(flags![WRITE, FAST])
        .acl(acl![Stream])
        .keys(&[KeySpec::at(1, kf![RW, DELETE])])
        .run(streams::xautoclaim),
];

const XINFO: &[CommandSpec] = &[
    cmd("stream", -3, "stream", "5.0.0")
        .flags(flags![READONLY])
        .acl(acl![Stream])
        .keys(&[KeySpec::at(2, kf![RO, ACCESS])]),
    cmd("groups", 3, "stream", "5.0.0")
        .flags(flags![READONLY])
        .acl(acl![Stream])
        .keys(&[KeySpec::at(2, kf![RO, ACCESS])]),
    cmd("consumers", 4, "stream", "5.0.0")
        .flags(flags![READONLY])
        .acl(acl![Stream])
        .keys(&[KeySpec::at(2, kf![RO, ACCESS])]),
    cmd("help", 2, "stream", "5.0.0")
        .flags(flags![LOADING, STALE])
        .acl(acl![Stream]),
];

const XGROUP: &[CommandSpec] = &[
    cmd("create", -5, "stream", "5.0.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![Stream])
        .keys(&[KeySpec::at(2, kf![RW, INSERT])]),
    cmd("setid", -5, "stream", "5.0.0")
        .flags(flags![WRITE])
        .acl(acl![Stream])
        .keys(&[KeySpec::at(2, kf![RW, UPDATE])]),
    cmd("destroy", 4, "stream", "5.0.0")
        .flags(flags![WRITE])
        .acl(acl![Stream])
        .keys(&[KeySpec::at(2, kf![RW, DELETE])]),
    cmd("createconsumer", 5, "stream", "6.2.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![Stream])
        .keys(&[KeySpec::at(2, kf![RW, INSERT])]),
    cmd("delconsumer", 5, "stream", "5.0.0")
        .flags(flags![WRITE])
        .acl(acl![Stream])
        .keys(&[KeySpec::at(2, kf![RW, DELETE])]),
    cmd("help", 2, "stream", "5.0.0")
        .flags(flags![LOADING, STALE])
        .acl(acl![Stream]),
];
