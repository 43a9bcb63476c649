//! The objects of the API, shaped like the commercial product's so its users' scripts
//! carry over: an active-active database (crdb), its instances (one per participating
//! cluster), the local database an instance runs as (bdb), and tasks.

use serde::{Deserialize, Serialize};

/// How a cluster is reached and logged into.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterRef {
    /// The cluster's name (its FQDN).
    pub name: String,
    /// The URL of its REST API (`https://host:9443`).
    pub url: String,
    /// The service account used on it.
    pub credentials: Credentials,
    /// The SHA-256 fingerprint of its API certificate (hex), pinning it when no CA is
    /// configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// A user name and password on another cluster.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// The user.
    pub username: String,
    /// Its password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({:?}, ***)", self.username)
    }
}

/// Per-instance settings that differ from the database's defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbConfigOverride {
    /// The instance's port (several clusters on one machine need different ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The port its peers link to over TLS (with `encryption`; given by its cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_port: Option<u16>,
}

/// One instance of an active-active database: where it runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceInfo {
    /// Its id in the database, which is its replica id (1, 2, ...).
    #[serde(default)]
    pub id: u16,
    /// The cluster hosting it.
    pub cluster: ClusterRef,
    /// Compression of what it sends to its peers, 0 (none) to 6.
    #[serde(default = "default_compression")]
    pub compression: u8,
    /// Settings that differ from the database's defaults.
    #[serde(default)]
    pub db_config: DbConfigOverride,
}

fn default_compression() -> u8 {
    3
}

/// Settings every instance of a database starts from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbConfig {
    /// Memory limit in bytes (0: none).
    #[serde(default)]
    pub memory_size: u64,
    /// The port clients connect to (0: the cluster picks one from its range).
    #[serde(default)]
    pub port: u16,
    /// `disabled`, `aof` or `snapshot`.
    #[serde(default = "default_persistence")]
    pub data_persistence: String,
    /// `appendfsync-every-sec` or `appendfsync-always`.
    #[serde(default = "default_aof_policy")]
    pub aof_policy: String,
    /// Only `noeviction` today.
    #[serde(default = "default_eviction")]
    pub eviction_policy: String,
    /// Replicas within a cluster (not yet: false).
    #[serde(default)]
    pub replication: bool,
    /// Client TLS: `disabled` today.
    #[serde(default = "default_tls_mode")]
    pub tls_mode: String,
    /// Sharding (not yet: false).
    #[serde(default)]
    pub sharding: bool,
    /// Shards per instance (1 today).
    #[serde(default = "one")]
    pub shards_count: u16,
    /// OSS cluster API (not yet: false).
    #[serde(default)]
    pub oss_cluster: bool,
    /// The password clients (and the instances, on their links) give; empty: none. The
    /// API shows it as `********`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
}

fn default_persistence() -> String {
    "aof".into()
}
fn default_aof_policy() -> String {
    "appendfsync-every-sec".into()
}
fn default_eviction() -> String {
    "noeviction".into()
}
fn default_tls_mode() -> String {
    "disabled".into()
}
fn one() -> u16 {
    1
}

impl Default for DbConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("every field has a default")
    }
}

impl DbConfig {
    /// Refuses settings this version cannot honour (accepting and ignoring them would
    /// lie to the user).
    pub fn check(&self) -> Result<(), String> {
        let one_of = |field: &str, v: &str, allowed: &[&str]| {
            if allowed.contains(&v) {
                Ok(())
            } else {
                Err(format!(
                    "{field} {v:?} is not one of {}",
                    allowed.join(", ")
                ))
            }
        };
        one_of(
            "data_persistence",
            &self.data_persistence,
            &["disabled", "aof"],
        )?;
        one_of(
            "aof_policy",
            &self.aof_policy,
            &["appendfsync-every-sec", "appendfsync-always"],
        )?;
        one_of("eviction_policy", &self.eviction_policy, &["noeviction"])?;
        one_of("tls_mode", &self.tls_mode, &["disabled"])?;
        let p = &self.password;
        if !p.is_empty()
            && (!(8..=128).contains(&p.len())
                || !p
                    .chars()
                    .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\'' | '\\')))
        {
            return Err(
                "password: 8 to 128 printable ASCII characters without blanks, quotes or backslashes"
                    .into(),
            );
        }
        if self.replication || self.sharding || self.oss_cluster || self.shards_count != 1 {
            return Err(
                "replication, sharding and the OSS cluster API are not available yet (shards_count 1)"
                    .into(),
            );
        }
        Ok(())
    }
}

/// An active-active database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Crdb {
    /// Its id, the same on every participating cluster.
    #[serde(default)]
    pub guid: String,
    /// Its name, unique on each participating cluster.
    pub name: String,
    /// Causal consistency across instances (always on in Concord: delivery is causal).
    #[serde(default = "yes")]
    pub causal_consistency: bool,
    /// TLS between instances.
    #[serde(default = "yes")]
    pub encryption: bool,
    /// Settings every instance starts from.
    #[serde(default)]
    pub default_db_config: DbConfig,
    /// Where its instances run.
    pub instances: Vec<InstanceInfo>,
    /// Instances removed from it, with their cuts (their ids are never used again).
    #[serde(default)]
    pub removed: Vec<RemovedInstance>,
    /// With `encryption`, the authority that signs its instances' certificates (made by
    /// the cluster; the API never shows its key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ca: Option<DbCa>,
    /// Bumped by every change of membership or settings.
    #[serde(default)]
    pub config_version: u64,
}

/// A database's certificate authority (PEM).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbCa {
    /// Its certificate.
    pub cert: String,
    /// Its private key.
    pub key: String,
}

impl std::fmt::Debug for DbCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbCa(***)")
    }
}

/// An instance's certificate for its links (PEM), signed by its database's authority.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceTls {
    /// The authority's certificate (what peers are checked against).
    pub ca: String,
    /// The instance's certificate.
    pub cert: String,
    /// Its private key.
    pub key: String,
}

impl std::fmt::Debug for InstanceTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InstanceTls(***)")
    }
}

/// An instance removed from a database: its ops are accepted only up to its cut.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemovedInstance {
    /// Its id (replica id).
    pub id: u16,
    /// The cluster that hosted it.
    pub cluster: String,
    /// How far its ops reach, as `INFO crdt` shows vectors (`3.1=120`).
    pub cut: String,
}

impl Crdb {
    /// The instance of id `id`.
    pub fn instance(&self, id: u16) -> Option<&InstanceInfo> {
        self.instances.iter().find(|i| i.id == id)
    }

    /// The id a new instance gets: never one in use or removed.
    pub fn next_id(&self) -> u16 {
        let used = self.instances.iter().map(|i| i.id);
        used.chain(self.removed.iter().map(|r| r.id))
            .max()
            .unwrap_or(0)
            .saturating_add(1)
    }
}

fn yes() -> bool {
    true
}

/// A local database: the instance of a crdb this cluster runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bdb {
    /// Its number on this cluster.
    pub uid: u64,
    /// The database's name.
    pub name: String,
    /// The crdb it belongs to.
    pub crdb_guid: String,
    /// Its replica id (the instance id).
    pub replica_id: u16,
    /// Its client port.
    pub port: u16,
    /// The port its peers link to over TLS (with `encryption`).
    #[serde(default)]
    pub tls_port: Option<u16>,
    /// Its certificate for TLS links (with `encryption`).
    #[serde(default)]
    pub tls: Option<InstanceTls>,
    /// Its peers: replica id, host and port.
    pub peers: Vec<(u16, String, u16)>,
    /// Removed members and their cuts (`removed-peer` settings).
    #[serde(default)]
    pub removed: Vec<(u16, String)>,
    /// Settings.
    pub config: DbConfig,
    /// Whether its links use TLS.
    pub encryption: bool,
    /// Compression of what it sends to its peers (0: none).
    #[serde(default)]
    pub compression: u8,
    /// The crdb's configuration version it runs.
    pub config_version: u64,
}

impl Bdb {
    /// Whether the instance must restart to run `other`: membership (peers, removed
    /// members, the version), the memory limit and the fsync policy change at runtime,
    /// everything else at a start.
    pub fn restart_needed(&self, other: &Bdb) -> bool {
        let settled = |b: &Bdb| Bdb {
            peers: Vec::new(),
            removed: Vec::new(),
            config_version: 0,
            config: DbConfig {
                memory_size: 0,
                aof_policy: String::new(),
                ..b.config.clone()
            },
            ..b.clone()
        };
        settled(self) != settled(other)
    }
}

/// The state of a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Accepted, not started.
    Queued,
    /// Running.
    Started,
    /// Done.
    Finished,
    /// Stopped by an error; nothing is left half done.
    Failed,
    /// Cancelled before it changed anything.
    Canceled,
}

/// How far a task got, for a restarted manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Clusters are validating and reserving: undo everywhere.
    Prepare,
    /// Every cluster reserved or accepted: commit `crdb` everywhere.
    Commit,
    /// Instance `abort[0]` of `crdb` is being fenced: fence, raise and commit again (all
    /// three are idempotent), as a removal by force.
    Remove,
}

/// What a restarted manager needs to finish or undo a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// How far it got.
    pub stage: Stage,
    /// The database as the task makes it (the target configuration).
    pub crdb: Crdb,
    /// The instances whose clusters drop what they reserved when it is undone.
    #[serde(default)]
    pub abort: Vec<u16>,
}

/// A change of a crdb, run in the background.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Its id.
    pub id: String,
    /// The crdb it changes.
    pub crdb_guid: String,
    /// `create_crdb`, `update_crdb`, `flush_crdb`, `delete_crdb`, ...
    pub operation: String,
    /// Where it is.
    pub status: TaskStatus,
    /// Per-cluster progress.
    pub progress: Vec<String>,
    /// What went wrong.
    pub errors: Vec<String>,
}

impl Task {
    /// Whether it ended (finished, failed or canceled).
    pub fn ended(&self) -> bool {
        !matches!(self.status, TaskStatus::Queued | TaskStatus::Started)
    }
}
