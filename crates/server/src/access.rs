//! Users and what they may do on this instance (ACLs are per instance: they are not
//! replicated, as each region's operators manage their own). The rules and the check
//! are `concord_acl`'s; this module holds the users, builds the command catalog from
//! the engine's table, and turns a request into what the check needs.

use crate::Shared;
use concord_acl::{
    Access, AclLog, Catalog, CommandId as AclId, Denied, PubsubDefault, User, Users,
};
use concord_engine::{
    ChannelRole, Channels, CommandId, Flags, KeyFlags, acl_categories, command_count, full_name,
    legacy_range, movable_keys, parent, spec,
};
use smallvec::SmallVec;
use std::sync::{Arc, OnceLock};

/// The users of the instance and its ACL LOG.
pub(crate) struct AccessState {
    /// Every user, `default` included.
    pub users: Users,
    /// Denials and failed authentications.
    pub log: AclLog,
}

/// What the check needs of one engine command, looked up once per request.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Its id in the catalog (the same number, asserted).
    acl: AclId,
    /// The legacy (first, last, step) key range of a command whose keys do not move.
    fixed_keys: Option<(i32, i32, i32)>,
    /// Whether it names channels.
    channels: bool,
}

/// The catalog, and what the check needs by engine command id.
fn built() -> &'static (Catalog, Vec<Entry>) {
    static BUILT: OnceLock<(Catalog, Vec<Entry>)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let mut c = Catalog::new();
        let mut entries: Vec<Entry> = Vec::with_capacity(command_count());
        for id in 0..command_count() {
            let no_auth = spec(id).flags.has(Flags::NO_AUTH);
            let name = full_name(id);
            let added = match parent(id) {
                None => c.add_command(name, acl_categories(id), no_auth),
                Some(p) => {
                    let sub = name.rsplit('|').next().unwrap_or(name);
                    c.add_subcommand(entries[p].acl, sub, acl_categories(id), no_auth)
                }
            };
            let added = added.unwrap_or_else(|e| panic!("catalog: {name}: {e}"));
            assert_eq!(added.index(), id, "catalog ids follow the engine's");
            entries.push(Entry {
                acl: added,
                fixed_keys: (!movable_keys(id)).then(|| legacy_range(id)),
                channels: spec(id).channels != Channels::None,
            });
        }
        (c, entries)
    })
}

/// The command catalog ACL rules name, with the engine's ids.
pub(crate) fn catalog() -> &'static Catalog {
    &built().0
}

/// The catalog's id of an engine command id.
pub(crate) fn to_acl(id: CommandId) -> AclId {
    built().1[id].acl
}

/// What a key needs: reading it (ACCESS), writing it (INSERT, DELETE or UPDATE), as
/// Redis maps key-spec flags to `%R~` and `%W~`.
fn access(flags: KeyFlags) -> Access {
    Access {
        read: flags.has(KeyFlags::ACCESS),
        write: flags.has(KeyFlags::INSERT)
            || flags.has(KeyFlags::DELETE)
            || flags.has(KeyFlags::UPDATE),
    }
}

/// What a user's rules look at, worked out once per change of the user: the check of
/// every command skips what they do not.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rules {
    /// The user may run anything on any key and channel: no check at all.
    pub unrestricted: bool,
    /// Some selector limits keys.
    needs_keys: bool,
    /// Some selector limits channels.
    needs_channels: bool,
    /// Every key pattern of the root selector grants reading and writing: which access a
    /// key needs does not matter, only where the keys are.
    keys_any_access: bool,
}

impl Rules {
    /// The rules of `user`.
    pub(crate) fn of(user: &User) -> Rules {
        Rules {
            unrestricted: unrestricted(user),
            needs_keys: !user.all_selectors().all(|s| s.all_keys()),
            needs_channels: !user.all_selectors().all(|s| s.all_channels()),
            keys_any_access: user
                .root()
                .key_patterns()
                .all(|(_, a)| a == Access::READ_WRITE),
        }
    }
}

/// Checks `user` (whose rules are `rules`) for a request of command `id`; `Ok` when it
/// may run.
pub(crate) fn check(
    user: &User,
    rules: Rules,
    id: CommandId,
    args: &[&[u8]],
) -> Result<(), Denied> {
    if user.selectors().is_empty() && root_allows(user, rules, id, args) {
        return Ok(());
    }
    full_check(user, rules, id, args)
}

/// The check with key and channel lists built, for the requests the common case could not
/// decide; kept out of line so the common case stays small.
#[inline(never)]
fn full_check(user: &User, rules: Rules, id: CommandId, args: &[&[u8]]) -> Result<(), Denied> {
    // Keys and channels are only worked out for users whose rules look at them.
    let keys: SmallVec<[(usize, Access); 4]> = if !rules.needs_keys {
        SmallVec::new()
    } else {
        concord_engine::keys(id, args)
            .iter()
            .map(|k| (k.pos, access(k.flags)))
            .collect()
    };
    let channels: SmallVec<[(usize, bool); 4]> =
        if !rules.needs_channels || spec(id).channels == Channels::None {
            SmallVec::new()
        } else {
            concord_engine::channels(id, args)
                .iter()
                .filter(|c| matches!(c.role, ChannelRole::Publish | ChannelRole::Subscribe))
                .map(|c| (c.pos, c.pattern))
                .collect()
        };
    user.check(catalog(), to_acl(id), args, &keys, &channels)
}

/// SORT's refusal of its BY and GET patterns, which read keys no key spec names: they
/// need a selector that allows the request and reading every key (Redis's
/// ACLUserCheckCmdWithUnrestrictedKeyAccess). The error text, when refused.
pub(crate) fn sort_refusal(
    user: &User,
    rules: Rules,
    id: CommandId,
    args: &[&[u8]],
) -> Option<String> {
    static SORTS: OnceLock<[Option<CommandId>; 2]> = OnceLock::new();
    let sorts = SORTS.get_or_init(|| {
        [
            concord_engine::command_id(b"sort"),
            concord_engine::command_id(b"sort_ro"),
        ]
    });
    if rules.unrestricted || !sorts.contains(&Some(id)) {
        return None;
    }
    let denial = concord_engine::sort_pattern_denial(args)?;
    let keys: SmallVec<[(usize, Access); 4]> = concord_engine::keys(id, args)
        .iter()
        .map(|k| (k.pos, access(k.flags)))
        .collect();
    let all_readable =
        user.check_with_any_key(catalog(), to_acl(id), args, &keys, &[], Access::READ);
    (!all_readable).then(|| denial.to_string())
}

/// Why `user` may not hold a peer link, if it may not. A link writes any key and carries
/// every publish, so a selector must allow CRDT.LINK on every key and channel; an
/// enabled user is checked again whenever users change.
pub(crate) fn link_refusal(user: &User) -> Option<String> {
    let name = String::from_utf8_lossy(user.name());
    if !user.is_enabled() {
        return Some(format!("user '{name}' is disabled"));
    }
    let link = concord_engine::command_id(b"crdt.link").expect("CRDT.LINK is in the table");
    let allowed = user
        .all_selectors()
        .filter(|s| s.allows_command_id(to_acl(link)))
        .collect::<SmallVec<[_; 2]>>();
    if allowed.is_empty() {
        return Some(format!("user '{name}' may not run CRDT.LINK"));
    }
    if !allowed.iter().any(|s| s.all_keys() && s.all_channels()) {
        return Some(format!(
            "user '{name}' may run CRDT.LINK but not on every key and channel (a link writes any key: give it ~* &*)"
        ));
    }
    None
}

/// The common case, checked without building anything: a user with only the root
/// selector, which allows the command, its keys and its channels. `false` means "not
/// sure": the full check decides (and words the denial).
fn root_allows(user: &User, rules: Rules, id: CommandId, args: &[&[u8]]) -> bool {
    let root = user.root();
    let entry = built().1[id];
    if !root.allows_command_id(entry.acl) {
        return false;
    }
    if rules.needs_keys {
        let allowed = match entry.fixed_keys {
            // The legacy range holds every key of a command whose keys do not move: no
            // key list to build. A range past the arguments goes to the full check.
            Some(range) if rules.keys_any_access => match key_positions(range, args.len()) {
                Some(at) => root.allows_keys_at(args, at, Access::NONE),
                None => false,
            },
            _ => concord_engine::keys(id, args).iter().all(|k| {
                args.get(k.pos)
                    .is_some_and(|key| root.allows_key(key, access(k.flags)))
            }),
        };
        if !allowed {
            return false;
        }
    }
    !rules.needs_channels
        || !entry.channels
        || concord_engine::channels(id, args).iter().all(|c| {
            !matches!(c.role, ChannelRole::Publish | ChannelRole::Subscribe)
                || args
                    .get(c.pos)
                    .is_some_and(|ch| root.allows_channel(ch, c.pattern))
        })
}

/// The argument positions (first, last, step) a legacy key range names in a request of
/// `len` arguments (a negative last counts from the end; first > last when there are no
/// keys), or `None` when one is missing.
fn key_positions(
    (first, last, step): (i32, i32, i32),
    len: usize,
) -> Option<(usize, usize, usize)> {
    let len = i64::try_from(len).ok()?;
    let last = if last < 0 {
        len + i64::from(last)
    } else {
        i64::from(last)
    };
    let first = i64::from(first);
    if first <= 0 || last < first {
        return Some((1, 0, 1));
    }
    if last >= len {
        return None;
    }
    Some((
        usize::try_from(first).ok()?,
        usize::try_from(last).ok()?,
        usize::try_from(step.max(1)).ok()?,
    ))
}

/// Whether `user` may run anything on any key and channel: the check can be skipped.
fn unrestricted(user: &User) -> bool {
    let root = user.root();
    root.all_keys()
        && root.all_channels()
        && root.allows_future_commands()
        && catalog().iter().all(|c| root.allows_command_id(c.id))
}

/// The users at start: the default user (with `requirepass`), then the ACL file or the
/// config file's `user` lines (not both, as in Redis).
pub(crate) fn initial(cfg: &crate::ServerConfig) -> Result<AccessState, String> {
    let c = catalog();
    let mut users = Users::new(c, cfg.acl_pubsub_default);
    users.set_default_password(cfg.requirepass.as_deref().map(str::as_bytes));
    if !cfg.aclfile.is_empty() && !cfg.users.is_empty() {
        return Err("user lines in the config file and an aclfile cannot be used together; move the users into the ACL file".into());
    }
    if !cfg.users.is_empty() {
        // Split as Redis splits config lines: quotes keep a rule with blanks whole.
        let directives = cfg
            .users
            .iter()
            .map(|line| {
                concord_resp::split_args(line.as_bytes())
                    .ok_or_else(|| format!("user {line}: unbalanced quotes"))
            })
            .collect::<Result<Vec<_>, String>>()?;
        users
            .apply_config(c, &directives)
            .map_err(|e| format!("user: {e}"))?;
    }
    if !cfg.aclfile.is_empty() {
        // As in Redis, the ACL file decides the default user too: requirepass is ignored
        // (ACL LOAD would drop it anyway).
        if cfg.requirepass.is_some() {
            tracing::warn!(
                "requirepass is ignored with aclfile: give the default user its password in {}",
                cfg.aclfile
            );
        }
        users = load_file(&cfg.aclfile, &users)?;
    }
    Ok(AccessState {
        users,
        log: AclLog::new(cfg.acllog_max_len),
    })
}

/// Reads an ACL file into a new set of users (all or nothing); a missing file is empty.
pub(crate) fn load_file(path: &str, current: &Users) -> Result<Users, String> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("Error loading ACLs, opening file '{path}': {e}")),
    };
    current
        .load_acl_file(catalog(), path, &text)
        .map_err(|e| String::from_utf8_lossy(&e.message()).into_owned())
}

impl Shared {
    /// A user's current definition, for a connection to check against.
    pub(crate) fn user(&self, name: &[u8]) -> Option<Arc<User>> {
        let a = self.access.lock().unwrap_or_else(|p| p.into_inner());
        a.users.get(name).map(|u| Arc::new(u.clone()))
    }

    /// Whether new connections start unauthenticated (the default user needs a password
    /// or is off).
    pub(crate) fn auth_required(&self) -> bool {
        let a = self.access.lock().unwrap_or_else(|p| p.into_inner());
        let d = a.users.default_user();
        !d.is_nopass() || !d.is_enabled()
    }

    /// Whether the default user needs no password (protected mode and `AUTH <password>`
    /// look at this flag alone, as in Redis).
    pub(crate) fn default_nopass(&self) -> bool {
        let a = self.access.lock().unwrap_or_else(|p| p.into_inner());
        a.users.default_user().is_nopass()
    }

    /// Users changed: connections pick up their users' new rules.
    pub(crate) fn users_changed(&self) {
        self.acl_epoch
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// `acl-pubsub-default`: whether new users may use every channel.
impl crate::settings::Value for PubsubDefault {
    fn set_from(&mut self, text: &str) -> Result<(), String> {
        *self = match text.to_ascii_lowercase().as_str() {
            "allchannels" => PubsubDefault::AllChannels,
            "resetchannels" => PubsubDefault::ResetChannels,
            _ => {
                return Err(
                    "argument(s) must be one of the following: allchannels, resetchannels".into(),
                );
            }
        };
        Ok(())
    }
    fn show(&self) -> String {
        match self {
            PubsubDefault::AllChannels => "allchannels",
            PubsubDefault::ResetChannels => "resetchannels",
        }
        .into()
    }
}

/// CONFIG SET acl-pubsub-default / acllog-max-len.
pub(crate) fn apply(
    sh: &Shared,
    _: &mut concord_engine::Engine,
    c: &crate::ServerConfig,
) -> Result<(), String> {
    let mut a = sh.access.lock().unwrap_or_else(|p| p.into_inner());
    a.users.set_pubsub_default(c.acl_pubsub_default);
    a.log.set_max_len(c.acllog_max_len);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RULES: &[&str] = &[
        "~key:*",
        "%R~r*",
        "%W~w*",
        "~k",
        "allkeys",
        "resetkeys",
        "&ch*",
        "allchannels",
        "resetchannels",
        "-set",
        "+@read",
        "-@write",
        "+set",
        "-mset",
        "(~w* +@all)",
    ];
    const COMMANDS: &[&str] = &[
        "get",
        "set",
        "mset",
        "del",
        "lpush",
        "rename",
        "publish",
        "subscribe",
        "psubscribe",
        "zunionstore",
        "xread",
        "lmove",
        "object|encoding",
        "ping",
    ];
    const WORDS: &[&str] = &["key:1", "k", "r1", "w1", "ch1", "x", "2", "streams", "0"];

    proptest! {
        /// The common case never lets through what the full check refuses (when it is
        /// not sure, the full check decides).
        #[test]
        fn the_common_case_agrees_with_the_full_check(
            rules in proptest::collection::vec(proptest::sample::select(RULES), 0..5),
            command in proptest::sample::select(COMMANDS),
            words in proptest::collection::vec(proptest::sample::select(WORDS), 0..6),
        ) {
            let mut user = User::new(b"u", PubsubDefault::ResetChannels);
            // Rules that do not apply after the others (a pattern after allkeys) are skipped.
            for rule in ["on", "+@all"].iter().chain(&rules) {
                let _ = user.apply_rules(catalog(), PubsubDefault::ResetChannels, &[rule.as_bytes()]);
            }
            let id = concord_engine::lookup_full_name(command.as_bytes()).unwrap();
            let mut args: Vec<&[u8]> = command.split('|').map(str::as_bytes).collect();
            args.extend(words.iter().map(|w| w.as_bytes()));
            let rules = Rules::of(&user);
            let fast = check(&user, rules, id, &args);
            let full = full_check(&user, rules, id, &args);
            prop_assert_eq!(fast.is_ok(), full.is_ok());
        }
    }

    #[test]
    fn key_positions_stay_inside_the_request() {
        let at = |range, len| {
            key_positions(range, len)
                .map(|(first, last, step)| (first..=last).step_by(step).collect::<Vec<_>>())
        };
        assert_eq!(at((1, 1, 1), 3), Some(vec![1]));
        assert_eq!(at((1, -1, 2), 5), Some(vec![1, 3]));
        assert_eq!(at((1, 1, 1), 1), None);
        assert_eq!(at((0, 0, 0), 1), Some(vec![]));
        assert_eq!(at((1, -2, 1), 1), Some(vec![]));
        assert_eq!(at((2, 5, 1), 4), None);
    }
}
