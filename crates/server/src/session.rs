//! The state of one client connection, and what resets or ends it.

use crate::pubsub::{Mailbox, Space};
use crate::settings::Hot;
use crate::{ClientInfo, Shared};
use bytes::Bytes;
use concord_acl::User;
use concord_engine::{Engine, Flags};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// A transaction being queued (between MULTI and EXEC).
pub(crate) struct Multi {
    /// The queued requests.
    pub queue: Vec<Vec<Bytes>>,
    /// The flags of every queued command together: EXEC writes if any of them does.
    pub flags: Flags,
    /// A queued request was refused: EXEC aborts.
    pub error: bool,
    /// Bytes of the queued requests (bounded by `client-query-buffer-limit`).
    pub bytes: usize,
    /// A queued request runs as a script job: so does EXEC.
    pub scripts: bool,
}

impl Default for Multi {
    fn default() -> Self {
        Multi {
            queue: Vec::new(),
            flags: Flags::NONE,
            error: false,
            bytes: 0,
            scripts: false,
        }
    }
}

/// The state of one connection.
pub(crate) struct Session {
    /// The client id (CLIENT ID).
    pub id: u64,
    /// Whether the client may run commands that need authentication.
    pub authed: bool,
    /// Whether replies use RESP3 (HELLO 3).
    pub resp3: bool,
    /// CLIENT SETNAME.
    pub name: Vec<u8>,
    /// MULTI in progress.
    pub multi: Option<Multi>,
    /// Some key is WATCHed.
    pub watching: bool,
    /// Subscribed channels.
    pub channels: BTreeSet<Bytes>,
    /// Subscribed patterns.
    pub patterns: BTreeSet<Bytes>,
    /// Subscribed shard channels.
    pub shard_channels: BTreeSet<Bytes>,
    /// Where messages for this client go (pub/sub, replies to blocked commands), and
    /// what kills it.
    pub mailbox: Mailbox,
    /// The connection closes once the current replies are written.
    pub closing: bool,
    /// Set by a successful CRDT.LINK: the connection becomes a replication link to this
    /// peer at this protocol version.
    pub link: Option<(concord_crdt::ReplicaId, u16)>,
    /// Blocked on keys: the reply to send on timeout and when the timeout falls (`None`:
    /// never).
    pub blocked: Option<(Bytes, Option<tokio::time::Instant>)>,
    /// Requests that arrived behind a blocking command, run once it is served.
    pub queued: std::collections::VecDeque<Vec<Bytes>>,
    /// Bytes of `queued` (they count against `client-query-buffer-limit`, as the query
    /// buffer they stand for would in Redis).
    pub queued_bytes: usize,
    /// When the current batch started.
    pub clock: Instant,
    /// When the last command ended (or the current batch started), on `Shared::timer`:
    /// command times are measured from it.
    pub tick: u64,
    /// The last command name seen (exact bytes, up to 16), its length and its id.
    pub last_name: ([u8; 16], u8, usize),
    /// The hot settings, as of config change `epoch`.
    pub hot: Hot,
    /// The config change `hot` reflects.
    pub epoch: u64,
    /// How the connection is protected.
    pub security: crate::conn::Security,
    /// The client's address.
    pub addr: std::net::SocketAddr,
    /// The client proved a password (not merely a user that needs none).
    pub password_proven: bool,
    /// The user it runs as, as of `acl_epoch`.
    pub user: Arc<User>,
    /// What the user's rules look at (none: the check is skipped).
    pub rules: crate::access::Rules,
    /// The users change `user` reflects.
    pub acl_epoch: u64,
    /// Whether replies are sent (CLIENT REPLY).
    pub replies: Replies,
    /// The command running (or blocked) follows CLIENT REPLY SKIP: its reply is dropped.
    pub skipping: bool,
    /// A script command, run as a job once the batch before it is done.
    pub deferred: Option<Vec<Bytes>>,
    /// The session scripts' commands run in (MONITOR shows them as `lua`).
    pub script: bool,
    /// The client is in MONITOR mode.
    pub monitoring: bool,
    /// EXEC is running the transaction's commands (MONITOR refuses to start then).
    pub in_exec: bool,
    /// CLIENT TRACKING in effect (for a script's session: its caller's).
    pub track: Option<crate::tracking::Track>,
    /// CLIENT CACHING was given for the next command (or transaction).
    pub caching: bool,
    /// The top-level command run before the current one (CLIENT CACHING lasts past a
    /// CLIENT command and through a transaction).
    pub prev_top: concord_engine::CommandId,
    /// The client whose work this session does: itself, or a script's caller.
    pub actor: u64,
    /// CLIENT PAUSE holds a request of the last batch: it and those after it wait in
    /// `queued`, to run once the replies before them are written.
    pub held_rest: bool,
    /// CLIENT PAUSE held writes when the current batch started: nothing is evicted.
    pub writes_held: bool,
    /// The session a followed primary's writes run in (REPLICAOF): its user is built in
    /// (every command, key and channel) and not among the ACL's users.
    pub internal: bool,
}

/// What CLIENT REPLY asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Replies {
    /// Every reply is sent.
    On,
    /// No reply is sent until CLIENT REPLY ON.
    Off,
    /// The next command's reply is dropped.
    SkipNext,
}

impl Session {
    /// A new connection's state.
    pub fn new(sh: &Shared, id: u64, mailbox: Mailbox, now: Instant) -> Session {
        // Read the epoch first: a change after it is picked up at the next refresh.
        let acl_epoch = sh.acl_epoch.load(Ordering::Acquire);
        let default = sh
            .user(concord_acl::DEFAULT_USER)
            .expect("the default user always exists");
        Session {
            id,
            authed: !sh.auth_required(),
            resp3: false,
            name: Vec::new(),
            multi: None,
            watching: false,
            channels: BTreeSet::new(),
            patterns: BTreeSet::new(),
            shard_channels: BTreeSet::new(),
            mailbox,
            closing: false,
            link: None,
            blocked: None,
            queued: std::collections::VecDeque::new(),
            queued_bytes: 0,
            clock: now,
            tick: sh.timer.raw(),
            last_name: ([0; 16], u8::MAX, 0),
            hot: sh.hot(),
            epoch: sh.config_epoch.load(Ordering::Acquire),
            security: crate::conn::Security::Plain,
            addr: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
            password_proven: false,
            user: Arc::clone(&default),
            rules: crate::access::Rules::of(&default),
            acl_epoch,
            replies: Replies::On,
            skipping: false,
            deferred: None,
            script: false,
            monitoring: false,
            in_exec: false,
            track: None,
            caching: false,
            prev_top: usize::MAX,
            actor: id,
            held_rest: false,
            writes_held: false,
            internal: false,
        }
    }

    /// Runs as `user` from now on (AUTH, HELLO AUTH, RESET).
    pub fn set_user(&mut self, sh: &Shared, user: Arc<User>) {
        self.rules = crate::access::Rules::of(&user);
        let name = user.name().to_vec();
        self.user = user;
        self.update_info(sh, |c| c.user = name);
    }

    /// Picks up settings changed by CONFIG SET since the last look (one atomic load when
    /// nothing changed).
    pub fn refresh(&mut self, sh: &Shared) {
        let now = sh.config_epoch.load(Ordering::Acquire);
        if now != self.epoch {
            self.hot = sh.hot();
            self.epoch = now;
        }
        let acl = sh.acl_epoch.load(Ordering::Acquire);
        if acl != self.acl_epoch && !self.internal {
            self.acl_epoch = acl;
            match sh.user(self.user.name()) {
                Some(u) => {
                    self.rules = crate::access::Rules::of(&u);
                    self.user = u;
                }
                None => {
                    // Its user was deleted (the connection is being closed): run as
                    // the default user, unauthenticated, as Redis does meanwhile.
                    self.authed = false;
                    if let Some(d) = sh.user(concord_acl::DEFAULT_USER) {
                        self.set_user(sh, d);
                    }
                }
            }
        }
    }

    /// Updates what CLIENT LIST shows of this connection.
    pub fn update_info(&self, sh: &Shared, f: impl FnOnce(&mut ClientInfo)) {
        if let Some(c) = sh
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(&self.id)
        {
            f(c);
        }
    }

    /// Whether the reply of the command running (or blocked) is dropped (CLIENT REPLY).
    pub fn muted(&self) -> bool {
        self.skipping || self.replies == Replies::Off
    }

    /// Sets the client's name.
    pub fn set_name(&mut self, sh: &Shared, name: Vec<u8>) {
        self.name = name.clone();
        self.update_info(sh, |c| c.name = name);
    }

    /// Whether the connection is in RESP2 subscriber mode.
    pub fn subscribed_resp2(&self) -> bool {
        !self.resp3 && self.subscribed()
    }

    /// Whether the connection subscribes to anything (channels, patterns, shard
    /// channels).
    pub fn subscribed(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty() || !self.shard_channels.is_empty()
    }

    /// The connection's subscriptions of one namespace.
    pub fn subscriptions_mut(&mut self, space: Space) -> &mut BTreeSet<Bytes> {
        match space {
            Space::Channel => &mut self.channels,
            Space::Pattern => &mut self.patterns,
            Space::Shard => &mut self.shard_channels,
        }
    }

    /// Forgets WATCHed keys.
    pub fn unwatch(&mut self, e: &mut Engine) {
        if self.watching {
            e.unwatch(self.id);
            self.watching = false;
        }
    }

    /// The client whose reads are remembered for client-side caching now: the actor,
    /// when it tracks in the default mode, OPTIN after CLIENT CACHING YES, or OPTOUT
    /// without CLIENT CACHING NO.
    pub fn reader(&self) -> Option<u64> {
        let m = self.track?.mode;
        if m.bcast || (m.optin && !self.caching) || (m.optout && self.caching) {
            return None;
        }
        Some(self.actor)
    }

    /// Turns client-side caching off for this client (CLIENT TRACKING OFF, RESET, the
    /// connection closing). The engine is locked by the caller.
    pub fn stop_tracking(&mut self, sh: &Shared, e: &mut Engine) {
        if self.track.take().is_none() {
            return;
        }
        self.caching = false;
        self.update_info(sh, |c| c.tracking = None);
        let mut t = sh.tracking.lock().unwrap_or_else(|p| p.into_inner());
        t.disable(self.id);
        e.set_tracking(t.client_count() > 0);
    }

    /// Leaves MONITOR mode, if in it.
    pub fn stop_monitoring(&mut self, sh: &Shared) {
        if self.monitoring {
            sh.monitors.remove(self.id);
            self.monitoring = false;
        }
    }

    /// Leaves every channel, pattern and shard channel.
    pub fn drop_subscriptions(&mut self, sh: &Shared) {
        let mut ps = sh.pubsub.lock().unwrap_or_else(|p| p.into_inner());
        for space in [Space::Channel, Space::Pattern, Space::Shard] {
            for c in std::mem::take(self.subscriptions_mut(space)) {
                ps.unsubscribe(space, &c, self.id);
            }
        }
    }

    /// RESET: back to a fresh connection's state (RESP2, no name, not authenticated when
    /// a password is required).
    pub fn reset(&mut self, sh: &Shared, e: &mut Engine) {
        self.multi = None;
        self.stop_monitoring(sh);
        self.unwatch(e);
        self.stop_tracking(sh, e);
        self.drop_subscriptions(sh);
        self.resp3 = false;
        self.set_name(sh, Vec::new());
        self.authed = !sh.auth_required();
        self.password_proven = false;
        if let Some(d) = sh.user(concord_acl::DEFAULT_USER) {
            self.set_user(sh, d);
        }
        self.update_info(sh, |c| {
            c.resp = 2;
            c.channels.clear();
            c.patterns.clear();
            c.shard_channels.clear();
        });
    }

    /// Lets go of everything the connection held, when it closes.
    pub fn cleanup(&mut self, sh: &Shared) {
        self.drop_subscriptions(sh);
        self.stop_monitoring(sh);
        if self.watching || self.blocked.is_some() || self.track.is_some() {
            let mut e = sh.engine.lock().unwrap_or_else(|p| p.into_inner());
            self.stop_tracking(sh, &mut e);
            e.unwatch(self.id);
            sh.blocked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&mut e, self.id);
        }
        sh.clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}
