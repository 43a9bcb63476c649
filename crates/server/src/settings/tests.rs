//! Unit tests of the settings table.

use super::*;

#[test]
fn integers_have_one_spelling() {
    assert_eq!(parse_int("0"), Some(0));
    assert_eq!(parse_int("-12"), Some(-12));
    assert_eq!(parse_int("9223372036854775807"), Some(i64::MAX));
    assert_eq!(parse_int("-9223372036854775808"), Some(i64::MIN));
    for bad in [
        "",
        "-",
        "+5",
        " 5",
        "5 ",
        "05",
        "-0",
        "1e3",
        "9223372036854775808",
        "0x10",
    ] {
        assert_eq!(parse_int(bad), None, "{bad:?}");
    }
}

#[test]
fn sizes_take_redis_suffixes() {
    assert_eq!(parse_bytes("100"), Ok(100));
    assert_eq!(parse_bytes("1k"), Ok(1000));
    assert_eq!(parse_bytes("1kb"), Ok(1024));
    assert_eq!(parse_bytes("2MB"), Ok(2 << 20));
    assert_eq!(parse_bytes("3g"), Ok(3_000_000_000));
    assert_eq!(parse_bytes("64b"), Ok(64));
    assert!(parse_bytes("x").is_err());
    assert!(parse_bytes("-1").is_err());
    assert!(parse_bytes("99999999999gb").is_err());
}

#[test]
fn every_setting_round_trips_its_default() {
    let c = ServerConfig::default();
    for s in SETTINGS {
        let mut d = ServerConfig::default();
        let shown = s.show(&c);
        if s.name != "peer" && s.name != "user" {
            s.parse_into(&mut d, &shown)
                .unwrap_or_else(|e| panic!("{}: {e}", s.name));
            assert_eq!(s.show(&d), shown, "{}", s.name);
        }
    }
    let names: std::collections::HashSet<_> = SETTINGS.iter().map(|s| s.name).collect();
    assert_eq!(names.len(), SETTINGS.len(), "a name appears twice");
    for (alias, target) in ALIASES {
        assert!(find(target).is_some(), "{alias} names no setting");
        assert!(!names.contains(alias), "{alias} is also a setting");
    }
    for n in NOT_IMPLEMENTED {
        assert!(find(n).is_none(), "{n} is a setting and not implemented");
    }
}

#[test]
fn values_are_checked() {
    let mut c = ServerConfig::default();
    assert!(c.set("maxclients", "0").is_err());
    assert!(c.set("maxclients", "abc").is_err());
    c.set("MAXCLIENTS", "50").expect("in range");
    assert_eq!(c.maxclients, 50);
    assert!(c.set("appendfsync", "sometimes").is_err());
    assert!(c.set("maxmemory-policy", "allkeys-lru").is_ok());
    assert!(c.set("maxmemory-policy", "sometimes").is_err());
    assert!(c.set("maxmemory-samples", "100000").is_err());
    assert!(c.set("nope", "1").is_err());
    c.set("peer", "2=127.0.0.1:7002").expect("peer");
    c.set("peer", "3=127.0.0.1:7003").expect("peer");
    assert_eq!(c.peers.len(), 2);
    c.set("requirepass", "").expect("empty");
    assert_eq!(c.requirepass, None);
}
