//! The permission check, its denial texts, and what the server needs around it.

use super::*;

const NOPERM_KEY: &str = "NOPERM No permissions to access a key";
const NOPERM_CHANNEL: &str = "NOPERM No permissions to access a channel";

#[test]
fn commands_and_keys() {
    let mut acl = Acl::new();
    acl.setuser("newuser", "on nopass").unwrap();
    assert_eq!(
        acl.run("newuser", "SET foo bar"),
        "NOPERM User newuser has no permissions to run the 'set' command"
    );
    acl.setuser("newuser", "+set").unwrap();
    assert_eq!(acl.run("newuser", "SET foo bar"), NOPERM_KEY);
    acl.setuser("newuser", "allcommands ~foo:* ~bar:*").unwrap();
    assert_eq!(acl.run("newuser", "SET foo:1 a"), "OK");
    assert_eq!(acl.run("newuser", "SET bar:2 b"), "OK");
    assert_eq!(acl.run("newuser", "SET zap:3 c"), NOPERM_KEY);
    acl.setuser("newuser", "allkeys -ping").unwrap();
    assert_eq!(acl.run("newuser", "INCR mycounter"), "OK");
    assert!(acl.run("newuser", "PING").contains("'ping' command"));
    acl.setuser("newuser", "-@all +@set +acl").unwrap();
    assert_eq!(acl.run("newuser", "SADD myset a b c"), "OK");
    acl.setuser("newuser", "+@all -@string").unwrap();
    assert_eq!(acl.run("newuser", "SADD myset a b c"), "OK");
    assert!(acl.run("newuser", "SET foo bar").contains("'set' command"));
    // NO_AUTH commands are always allowed.
    acl.setuser("newuser", "-@all").unwrap();
    assert_eq!(acl.run("newuser", "AUTH x y"), "OK");
    assert_eq!(acl.run("newuser", "HELLO 3"), "OK");
    assert!(acl.run("newuser", "GET k").contains("'get' command"));
}

#[test]
fn subcommands_and_first_args() {
    let mut acl = Acl::new();
    acl.setuser(
        "newuser",
        "on nopass allkeys +@all -client +client|id +client|setname",
    )
    .unwrap();
    assert_eq!(acl.run("newuser", "CLIENT ID"), "OK");
    assert_eq!(acl.run("newuser", "CLIENT SETNAME foo"), "OK");
    assert_eq!(
        acl.run("newuser", "CLIENT KILL type master"),
        "NOPERM User newuser has no permissions to run the 'client|kill' command"
    );
    acl.setuser("newuser", "-@all +acl +config -config|set")
        .unwrap();
    assert_eq!(acl.run("newuser", "CONFIG GET loglevel"), "OK");
    assert!(
        acl.run("newuser", "CONFIG SET loglevel debug")
            .contains("'config|set'")
    );
    // A category brings in the subcommands of its container commands.
    acl.setuser("newuser", "-@all +del +acl +@stream").unwrap();
    assert_eq!(acl.run("newuser", "XADD key * field value"), "OK");
    assert_eq!(acl.run("newuser", "XINFO STREAM key"), "OK");
    // First arguments of commands without subcommands, ignoring case.
    acl.setuser("newuser", "-@all +acl +select|0 +debug|Object")
        .unwrap();
    assert_eq!(acl.run("newuser", "SELECT 0"), "OK");
    assert!(acl.run("newuser", "SELECT 1").contains("'select' command"));
    assert!(acl.run("newuser", "SELECT").contains("'select' command"));
    assert_eq!(acl.run("newuser", "DEBUG OBJECT key"), "OK");
    assert_eq!(acl.run("newuser", "DEBUG object key"), "OK");
    assert!(
        acl.run("newuser", "DEBUG SEGFAULT")
            .contains("'debug' command")
    );
    // The whole command resets its first arguments.
    acl.setuser("newuser", "-select").unwrap();
    assert!(acl.run("newuser", "SELECT 0").contains("'select' command"));
    acl.setuser("newuser", "+select|0 -@connection").unwrap();
    assert!(acl.run("newuser", "SELECT 0").contains("'select' command"));
    // "ACLs set can include subcommands, if already full command exists".
    acl.setuser("bob", "on nopass +memory|doctor").unwrap();
    assert_eq!(acl.run("bob", "MEMORY DOCTOR"), "OK");
    assert!(acl.run("bob", "MEMORY STATS").contains("'memory|stats'"));
    acl.setuser("alice", "on nopass +@all -memory|doctor")
        .unwrap();
    assert!(
        acl.run("alice", "MEMORY DOCTOR")
            .contains("'memory|doctor'")
    );
    assert_eq!(acl.run("alice", "MEMORY STATS"), "OK");
    acl.setuser("alice", "+@all -memory").unwrap();
    assert!(acl.run("alice", "MEMORY STATS").contains("'memory|stats'"));
    acl.setuser("alice", "-@all").unwrap();
    assert!(acl.run("alice", "GET key").contains("'get'"));
    // Scripts need their own permission ("EVAL_RO, EVALSHA_RO and FCALL_RO").
    acl.setuser("scripter", "on nopass +get").unwrap();
    assert_eq!(
        acl.dryrun("scripter", "EVAL_RO x 0"),
        "User scripter has no permissions to run the 'eval_ro' command"
    );
}

#[test]
fn future_commands_follow_the_first_rule() {
    // Commands the catalog gains after the rules were applied (module commands in Redis)
    // are allowed after `+@all`, even with exceptions, and not after `-@all`.
    let catalog = catalog();
    let mut bigger = catalog.clone();
    let new = bigger
        .add_command("newcmd", Categories::NONE, false)
        .unwrap();
    let pubsub = PubsubDefault::ResetChannels;
    let plus = user_from(&catalog, pubsub, b"+@all -get").unwrap();
    let minus = user_from(&catalog, pubsub, b"-@all +get").unwrap();
    assert!(plus.check(&bigger, new, &[b"newcmd"], &[], &[]).is_ok());
    assert!(minus.check(&bigger, new, &[b"newcmd"], &[], &[]).is_err());
    assert!(plus.root().allows_future_commands());
    assert!(!minus.root().allows_future_commands());
    // An id the catalog does not have is a command denial, not a panic.
    let err = minus
        .check(&catalog, new, &[b"newcmd"], &[], &[])
        .unwrap_err();
    assert_eq!(err.reason, DeniedReason::Command);
}

#[test]
fn channels() {
    let mut acl = Acl::new();
    acl.setuser("psuser", "on nopass +acl +client +@pubsub")
        .unwrap();
    assert_eq!(acl.run("psuser", "PUBLISH foo bar"), NOPERM_CHANNEL);
    assert_eq!(acl.run("psuser", "SPUBLISH foo bar"), NOPERM_CHANNEL);
    assert_eq!(acl.run("psuser", "SUBSCRIBE foo"), NOPERM_CHANNEL);
    assert_eq!(acl.run("psuser", "PSUBSCRIBE bar*"), NOPERM_CHANNEL);
    assert_eq!(acl.run("default", "PSUBSCRIBE bar*"), "OK");
    acl.setuser("psuser", "resetchannels &foo:1 &bar:*")
        .unwrap();
    assert_eq!(acl.run("psuser", "PUBLISH foo:1 m"), "OK");
    assert_eq!(acl.run("psuser", "PUBLISH bar:2 m"), "OK");
    assert_eq!(acl.run("psuser", "PUBLISH zap:3 m"), NOPERM_CHANNEL);
    assert_eq!(acl.run("psuser", "SSUBSCRIBE foo:1 bar:2"), "OK");
    assert_eq!(acl.run("psuser", "SUBSCRIBE zap:3"), NOPERM_CHANNEL);
    // Patterns are only matched literally.
    assert_eq!(acl.run("psuser", "PSUBSCRIBE foo:1"), "OK");
    assert_eq!(acl.run("psuser", "PSUBSCRIBE bar:*"), "OK");
    assert_eq!(acl.run("psuser", "PSUBSCRIBE bar:baz"), NOPERM_CHANNEL);
    assert_eq!(
        acl.run("psuser", "PSUBSCRIBE notexits:* bar:*"),
        NOPERM_CHANNEL
    );
    assert!(acl.user("psuser").check_channel(b"bar:x", false));
    assert!(!acl.user("psuser").check_channel(b"bar:x", true));
    assert!(acl.user("psuser").check_channel(b"bar:*", true));
    // "Validate subset of channels is prefixed with resetchannels flag".
    acl.setuser("hpuser", "on nopass resetchannels &foo +@all")
        .unwrap();
    assert_eq!(
        acl.line("hpuser"),
        "user hpuser on nopass sanitize-payload resetchannels &foo +@all"
    );
    assert_eq!(acl.run("hpuser", "PUBLISH bar game"), NOPERM_CHANNEL);
    // "Test sharded channel permissions".
    acl.setuser("test-channels", "+@all resetchannels &channel")
        .unwrap();
    assert_eq!(acl.dryrun("test-channels", "spublish channel foo"), "OK");
    assert_eq!(acl.dryrun("test-channels", "ssubscribe channel"), "OK");
    assert_eq!(
        acl.dryrun("test-channels", "sunsubscribe otherchannel"),
        "OK"
    );
    assert_eq!(
        acl.dryrun("test-channels", "spublish otherchannel foo"),
        "User test-channels has no permissions to access the 'otherchannel' channel"
    );
}

#[test]
fn subscribers_losing_channels() {
    let mut acl = Acl::new();
    let lost =
        |acl: &mut Acl, rules: &str| acl.setuser("psuser", rules).unwrap().recheck_subscriptions;
    assert!(!lost(&mut acl, "resetchannels &foo:1"));
    // Revoked channel, pattern, or allchannels.
    assert!(lost(&mut acl, "resetchannels"));
    assert!(!acl.user("psuser").check_channel(b"foo:1", false));
    lost(&mut acl, "resetchannels &bar:*");
    assert!(lost(&mut acl, "resetchannels"));
    lost(&mut acl, "allchannels");
    assert!(lost(&mut acl, "resetchannels"));
    // "Subscribers are pardoned if literal permissions are retained and/or gaining
    // allchannels".
    lost(&mut acl, "resetchannels &foo:1 &bar:* &orders");
    assert!(!lost(
        &mut acl,
        "resetchannels &foo:1 &bar:* &orders &baz:qaz &zoo:*"
    ));
    assert!(!lost(&mut acl, "allchannels"));
    // Moving a channel between selectors keeps it.
    lost(&mut acl, "resetchannels &a (&b)");
    assert!(!lost(&mut acl, "clearselectors &b"));
    assert!(lost(&mut acl, "clearselectors resetchannels &a"));
    // Creating a user never needs a check.
    assert!(!acl.setuser("fresh", "&x").unwrap().recheck_subscriptions);
}

#[test]
fn read_and_write_permissions() {
    let mut acl = Acl::new();
    acl.setuser("r", "on nopass %R~read* +@all").unwrap();
    assert_eq!(acl.run("r", "GET readstr"), "OK");
    assert_eq!(acl.run("r", "SET readstr bar"), NOPERM_KEY);
    assert_eq!(acl.run("r", "GET notread"), NOPERM_KEY);
    acl.setuser("w", "on nopass %W~write* +@all").unwrap();
    assert_eq!(acl.run("w", "DEL writelist"), "OK");
    assert_eq!(acl.run("w", "SET writestr bar"), "OK");
    assert_eq!(acl.run("w", "GET writestr"), NOPERM_KEY);
    assert_eq!(acl.run("w", "SET writestr bar GET"), NOPERM_KEY);
    acl.setuser("rw", "on nopass %R~read* %W~write* +@all")
        .unwrap();
    assert_eq!(acl.run("rw", "COPY read write"), "OK");
    assert_eq!(acl.run("rw", "COPY write read"), NOPERM_KEY);
    // Read and write permissions on different selectors do not add up.
    acl.setuser_args(
        "sel",
        &[b"on", b"nopass", b"(%R~read* +@all)", b"(%W~write* +@all)"],
    )
    .unwrap();
    assert_eq!(acl.run("sel", "DEL writelist"), "OK");
    assert_eq!(acl.run("sel", "GET readstr"), "OK");
    assert_eq!(acl.run("sel", "GET writestr"), NOPERM_KEY);
    assert_eq!(acl.run("sel", "SET readstr bar"), NOPERM_KEY);
    assert_eq!(acl.run("sel", "COPY read write"), NOPERM_KEY);
    assert_eq!(acl.run("sel", "COPY write read"), NOPERM_KEY);
    acl.setuser("both", "on nopass %RW~readwrite* +@all")
        .unwrap();
    assert_eq!(acl.run("both", "SET readwrite_str bar GET"), "OK");
}

#[test]
fn dryrun_texts_and_key_access() {
    let mut acl = Acl::new();
    acl.setuser("command-test", "+@all %R~read* %W~write* %RW~rw*")
        .unwrap();
    assert_eq!(acl.dryrun("command-test", "GET read"), "OK");
    acl.setuser("command-test", "-@all").unwrap();
    assert_eq!(
        acl.dryrun("command-test", "set somekey somevalue"),
        "User command-test has no permissions to run the 'set' command"
    );
    acl.setuser("command-test", "+@all").unwrap();
    assert_eq!(acl.dryrun("command-test", "SORT read STORE write"), "OK");
    assert_eq!(
        acl.dryrun("command-test", "SORT read STORE read"),
        "User command-test has no permissions to access the 'read' key"
    );
    assert_eq!(
        acl.dryrun("command-test", "SORT write STORE write"),
        "User command-test has no permissions to access the 'write' key"
    );
    assert_eq!(acl.dryrun("command-test", "EVAL x 1 rw1"), "OK");
    assert!(
        acl.dryrun("command-test", "EVAL x 1 read")
            .ends_with("'read' key")
    );
    assert_eq!(acl.dryrun("command-test", "EVAL_RO x 1 read"), "OK");
    assert_eq!(acl.dryrun("command-test", "EVAL x 0 read"), "OK");
    // Existence and cardinality checks need a pattern of either kind.
    for line in ["EXISTS read", "EXISTS write", "EXISTS rw"] {
        assert_eq!(acl.dryrun("command-test", line), "OK");
    }
    assert_eq!(
        acl.dryrun("command-test", "EXISTS nothing"),
        "User command-test has no permissions to access the 'nothing' key"
    );
    assert_eq!(acl.dryrun("command-test", "MEMORY USAGE write"), "OK");
    assert_eq!(acl.dryrun("command-test", "MEMORY USAGE rw"), "OK");
}

#[test]
fn denial_reported_among_selectors() {
    // "Test ACL log correctly identifies the relevant item when selectors are used".
    let mut acl = Acl::new();
    acl.setuser("sel", "on nopass +mget ~key (+mget ~key ~otherkey)")
        .unwrap();
    let id = acl.id("get");
    let args: [&[u8]; 2] = [b"GET", b"key"];
    let d = acl.check("sel", "GET key").unwrap_err();
    assert_eq!(
        d,
        Denied {
            reason: DeniedReason::Command,
            pos: 0
        }
    );
    assert_eq!(d.log_object(&acl.catalog, id, &args), b"get");
    // The root selector refuses `otherkey` (position 1), the other one `someotherkey`
    // (position 2): the later argument is reported.
    let d = acl.check("sel", "MGET otherkey someotherkey").unwrap_err();
    assert_eq!(
        d,
        Denied {
            reason: DeniedReason::Key,
            pos: 2
        }
    );
    let d = acl
        .check("sel", "MGET key otherkey someotherkey")
        .unwrap_err();
    assert_eq!(
        d,
        Denied {
            reason: DeniedReason::Key,
            pos: 3
        }
    );
    let args: [&[u8]; 4] = [b"MGET", b"key", b"otherkey", b"someotherkey"];
    assert_eq!(
        d.log_object(&acl.catalog, acl.id("mget"), &args),
        b"someotherkey"
    );
    // A key denial wins over a command denial, a channel denial over a key denial.
    acl.setuser(
        "mix",
        "on nopass +publish resetchannels &x (+publish ~* &y) (+get)",
    )
    .unwrap();
    let d = acl.check("mix", "PUBLISH z m").unwrap_err();
    assert_eq!(
        d,
        Denied {
            reason: DeniedReason::Channel,
            pos: 1
        }
    );
    acl.setuser("mix2", "on nopass +get ~a (+set ~b)").unwrap();
    assert_eq!(
        acl.check("mix2", "GET b").unwrap_err().reason,
        DeniedReason::Key
    );
    assert!(acl.check("mix2", "GET a").is_ok());
    // "Test basic multiple selectors".
    acl.setuser("selector-1", "on -@all resetkeys nopass")
        .unwrap();
    assert!(acl.run("selector-1", "PING").contains("command"));
    acl.setuser("selector-1", "(+@write ~write::*) (+@read ~read::*)")
        .unwrap();
    assert_eq!(acl.run("selector-1", "SET write::foo bar"), "OK");
    assert_eq!(acl.run("selector-1", "GET read::foo"), "OK");
    assert_eq!(acl.run("selector-1", "GET write::foo"), NOPERM_KEY);
    assert_eq!(acl.run("selector-1", "SET read::foo bar"), NOPERM_KEY);
}

#[test]
fn sort_needs_unrestricted_key_access() {
    let mut acl = Acl::new();
    let sort = acl.id("sort");
    let args: [&[u8]; 4] = [b"sort", b"mylist", b"by", b"v*"];
    let keys = [(1, Access::READ)];
    let allowed = |acl: &mut Acl, selector: &str| {
        acl.setuser("t", &format!("on nopass clearselectors {selector}"))
            .unwrap();
        acl.user("t")
            .check_with_any_key(&acl.catalog, sort, &args, &keys, &[], Access::READ)
    };
    assert!(!allowed(&mut acl, "(+sort ~mylist)"));
    assert!(!allowed(&mut acl, "(+sort ~mylist ~v*)"));
    assert!(!allowed(&mut acl, "(+sort ~mylist %W~*)"));
    assert!(allowed(&mut acl, "(+sort ~mylist %R~*)"));
    assert!(allowed(&mut acl, "(+sort allkeys)"));
    assert!(!allowed(&mut acl, "(-sort allkeys)"));
    assert!(acl.user("t").check_key(b"anything", Access::READ_WRITE));
    acl.setuser("t", "clearselectors (~a)").unwrap();
    assert!(acl.user("t").check_key(b"a", Access::READ_WRITE));
    assert!(!acl.user("t").check_key(b"b", Access::NONE));
}

#[test]
fn delete_users() {
    let mut acl = Acl::new();
    acl.setuser("a", "").unwrap();
    acl.setuser("b", "").unwrap();
    assert_eq!(
        acl.users.deluser(&[b"default", b"a"]),
        Err(DeleteDefaultUser)
    );
    assert_eq!(
        DeleteDefaultUser.to_string(),
        "The 'default' user cannot be removed"
    );
    assert!(acl.users.get(b"a").is_some());
    let gone = acl.users.deluser(&[b"a", b"a", b"nobody", b"b"]).unwrap();
    let names: Vec<&[u8]> = gone.iter().map(User::name).collect();
    assert_eq!(names, [&b"a"[..], b"b"]);
    assert_eq!(acl.users.len(), 1);
}
