//! Generic key commands (Redis's `generic` group).

use crate::cmd::{dump, keys, sort};
use crate::table::getkeys;
use crate::table::spec::{CommandSpec, KeySpec, acl, cmd, flags, kf};

pub(super) const COMMANDS: &[CommandSpec] = &[
    cmd("del", -2, "generic", "1.0.0")
        .flags(flags![WRITE])
        .acl(acl![Keyspace])
        .keys(&[KeySpec::at(1, kf![RM, DELETE]).range(-1, 1, 0)])
        .run(keys::del),
    cmd("unlink", -2, "generic", "4.0.0")
        .flags(flags![WRITE, FAST])
        .acl(acl![Keyspace])
        .keys(&[KeySpec::at(1, kf![RM, DELETE]).range(-1, 1, 0)])
        .run(keys::del),
    cmd("exists", -2, "generic", "1.0.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![Keyspace])
        .keys(&[KeySpec::at(1, kf![RO]).range(-1, 1, 0)])
        .run(keys::exists),
    cmd("wait", 3, "generic", "3.0.0").acl(acl![Connection]),
    cmd("touch", -2, "generic", "3.2.1")
        .flags(flags![READONLY, FAST])
        .acl(acl![Keyspace])
        .keys(&[KeySpec::at(1, kf![RO]).range(-1, 1, 0)])
        .run(keys::exists),
    cmd("type", 2, "generic", "1.0.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![Keyspace])
        .keys(&[KeySpec::at(1, kf![RO])])
        .run(keys::type_),
    cmd("keys", 2, "generic", "1.0.0")
        .flags(flags![READONLY])
        .acl(acl![Keyspace, Dangerous])
        .run(keys::keys),
    cmd("scan", -2, "generic", "2.8.0")
        .flags(flags![READONLY, TOUCHES_ARBITRARY_KEYS])
        .acl(acl![Keyspace])
        .run(keys::scan),
    cmd("randomkey", 1, "generic", "1.0.0")
        .flags(flags![READONLY, TOUCHES_ARBITRARY_KEYS])
        .acl(acl![Keyspace])
        .run(keys::randomkey),
    cmd("rename", 3, "generic", "1.0.0")
        .flags(flags![WRITE])
        .acl(acl![Keyspace])
        .keys(&[
            KeySpec::at(1, kf![RW, ACCESS, DELETE]),
            KeySpec::at(2, kf![OW, UPDATE]),
        ])
        .run(keys::rename),
    cmd("renamenx", 3, "generic", "1.0.0")
        .flags(flags![WRITE, FAST])
        .acl(acl![Keyspace])
        .keys(&[
            KeySpec::at(1, kf![RW, ACCESS, DELETE]),
            KeySpec::at(2, kf![OW, INSERT]),
        ])
        .run(keys::rename),
    cmd("dump", 2, "generic", "2.6.0")
        .flags(flags![READONLY])
        .acl(acl![Keyspace])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(dump::dump),
    cmd("restore", -4, "generic", "2.6.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![Keyspace, Dangerous])
        .keys(&[KeySpec::at(1, kf![OW, UPDATE])])
        .run(dump::restore),
    cmd("restore-asking", -4, "server", "3.0.0")
        .flags(flags![WRITE, DENYOOM, ASKING])
        .acl(acl![Keyspace, Dangerous])
        .keys(&[KeySpec::at(1, kf![OW, UPDATE])])
        .run(dump::restore),
    // Run by the server (it talks to another server), with DUMP's and RESTORE's format.
    cmd("migrate", -6, "generic", "2.6.0")
        .flags(flags![WRITE])
        .acl(acl![Keyspace, Dangerous])
        .keys(&[
            KeySpec::at(3, kf![RW, ACCESS, DELETE]),
            KeySpec::keyword("KEYS", -2, kf![RW, ACCESS, DELETE, INCOMPLETE]).range(-1, 1, 0),
        ])
        .getkeys(getkeys::migrate),
    cmd("copy", -3, "generic", "6.2.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![Keyspace])
        .keys(&[
            KeySpec::at(1, kf![RO, ACCESS]),
            KeySpec::at(2, kf![OW, UPDATE]),
        ])
        .run(keys::copy),
    cmd("expire", -3, "generic", "1.0.0")
        .flags(flags![WRITE, FAST])
        .acl(acl![Keyspace])
        .keys(&[KeySpec::at(1, kf![RW, UPDATE])])
        .run(keys::expire),
    cmd("pexpire", -3, "generic", "2.6.0")
        .flags(flags![WRITE, FAST])
        .acl(acl![Keyspace])
        .keys(&[KeySpec::at(1, kf![RW, UPDATE])])
        .run(keys::expire),
    cmd("expireat", -3, "generic", "1.2.0")
        .flags(flags![WRITE, FAST])
        .acl(acl![Keyspace])
        .keys(&[KeySpec::at(1, kf![RW, UPDATE])])
        .run(keys::expire),
    cmd("pexpireat", -3, "generic", "2.6.0")
        .flags(flags![WRITE, FAST])
        .acl(acl![Keyspace])
        .keys(&[KeySpec::at(1, kf![RW, UPDATE])])
        .run(keys::expire),
    cmd("ttl", 2, "generic", "1.0.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![Keyspace])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(keys::ttl),
    cmd("pttl", 2, "generic", "2.6.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![Keyspace])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(keys::pttl),
    cmd("expiretime", 2, "generic", "7.0.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![Keyspace])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(keys::expiretime),
    cmd("pexpiretime", 2, "generic", "7.0.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![Keyspace])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(keys::expiretime),
    cmd("persist", 2, "generic", "2.2.0")
        .flags(flags![WRITE, FAST])
        .acl(acl![Keyspace])
        .keys(&[KeySpec::at(1, kf![RW, UPDATE])])
        .run(keys::persist),
    cmd("object", -2, "generic", "2.2.3")
        .subs(OBJECT)
        .run(keys::object),
    cmd("sort", -2, "generic", "1.0.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![Set, SortedSet, List, Dangerous])
        .keys(&[
            KeySpec::at(1, kf![RO, ACCESS]),
            KeySpec::unknown(kf![RO, ACCESS]),
            KeySpec::unknown(kf![OW, UPDATE]),
        ])
        .getkeys(getkeys::sort)
        .run(sort::sort),
    cmd("sort_ro", -2, "generic", "7.0.0")
        .flags(flags![READONLY])
        .acl(acl![Set, SortedSet, List, Dangerous])
        .keys(&[
            KeySpec::at(1, kf![RO, ACCESS]),
            KeySpec::unknown(kf![RO, ACCESS]),
        ])
        .getkeys(getkeys::sort_ro)
        .run(sort::sort),
];

const OBJECT: &[CommandSpec] = &[
    cmd("encoding", 3, "generic", "2.2.3")
        .flags(flags![READONLY])
        .acl(acl![Keyspace])
        .keys(&[KeySpec::at(2, kf![RO])]),
    cmd("freq", 3, "generic", "4.0.0")
        .flags(flags![READONLY])
        .acl(acl![Keyspace])
        .keys(&[KeySpec::at(2, kf![RO])]),
    cmd("idletime", 3, "generic", "2.2.3")
        .flags(flags![READONLY])
        .acl(acl![Keyspace])
        .keys(&[KeySpec::at(2, kf![RO])]),
    cmd("refcount", 3, "generic", "2.2.3")
        .flags(flags![READONLY])
        .acl(acl![Keyspace])
        .keys(&[KeySpec::at(2, kf![RO])]),
    cmd("help", 2, "generic", "6.2.0")
        .flags(flags![LOADING, STALE])
        .acl(acl![Keyspace]),
];
