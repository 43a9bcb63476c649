//! Property tests: random rule lists never panic, failing ones change nothing, and a
//! user's description read back gives the same user and the same permissions.

use proptest::prelude::*;

use super::*;

const KEYWORDS: &[&str] = &[
    "on",
    "off",
    "nopass",
    "resetpass",
    "reset",
    "allkeys",
    "resetkeys",
    "allchannels",
    "resetchannels",
    "allcommands",
    "nocommands",
    "clearselectors",
    "skip-sanitize-payload",
    "sanitize-payload",
    "+@all",
    "-@all",
    "~*",
    "&*",
    "",
    "(",
    ")",
    "()",
];

fn pattern() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(&b"ab*?[]\\^\")'\xff"[..]), 0..4)
}

fn command() -> impl Strategy<Value = String> {
    let names: Vec<String> = catalog().iter().map(|c| c.name.clone()).collect();
    (
        prop::sample::select(names),
        prop::option::of(prop::sample::select(vec!["0", "X", "get", "a|b", ""])),
        any::<bool>(),
    )
        .prop_map(|(name, arg, upper)| {
            let name = match arg {
                Some(arg) => format!("{name}|{arg}"),
                None => name,
            };
            if upper { name.to_uppercase() } else { name }
        })
}

fn selector_rule() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => prop::sample::select(KEYWORDS).prop_map(|k| k.as_bytes().to_vec()),
        4 => (prop::sample::select(vec!["~", "%R~", "%W~", "%RW~", "%wr~", "&", "%"]), pattern())
            .prop_map(|(p, pat)| [p.as_bytes(), &pat].concat()),
        4 => (prop::sample::select(vec!["+", "-"]), command())
            .prop_map(|(s, c)| format!("{s}{c}").into_bytes()),
        3 => (prop::sample::select(vec!["+@", "-@"]), prop::sample::select(Category::ALL.to_vec()))
            .prop_map(|(s, c)| format!("{s}{}", c.name()).into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..5),
    ]
}

fn user_rule() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => selector_rule(),
        1 => (prop::sample::select(vec![">", ">", "<"]), pattern())
            .prop_map(|(s, p)| [s.as_bytes(), &p].concat()),
        1 => (prop::sample::select(vec!["#", "!"]), pattern())
            .prop_map(|(s, p)| format!("{s}{}", to_hex(&hash_password(&p))).into_bytes()),
        2 => prop::collection::vec(selector_rule(), 0..5).prop_map(|rules| {
            let mut s = b"(".to_vec();
            for (i, r) in rules.iter().enumerate() {
                if i > 0 {
                    s.push(b' ');
                }
                s.extend_from_slice(r);
            }
            s.push(b')');
            s
        }),
    ]
}

/// Whether two users allow the same things, probed command by command.
fn same_permissions(catalog: &Catalog, a: &User, b: &User, key: &[u8], channel: &[u8]) {
    for cmd in catalog.iter() {
        let name = cmd.name.as_bytes();
        for args in [
            vec![name],
            vec![name, &b"0"[..], key],
            vec![name, key, channel],
        ] {
            for access in [
                Access::NONE,
                Access::READ,
                Access::WRITE,
                Access::READ_WRITE,
            ] {
                let keys = [(args.len() - 1, access)];
                for channels in [&[][..], &[(1, false)], &[(1, true)]] {
                    assert_eq!(
                        a.check(catalog, cmd.id, &args, &keys, channels),
                        b.check(catalog, cmd.id, &args, &keys, channels),
                    );
                }
            }
        }
    }
    for is_pattern in [false, true] {
        assert_eq!(
            a.check_channel(channel, is_pattern),
            b.check_channel(channel, is_pattern)
        );
    }
    assert_eq!(
        a.check_key(key, Access::READ),
        b.check_key(key, Access::READ)
    );
    assert_eq!(a.password_matches(key), b.password_matches(key));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn rule_lists_round_trip(
        calls in prop::collection::vec(prop::collection::vec(user_rule(), 0..5), 1..8),
        pubsub in prop::sample::select(vec![PubsubDefault::AllChannels, PubsubDefault::ResetChannels]),
        key in pattern(),
        channel in pattern(),
    ) {
        let catalog = catalog();
        let mut users = Users::new(&catalog, pubsub);
        for rules in &calls {
            let rules: Vec<&[u8]> = rules.iter().map(Vec::as_slice).collect();
            let before = users.clone();
            match users.setuser(&catalog, b"u", &rules) {
                Ok(_) => {
                    let user = users.get(b"u").expect("created");
                    assert_round_trip(&catalog, user);
                    let desc = user.describe();
                    let back = user_from(&catalog, pubsub, &desc).expect("parses");
                    same_permissions(&catalog, user, &back, &key, &channel);
                }
                Err(e) => {
                    prop_assert_eq!(&users, &before);
                    prop_assert!(!e.message().is_empty());
                }
            }
        }
        // The whole set survives ACL SAVE and ACL LOAD.
        let text = users.to_acl_file();
        let loaded = users.load_acl_file(&catalog, "f", &text);
        prop_assert_eq!(loaded.as_ref().ok(), Some(&users), "{}", lossy(&text));
    }

    #[test]
    fn arbitrary_rules_never_panic(rules in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..12), 0..8)) {
        let catalog = catalog();
        let mut users = Users::new(&catalog, PubsubDefault::ResetChannels);
        let rules: Vec<&[u8]> = rules.iter().map(Vec::as_slice).collect();
        if users.setuser(&catalog, b"u", &rules).is_ok() {
            assert_round_trip(&catalog, users.get(b"u").expect("created"));
        }
    }

    #[test]
    fn arbitrary_acl_files_never_panic(text in prop::collection::vec(
        prop_oneof![Just(b'\n'), Just(b' '), Just(b'('), Just(b')'), any::<u8>()], 0..80),
    ) {
        let catalog = catalog();
        let users = Users::new(&catalog, PubsubDefault::ResetChannels);
        let mut prefixed = b"user u ".to_vec();
        prefixed.extend_from_slice(&text);
        for text in [&text, &prefixed] {
            match users.load_acl_file(&catalog, "f", text) {
                Ok(loaded) => {
                    let again = loaded.load_acl_file(&catalog, "f", &loaded.to_acl_file());
                    prop_assert_eq!(again.as_ref().ok(), Some(&loaded));
                }
                Err(e) => prop_assert!(!e.problems.is_empty()),
            }
        }
    }
}

#[test]
fn long_rule_lists_stay_fast() {
    // 200 000 rules: quadratic bookkeeping would take minutes.
    let catalog = catalog();
    let pubsub = PubsubDefault::ResetChannels;
    let mut rules: Vec<Vec<u8>> = Vec::new();
    for i in 0..40_000 {
        rules.push(format!("+select|{i}").into_bytes());
        rules.push(format!(">p{i}").into_bytes());
        rules.push(format!("~k{i}").into_bytes());
        rules.push(format!("&c{i}").into_bytes());
        rules.push(if i % 2 == 0 {
            b"+get".to_vec()
        } else {
            b"-get".to_vec()
        });
    }
    let refs: Vec<&[u8]> = rules.iter().map(Vec::as_slice).collect();
    let mut user = User::new(b"u", pubsub);
    user.apply_rules(&catalog, pubsub, &refs).unwrap();
    for i in 0..40_000 {
        let rule = format!("<p{i}");
        user.apply(&catalog, pubsub, rule.as_bytes()).unwrap();
    }
    assert_eq!(user.passwords().count(), 0);
    assert_round_trip(&catalog, &user);
}
