//! Replica Of: this instance follows a Redis primary (REPLICAOF host port) to take its data
//! in. The link speaks Redis's replica protocol (PSYNC, the RDB transfer, then the command
//! stream with continuation after a drop); every key and command received runs as an
//! ordinary write of this instance, so it reaches the other instances by the normal
//! replication. The instance keeps taking its own clients' writes meanwhile.

mod local;
mod primary;
mod run;

use crate::Shared;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Where the link to the primary stands (Redis's `repl_state`, as ROLE names it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting to connect (at first, or after the link dropped).
    Connect,
    /// Connecting and shaking hands.
    Connecting,
    /// Receiving the primary's snapshot, then loading it.
    Sync,
    /// Following the command stream.
    Connected,
}

impl Phase {
    /// ROLE's word for it.
    fn word(self) -> &'static str {
        match self {
            Phase::Connect => "connect",
            Phase::Connecting => "handshake",
            Phase::Sync => "sync",
            Phase::Connected => "connected",
        }
    }
}

/// What INFO replication and ROLE show of the link.
#[derive(Clone, Debug)]
pub(crate) struct Status {
    /// The primary's host.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Where the link stands.
    pub phase: Phase,
    /// When a byte last came from the primary.
    pub last_io: Instant,
    /// Since when the link is down (`None`: up).
    pub down_since: Option<Instant>,
    /// The snapshot's size when the primary announced it (`None` for a diskless transfer
    /// whose end is marked instead).
    pub sync_total: Option<u64>,
    /// Snapshot bytes received so far.
    pub sync_read: u64,
    /// Keys of the snapshot loaded so far.
    pub sync_keys: u64,
    /// The primary's replication id (for continuation).
    pub replid: String,
    /// The primary's offset of the last byte of the stream applied here.
    pub offset: i64,
    /// The primary's offset of the last byte read (applied or not yet).
    pub read_offset: i64,
    /// The primary's own offset, as it last told (asked every second on a connection of
    /// its own): how far the stream has got there.
    pub source_offset: Option<i64>,
    /// Full transfers since REPLICAOF.
    pub full_syncs: u64,
    /// Continuations after a dropped link.
    pub partial_syncs: u64,
    /// Keys and commands of another database than 0, skipped (Concord has one).
    pub skipped: u64,
    /// Writes this instance refused (their error replies), logged and counted.
    pub refused: u64,
    /// Why the link last failed.
    pub last_error: String,
}

impl Status {
    fn new(host: String, port: u16) -> Status {
        Status {
            host,
            port,
            phase: Phase::Connect,
            last_io: Instant::now(),
            down_since: Some(Instant::now()),
            sync_total: None,
            sync_read: 0,
            sync_keys: 0,
            replid: String::new(),
            offset: -1,
            read_offset: -1,
            source_offset: None,
            full_syncs: 0,
            partial_syncs: 0,
            skipped: 0,
            refused: 0,
            last_error: String::new(),
        }
    }
}

/// The primary this instance follows, if any, and the task that follows it.
#[derive(Default)]
pub(crate) struct Follow {
    state: Mutex<Option<Following>>,
}

struct Following {
    status: Arc<Mutex<Status>>,
    task: tokio::task::AbortHandle,
}

/// What REPLICAOF host port did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Started {
    /// A new link (an old one to another primary stopped).
    New,
    /// It follows that primary already.
    Already,
}

impl Follow {
    /// Follows `host:port` from now on (REPLICAOF host port).
    pub fn start(&self, sh: &Arc<Shared>, host: String, port: u16) -> Started {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = st.as_ref() {
            let s = f.status.lock().unwrap_or_else(|p| p.into_inner());
            if s.host.eq_ignore_ascii_case(&host) && s.port == port {
                return Started::Already;
            }
        }
        if let Some(old) = st.take() {
            old.task.abort();
        }
        let status = Arc::new(Mutex::new(Status::new(host, port)));
        let task = tokio::spawn(run::follow(Arc::clone(sh), Arc::clone(&status))).abort_handle();
        tracing::info!("REPLICAOF: following {}", describe(&status));
        *st = Some(Following { status, task });
        Started::New
    }

    /// Stops following (REPLICAOF NO ONE); whether it was following.
    pub fn stop(&self) -> bool {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match st.take() {
            Some(f) => {
                f.task.abort();
                tracing::info!(
                    "REPLICAOF NO ONE: stopped following {}",
                    describe(&f.status)
                );
                true
            }
            None => false,
        }
    }

    /// A copy of the link's status, while following.
    pub fn status(&self) -> Option<Status> {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.as_ref()
            .map(|f| f.status.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

fn describe(status: &Mutex<Status>) -> String {
    let s = status.lock().unwrap_or_else(|p| p.into_inner());
    format!("{}:{}", s.host, s.port)
}

/// Seconds since `t`, as INFO shows them.
fn secs_since(t: Instant) -> u64 {
    t.elapsed().as_secs()
}

/// INFO replication's fields while following, as a Redis replica shows them (and
/// Concord's own counts after them).
pub(crate) fn write_info(s: &Status, out: &mut String) {
    let up = s.phase == Phase::Connected;
    let _ = write!(
        out,
        "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\nslave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\n",
        s.host,
        s.port,
        if up { "up" } else { "down" },
        if up { secs_since(s.last_io) as i64 } else { -1 },
        u8::from(s.phase == Phase::Sync),
        s.read_offset.max(0),
        s.offset.max(0),
    );
    if s.phase == Phase::Sync {
        let total = s.sync_total.map_or(-1, |t| t as i64);
        let left = s
            .sync_total
            .map_or(-1, |t| t.saturating_sub(s.sync_read) as i64);
        let perc = match s.sync_total {
            Some(t) if t > 0 => s.sync_read as f64 * 100.0 / t as f64,
            _ => 0.0,
        };
        let _ = write!(
            out,
            "master_sync_total_bytes:{total}\r\nmaster_sync_read_bytes:{}\r\nmaster_sync_left_bytes:{left}\r\nmaster_sync_perc:{perc:.2}\r\nmaster_sync_last_io_seconds_ago:{}\r\n",
            s.sync_read,
            secs_since(s.last_io),
        );
    }
    if let Some(t) = s.down_since {
        let _ = write!(out, "master_link_down_since_seconds:{}\r\n", secs_since(t));
    }
    // Concord's own: how far behind the primary the applied stream is, in bytes.
    if let (Some(src), true) = (s.source_offset, s.offset >= 0) {
        let _ = write!(
            out,
            "master_source_offset:{src}\r\nmaster_lag_bytes:{}\r\n",
            (src - s.offset).max(0)
        );
    }
    let _ = write!(
        out,
        "slave_priority:100\r\nslave_read_only:0\r\nreplica_announced:1\r\nmaster_sync_loaded_keys:{}\r\nmaster_full_syncs:{}\r\nmaster_partial_syncs:{}\r\nmaster_skipped_other_db:{}\r\nmaster_refused_writes:{}\r\nmaster_last_error:{}\r\n",
        s.sync_keys,
        s.full_syncs,
        s.partial_syncs,
        s.skipped,
        s.refused,
        s.last_error.replace(['\r', '\n'], " "),
    );
}

/// ROLE's reply while following: `slave`, host, port, state, offset.
pub(crate) fn write_role(s: &Status, out: &mut concord_resp::Out) {
    out.array(5);
    out.bulk(b"slave");
    out.bulk(s.host.as_bytes());
    out.int(i64::from(s.port));
    out.bulk(s.phase.word().as_bytes());
    out.int(if s.phase == Phase::Connected {
        s.offset
    } else {
        -1
    });
}
