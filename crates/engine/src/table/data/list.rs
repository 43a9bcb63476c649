//! List commands.

use crate::cmd::lists;
use crate::table::getkeys;
use crate::table::spec::{CommandSpec, KeySpec, acl, cmd, flags, kf};

pub(super) const COMMANDS: &[CommandSpec] = &[
    cmd("lpush", -3, "list", "1.0.0")
        .flags(flags![WRITE, DENYOOM, FAST])
        .acl(acl![List])
        .keys(&[KeySpec::at(1, kf![RW, INSERT])])
        .run(lists::lpush),
    cmd("rpush", -3, "list", "1.0.0")
        .flags(flags![WRITE, DENYOOM, FAST])
        .acl(acl![List])
        .keys(&[KeySpec::at(1, kf![RW, INSERT])])
        .run(lists::lpush),
    cmd("lpushx", -3, "list", "2.2.0")
        .flags(flags![WRITE, DENYOOM, FAST])
        .acl(acl![List])
        .keys(&[KeySpec::at(1, kf![RW, INSERT])])
        .run(lists::lpushx),
    cmd("rpushx", -3, "list", "2.2.0")
        .flags(flags![WRITE, DENYOOM, FAST])
        .acl(acl![List])
        .keys(&[KeySpec::at(1, kf![RW, INSERT])])
        .run(lists::lpushx),
    cmd("lpop", -2, "list", "1.0.0")
        .flags(flags![WRITE, FAST])
        .acl(acl![List])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, DELETE])])
        .run(lists::lpop),
    cmd("rpop", -2, "list", "1.0.0")
        .flags(flags![WRITE, FAST])
        .acl(acl![List])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, DELETE])])
        .run(lists::lpop),
    cmd("llen", 2, "list", "1.0.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![List])
        .keys(&[KeySpec::at(1, kf![RO])])
        .run(lists::llen),
    cmd("lindex", 3, "list", "1.0.0")
        .flags(flags![READONLY])
        .acl(acl![List])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(lists::lindex),
    cmd("lrange", 4, "list", "1.0.0")
        .flags(flags![READONLY])
        .acl(acl![List])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(lists::lrange),
    cmd("lset", 4, "list", "1.0.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![List])
        .keys(&[KeySpec::at(1, kf![RW, UPDATE])])
        .run(lists::lset),
    cmd("linsert", 5, "list", "2.2.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![List])
        .keys(&[KeySpec::at(1, kf![RW, INSERT])])
        .run(lists::linsert),
    cmd("lrem", 4, "list", "1.0.0")
        .flags(flags![WRITE])
        .acl(acl![List])
        .keys(&[KeySpec::at(1, kf![RW, DELETE])])
        .run(lists::lrem),
    cmd("ltrim", 4, "list", "1.0.0")
        .flags(flags![WRITE])
        .acl(acl![List])
        .keys(&[KeySpec::at(1, kf![RW, DELETE])])
        .run(lists::ltrim),
    cmd("lpos", -3, "list", "6.0.6")
        .flags(flags![READONLY])
        .acl(acl![List])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(lists::lpos),
    cmd("lmove", 5, "list", "6.2.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![List])
        .keys(&[
            KeySpec::at(1, kf![RW, ACCESS, DELETE]),
            KeySpec::at(2, kf![RW, INSERT]),
        ])
        .run(lists::lmove),
    cmd("rpoplpush", 3, "list", "1.2.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![List])
        .keys(&[
            KeySpec::at(1, kf![RW, ACCESS, DELETE]),
            KeySpec::at(2, kf![RW, INSERT]),
        ])
        .run(lists::rpoplpush),
    cmd("lmpop", -4, "list", "7.0.0")
        .flags(flags![WRITE])
        .acl(acl![List])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, DELETE]).keynum(0, 1, 1)])
        .getkeys(getkeys::lmpop)
        .run(lists::lmpop),
    cmd("blpop", -3, "list", "2.0.0")
        .flags(flags![WRITE, BLOCKING])
        .acl(acl![List])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, DELETE]).range(-2, 1, 0)])
        .run(lists::blpop),
    cmd("brpop", -3, "list", "2.0.0")
        .flags(flags![WRITE, BLOCKING])
        .acl(acl![List])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, DELETE]).range(-2, 1, 0)])
        .run(lists::blpop),
    cmd("blmove", 6, "list", "6.2.0")
        .flags(flags![WRITE, DENYOOM, BLOCKING])
        .acl(acl![List])
        .keys(&[
            KeySpec::at(1, kf![RW, ACCESS, DELETE]),
            KeySpec::at(2, kf![RW, INSERT]),
        ])
        .run(lists::blmove),
    cmd("brpoplpush", 4, "list", "2.2.0")
        .flags(flags![WRITE, DENYOOM, BLOCKING])
        .acl(acl![List])
        .keys(&[
            KeySpec::at(1, kf![RW, ACCESS, DELETE]),
            KeySpec::at(2, kf![RW, INSERT]),
        ])
        .run(lists::brpoplpush),
    cmd("blmpop", -5, "list", "7.0.0")
        .flags(flags![WRITE, BLOCKING])
        .acl(acl![List])
        .keys(&[KeySpec::at(2, kf![RW, ACCESS, DELETE]).keynum(0, 1, 1)])
        .getkeys(getkeys::blmpop)
        .run(lists::blmpop),
];
