//! Sorted set commands.

use crate::cmd::{zpops, zsets};
use crate::table::getkeys;
use crate::table::spec::{CommandSpec, KeySpec, acl, cmd, flags, kf};

pub(super) const COMMANDS: &[CommandSpec] = &[
    cmd("zadd", -4, "sorted_set", "1.2.0")
        .flags(flags![WRITE, DENYOOM, FAST])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RW, UPDATE])])
        .run(zsets::zadd),
    cmd("zincrby", 4, "sorted_set", "1.2.0")
        .flags(flags![WRITE, DENYOOM, FAST])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, UPDATE])])
        .run(zsets::zincrby),
    cmd("zrem", -3, "sorted_set", "1.2.0")
        .flags(flags![WRITE, FAST])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RW, DELETE])])
        .run(zsets::zrem),
    cmd("zscore", 3, "sorted_set", "1.2.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(zsets::zscore),
    cmd("zmscore", -3, "sorted_set", "6.2.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(zsets::zmscore),
    cmd("zcard", 2, "sorted_set", "1.2.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RO])])
        .run(zsets::zcard),
    cmd("zcount", 4, "sorted_set", "2.0.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(zsets::zcount),
    cmd("zlexcount", 4, "sorted_set", "2.8.9")
        .flags(flags![READONLY, FAST])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(zsets::zcount),
    cmd("zrank", -3, "sorted_set", "2.0.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(zsets::zrank),
    cmd("zrevrank", -3, "sorted_set", "2.0.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(zsets::zrank),
    cmd("zrange", -4, "sorted_set", "1.2.0")
        .flags(flags![READONLY])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(zsets::zrange),
    cmd("zrangestore", -5, "sorted_set", "6.2.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![SortedSet])
        .keys(&[
            KeySpec::at(1, kf![OW, UPDATE]),
            KeySpec::at(2, kf![RO, ACCESS]),
        ])
        .run(zsets::zrangestore),
    cmd("zrevrange", -4, "sorted_set", "1.2.0")
        .flags(flags![READONLY])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(zsets::zrevrange),
    cmd("zrangebyscore", -4, "sorted_set", "1.0.5")
        .flags(flags![READONLY])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(zsets::zrangeby),
    cmd("zrevrangebyscore", -4, "sorted_set", "2.2.0")
        .flags(flags![READONLY])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(zsets::zrangeby),
    cmd("zrangebylex", -4, "sorted_set", "2.8.9")
        .flags(flags![READONLY])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(zsets::zrangeby),
    cmd("zrevrangebylex", -4, "sorted_set", "2.8.9")
        .flags(flags![READONLY])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(zsets::zrangeby),
    cmd("zpopmin", -2, "sorted_set", "5.0.0")
        .flags(flags![WRITE, FAST])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, DELETE])])
        .run(zpops::zpop),
    cmd("zpopmax", -2, "sorted_set", "5.0.0")
        .flags(flags![WRITE, FAST])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, DELETE])])
        .run(zpops::zpop),
    cmd("zmpop", -4, "sorted_set", "7.0.0")
        .flags(flags![WRITE])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, DELETE]).keynum(0, 1, 1)])
        .getkeys(getkeys::lmpop)
        .run(zpops::zmpop),
    cmd("bzpopmin", -3, "sorted_set", "5.0.0")
        .flags(flags![WRITE, FAST, BLOCKING])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, DELETE]).range(-2, 1, 0)])
        .run(zpops::bzpop),
    cmd("bzpopmax", -3, "sorted_set", "5.0.0")
        .flags(flags![WRITE, FAST, BLOCKING])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, DELETE]).range(-2, 1, 0)])
        .run(zpops::bzpop),
    cmd("bzmpop", -5, "sorted_set", "7.0.0")
        .flags(flags![WRITE, BLOCKING])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(2, kf![RW, ACCESS, DELETE]).keynum(0, 1, 1)])
        .getkeys(getkeys::blmpop)
        .run(zpops::bzmpop),
    cmd("zrandmember", -2, "sorted_set", "6.2.0")
        .flags(flags![READONLY])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(zsets::zrandmember),
    cmd("zremrangebyrank", 4, "sorted_set", "2.0.0")
        .flags(flags![WRITE])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RW, DELETE])])
        .run(zsets::zremrange),
    cmd("zremrangebyscore", 4, "sorted_set", "1.2.0")
        .flags(flags![WRITE])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RW, DELETE])])
        .run(zsets::zremrange),
    cmd("zremrangebylex", 4, "sorted_set", "2.8.9")
        .flags(flags![WRITE])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RW, DELETE])])
        .run(zsets::zremrange),
    cmd("zunion", -3, "sorted_set", "6.2.0")
        .flags(flags![READONLY])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS]).keynum(0, 1, 1)])
        .getkeys(getkeys::zunion_inter_diff)
        .run(zsets::zsetop),
    cmd("zinter", -3, "sorted_set", "6.2.0")
        .flags(flags![READONLY])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS]).keynum(0, 1, 1)])
        .getkeys(getkeys::zunion_inter_diff)
        .run(zsets::zsetop),
    cmd("zdiff", -3, "sorted_set", "6.2.0")
        .flags(flags![READONLY])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS]).keynum(0, 1, 1)])
        .getkeys(getkeys::zunion_inter_diff)
        .run(zsets::zsetop),
    cmd("zunionstore", -4, "sorted_set", "2.0.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![SortedSet])
        .keys(&[
            KeySpec::at(1, kf![OW, UPDATE]),
            KeySpec::at(2, kf![RO, ACCESS]).keynum(0, 1, 1),
        ])
        .getkeys(getkeys::zunion_inter_diff_store)
        .run(zsets::zsetop_store),
    cmd("zinterstore", -4, "sorted_set", "2.0.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![SortedSet])
        .keys(&[
            KeySpec::at(1, kf![OW, UPDATE]),
            KeySpec::at(2, kf![RO, ACCESS]).keynum(0, 1, 1),
        ])
        .getkeys(getkeys::zunion_inter_diff_store)
        .run(zsets::zsetop_store),
    cmd("zdiffstore", -4, "sorted_set", "6.2.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![SortedSet])
        .keys(&[
            KeySpec::at(1, kf![OW, UPDATE]),
            KeySpec::at(2, kf![RO, ACCESS]).keynum(0, 1, 1),
        ])
        .getkeys(getkeys::zunion_inter_diff_store)
        .run(zsets::zsetop_store),
    cmd("zintercard", -3, "sorted_set", "7.0.0")
        .flags(flags![READONLY])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS]).keynum(0, 1, 1)])
        .getkeys(getkeys::zunion_inter_diff)
        .run(zsets::zintercard),
    cmd("zscan", -3, "sorted_set", "2.8.0")
        .flags(flags![READONLY])
        .acl(acl![SortedSet])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(zsets::zscan),
];
