//! String, bitmap and HyperLogLog commands.

use crate::cmd::{bits, hll, strings};
use crate::table::getkeys;
use crate::table::spec::{CommandSpec, KeySpec, acl, cmd, flags, kf};

pub(super) const COMMANDS: &[CommandSpec] = &[
    cmd("get", 2, "string", "1.0.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![String])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(strings::get),
    cmd("set", -3, "string", "1.0.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![String])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, UPDATE, VARIABLE_FLAGS])])
        .getkeys(getkeys::set)
        .run(strings::set),
    cmd("setnx", 3, "string", "1.0.0")
        .flags(flags![WRITE, DENYOOM, FAST])
        .acl(acl![String])
        .keys(&[KeySpec::at(1, kf![OW, INSERT])])
        .run(strings::setnx),
    cmd("setex", 4, "string", "2.0.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![String])
        .keys(&[KeySpec::at(1, kf![OW, UPDATE])])
        .run(strings::setex),
    cmd("psetex", 4, "string", "2.6.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![String])
        .keys(&[KeySpec::at(1, kf![OW, UPDATE])])
        .run(strings::setex),
    cmd("getset", 3, "string", "1.0.0")
        .flags(flags![WRITE, DENYOOM, FAST])
        .acl(acl![String])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, UPDATE])])
        .run(strings::getset),
    cmd("getdel", 2, "string", "6.2.0")
        .flags(flags![WRITE, FAST])
        .acl(acl![String])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, DELETE])])
        .run(strings::getdel),
    cmd("getex", -2, "string", "6.2.0")
        .flags(flags![WRITE, FAST])
        .acl(acl![String])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, UPDATE])])
        .run(strings::getex),
    cmd("mget", -2, "string", "1.0.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![String])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS]).range(-1, 1, 0)])
        .run(strings::mget),
    cmd("mset", -3, "string", "1.0.1")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![String])
        .keys(&[KeySpec::at(1, kf![OW, UPDATE]).range(-1, 2, 0)])
        .run(strings::mset),
    cmd("msetnx", -3, "string", "1.0.1")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![String])
        .keys(&[KeySpec::at(1, kf![OW, INSERT]).range(-1, 2, 0)])
        .run(strings::msetnx),
    cmd("append", 3, "string", "2.0.0")
        .flags(flags![WRITE, DENYOOM, FAST])
        .acl(acl![String])
        .keys(&[KeySpec::at(1, kf![RW, INSERT])])
        .run(strings::append),
    cmd("strlen", 2, "string", "2.2.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![String])
        .keys(&[KeySpec::at(1, kf![RO])])
        .run(strings::strlen),
    cmd("getrange", 4, "string", "2.4.0")
        .flags(flags![READONLY])
        .acl(acl![String])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(strings::getrange),
    cmd("substr", 4, "string", "1.0.0")
        .flags(flags![READONLY])
        .acl(acl![String])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(strings::getrange),
    cmd("setrange", 4, "string", "2.2.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![String])
        .keys(&[KeySpec::at(1, kf![RW, UPDATE])])
        .run(strings::setrange),
    cmd("incr", 2, "string", "1.0.0")
        .flags(flags![WRITE, DENYOOM, FAST])
        .acl(acl![String])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, UPDATE])])
        .run(strings::incr),
    cmd("decr", 2, "string", "1.0.0")
        .flags(flags![WRITE, DENYOOM, FAST])
        .acl(acl![String])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, UPDATE])])
        .run(strings::decr),
    cmd("incrby", 3, "string", "1.0.0")
        .flags(flags![WRITE, DENYOOM, FAST])
        .acl(acl![String])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, UPDATE])])
        .run(strings::incrby),
    cmd("decrby", 3, "string", "1.0.0")
        .flags(flags![WRITE, DENYOOM, FAST])
        .acl(acl![String])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, UPDATE])])
        .run(strings::decrby),
    cmd("incrbyfloat", 3, "string", "2.6.0")
        .flags(flags![WRITE, DENYOOM, FAST])
        .acl(acl![String])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, UPDATE])])
        .run(strings::incrbyfloat),
    cmd("lcs", -3, "string", "7.0.0")
        .flags(flags![READONLY])
        .acl(acl![String])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS]).range(1, 1, 0)])
        .run(strings::lcs),
    cmd("setbit", 4, "bitmap", "2.2.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![Bitmap])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS, UPDATE])])
        .run(bits::setbit),
    cmd("getbit", 3, "bitmap", "2.2.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![Bitmap])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(bits::getbit),
    cmd("bitcount", -2, "bitmap", "2.6.0")
        .flags(flags![READONLY])
        .acl(acl![Bitmap])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(bits::bitcount),
    cmd("bitpos", -3, "bitmap", "2.8.7")
        .flags(flags![READONLY])
        .acl(acl![Bitmap])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(bits::bitpos),
    cmd("bitop", -4, "bitmap", "2.6.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![Bitmap])
        .keys(&[
            KeySpec::at(2, kf![OW, UPDATE]),
            KeySpec::at(3, kf![RO, ACCESS]).range(-1, 1, 0),
        ])
        .run(bits::bitop),
    cmd("bitfield", -2, "bitmap", "3.2.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![Bitmap])
        .keys(&[KeySpec::at(1, kf![RW, UPDATE, ACCESS, VARIABLE_FLAGS])])
        .getkeys(getkeys::bitfield)
        .run(bits::bitfield),
    cmd("bitfield_ro", -2, "bitmap", "6.0.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![Bitmap])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(bits::bitfield),
    cmd("pfadd", -2, "hyperloglog", "2.8.9")
        .flags(flags![WRITE, DENYOOM, FAST])
        .acl(acl![HyperLogLog])
        .keys(&[KeySpec::at(1, kf![RW, INSERT])])
        .run(hll::pfadd),
    cmd("pfcount", -2, "hyperloglog", "2.8.9")
        .flags(flags![READONLY, MAY_REPLICATE])
        .acl(acl![HyperLogLog])
        .keys(&[KeySpec::at(1, kf![RW, ACCESS]).range(-1, 1, 0)])
        .run(hll::pfcount),
    cmd("pfmerge", -2, "hyperloglog", "2.8.9")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![HyperLogLog])
        .keys(&[
            KeySpec::at(1, kf![RW, ACCESS, INSERT]),
            KeySpec::at(2, kf![RO, ACCESS]).range(-1, 1, 0),
        ])
        .run(hll::pfmerge),
];
