//! ACL files and `user` directives of the configuration file.

use super::*;

const USER_ACL: &str = "user alice on allcommands allkeys &* >alice\n\
                        user bob on -@all +@set +acl ~set* &* >bob\n\
                        user default on nopass ~* &* +@all\n";

fn load(acl: &Acl, text: &str) -> Result<Users, String> {
    acl.users
        .load_acl_file(&acl.catalog, "/etc/users.acl", text.as_bytes())
        .map_err(|e| lossy(&e.message()))
}

#[test]
fn loads_users() {
    let mut acl = Acl::with(PubsubDefault::AllChannels);
    acl.users = load(&acl, USER_ACL).unwrap();
    assert_eq!(acl.users.len(), 3);
    assert!(acl.users.authenticate(b"alice", b"alice").is_ok());
    assert_eq!(acl.run("alice", "SET key value"), "OK");
    assert_eq!(acl.run("bob", "SADD set 1 2 3"), "OK");
    assert!(acl.run("bob", "SET key value").contains("'set' command"));
    assert_eq!(acl.users.pubsub_default(), PubsubDefault::AllChannels);
    // Saved and loaded again, the users are the same.
    acl.setuser("eve", "+get allkeys >eve on").unwrap();
    acl.setuser(
        "harry",
        "on nopass resetchannels &test +@all ~* (~x %R~y +get|z)",
    )
    .unwrap();
    let saved = acl.users.to_acl_file();
    let again = load(&acl, &lossy(&saved)).unwrap();
    assert_eq!(again, acl.users);
    assert_eq!(again.to_acl_file(), saved);
    assert_eq!(acl.run("harry", "PUBLISH test bar"), "OK");
    assert!(acl.run("harry", "PUBLISH test1 bar").contains("channel"));
}

#[test]
fn missing_default_user_is_created() {
    let acl = Acl::new();
    // nodefaultuser.acl: the default user is made as at startup, with every channel
    // whatever acl-pubsub-default says.
    let users = load(
        &acl,
        "user alice on nopass ~* +@all\nuser bob on nopass ~* &* +@all",
    )
    .unwrap();
    assert_eq!(users.default_user().info().root.channels, b"&*");
    assert_eq!(users.get(b"alice").unwrap().info().root.channels, b"");
    let users = load(&acl, "").unwrap();
    assert_eq!(users.list(), acl.users.list());
}

#[test]
fn loads_selectors() {
    let acl = Acl::new();
    let users = load(
        &acl,
        "user alice on (+get ~rw*)\nuser bob on (+set %W~w*) (+get %R~r*)\n",
    )
    .unwrap();
    let alice = users.get(b"alice").unwrap().info();
    assert_eq!(alice.selectors.len(), 1);
    assert_eq!(alice.selectors[0].commands, b"-@all +get");
    assert_eq!(alice.selectors[0].keys, b"~rw*");
    let bob = users.get(b"bob").unwrap().info();
    assert_eq!(bob.selectors[0].commands, b"-@all +set");
    assert_eq!(bob.selectors[0].keys, b"%W~w*");
    assert_eq!(bob.selectors[1].commands, b"-@all +get");
    assert_eq!(bob.selectors[1].keys, b"%R~r*");
}

#[test]
fn lines_and_blanks() {
    let acl = Acl::new();
    // Blank lines, CRLF, tabs around lines and repeated spaces between rules are fine.
    let users = load(&acl, "\n  \r\n\tuser a on  ~x\t\r\nuser b\n").unwrap();
    assert_eq!(
        lossy(&users.get(b"a").unwrap().acl_list_line()),
        "user a on sanitize-payload ~x resetchannels -@all"
    );
    assert!(users.get(b"b").is_some());
    // Two spaces after `user` make an empty name, then `a` is a rule.
    assert_eq!(
        load(&acl, "user  a"),
        Err("/etc/users.acl:1: Syntax error. WARNING: ACL errors detected, no change to the previously active ACL rules was performed".into())
    );
}

#[test]
fn errors_name_their_lines() {
    let acl = Acl::new();
    let tail =
        "WARNING: ACL errors detected, no change to the previously active ACL rules was performed";
    let cases: &[(&str, String)] = &[
        (
            "# comment",
            format!(
                "/etc/users.acl:1 should start with user keyword followed by the username. {tail}"
            ),
        ),
        (
            "USER a",
            format!(
                "/etc/users.acl:1 should start with user keyword followed by the username. {tail}"
            ),
        ),
        (
            "user",
            format!(
                "/etc/users.acl:1 should start with user keyword followed by the username. {tail}"
            ),
        ),
        (
            "user a\tb on",
            format!("'/etc/users.acl:1: username 'a\tb' contains invalid characters. {tail}"),
        ),
        (
            "user a on\nuser a off",
            format!("WARNING: Duplicate user 'a' found on line 2. {tail}"),
        ),
        (
            "user default on\nuser default off",
            format!("WARNING: Duplicate user 'default' found on line 2. {tail}"),
        ),
        (
            "user a on (+get ~x",
            format!("/etc/users.acl:1: Unmatched parenthesis in selector definition.{tail}"),
        ),
        (
            "user a +nope >pw <gone +@nope !bad ~x",
            format!(
                "/etc/users.acl:1: Error in applying operation '+nope': Unknown command or category name in ACL. \
                 /etc/users.acl:1: The password you are trying to remove from the user does not exist. \
                 /etc/users.acl:1: Error in applying operation '+@nope': Unknown command or category name in ACL. {tail}"
            ),
        ),
        (
            "user a on\n\nuser b allkeys ~x",
            format!(
                "/etc/users.acl:3: Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns. {tail}"
            ),
        ),
    ];
    for (text, expect) in cases {
        assert_eq!(&load(&acl, text).unwrap_err(), expect, "{text:?}");
    }
    // Every problem is listed.
    let err = acl
        .users
        .load_acl_file(&acl.catalog, "f", b"x\nuser a\nuser a\nuser b bogus")
        .unwrap_err();
    assert_eq!(
        err.problems,
        [
            FileProblem::NotAUserLine { line: 1 },
            FileProblem::Duplicate {
                line: 3,
                name: b"a".to_vec()
            },
            FileProblem::Rule {
                line: 4,
                error: RuleError::Syntax
            },
        ]
    );
    assert!(err.to_string().starts_with("f:1 should start"));
    // Invalid UTF-8 is bytes like any other.
    let users = acl
        .users
        .load_acl_file(&acl.catalog, "f", b"user \xff on ~\xfe")
        .unwrap();
    assert!(users.get(b"\xff").is_some());
    let err = acl
        .users
        .load_acl_file(&acl.catalog, "f", b"user a +\xff")
        .unwrap_err();
    assert_eq!(
        err.message(),
        b"f:1: Error in applying operation '+\xff': Unknown command or category name in ACL. WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
    );
}

#[test]
fn config_directives() {
    let mut acl = Acl::new();
    let d =
        |line: &str| -> Vec<Vec<u8>> { line.split(' ').map(|s| s.as_bytes().to_vec()).collect() };
    // The default user is reset first: without `&*` it has no channels.
    acl.users
        .apply_config(
            &acl.catalog,
            &[
                d("default on nopass ~* +@all -flushdb"),
                d("alice on >p (+get ~x)"),
            ],
        )
        .unwrap();
    assert!(acl.run("default", "SUBSCRIBE foo").contains("channel"));
    assert!(acl.run("default", "FLUSHDB").contains("'flushdb' command"));
    assert!(acl.users.authenticate(b"alice", b"p").is_ok());
    let before = acl.users.clone();
    let err = acl
        .users
        .apply_config(&acl.catalog, &[d("foo"), d("foo")])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Error in user declaration 'foo': Duplicate user found. A user can only be defined once in config files"
    );
    assert!(
        acl.users
            .apply_config(&acl.catalog, &[d("default"), d("default")])
            .is_err()
    );
    assert_eq!(
        acl.users
            .apply_config(&acl.catalog, &[d("bar on +nope")])
            .unwrap_err()
            .to_string(),
        "Error in user declaration '+nope': Unknown command or category name in ACL"
    );
    assert_eq!(
        acl.users
            .apply_config(&acl.catalog, &[vec![b"a b".to_vec()]]),
        Err(ConfigUserError::InvalidUsername)
    );
    assert!(matches!(
        acl.users.apply_config(&acl.catalog, &[d("bar (+get")]),
        Err(ConfigUserError::UnmatchedParenthesis { .. })
    ));
    assert_eq!(
        acl.users.apply_config(&acl.catalog, &[vec![]]),
        Err(ConfigUserError::MissingName)
    );
    // Nothing changed on errors.
    assert_eq!(acl.users, before);
}
