//! Hostile ACL input: arbitrary bytes as an ACL SETUSER rule list or as the text of an ACL
//! file. Nothing may panic, a refused rule list changes nothing, and whatever is accepted
//! must describe itself in rules that give the same users back.

#![no_main]

use concord_acl::{Catalog, Categories, Category, PubsubDefault, User, Users};
use libfuzzer_sys::fuzz_target;

/// A few commands of each shape: plain, container with subcommands, NO_AUTH.
fn catalog() -> Catalog {
    use Category::*;
    let mut c = Catalog::new();
    for (name, cats) in [
        ("get", &[Read, Fast][..]),
        ("set", &[Write, Slow]),
        ("select", &[Fast, Connection]),
        ("publish", &[PubSub, Fast]),
    ] {
        c.add_command(name, Categories::of(cats), false)
            .expect("catalog");
    }
    c.add_command("auth", Categories::of(&[Connection]), true)
        .expect("catalog");
    let config = c
        .add_command("config", Categories::NONE, false)
        .expect("catalog");
    for sub in ["get", "set"] {
        c.add_subcommand(config, sub, Categories::of(&[Admin, Dangerous]), false)
            .expect("catalog");
    }
    c
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let catalog = catalog();
    let pubsub = if mode & 2 == 0 {
        PubsubDefault::ResetChannels
    } else {
        PubsubDefault::AllChannels
    };
    let mut users = Users::new(&catalog, pubsub);
    if mode & 1 == 0 {
        // Rules separated by 0xfe (any other byte, NUL included, is part of a rule).
        let rules: Vec<&[u8]> = data.split(|&b| b == 0xfe).collect();
        let before = users.clone();
        match users.setuser(&catalog, b"u", &rules) {
            Ok(_) => {
                let user = users.get(b"u").expect("created");
                let desc = user.describe();
                let parts: Vec<&[u8]> = desc.split(|&b| b == b' ').collect();
                let mut back = User::new(b"u", pubsub);
                back.apply_rules(&catalog, pubsub, &parts)
                    .expect("a description reads back");
                assert_eq!(&back, user);
                let text = users.to_acl_file();
                let loaded = users
                    .load_acl_file(&catalog, "f", &text)
                    .expect("saved file loads");
                assert_eq!(loaded, users);
            }
            Err(e) => {
                assert_eq!(users, before);
                assert!(!e.message().is_empty());
            }
        }
    } else {
        match users.load_acl_file(&catalog, "f", data) {
            Ok(loaded) => {
                let again = loaded
                    .load_acl_file(&catalog, "f", &loaded.to_acl_file())
                    .expect("saved file loads");
                assert_eq!(again, loaded);
            }
            Err(e) => assert!(!e.problems.is_empty()),
        }
    }
});
