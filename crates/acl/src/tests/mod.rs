//! Tests of the crate as a whole: the behaviours of Redis's acl.tcl and acl-v2.tcl that
//! are pure logic, on a small catalog shaped like Redis's command table.

mod checks;
mod files;
mod props;
mod setuser;

use crate::*;
use spec::COMMANDS;

/// The command table, in Redis's shape: categories are Redis's (a subset).
mod spec {
    use crate::Category::{self, *};

    /// Top-level commands: name, categories, NO_AUTH, subcommands (name, categories).
    pub(super) type Spec = (
        &'static str,
        &'static [Category],
        bool,
        &'static [(&'static str, &'static [Category])],
    );

    pub(super) const COMMANDS: &[Spec] = &[
        ("get", &[Read, String, Fast], false, &[]),
        ("set", &[Write, String, Slow], false, &[]),
        ("mget", &[Read, String, Fast], false, &[]),
        ("incr", &[Write, String, Fast], false, &[]),
        ("del", &[Keyspace, Write, Slow], false, &[]),
        ("exists", &[Keyspace, Read, Fast], false, &[]),
        ("copy", &[Keyspace, Write, Slow], false, &[]),
        (
            "sort",
            &[Write, Set, SortedSet, List, Slow, Dangerous],
            false,
            &[],
        ),
        ("hget", &[Read, Hash, Fast], false, &[]),
        ("hset", &[Write, Hash, Fast], false, &[]),
        ("sadd", &[Write, Set, Fast], false, &[]),
        ("lpush", &[Write, List, Fast], false, &[]),
        ("xadd", &[Write, Stream, Fast], false, &[]),
        ("xinfo", &[], false, &[("stream", &[Read, Stream, Slow])]),
        ("ping", &[Fast, Connection], false, &[]),
        ("select", &[Fast, Connection], false, &[]),
        ("auth", &[Fast, Connection], true, &[]),
        ("hello", &[Fast, Connection], true, &[]),
        ("multi", &[Fast, Transaction], false, &[]),
        ("exec", &[Slow, Transaction], false, &[]),
        ("publish", &[PubSub, Fast], false, &[]),
        ("subscribe", &[PubSub, Slow], false, &[]),
        ("psubscribe", &[PubSub, Slow], false, &[]),
        ("spublish", &[PubSub, Fast], false, &[]),
        ("ssubscribe", &[PubSub, Slow], false, &[]),
        ("sunsubscribe", &[PubSub, Slow], false, &[]),
        ("eval", &[Slow, Scripting], false, &[]),
        ("eval_ro", &[Slow, Scripting], false, &[]),
        ("debug", &[Admin, Slow, Dangerous], false, &[]),
        ("flushdb", &[Keyspace, Write, Slow, Dangerous], false, &[]),
        (
            "config",
            &[],
            false,
            &[
                ("get", &[Admin, Slow, Dangerous]),
                ("set", &[Admin, Slow, Dangerous]),
                ("resetstat", &[Admin, Slow, Dangerous]),
            ],
        ),
        (
            "client",
            &[],
            false,
            &[
                ("id", &[Slow, Connection]),
                ("setname", &[Slow, Connection]),
                ("kill", &[Admin, Slow, Dangerous, Connection]),
                ("list", &[Admin, Slow, Dangerous, Connection]),
            ],
        ),
        (
            "acl",
            &[],
            false,
            &[
                ("list", &[Admin, Slow, Dangerous]),
                ("setuser", &[Admin, Slow, Dangerous]),
                ("whoami", &[Slow]),
            ],
        ),
        (
            "memory",
            &[],
            false,
            &[
                ("doctor", &[Slow]),
                ("stats", &[Slow]),
                ("usage", &[Read, Slow]),
            ],
        ),
        ("script", &[], false, &[("help", &[Slow, Scripting])]),
        ("function", &[], false, &[("list", &[Slow, Scripting])]),
    ];
}

/// The test catalog.
fn catalog() -> Catalog {
    let mut c = Catalog::new();
    for (name, cats, no_auth, subs) in COMMANDS {
        let id = c
            .add_command(name, Categories::of(cats), *no_auth)
            .expect("catalog");
        for (sub, cats) in *subs {
            c.add_subcommand(id, sub, Categories::of(cats), false)
                .expect("catalog");
        }
    }
    c
}

/// A command's id, keys and channels.
type Resolved = (CommandId, Vec<(usize, Access)>, Vec<(usize, bool)>);

/// A catalog and users with the default `acl-pubsub-default` (resetchannels).
struct Acl {
    catalog: Catalog,
    users: Users,
}

impl Acl {
    fn new() -> Acl {
        Acl::with(PubsubDefault::ResetChannels)
    }

    fn with(pubsub: PubsubDefault) -> Acl {
        let catalog = catalog();
        let users = Users::new(&catalog, pubsub);
        Acl { catalog, users }
    }

    /// `ACL SETUSER name` with rules split on spaces, like arguments typed in a shell.
    fn setuser(&mut self, name: &str, rules: &str) -> Result<SetUserOutcome, String> {
        let rules: Vec<&[u8]> = rules.split_whitespace().map(str::as_bytes).collect();
        self.setuser_args(name, &rules)
    }

    /// `ACL SETUSER name` with the rules as given.
    fn setuser_args(&mut self, name: &str, rules: &[&[u8]]) -> Result<SetUserOutcome, String> {
        self.users
            .setuser(&self.catalog, name.as_bytes(), rules)
            .map_err(|e| format!("ERR {}", String::from_utf8_lossy(&e.message())))
    }

    fn user(&self, name: &str) -> &User {
        self.users.get(name.as_bytes()).expect("user exists")
    }

    /// `ACL GETUSER name` commands of the root selector.
    fn commands(&self, name: &str) -> String {
        lossy(&self.user(name).info().root.commands)
    }

    fn line(&self, name: &str) -> String {
        lossy(&self.user(name).acl_list_line())
    }

    fn id(&self, name: &str) -> CommandId {
        self.catalog.lookup(name.as_bytes()).expect("command").id
    }

    /// `ACL DRYRUN`: "OK" or the denial text, with keys and channels found as the test
    /// catalog's key specs would.
    fn dryrun(&self, user: &str, line: &str) -> String {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        let (id, keys, channels) = self.resolve(&args);
        let user = self.user(user);
        match user.check(&self.catalog, id, &args, &keys, &channels) {
            Ok(()) => "OK".into(),
            Err(d) => lossy(&d.dryrun_message(&self.catalog, id, user, &args)),
        }
    }

    /// The check's result for a command line.
    fn check(&self, user: &str, line: &str) -> Result<(), Denied> {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        let (id, keys, channels) = self.resolve(&args);
        self.user(user)
            .check(&self.catalog, id, &args, &keys, &channels)
    }

    /// The NOPERM error of a command line, or "OK".
    fn run(&self, user: &str, line: &str) -> String {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        let (id, keys, channels) = self.resolve(&args);
        let u = self.user(user);
        match u.check(&self.catalog, id, &args, &keys, &channels) {
            Ok(()) => "OK".into(),
            Err(d) => format!("NOPERM {}", lossy(&d.noperm_message(&self.catalog, id, u))),
        }
    }

    /// The command id, keys and channels of a command line, like the server's key specs.
    fn resolve(&self, args: &[&[u8]]) -> Resolved {
        let name = lossy(args[0]).to_lowercase();
        let container = self
            .catalog
            .lookup(name.as_bytes())
            .is_some_and(|c| !c.subcommands.is_empty());
        let full = if container && args.len() > 1 {
            format!("{name}|{}", lossy(args[1]).to_lowercase())
        } else {
            name.clone()
        };
        let id = self.id(&full);
        let n = args.len();
        let upper: Vec<String> = args.iter().map(|a| lossy(a).to_uppercase()).collect();
        let mut keys = Vec::new();
        let mut channels = Vec::new();
        match full.as_str() {
            "get" | "hget" if n > 1 => keys.push((1, Access::READ)),
            // Redis's key spec for MEMORY USAGE has no ACCESS flag.
            "memory|usage" if n > 2 => keys.push((2, Access::NONE)),
            "set" if n > 1 => {
                let get = upper.iter().skip(3).any(|a| a == "GET");
                keys.push((
                    1,
                    if get {
                        Access::READ_WRITE
                    } else {
                        Access::WRITE
                    },
                ));
            }
            "mget" | "exists" => keys.extend((1..n).map(|i| {
                (
                    i,
                    if full == "mget" {
                        Access::READ
                    } else {
                        Access::NONE
                    },
                )
            })),
            "incr" | "hset" | "sadd" | "lpush" | "xadd" if n > 1 => {
                keys.push((1, Access::READ_WRITE))
            }
            "del" => keys.extend((1..n).map(|i| (i, Access::WRITE))),
            "copy" if n > 2 => keys.extend([(1, Access::READ), (2, Access::WRITE)]),
            "sort" if n > 1 => {
                keys.push((1, Access::READ));
                if let Some(i) = upper.iter().position(|a| a == "STORE") {
                    keys.push((i + 1, Access::WRITE));
                }
            }
            "xinfo|stream" if n > 2 => keys.push((2, Access::READ)),
            "eval" | "eval_ro" if n > 2 => {
                let numkeys: usize = lossy(args[2]).parse().unwrap_or(0);
                let access = if full == "eval" {
                    Access::READ_WRITE
                } else {
                    Access::READ
                };
                keys.extend((3..n.min(3 + numkeys)).map(|i| (i, access)));
            }
            "publish" | "spublish" if n > 1 => channels.push((1, false)),
            "subscribe" | "ssubscribe" => channels.extend((1..n).map(|i| (i, false))),
            "psubscribe" => channels.extend((1..n).map(|i| (i, true))),
            _ => {}
        }
        (id, keys, channels)
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The user `rules` (split on spaces) make from a new user.
fn user_from(catalog: &Catalog, pubsub: PubsubDefault, rules: &[u8]) -> Result<User, SetUserError> {
    let rules: Vec<&[u8]> = rules.split(|&b| b == b' ').collect();
    let mut user = User::new(b"u", pubsub);
    user.apply_rules(catalog, pubsub, &rules)?;
    Ok(user)
}

/// Checks that describing `user` and applying the description (split on spaces, as an
/// ACL file line is) to a new user gives `user` back, whatever `acl-pubsub-default` is.
#[track_caller]
fn assert_round_trip(catalog: &Catalog, user: &User) {
    let desc = user.describe();
    let rules: Vec<&[u8]> = desc.split(|&b| b == b' ').collect();
    for pubsub in [PubsubDefault::ResetChannels, PubsubDefault::AllChannels] {
        let mut back = User::new(user.name(), pubsub);
        if let Err(e) = back.apply_rules(catalog, pubsub, &rules) {
            panic!("description {:?} does not parse: {e}", lossy(&desc));
        }
        assert_eq!(lossy(&back.describe()), lossy(&desc), "description changed");
        assert_eq!(&back, user, "user changed through {:?}", lossy(&desc));
    }
}
