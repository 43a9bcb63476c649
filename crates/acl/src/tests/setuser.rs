//! ACL SETUSER: every rule kind, its errors, and how users are described.

use super::*;

#[test]
fn default_user_and_new_users() {
    let mut acl = Acl::new();
    assert_eq!(
        acl.users.list(),
        [b"user default on nopass sanitize-payload ~* &* +@all".to_vec()]
    );
    acl.setuser("newuser", "").unwrap();
    let names: Vec<&[u8]> = acl.users.iter().map(User::name).collect();
    assert_eq!(names, [&b"default"[..], b"newuser"]);
    // New users start off, without passwords or permissions.
    assert_eq!(
        acl.line("newuser"),
        "user newuser off sanitize-payload resetchannels -@all"
    );
    let info = acl.user("newuser").info();
    assert_eq!(info.flags, ["off", "sanitize-payload"]);
    assert!(info.passwords.is_empty() && info.selectors.is_empty());
    assert_eq!((info.root.keys.len(), info.root.channels.len()), (0, 0));
    // "ACL SETUSER RESET reverting to default newly created user".
    acl.setuser("newuser", "on >x ~* &* +@all (+get) skip-sanitize-payload")
        .unwrap();
    acl.setuser("newuser", "reset").unwrap();
    assert_eq!(
        acl.line("newuser"),
        "user newuser off sanitize-payload resetchannels -@all"
    );
}

#[test]
fn usernames_cannot_hold_blanks_or_nul() {
    let mut acl = Acl::new();
    for name in ["a a", "a\0a", "a\ta", "a\n"] {
        assert_eq!(
            acl.setuser(name, "on"),
            Err("ERR Usernames can't contain spaces or null characters".into())
        );
    }
    // Any other bytes are fine, invalid UTF-8 included.
    let name = [0xff, b'x', 0xc3];
    acl.users.setuser(&acl.catalog, &name, &[b"on"]).unwrap();
    assert!(acl.users.get(&name).is_some());
    acl.setuser("", "on").unwrap();
}

#[test]
fn passwords() {
    let mut acl = Acl::new();
    acl.setuser("newuser", ">passwd1").unwrap();
    // New users start disabled.
    assert_eq!(
        acl.users.authenticate(b"newuser", b"passwd1"),
        Err(AuthError)
    );
    acl.setuser("newuser", "on +acl").unwrap();
    assert!(acl.users.authenticate(b"newuser", b"passwd1").is_ok());
    acl.setuser("newuser", ">passwd2").unwrap();
    assert!(acl.users.authenticate(b"newuser", b"passwd1").is_ok());
    assert!(acl.users.authenticate(b"newuser", b"passwd2").is_ok());
    assert_eq!(
        acl.users.authenticate(b"newuser", b"passwd3"),
        Err(AuthError)
    );
    acl.setuser("newuser", "<passwd1").unwrap();
    assert_eq!(
        acl.users.authenticate(b"newuser", b"passwd1"),
        Err(AuthError)
    );
    let hash = "34344e4d60c2b6d639b7bd22e18f2b0b91bc34bf0ac5f9952744435093cfb4e6";
    acl.setuser("newuser", &format!("#{hash}")).unwrap();
    assert!(acl.users.authenticate(b"newuser", b"passwd4").is_ok());
    let bad_hash = "ERR Error in ACL SETUSER modifier '#{}': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters";
    for bad in [
        &hash[..63],
        &format!("{}q", &hash[..63]),
        &hash.to_uppercase(),
    ] {
        assert_eq!(
            acl.setuser("newuser", &format!("#{bad}")),
            Err(bad_hash.replace("{}", bad))
        );
        assert!(acl.setuser("newuser", &format!("!{bad}")).is_err());
    }
    // GETUSER shows digests, not passwords; the same password is kept once.
    acl.setuser("newuser", ">passwd2 >passwd2").unwrap();
    let info = acl.user("newuser").info();
    assert_eq!(info.passwords.len(), 2);
    assert_eq!(info.passwords[1], hash);
    assert_eq!(info.passwords[0], to_hex(&hash_password(b"passwd2")));
    acl.setuser("newuser", &format!("!{hash}")).unwrap();
    assert_eq!(acl.user("newuser").info().passwords.len(), 1);
    assert_eq!(
        acl.setuser("newuser", &format!("!{hash}")),
        Err(format!(
            "ERR Error in ACL SETUSER modifier '!{hash}': The password you are trying to remove from the user does not exist"
        ))
    );
    assert!(acl.setuser("newuser", "<nope").is_err());
    // nopass: any password; resetpass: none at all.
    acl.setuser("newuser", "nopass").unwrap();
    assert!(acl.users.authenticate(b"newuser", b"zipzapblabla").is_ok());
    assert!(acl.user("newuser").info().passwords.is_empty());
    acl.setuser("newuser", ">p").unwrap();
    assert!(!acl.user("newuser").is_nopass());
    acl.setuser("newuser", "resetpass").unwrap();
    assert_eq!(acl.users.authenticate(b"newuser", b"p"), Err(AuthError));
    assert_eq!(acl.users.authenticate(b"newuser", b""), Err(AuthError));
    // Unknown users and disabled ones are refused alike.
    assert_eq!(acl.users.authenticate(b"nobody", b"p"), Err(AuthError));
    acl.setuser("newuser", "nopass off").unwrap();
    assert_eq!(acl.users.authenticate(b"newuser", b"p"), Err(AuthError));
    assert_eq!(
        AuthError.to_string(),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    // Binary passwords work as bytes.
    acl.setuser_args("bin", &[b"on", b">\0\xff pass"]).unwrap();
    assert!(acl.users.authenticate(b"bin", b"\0\xff pass").is_ok());
}

#[test]
fn requirepass_sets_the_default_password() {
    let mut acl = Acl::new();
    acl.users.set_default_password(Some(b"pwd"));
    assert!(!acl.users.default_user().is_nopass());
    assert!(acl.users.authenticate(b"default", b"pwd").is_ok());
    assert_eq!(acl.users.authenticate(b"default", b"x"), Err(AuthError));
    acl.users.set_default_password(Some(b"other"));
    assert_eq!(acl.users.authenticate(b"default", b"pwd"), Err(AuthError));
    acl.users.set_default_password(None);
    assert!(acl.users.default_user().is_nopass());
    assert_eq!(
        acl.users.list(),
        [b"user default on nopass sanitize-payload ~* &* +@all".to_vec()]
    );
}

#[test]
fn flags() {
    let mut acl = Acl::new();
    acl.setuser("u", "ON nopass SKIP-sanitize-payload").unwrap();
    assert_eq!(
        acl.user("u").flags(),
        ["on", "nopass", "skip-sanitize-payload"]
    );
    assert!(!acl.user("u").sanitize_payload());
    acl.setuser("u", "off sanitize-payload").unwrap();
    assert_eq!(acl.user("u").flags(), ["off", "nopass", "sanitize-payload"]);
    // An empty rule does nothing.
    acl.setuser_args("u", &[b""]).unwrap();
}

#[test]
fn rule_errors() {
    let mut acl = Acl::new();
    let cases: &[(&str, &str)] = &[
        ("bogus", "Syntax error"),
        ("+nosuchcommand", "Unknown command or category name in ACL"),
        ("-nosuchcommand", "Unknown command or category name in ACL"),
        (
            "+@nosuchcategory",
            "Unknown command or category name in ACL",
        ),
        ("-@", "Unknown command or category name in ACL"),
        ("+", "Unknown command or category name in ACL"),
        ("+config|asdf", "Unknown command or category name in ACL"),
        ("-config|asdf", "Unknown command or category name in ACL"),
        ("+get|key1|key2", "Unknown command or category name in ACL"),
        ("-get|key1|key2", "Unknown command or category name in ACL"),
        ("-select|0", "Unknown command or category name in ACL"),
        (
            "+config|get|appendonly",
            "Allowing first-arg of a subcommand is not supported",
        ),
        ("+debug|", "Syntax error"),
        ("+config|", "Syntax error"),
        ("%", "Syntax error"),
        ("%R", "Syntax error"),
        ("%~x", "Syntax error"),
        ("%RR~x", "Syntax error"),
        ("%X~x", "Syntax error"),
        (")", "Syntax error"),
        ("(this-is-invalid)", "Syntax error"),
        ("(on)", "Syntax error"),
        ("(>pw)", "Syntax error"),
        ("(\"unbalanced)", "Syntax error"),
        ("(\"\")", "Syntax error"),
    ];
    for (rule, reason) in cases {
        assert_eq!(
            acl.setuser_args("u", &[rule.as_bytes()]),
            Err(format!(
                "ERR Error in ACL SETUSER modifier '{rule}': {reason}"
            )),
            "{rule}"
        );
    }
    for (rule, reason) in [
        (&b"~a b"[..], "Syntax error"),
        (b"~a\0", "Syntax error"),
        (b"&a\tb", "Syntax error"),
        (b"+select|a b", "Syntax error"),
        (b"+select|\0", "Syntax error"),
        (b"on\0", "Syntax error"),
        (b"+get\0", "Unknown command or category name in ACL"),
        (b"(~a\0b)", "Syntax error"),
    ] {
        let err = acl.setuser_args("u", &[rule]).unwrap_err();
        assert!(err.ends_with(reason), "{err}");
    }
    // The failed rules never created the user; a failing list changes nothing.
    assert!(acl.users.get(b"u").is_none());
    acl.setuser("u", "on ~a").unwrap();
    let before = acl.user("u").clone();
    assert!(acl.setuser("u", "off ~b +nosuchcommand").is_err());
    assert_eq!(acl.user("u"), &before);
}

#[test]
fn pattern_after_all_errors() {
    let mut acl = Acl::new();
    let keys = "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns";
    let channels = "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels";
    assert_eq!(
        acl.setuser("u", "allkeys ~foo"),
        Err(format!("ERR Error in ACL SETUSER modifier '~foo': {keys}"))
    );
    assert_eq!(
        acl.setuser("u", "~* %R~foo"),
        Err(format!(
            "ERR Error in ACL SETUSER modifier '%R~foo': {keys}"
        ))
    );
    // The pattern error comes before the syntax check.
    assert!(acl.setuser("u", "~* %X").unwrap_err().ends_with(keys));
    assert_eq!(
        acl.setuser("u", "allchannels &foo"),
        Err(format!(
            "ERR Error in ACL SETUSER modifier '&foo': {channels}"
        ))
    );
    assert_eq!(
        acl.setuser("u", "(&* &fail)"),
        Err(format!(
            "ERR Error in ACL SETUSER modifier '(&* &fail)': {channels}"
        ))
    );
    acl.setuser("u", "allkeys resetkeys ~foo allchannels resetchannels &bar")
        .unwrap();
    assert_eq!(
        acl.line("u"),
        "user u off sanitize-payload ~foo resetchannels &bar -@all"
    );
    // With acl-pubsub-default allchannels a new user has every channel.
    let mut acl = Acl::with(PubsubDefault::AllChannels);
    assert!(
        acl.setuser("onechannel", "&test")
            .unwrap_err()
            .ends_with(channels)
    );
    acl.setuser("mydefault", "").unwrap();
    assert_eq!(acl.user("mydefault").info().root.channels, b"&*");
    // Changing the setting leaves existing users alone.
    acl.users.set_pubsub_default(PubsubDefault::ResetChannels);
    assert_eq!(acl.user("mydefault").info().root.channels, b"&*");
    acl.setuser("other", "").unwrap();
    assert_eq!(acl.user("other").info().root.channels, b"");
    acl.setuser("onechannel", "&test").unwrap();
    assert_eq!(acl.user("onechannel").info().root.channels, b"&test");
    // `reset` follows the setting in force.
    acl.users.set_pubsub_default(PubsubDefault::AllChannels);
    acl.setuser("onechannel", "reset").unwrap();
    assert_eq!(acl.user("onechannel").info().root.channels, b"&*");
}

#[test]
fn key_patterns_and_permissions() {
    let mut acl = Acl::new();
    // "Test R+W is the same as all permissions".
    acl.setuser("rw", "%R~foo %W~foo %RW~bar").unwrap();
    assert_eq!(acl.user("rw").info().root.keys, b"~foo ~bar");
    acl.setuser(
        "info",
        "-@all +get resetchannels &channel1 %R~foo1 %W~bar1 ~baz1",
    )
    .unwrap();
    acl.setuser(
        "info",
        "(-@all +set resetchannels &channel2 %R~foo2 %W~bar2 ~baz2)",
    )
    .unwrap();
    let info = acl.user("info").info();
    assert_eq!(lossy(&info.root.keys), "%R~foo1 %W~bar1 ~baz1");
    assert_eq!(lossy(&info.root.channels), "&channel1");
    assert_eq!(lossy(&info.root.commands), "-@all +get");
    assert_eq!(lossy(&info.selectors[0].keys), "%R~foo2 %W~bar2 ~baz2");
    assert_eq!(lossy(&info.selectors[0].channels), "&channel2");
    assert_eq!(lossy(&info.selectors[0].commands), "-@all +set");
    // Letters in any order and case; the same pattern is kept once.
    acl.setuser("w", "%wR~a ~a %r~b &c &c").unwrap();
    assert_eq!(
        acl.line("w"),
        "user w off sanitize-payload ~a %R~b resetchannels &c -@all"
    );
    // A read-write `*` pattern is not `allkeys`: it is described so that it stays one.
    acl.setuser("star", "~x %RW~* ~y").unwrap();
    assert_eq!(
        acl.line("star"),
        "user star off sanitize-payload ~x %RW~* ~y resetchannels -@all"
    );
    assert!(!acl.user("star").root().all_keys());
    assert_round_trip(&acl.catalog, acl.user("star"));
    // `~*` is `allkeys`, forgetting the patterns before it.
    acl.setuser("star", "~*").unwrap();
    assert!(acl.user("star").root().all_keys());
    assert_eq!(acl.user("star").info().root.keys, b"~*");
}

#[test]
fn command_rules_describe_like_redis() {
    let mut acl = Acl::new();
    acl.setuser("newuser", "+@all -client").unwrap();
    acl.setuser("newuser", "+client|id +client|setname")
        .unwrap();
    assert_eq!(
        acl.commands("newuser"),
        "+@all -client +client|id +client|setname"
    );
    acl.setuser("newuser", "+@all -client|kill").unwrap();
    assert_eq!(acl.commands("newuser"), "+@all -client|kill");
    acl.setuser("newuser", "-@all +acl +config -config|set")
        .unwrap();
    assert_eq!(acl.commands("newuser"), "-@all +acl +config -config|set");
    acl.setuser("newuser", "-@all +acl +select|0").unwrap();
    assert_eq!(acl.commands("newuser"), "-@all +acl +select|0");
    acl.setuser("bob", "+memory|doctor").unwrap();
    assert_eq!(acl.commands("bob"), "-@all +memory|doctor");
    acl.setuser("bob", "+memory").unwrap();
    assert_eq!(acl.commands("bob"), "-@all +memory");
    acl.setuser("bob", "+@all +client|id").unwrap();
    assert_eq!(acl.commands("bob"), "+@all +client|id");
    acl.setuser("alice", "+@all -memory|doctor").unwrap();
    assert_eq!(acl.commands("alice"), "+@all -memory|doctor");
    acl.setuser("alice", "+@all -memory").unwrap();
    assert_eq!(acl.commands("alice"), "+@all -memory");
    acl.setuser("alice", "-@all").unwrap();
    assert_eq!(acl.commands("alice"), "-@all");
    // "ACL GETUSER is able to translate back command permissions".
    acl.setuser(
        "newuser",
        "reset +@all ~* -@string +incr -debug +debug|digest",
    )
    .unwrap();
    assert_eq!(
        acl.commands("newuser"),
        "+@all -@string +incr -debug +debug|digest"
    );
    acl.setuser(
        "newuser",
        "reset +@string -incr +acl +debug|digest +debug|segfault",
    )
    .unwrap();
    assert_eq!(
        acl.commands("newuser"),
        "-@all +@string -incr +acl +debug|digest +debug|segfault"
    );
    // "ACL GETUSER provides reasonable results": one category on each side.
    for cat in Category::ALL {
        acl.setuser("additive", &format!("reset +@all -@{}", cat.name()))
            .unwrap();
        assert_eq!(acl.commands("additive"), format!("+@all -@{}", cat.name()));
        acl.setuser("restrictive", &format!("reset -@all +@{}", cat.name()))
            .unwrap();
        assert_eq!(
            acl.commands("restrictive"),
            format!("-@all +@{}", cat.name())
        );
        assert_round_trip(&acl.catalog, acl.user("additive"));
        assert_round_trip(&acl.catalog, acl.user("restrictive"));
    }
}

#[test]
fn only_lossless_compaction() {
    let mut acl = Acl::new();
    let steps = [
        ("+@all -@hash -@slow +hget", "+@all -@hash -@slow +hget"),
        ("-@hash", "+@all -@slow +hget -@hash"),
        ("+@hash", "+@all -@slow +hget +@hash"),
        ("-@all", "-@all"),
        ("-@string -@slow +@all", "+@all"),
        ("-@all +@HASH +@hash +@HaSh", "-@all +@hash"),
        ("-@all +HGET +hget +hGeT", "-@all +hget"),
        (
            "-@all +@hash +@slow +@set +@set +@slow +@hash",
            "-@all +@set +@slow +@hash",
        ),
        ("-@all +hget -hset +hset -hget", "-@all +hset -hget"),
        (
            "-@all +client|list +client|list +config|get +config +acl|list -acl",
            "-@all +client|list +config -acl",
        ),
        (
            "-@all +select|0 +select|0 +debug|segfault +debug",
            "-@all +select|0 +debug",
        ),
        ("-@all -@dangerous", "-@all -@dangerous"),
        (
            "-@all +config +config|get -config|set +config",
            "-@all +config",
        ),
        (
            "nocommands +SELECT|Zero allcommands -CONFIG|GET",
            "+@all -config|get",
        ),
    ];
    for (rules, expect) in steps {
        acl.setuser("adv-test", rules).unwrap();
        assert_eq!(acl.commands("adv-test"), expect, "after {rules}");
        assert_round_trip(&acl.catalog, acl.user("adv-test"));
    }
}

#[test]
fn selectors() {
    let mut acl = Acl::new();
    acl.setuser("selector-default", "reset ()").unwrap();
    let info = acl.user("selector-default").info();
    assert_eq!(info.selectors.len(), 1);
    let s = &info.selectors[0];
    assert_eq!(
        (&s.keys[..], &s.channels[..], &s.commands[..]),
        (&b""[..], &b""[..], &b"-@all"[..])
    );
    acl.setuser_args("selector-del", &[b"on", b"(~added-selector)"])
        .unwrap();
    assert_eq!(
        acl.user("selector-del").info().selectors[0].keys,
        b"~added-selector"
    );
    acl.setuser("selector-del", "clearselectors").unwrap();
    assert!(acl.user("selector-del").selectors().is_empty());
    // "Test flexible selector definition".
    let args: [&[u8]; 4] = [
        b"(~key1 +get )",
        b"( ~key2 +get )",
        b"( ~key3 +get)",
        b"(~key4 +get)",
    ];
    acl.setuser_args("selector-2", &args).unwrap();
    acl.setuser(
        "selector-2",
        "(~key5 +get ) ( ~key6 +get ) ( ~key7 +get) (~key8 +get)",
    )
    .unwrap();
    let info = acl.user("selector-2").info();
    for (i, s) in info.selectors.iter().enumerate() {
        assert_eq!(lossy(&s.keys), format!("~key{}", i + 1));
        assert_eq!(lossy(&s.commands), "-@all +get");
    }
    assert_eq!(
        acl.setuser_args("invalid-selector", &[b" () "]),
        Err("ERR Error in ACL SETUSER modifier ' () ': Syntax error".into())
    );
    assert_eq!(
        acl.setuser("invalid-selector", "("),
        Err("ERR Unmatched parenthesis in acl selector starting at '('.".into())
    );
    assert_eq!(
        acl.setuser("invalid-selector", ")"),
        Err("ERR Error in ACL SETUSER modifier ')': Syntax error".into())
    );
    // "Test selector syntax error reports the error in the selector context".
    assert_eq!(
        acl.setuser("selector-syntax", "on (+PING (+SELECT (+DEL"),
        Err("ERR Unmatched parenthesis in acl selector starting at '(+PING'.".into())
    );
    assert_eq!(
        acl.setuser("selector-syntax", "on (+PING (+SELECT (+DEL ) ) )"),
        Err("ERR Error in ACL SETUSER modifier '(+PING (+SELECT (+DEL )': Syntax error".into())
    );
    assert!(
        acl.setuser("selector-syntax", "on (+PING (+SELECT (+DEL )")
            .is_err()
    );
    assert!(acl.users.get(b"selector-syntax").is_none());
    // Selector bodies take quotes, as Redis splits them.
    acl.setuser_args("q", &[b"(\"~a b\"x +get)"]).unwrap_err();
    acl.setuser_args("q", &[b"(\"~a\\\"b\" '+get')"]).unwrap();
    assert_eq!(acl.user("q").info().selectors[0].keys, b"~a\"b");
    // "Test ACL list idempotency".
    acl.setuser(
        "user-idempotency",
        "off -@all +get resetchannels &channel1 %R~foo1 %W~bar1 ~baz1 (-@all +set resetchannels &channel2 %R~foo2 %W~bar2 ~baz2)",
    )
    .unwrap();
    assert_eq!(
        acl.line("user-idempotency"),
        "user user-idempotency off sanitize-payload %R~foo1 %W~bar1 ~baz1 resetchannels &channel1 -@all +get (%R~foo2 %W~bar2 ~baz2 resetchannels &channel2 -@all +set)"
    );
    assert_round_trip(&acl.catalog, acl.user("user-idempotency"));
}

#[test]
fn odd_tokens_survive_a_round_trip() {
    let mut acl = Acl::new();
    // Quotes and a closing parenthesis inside a selector would change the rules read
    // back: they are quoted. At the root they need nothing.
    let rules: [&[u8]; 6] = [
        b"on",
        b"~x) &y\" +select|it's",
        b"(\"~x)\" \"~q\\\"\" &'c' +select|z))",
        b"(%R~\xff\xfe )",
        b"#34344e4d60c2b6d639b7bd22e18f2b0b91bc34bf0ac5f9952744435093cfb4e6",
        b"(allkeys allchannels +@all -debug)",
    ];
    acl.setuser_args("odd", &rules).unwrap_err();
    let rules: [&[u8]; 7] = [
        b"on",
        b"~x)",
        b"&y\"",
        b"+select|it's",
        b"(\"~x)\" \"~q\\\"\" &'c' \"+select|z)\")",
        b"(%R~\xff\xfe )",
        b"(allkeys allchannels +@all -debug)",
    ];
    acl.setuser_args("odd", &rules).unwrap();
    let user = acl.user("odd");
    assert_eq!(
        lossy(&user.describe()),
        "on sanitize-payload ~x) resetchannels &y\" -@all +select|it's (\"~x)\" \"~q\\\"\" resetchannels &c -@all \"+select|z)\") (%R~\u{fffd}\u{fffd} resetchannels -@all) (~* &* +@all -debug)"
    );
    assert_round_trip(&acl.catalog, user);
}
