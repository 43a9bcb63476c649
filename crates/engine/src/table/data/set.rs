//! Set commands.

use crate::cmd::sets;
use crate::table::getkeys;
use crate::table::spec::{CommandSpec, KeySpec, acl, cmd, flags, kf};

pub(super) const COMMANDS: &[CommandSpec] = &[
    cmd("sadd", -3, "set", "1.0.0")
        .flags(flags![WRITE, DENYOOM, FAST])
        .acl(acl![Set])
        .keys(&[KeySpec::at(1, kf![RW, INSERT])])
        .run(sets::sadd),
    cmd("srem", -3, "set", "1.0.0")
        .flags(flags![WRITE, FAST])
        .acl(acl![Set])
        .keys(&[KeySpec::at(1, kf![RW, DELETE])])
        .run(sets::srem),
    cmd("smembers", 2, "set", "1.0.0")
        .flags(flags![READONLY])
        .acl(acl![Set])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(sets::smembers),
    cmd("sismember", 3, "set", "1.0.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![Set])
        .keys(&[KeySpec::at(1, kf![RO])])
        .run(sets::sismember),
    cmd("smismember", -3, "set", "6.2.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![Set])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(sets::smismember),
    cmd("scard", 2, "set", "1.0.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![Set])
        .keys(&[KeySpec::at(1, kf![RO])])
        .run(sets::scard),
    cmd("spop", -2, "set", "1.0.0")
        .flags(flags![WRITE, FAST])
        .acl(acl![Set])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, DELETE])])
        .run(sets::spop),
    cmd("srandmember", -2, "set", "1.0.0")
        .flags(flags![READONLY])
        .acl(acl![Set])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(sets::srandmember),
    cmd("smove", 4, "set", "1.0.0")
        .flags(flags![WRITE, FAST])
        .acl(acl![Set])
        .keys(&[
            KeySpec::at(1, kf![RW, ACCESS, DELETE]),
            KeySpec::at(2, kf![RW, INSERT]),
        ])
        .run(sets::smove),
    cmd("sinter", -2, "set", "1.0.0")
        .flags(flags![READONLY])
        .acl(acl![Set])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS]).range(-1, 1, 0)])
        .run(sets::salgebra),
    cmd("sunion", -2, "set", "1.0.0")
        .flags(flags![READONLY])
        .acl(acl![Set])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS]).range(-1, 1, 0)])
        .run(sets::salgebra),
    cmd("sdiff", -2, "set", "1.0.0")
        .flags(flags![READONLY])
        .acl(acl![Set])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS]).range(-1, 1, 0)])
        .run(sets::salgebra),
    cmd("sinterstore", -3, "set", "1.0.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![Set])
        .keys(&[
            KeySpec::at(1, kf![RW, UPDATE]),
            KeySpec::at(2, kf![RO, ACCESS]).range(-1, 1, 0),
        ])
        .run(sets::salgebra_store),
    cmd("sunionstore", -3, "set", "1.0.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![Set])
        .keys(&[
            KeySpec::at(1, kf![OW, UPDATE]),
            KeySpec::at(2, kf![RO, ACCESS]).range(-1, 1, 0),
        ])
        .run(sets::salgebra_store),
    cmd("sdiffstore", -3, "set", "1.0.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![Set])
        .keys(&[
            KeySpec::at(1, kf![OW, UPDATE]),
            KeySpec::at(2, kf![RO, ACCESS]).range(-1, 1, 0),
        ])
        .run(sets::salgebra_store),
    cmd("sintercard", -3, "set", "7.0.0")
        .flags(flags![READONLY])
        .acl(acl![Set])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS]).keynum(0, 1, 1)])
        .getkeys(getkeys::sintercard)
        .run(sets::sintercard),
    cmd("sscan", -3, "set", "2.8.0")
        .flags(flags![READONLY])
        .acl(acl![Set])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(sets::sscan),
];
