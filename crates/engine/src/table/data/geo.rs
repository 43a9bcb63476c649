//! Geospatial commands.

use crate::cmd::geo;
use crate::table::getkeys;
use crate::table::spec::{CommandSpec, KeySpec, acl, cmd, flags, kf};

pub(super) const COMMANDS: &[CommandSpec] = &[
    cmd("geoadd", -5, "geo", "3.2.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![Geo])
        .keys(&[KeySpec::at(1, kf![RW, UPDATE])])
        .run(geo::geoadd),
    cmd("geopos", -2, "geo", "3.2.0")
        .flags(flags![READONLY])
        .acl(acl![Geo])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(geo::geopos),
    cmd("geodist", -4, "geo", "3.2.0")
        .flags(flags![READONLY])
        .acl(acl![Geo])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(geo::geodist),
    cmd("geohash", -2, "geo", "3.2.0")
        .flags(flags![READONLY])
        .acl(acl![Geo])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(geo::geohash),
    cmd("georadius", -6, "geo", "3.2.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![Geo])
        .keys(&[
            KeySpec::at(1, kf![RO, ACCESS]),
            KeySpec::keyword("STORE", 6, kf![OW, UPDATE]),
            KeySpec::keyword("STOREDIST", 6, kf![OW, UPDATE]),
        ])
        .getkeys(getkeys::georadius)
        .run(geo::georadius),
    cmd("georadius_ro", -6, "geo", "3.2.10")
        .flags(flags![READONLY])
        .acl(acl![Geo])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(geo::georadius),
    cmd("georadiusbymember", -5, "geo", "3.2.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![Geo])
        .keys(&[
            KeySpec::at(1, kf![RO, ACCESS]),
            KeySpec::keyword("STORE", 5, kf![OW, UPDATE]),
            KeySpec::keyword("STOREDIST", 5, kf![OW, UPDATE]),
        ])
        .getkeys(getkeys::georadius)
        .run(geo::georadius),
    cmd("georadiusbymember_ro", -5, "geo", "3.2.10")
        .flags(flags![READONLY])
        .acl(acl![Geo])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(geo::georadius),
    cmd("geosearch", -7, "geo", "6.2.0")
        .flags(flags![READONLY])
        .acl(acl![Geo])
        .keys(&[KeySpec::at(1, kf![RO, ACCESS])])
        .run(geo::georadius),
    cmd("geosearchstore", -8, "geo", "6.2.0")
        .flags(flags![WRITE, DENYOOM])
        .acl(acl![Geo])
        .keys(&[
            KeySpec::at(1, kf![OW, UPDATE]),
            KeySpec::at(2, kf![RO, ACCESS]),
        ])
        .run(geo::georadius),
];
