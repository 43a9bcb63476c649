//! `GET /metrics`: the local databases' instances in the Prometheus text format, read
//! from their INFO over the client protocol at every scrape (the manager keeps no
//! metrics of its own, so a restarted manager loses nothing).

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use crate::model::Bdb;
use crate::users::Role;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// The INFO sections every metric comes from, asked in one command.
const SECTIONS: &[&str] = &["memory", "clients", "stats", "keyspace", "crdt"];

/// GET /metrics.
pub async fn get(State(s): State<Arc<AppState>>, c: Caller) -> Result<impl IntoResponse, ApiError> {
    c.require(Role::DbViewer)?;
    let bdbs = s.store.bdbs()?;
    // Every instance is asked at once, each within its own timeout: a stuck instance
    // costs the scrape that timeout, not the sum of everyone's.
    let replies =
        futures_util::future::join_all(bdbs.iter().map(|b| crate::instance::info(b, SECTIONS)))
            .await;
    let scraped: Vec<(DbLabels, Option<Snapshot>)> = bdbs
        .iter()
        .zip(replies)
        .map(|(b, r)| (DbLabels::of(b), r.ok().map(|text| Snapshot::parse(&text))))
        .collect();
    let text =
        render(&scraped).map_err(|e| ApiError::internal(format!("encoding the metrics: {e}")))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        )],
        text,
    ))
}

/// The labels of one local database's series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DbLabels {
    db: u64,
    name: String,
    crdb_guid: String,
    replica_id: u16,
}

impl DbLabels {
    fn of(b: &Bdb) -> Self {
        DbLabels {
            db: b.uid,
            name: b.name.clone(),
            crdb_guid: b.crdb_guid.clone(),
            replica_id: b.replica_id,
        }
    }
}

/// The labels of one link of a local database to a peer.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerLabels {
    #[prometheus(flatten)]
    db: DbLabels,
    peer: u16,
}

/// What an instance's INFO said; a field is `None` when its line is missing or not a
/// number (its series is then left out rather than reported as 0).
#[derive(Debug, Default, PartialEq)]
struct Snapshot {
    used_memory: Option<u64>,
    maxmemory: Option<u64>,
    commands: Option<u64>,
    clients: Option<u64>,
    keys: Option<u64>,
    local_ops: Option<u64>,
    remote_ops: Option<u64>,
    backlog_bytes: Option<u64>,
    unstable_keys: Option<u64>,
    waiting_ops: Option<u64>,
    peers: Vec<PeerLink>,
}

/// One `crdt_peerN:` line of INFO crdt.
#[derive(Debug, Default, PartialEq)]
struct PeerLink {
    id: u16,
    up: bool,
    lag_ops: Option<u64>,
    lag_ms: Option<u64>,
    pending_ops: Option<u64>,
    pending_ms: Option<u64>,
    bytes_in: Option<u64>,
    bytes_out: Option<u64>,
    full_syncs: Option<u64>,
    partial_syncs: Option<u64>,
    link_errors: Option<u64>,
}

impl Snapshot {
    /// Reads INFO text; anything it does not know or cannot read is skipped.
    fn parse(text: &str) -> Snapshot {
        let mut s = Snapshot::default();
        for line in text.lines().map(str::trim) {
            // An empty keyspace is a header without a `db0` line: no keys, not unknown.
            if line.eq_ignore_ascii_case("# keyspace") {
                s.keys.get_or_insert(0);
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let num = || value.trim().parse::<u64>().ok();
            match key {
                "used_memory" => s.used_memory = num(),
                "maxmemory" => s.maxmemory = num(),
                "total_commands_processed" => s.commands = num(),
                "connected_clients" => s.clients = num(),
                "db0" => s.keys = field(value, "keys"),
                "crdt_local_ops" => s.local_ops = num(),
                "crdt_remote_ops" => s.remote_ops = num(),
                "crdt_backlog_bytes" => s.backlog_bytes = num(),
                "crdt_unstable_keys" => s.unstable_keys = num(),
                "crdt_waiting_ops" => s.waiting_ops = num(),
                _ => {
                    let Some(id) = key
                        .strip_prefix("crdt_peer")
                        .and_then(|n| n.parse::<u16>().ok())
                    else {
                        continue;
                    };
                    // A peer listed twice would be counted twice: the first line stands.
                    if s.peers.iter().all(|p| p.id != id) {
                        s.peers.push(PeerLink::parse(id, value));
                    }
                }
            }
        }
        s
    }
}

impl PeerLink {
    /// Reads the `key=value,...` list of peer `id`'s line.
    fn parse(id: u16, fields: &str) -> PeerLink {
        PeerLink {
            id,
            up: fields.split(',').any(|f| f.trim() == "state=up"),
            lag_ops: field(fields, "lag_ops"),
            lag_ms: field(fields, "lag_ms"),
            pending_ops: field(fields, "pending_ops"),
            pending_ms: field(fields, "pending_ms"),
            bytes_in: field(fields, "bytes_in"),
            bytes_out: field(fields, "bytes_out"),
            full_syncs: field(fields, "full_syncs"),
            partial_syncs: field(fields, "partial_syncs"),
            link_errors: field(fields, "link_errors"),
        }
    }
}

/// The number `name=N` in a comma-separated list of fields.
fn field(fields: &str, name: &str) -> Option<u64> {
    fields
        .split(',')
        .filter_map(|f| f.split_once('='))
        .find(|(k, _)| k.trim() == name)
        .and_then(|(_, v)| v.trim().parse().ok())
}

/// A gauge of whole numbers (bytes, counts).
type Count = Gauge<u64, AtomicU64>;

/// Every family of series, registered once per scrape.
struct Families {
    up: Family<DbLabels, Count>,
    used_memory: Family<DbLabels, Count>,
    max_memory: Family<DbLabels, Count>,
    commands: Family<DbLabels, Counter>,
    clients: Family<DbLabels, Count>,
    keys: Family<DbLabels, Count>,
    local_ops: Family<DbLabels, Counter>,
    remote_ops: Family<DbLabels, Counter>,
    backlog: Family<DbLabels, Count>,
    unstable: Family<DbLabels, Count>,
    waiting: Family<DbLabels, Count>,
    link_up: Family<PeerLabels, Count>,
    lag_ops: Family<PeerLabels, Count>,
    lag: Family<PeerLabels, Gauge<f64, AtomicU64>>,
    pending_ops: Family<PeerLabels, Count>,
    pending: Family<PeerLabels, Gauge<f64, AtomicU64>>,
    bytes_in: Family<PeerLabels, Counter>,
    bytes_out: Family<PeerLabels, Counter>,
    full_syncs: Family<PeerLabels, Counter>,
    partial_syncs: Family<PeerLabels, Counter>,
    link_errors: Family<PeerLabels, Counter>,
}

impl Families {
    /// The families, registered in `r` under their names (the registry's prefix, the
    /// unit and, for counters, `_total` are added by the encoder).
    fn register(r: &mut Registry) -> Families {
        let f = Families {
            up: Family::default(),
            used_memory: Family::default(),
            max_memory: Family::default(),
            commands: Family::default(),
            clients: Family::default(),
            keys: Family::default(),
            local_ops: Family::default(),
            remote_ops: Family::default(),
            backlog: Family::default(),
            unstable: Family::default(),
            waiting: Family::default(),
            link_up: Family::default(),
            lag_ops: Family::default(),
            lag: Family::default(),
            pending_ops: Family::default(),
            pending: Family::default(),
            bytes_in: Family::default(),
            bytes_out: Family::default(),
            full_syncs: Family::default(),
            partial_syncs: Family::default(),
            link_errors: Family::default(),
        };
        let b = Unit::Bytes;
        r.register(
            "instance_up",
            "Whether the database's instance answered INFO (1) or not (0)",
            f.up.clone(),
        );
        r.register_with_unit(
            "memory_used",
            "Memory the instance uses",
            b.clone(),
            f.used_memory.clone(),
        );
        r.register_with_unit(
            "memory_max",
            "The instance's memory limit (0: none)",
            b.clone(),
            f.max_memory.clone(),
        );
        r.register(
            "commands_processed",
            "Commands the instance processed since it started",
            f.commands.clone(),
        );
        r.register(
            "connected_clients",
            "Client connections open on the instance",
            f.clients.clone(),
        );
        r.register("keys", "Keys in the database", f.keys.clone());
        r.register(
            "crdt_local_ops",
            "Writes made on this instance since it started",
            f.local_ops.clone(),
        );
        r.register(
            "crdt_remote_ops",
            "Writes applied from peers since the instance started",
            f.remote_ops.clone(),
        );
        r.register_with_unit(
            "crdt_backlog",
            "Size of the replication backlog kept for peers",
            b.clone(),
            f.backlog.clone(),
        );
        r.register(
            "crdt_unstable_keys",
            "Keys whose metadata waits for stability (every peer to catch up)",
            f.unstable.clone(),
        );
        r.register(
            "crdt_waiting_ops",
            "Operations received but waiting for their causal predecessors",
            f.waiting.clone(),
        );
        r.register(
            "peer_link_up",
            "Whether the link to the peer is up (1) or not (0)",
            f.link_up.clone(),
        );
        r.register(
            "peer_lag_ops",
            "Operations made on the peer that this instance is known to miss",
            f.lag_ops.clone(),
        );
        r.register_with_unit(
            "peer_lag",
            "How long this instance has been behind the peer's own operations",
            Unit::Seconds,
            f.lag.clone(),
        );
        r.register(
            "peer_pending_ops",
            "Operations of this instance the peer has not reported applying",
            f.pending_ops.clone(),
        );
        r.register_with_unit(
            "peer_pending",
            "How long the peer has lacked some of this instance's operations",
            Unit::Seconds,
            f.pending.clone(),
        );
        r.register_with_unit(
            "peer_received",
            "Bytes received from the peer",
            b.clone(),
            f.bytes_in.clone(),
        );
        r.register_with_unit(
            "peer_sent",
            "Bytes sent to the peer",
            b,
            f.bytes_out.clone(),
        );
        r.register(
            "peer_full_syncs",
            "Full synchronizations taken from the peer",
            f.full_syncs.clone(),
        );
        r.register(
            "peer_partial_syncs",
            "Partial synchronizations (from the backlog) taken from the peer",
            f.partial_syncs.clone(),
        );
        r.register(
            "peer_link_errors",
            "Errors that broke the link to the peer",
            f.link_errors.clone(),
        );
        f
    }
}

/// Sets the gauge of `labels` in `family` when the value is known.
fn set<L: Clone + std::hash::Hash + Eq>(family: &Family<L, Count>, labels: &L, v: Option<u64>) {
    if let Some(v) = v {
        family.get_or_create(labels).set(v);
    }
}

/// Sets the counter of `labels` in `family` when the value is known. The counter is
/// new at every scrape, so adding the instance's total makes it that total.
fn count<L: Clone + std::hash::Hash + Eq>(family: &Family<L, Counter>, labels: &L, v: Option<u64>) {
    if let Some(v) = v {
        family.get_or_create(labels).inc_by(v);
    }
}

/// The Prometheus text of every database: its labels and what its instance said
/// (`None`: it did not answer).
fn render(dbs: &[(DbLabels, Option<Snapshot>)]) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::with_prefix("concord");
    let f = Families::register(&mut registry);
    for (labels, snap) in dbs {
        f.up.get_or_create(labels).set(u64::from(snap.is_some()));
        let Some(s) = snap else {
            continue;
        };
        set(&f.used_memory, labels, s.used_memory);
        set(&f.max_memory, labels, s.maxmemory);
        count(&f.commands, labels, s.commands);
        set(&f.clients, labels, s.clients);
        set(&f.keys, labels, s.keys);
        count(&f.local_ops, labels, s.local_ops);
        count(&f.remote_ops, labels, s.remote_ops);
        set(&f.backlog, labels, s.backlog_bytes);
        set(&f.unstable, labels, s.unstable_keys);
        set(&f.waiting, labels, s.waiting_ops);
        for p in &s.peers {
            let pl = PeerLabels {
                db: labels.clone(),
                peer: p.id,
            };
            f.link_up.get_or_create(&pl).set(u64::from(p.up));
            set(&f.lag_ops, &pl, p.lag_ops);
            if let Some(ms) = p.lag_ms {
                f.lag.get_or_create(&pl).set(ms as f64 / 1000.0);
            }
            set(&f.pending_ops, &pl, p.pending_ops);
            if let Some(ms) = p.pending_ms {
                f.pending.get_or_create(&pl).set(ms as f64 / 1000.0);
            }
            count(&f.bytes_in, &pl, p.bytes_in);
            count(&f.bytes_out, &pl, p.bytes_out);
            count(&f.full_syncs, &pl, p.full_syncs);
            count(&f.partial_syncs, &pl, p.partial_syncs);
            count(&f.link_errors, &pl, p.link_errors);
        }
    }
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `INFO memory clients stats keyspace crdt` of an instance with two peers
    /// looks like (trimmed to a few fields per section).
    const SAMPLE: &str = "# Clients\r\nconnected_clients:3\r\nmaxclients:10000\r\n\r\n\
        # Memory\r\nused_memory:578579\r\nused_memory_human:565.02K\r\nmaxmemory:104857600\r\n\
        crdt_backlog_bytes:4096\r\n\r\n\
        # Stats\r\ntotal_connections_received:3\r\ntotal_commands_processed:42\r\n\r\n\
        # Keyspace\r\ndb0:keys=7,expires=1,avg_ttl=0\r\n\r\n\
        # CRDT\r\ncrdt_replica_id:1\r\ncrdt_peers:2\r\ncrdt_backlog_bytes:4096\r\n\
        crdt_local_ops:40\r\ncrdt_remote_ops:12\r\ncrdt_waiting_ops:0\r\ncrdt_unstable_keys:5\r\n\
        crdt_peer2:addr=127.0.0.1:10001,state=up,lag_ops=3,lag_ms=250,pending_ops=6,pending_ms=1500,bytes_in=1000,bytes_out=2000,full_syncs=1,partial_syncs=2,full_syncs_served=1,partial_syncs_served=0,served=1,link_errors=4,last_error=\r\n\
        crdt_peer3:addr=127.0.0.1:10002,state=connecting,lag_ops=9,lag_ms=0,bytes_in=0,bytes_out=0,full_syncs=0,partial_syncs=0,full_syncs_served=0,partial_syncs_served=0,served=0,link_errors=1,last_error=connection refused\r\n\
        crdt_removed:\r\ncrdt_writes:open\r\n";

    fn labels() -> DbLabels {
        DbLabels {
            db: 1,
            name: "shop".into(),
            crdb_guid: "g-1".into(),
            replica_id: 1,
        }
    }

    #[test]
    fn every_field_is_read_from_info() {
        let s = Snapshot::parse(SAMPLE);
        assert_eq!(s.used_memory, Some(578_579));
        assert_eq!(s.maxmemory, Some(104_857_600));
        assert_eq!(s.commands, Some(42));
        assert_eq!(s.clients, Some(3));
        assert_eq!(s.keys, Some(7));
        assert_eq!((s.local_ops, s.remote_ops), (Some(40), Some(12)));
        assert_eq!(s.backlog_bytes, Some(4096));
        assert_eq!((s.unstable_keys, s.waiting_ops), (Some(5), Some(0)));
        assert_eq!(s.peers.len(), 2);
        assert_eq!(
            s.peers[0],
            PeerLink {
                id: 2,
                up: true,
                lag_ops: Some(3),
                lag_ms: Some(250),
                pending_ops: Some(6),
                pending_ms: Some(1500),
                bytes_in: Some(1000),
                bytes_out: Some(2000),
                full_syncs: Some(1),
                partial_syncs: Some(2),
                link_errors: Some(4),
            }
        );
        assert!(!s.peers[1].up);
        assert_eq!(s.peers[1].link_errors, Some(1));
    }

    #[test]
    fn an_empty_keyspace_is_zero_keys() {
        let s = Snapshot::parse("# Keyspace\r\n\r\n# CRDT\r\ncrdt_local_ops:0\r\n");
        assert_eq!(s.keys, Some(0));
        assert_eq!(Snapshot::parse("used_memory:1\r\n").keys, None);
    }

    #[test]
    fn garbage_and_cut_info_never_panics_and_reads_what_it_can() {
        let cut = &SAMPLE[..SAMPLE.find("bytes_out").unwrap_or(SAMPLE.len())];
        let s = Snapshot::parse(cut);
        assert_eq!(s.used_memory, Some(578_579));
        assert_eq!(s.peers.len(), 1);
        assert_eq!(
            (s.peers[0].bytes_in, s.peers[0].bytes_out),
            (Some(1000), None)
        );
        for text in [
            "",
            "\r\n\r\n",
            ":::",
            "used_memory:-5\r\nmaxmemory:lots\r\ndb0:keys=\r\n",
            "crdt_peer:addr=x\r\ncrdt_peer99999999:state=up\r\ncrdt_peerx:state=up\r\n",
            "crdt_peer2:state=up\r\ncrdt_peer2:state=down,bytes_in=5\r\n",
            "\u{0}\u{fffd}é:ü=ß,=,,==\r\n#\r\n",
            "used_memory:18446744073709551616\r\n",
        ] {
            let s = Snapshot::parse(text);
            assert_eq!(s.used_memory, None, "{text:?}");
            assert!(s.peers.len() <= 1, "{text:?}");
            assert!(
                s.peers
                    .iter()
                    .all(|p| p.id == 2 && p.up && p.bytes_in.is_none())
            );
            render(&[(labels(), Some(s))]).expect("renders");
        }
    }

    /// Every sample line of the text, as (name, labels, value).
    fn samples(text: &str) -> Vec<(String, String, f64)> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (series, value) = l.rsplit_once(' ').expect("name and value");
                let (name, labels) = match series.split_once('{') {
                    Some((n, rest)) => (n, rest.strip_suffix('}').expect("closed labels")),
                    None => (series, ""),
                };
                (name.into(), labels.into(), value.parse().expect("a number"))
            })
            .collect()
    }

    #[test]
    fn the_text_has_the_conventional_names_and_the_values() {
        let down = DbLabels {
            db: 2,
            name: "cart".into(),
            crdb_guid: "g-2".into(),
            replica_id: 3,
        };
        let text =
            render(&[(labels(), Some(Snapshot::parse(SAMPLE))), (down, None)]).expect("renders");
        let got = samples(&text);
        let value = |name: &str, with: &str| {
            got.iter()
                .find(|(n, l, _)| n == name && l.contains(with))
                .map(|(_, _, v)| *v)
        };
        let db1 = r#"db="1",name="shop",crdb_guid="g-1",replica_id="1""#;
        assert_eq!(value("concord_instance_up", db1), Some(1.0), "{text}");
        assert_eq!(value("concord_instance_up", r#"db="2""#), Some(0.0));
        assert_eq!(value("concord_memory_used_bytes", db1), Some(578_579.0));
        assert_eq!(value("concord_memory_max_bytes", db1), Some(104_857_600.0));
        assert_eq!(value("concord_commands_processed_total", db1), Some(42.0));
        assert_eq!(value("concord_connected_clients", db1), Some(3.0));
        assert_eq!(value("concord_keys", db1), Some(7.0));
        assert_eq!(value("concord_crdt_local_ops_total", db1), Some(40.0));
        assert_eq!(value("concord_crdt_remote_ops_total", db1), Some(12.0));
        assert_eq!(value("concord_crdt_backlog_bytes", db1), Some(4096.0));
        assert_eq!(value("concord_crdt_unstable_keys", db1), Some(5.0));
        assert_eq!(value("concord_crdt_waiting_ops", db1), Some(0.0));
        let p2 = r#"replica_id="1",peer="2""#;
        let p3 = r#"replica_id="1",peer="3""#;
        assert_eq!(value("concord_peer_link_up", p2), Some(1.0));
        assert_eq!(value("concord_peer_link_up", p3), Some(0.0));
        assert_eq!(value("concord_peer_lag_ops", p2), Some(3.0));
        assert_eq!(value("concord_peer_pending_ops", p2), Some(6.0));
        assert_eq!(value("concord_peer_pending_seconds", p2), Some(1.5));
        assert_eq!(value("concord_peer_lag_seconds", p2), Some(0.25));
        assert_eq!(value("concord_peer_received_bytes_total", p2), Some(1000.0));
        assert_eq!(value("concord_peer_sent_bytes_total", p2), Some(2000.0));
        assert_eq!(value("concord_peer_full_syncs_total", p2), Some(1.0));
        assert_eq!(value("concord_peer_partial_syncs_total", p2), Some(2.0));
        assert_eq!(value("concord_peer_link_errors_total", p3), Some(1.0));
        // A database whose instance did not answer has no other series.
        assert_eq!(
            got.iter()
                .filter(|(_, l, _)| l.contains(r#"db="2""#))
                .count(),
            1
        );
        assert!(text.contains("# TYPE concord_commands_processed_total counter\n"));
        assert!(text.contains("# TYPE concord_memory_used_bytes gauge\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        let odd = DbLabels {
            db: 1,
            name: "a\"b\\c\nd".into(),
            crdb_guid: String::new(),
            replica_id: 1,
        };
        let text = render(&[(odd, None)]).expect("renders");
        assert!(text.contains(r#"name="a\"b\\c\nd""#), "{text}");
    }
}
