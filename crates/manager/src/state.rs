//! The cluster's durable state, in one redb file: every change is one transaction, so a
//! crash at any point leaves either the old or the new state.
//!
//! Records are JSON under a format version, so later versions can read older files.

use crate::model::{Bdb, Crdb, Resume, Task};
use crate::users::{Role, User};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The format of the records this version writes.
pub const FORMAT: u32 = 1;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
const CRDBS: TableDefinition<&str, &[u8]> = TableDefinition::new("crdbs");
const BDBS: TableDefinition<u64, &[u8]> = TableDefinition::new("bdbs");
const TASKS: TableDefinition<&str, &[u8]> = TableDefinition::new("tasks");
const RESERVATIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("reservations");
/// What a running task needs to go on after a restart of the manager, by task id (kept
/// apart from the tasks: it holds other clusters' credentials, which the API never shows).
const RESUME: TableDefinition<&str, &[u8]> = TableDefinition::new("resume");

const FORMAT_KEY: &str = "format";
const CLUSTER_KEY: &str = "cluster";
const LAST_BDB_KEY: &str = "last_bdb_uid";
const LAST_USER_KEY: &str = "last_user_uid";

/// A range of TCP ports, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRange {
    /// The first port.
    pub first: u16,
    /// The last port.
    pub last: u16,
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

impl std::str::FromStr for PortRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a port range such as 10000-19999");
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let first: u16 = a.trim().parse().map_err(|_| bad())?;
        let last: u16 = b.trim().parse().map_err(|_| bad())?;
        if first == 0 || first > last {
            return Err(bad());
        }
        Ok(PortRange { first, last })
    }
}

/// What the cluster is: its name and where it serves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterInfo {
    /// Its fully qualified domain name.
    pub name: String,
    /// The REST API's port.
    pub rest_port: u16,
    /// The web console's port.
    pub console_port: u16,
    /// The ports its databases are given.
    pub ports: PortRange,
    /// The API's certificate (PEM).
    pub cert: PathBuf,
    /// The API's private key (PEM).
    pub key: PathBuf,
    /// The CA that signs other clusters' certificates.
    pub ca: Option<PathBuf>,
    /// The address the databases' instances listen on.
    #[serde(default = "loopback")]
    pub bind: String,
}

fn loopback() -> String {
    "127.0.0.1".into()
}

/// Why the state could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store file failed.
    #[error("state store: {0}")]
    Db(String),
    /// A record could not be decoded.
    #[error("state store: damaged record {key:?}: {why}")]
    Damaged {
        /// The record's key.
        key: String,
        /// What is wrong with it.
        why: String,
    },
    /// The file was written by a newer version.
    #[error("state store: format {0} is newer than this version understands ({FORMAT})")]
    Newer(u32),
    /// A user of that name exists.
    #[error("user {0:?} already exists")]
    UserExists(String),
    /// No user of that name.
    #[error("no user {0:?}")]
    NoUser(String),
    /// The change would leave the cluster without an Admin.
    #[error("the cluster must keep an Admin user")]
    LastAdmin,
    /// A change of a database was based on an older configuration than the one held.
    #[error("database {0} changed meanwhile (configuration version {1} here): ask again")]
    Stale(String, u64),
    /// A database or reservation already uses the name.
    #[error("a database named {0:?} exists on this cluster")]
    NameTaken(String),
    /// A database or reservation already uses the port.
    #[error("port {0} is taken on this cluster")]
    PortTaken(u16),
    /// No free port left in the cluster's range.
    #[error("no free port in {0}")]
    NoPort(PortRange),
    /// A port outside the cluster's range, or one its API uses.
    #[error("port {0} is not one this cluster gives databases ({1})")]
    PortOutside(u16, PortRange),
    /// A commit for a database this cluster did not reserve.
    #[error("database {0} was not prepared on this cluster (or its reservation lapsed)")]
    NotReserved(String),
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.to_string())
            }
        }
    )*};
}
db_err!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// The cluster's state file.
pub struct Store {
    db: Database,
}

/// Every record of `table`, decoded (the key, as text, names a damaged one).
fn rows<K: redb::Key + 'static, T: serde::de::DeserializeOwned>(
    table: &impl ReadableTable<K, &'static [u8]>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for row in table.iter()? {
        let (k, v) = row?;
        out.push(decode(&format!("{:?}", k.value()), v.value())?);
    }
    Ok(out)
}

fn decode<T: serde::de::DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Damaged {
        key: key.to_string(),
        why: e.to_string(),
    })
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("state records serialize")
}

impl Store {
    /// Creates the state of a new cluster with its first user, in one transaction.
    pub fn create(path: &Path, info: &ClusterInfo, admin: &User) -> Result<Store, StoreError> {
        let db = Database::create(path)?;
        // It holds password hashes and other clusters' credentials: its owner's only.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| StoreError::Db(format!("{}: {e}", path.display())))?;
        let tx = db.begin_write()?;
        {
            let mut meta = tx.open_table(META)?;
            meta.insert(FORMAT_KEY, encode(&FORMAT).as_slice())?;
            meta.insert(CLUSTER_KEY, encode(info).as_slice())?;
            let mut users = tx.open_table(USERS)?;
            users.insert(admin.name.as_str(), encode(admin).as_slice())?;
            tx.open_table(CRDBS)?;
            tx.open_table(BDBS)?;
            tx.open_table(TASKS)?;
            tx.open_table(RESERVATIONS)?;
        }
        tx.commit()?;
        Ok(Store { db })
    }

    /// Opens an existing cluster's state.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::Db(format!(
                "{} holds no cluster (run concord cluster init)",
                path.display()
            )));
        }
        let db = Database::open(path)?;
        // Tables added by later versions are created empty.
        let tx = db.begin_write()?;
        tx.open_table(CRDBS)?;
        tx.open_table(BDBS)?;
        tx.open_table(TASKS)?;
        tx.open_table(RESERVATIONS)?;
        tx.open_table(RESUME)?;
        tx.commit()?;
        let store = Store { db };
        let format: u32 = store.meta(FORMAT_KEY)?;
        if format > FORMAT {
            return Err(StoreError::Newer(format));
        }
        Ok(store)
    }

    fn meta<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<T, StoreError> {
        let tx = self.db.begin_read()?;
        let meta = tx.open_table(META)?;
        let value = meta.get(key)?.ok_or_else(|| StoreError::Damaged {
            key: key.to_string(),
            why: "missing".into(),
        })?;
        decode(key, value.value())
    }

    /// The cluster's description.
    pub fn cluster(&self) -> Result<ClusterInfo, StoreError> {
        self.meta(CLUSTER_KEY)
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        rows(&self.db.begin_read()?.open_table(USERS)?)
    }

    /// One user.
    pub fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(USERS)?;
        table
            .get(name)?
            .map(|v| decode(name, v.value()))
            .transpose()
    }

    /// Adds a user, giving it the next free uid; refuses a name that exists.
    pub fn add_user(&self, mut user: User) -> Result<User, StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut table = tx.open_table(USERS)?;
            if table.get(user.name.as_str())?.is_some() {
                return Err(StoreError::UserExists(user.name));
            }
            let users: Vec<User> = rows(&table)?;
            // Numbers are never reused: a deleted user's uid never names someone else.
            let mut meta = tx.open_table(META)?;
            let last: u64 = match meta.get(LAST_USER_KEY)? {
                Some(v) => decode(LAST_USER_KEY, v.value())?,
                None => 0,
            };
            user.uid = last.max(users.iter().map(|u| u.uid).max().unwrap_or(0)) + 1;
            meta.insert(LAST_USER_KEY, encode(&user.uid).as_slice())?;
            table.insert(user.name.as_str(), encode(&user).as_slice())?;
        }
        tx.commit()?;
        Ok(user)
    }

    /// Changes user `name` with `change`, read and written in one transaction; the last
    /// Admin keeps its role. The user as written.
    pub fn modify_user(
        &self,
        name: &str,
        change: impl FnOnce(&mut User),
    ) -> Result<User, StoreError> {
        let tx = self.db.begin_write()?;
        let user = {
            let mut table = tx.open_table(USERS)?;
            let mut user: User = match table.get(name)? {
                Some(v) => decode(name, v.value())?,
                None => return Err(StoreError::NoUser(name.to_string())),
            };
            change(&mut user);
            assert_eq!(user.name, name, "a user keeps its name");
            table.insert(name, encode(&user).as_slice())?;
            if !has_admin(&table)? {
                return Err(StoreError::LastAdmin);
            }
            user
        };
        tx.commit()?;
        Ok(user)
    }

    /// Deletes a user; the last Admin stays.
    pub fn delete_user(&self, name: &str) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut table = tx.open_table(USERS)?;
            if table.remove(name)?.is_none() {
                return Err(StoreError::NoUser(name.to_string()));
            }
            if !has_admin(&table)? {
                return Err(StoreError::LastAdmin);
            }
        }
        tx.commit()?;
        Ok(())
    }
}

/// A database being created: its name and port held until it commits or aborts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// The database's name.
    pub name: String,
    /// The port held for it.
    pub port: u16,
    /// The port held for its TLS links (with `encryption`).
    #[serde(default)]
    pub tls_port: Option<u16>,
    /// When the hold lapses if no commit came (ms since the epoch): a coordinator that
    /// died between the phases does not hold a name and port forever.
    #[serde(default)]
    pub until_ms: u64,
}

/// What a database asks of a cluster's ports.
#[derive(Clone, Copy, Debug)]
pub struct Want {
    /// Its client port (0: any free one of the range).
    pub port: u16,
    /// Whether it needs a second port for its TLS links.
    pub tls: bool,
}

/// How long a reservation holds without its commit.
pub const RESERVATION_MS: u64 = 10 * 60 * 1000;

impl Store {
    /// Every active-active database this cluster takes part in.
    pub fn crdbs(&self) -> Result<Vec<Crdb>, StoreError> {
        rows(&self.db.begin_read()?.open_table(CRDBS)?)
    }

    /// One active-active database.
    pub fn crdb(&self, guid: &str) -> Result<Option<Crdb>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(CRDBS)?;
        t.get(guid)?.map(|v| decode(guid, v.value())).transpose()
    }

    /// Every local database.
    pub fn bdbs(&self) -> Result<Vec<Bdb>, StoreError> {
        rows(&self.db.begin_read()?.open_table(BDBS)?)
    }

    /// Every task, oldest first.
    pub fn tasks(&self) -> Result<Vec<Task>, StoreError> {
        rows(&self.db.begin_read()?.open_table(TASKS)?)
    }

    /// One task.
    pub fn task(&self, id: &str) -> Result<Option<Task>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(TASKS)?;
        t.get(id)?.map(|v| decode(id, v.value())).transpose()
    }

    /// Writes a task; one that ended drops what it kept to resume.
    pub fn put_task(&self, task: &Task) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        tx.open_table(TASKS)?
            .insert(task.id.as_str(), encode(task).as_slice())?;
        if task.ended() {
            tx.open_table(RESUME)?.remove(task.id.as_str())?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records where task `id` is, so a restarted manager can finish or undo it.
    pub fn put_resume(&self, id: &str, r: &Resume) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        tx.open_table(RESUME)?.insert(id, encode(r).as_slice())?;
        tx.commit()?;
        Ok(())
    }

    /// Where task `id` was, if it recorded it.
    pub fn resume(&self, id: &str) -> Result<Option<Resume>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(RESUME)?;
        t.get(id)?.map(|v| decode(id, v.value())).transpose()
    }

    /// Holds `name` and a port for database `guid` (phase one of a create): `want.port`,
    /// or the first free one of the cluster's range when 0, and with `want.tls` a second
    /// free one for its TLS links; `avoid` are ports the cluster itself uses. Asking again
    /// for the same database answers the same ports. With `dry_run` the same checks run
    /// and nothing is held.
    pub fn reserve(
        &self,
        guid: &str,
        name: &str,
        want: Want,
        avoid: &[u16],
        now_ms: u64,
        dry_run: bool,
    ) -> Result<(u16, Option<u16>), StoreError> {
        let port = want.port;
        let info = self.cluster()?;
        let range = info.ports;
        let tx = self.db.begin_write()?;
        let port = {
            let mut res = tx.open_table(RESERVATIONS)?;
            let held: Vec<(String, Reservation)> = {
                let mut v = Vec::new();
                for row in res.iter()? {
                    let (k, r) = row?;
                    v.push((
                        k.value().to_string(),
                        decode::<Reservation>(k.value(), r.value())?,
                    ));
                }
                v
            };
            for (g, r) in &held {
                if r.until_ms < now_ms {
                    res.remove(g.as_str())?;
                }
            }
            let held: Vec<(String, Reservation)> = held
                .into_iter()
                .filter(|(_, r)| r.until_ms >= now_ms)
                .collect();
            if let Some((_, r)) = held.iter().find(|(g, _)| g == guid) {
                if r.name != name {
                    return Err(StoreError::NameTaken(name.to_string()));
                }
                return Ok((r.port, r.tls_port));
            }
            let bdbs: Vec<Bdb> = rows(&tx.open_table(BDBS)?)?;
            let names: Vec<&str> = bdbs
                .iter()
                .map(|b| b.name.as_str())
                .chain(held.iter().map(|(_, r)| r.name.as_str()))
                .collect();
            let ports: Vec<u16> = bdbs
                .iter()
                .flat_map(|b| std::iter::once(b.port).chain(b.tls_port))
                .chain(
                    held.iter()
                        .flat_map(|(_, r)| std::iter::once(r.port).chain(r.tls_port)),
                )
                .chain(avoid.iter().copied())
                .collect();
            if names.contains(&name) {
                return Err(StoreError::NameTaken(name.to_string()));
            }
            let port = if port != 0 {
                if port < range.first || port > range.last || avoid.contains(&port) {
                    return Err(StoreError::PortOutside(port, range));
                }
                if ports.contains(&port) {
                    return Err(StoreError::PortTaken(port));
                }
                port
            } else {
                (range.first..=range.last)
                    .find(|p| !ports.contains(p))
                    .ok_or(StoreError::NoPort(range))?
            };
            let tls_port = if want.tls {
                let p = (range.first..=range.last).find(|p| *p != port && !ports.contains(p));
                Some(p.ok_or(StoreError::NoPort(range))?)
            } else {
                None
            };
            let r = Reservation {
                name: name.to_string(),
                port,
                tls_port,
                until_ms: now_ms.saturating_add(RESERVATION_MS),
            };
            res.insert(guid, encode(&r).as_slice())?;
            (port, tls_port)
        };
        if dry_run {
            tx.abort()?;
        } else {
            tx.commit()?;
        }
        Ok(port)
    }

    /// Phase two of a create or of a change: the database and its local instance, in one
    /// transaction. A new instance needs its reservation (dropped here); a database held
    /// already takes `crdb` only if its configuration version is newer, keeping its
    /// instance's number and port. Committing again changes nothing.
    pub fn commit(&self, crdb: &Crdb, mut bdb: Bdb) -> Result<Bdb, StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut bdbs = tx.open_table(BDBS)?;
            let existing: Vec<Bdb> = rows(&bdbs)?;
            if let Some(b) = existing.iter().find(|b| b.crdb_guid == crdb.guid) {
                if crdb.config_version <= b.config_version {
                    // The same configuration again is a retry; another one of a version
                    // already held lost a race with a change made through another
                    // cluster, and must not be reported as done.
                    let held: Option<Crdb> = tx
                        .open_table(CRDBS)?
                        .get(crdb.guid.as_str())?
                        .map(|v| decode(&crdb.guid, v.value()))
                        .transpose()?;
                    if crdb.config_version == b.config_version && held.as_ref() != Some(crdb) {
                        return Err(StoreError::Stale(crdb.guid.clone(), b.config_version));
                    }
                    return Ok(b.clone());
                }
                bdb.uid = b.uid;
                bdb.port = b.port;
                // Its certificate and ports stay: a new one would restart it for nothing.
                bdb.tls_port = b.tls_port;
                if b.tls.is_some() {
                    bdb.tls.clone_from(&b.tls);
                }
                bdbs.insert(bdb.uid, encode(&bdb).as_slice())?;
                drop(bdbs);
                tx.open_table(CRDBS)?
                    .insert(crdb.guid.as_str(), encode(crdb).as_slice())?;
                tx.commit()?;
                return Ok(bdb);
            }
            let held: Option<Reservation> = tx
                .open_table(RESERVATIONS)?
                .get(crdb.guid.as_str())?
                .map(|v| decode(&crdb.guid, v.value()))
                .transpose()?;
            match held {
                Some(r)
                    if r.name == bdb.name && r.port == bdb.port && r.tls_port == bdb.tls_port => {}
                _ => return Err(StoreError::NotReserved(crdb.guid.clone())),
            }
            // Numbers are never reused: a new database never meets an old one's files.
            let mut meta = tx.open_table(META)?;
            let last: u64 = match meta.get(LAST_BDB_KEY)? {
                Some(v) => decode(LAST_BDB_KEY, v.value())?,
                None => 0,
            };
            bdb.uid = last.max(existing.iter().map(|b| b.uid).max().unwrap_or(0)) + 1;
            meta.insert(LAST_BDB_KEY, encode(&bdb.uid).as_slice())?;
            bdbs.insert(bdb.uid, encode(&bdb).as_slice())?;
            tx.open_table(CRDBS)?
                .insert(crdb.guid.as_str(), encode(crdb).as_slice())?;
            tx.open_table(RESERVATIONS)?.remove(crdb.guid.as_str())?;
        }
        tx.commit()?;
        Ok(bdb)
    }

    /// Drops database `guid` from this cluster: its reservation, or the database and its
    /// local instance. Dropping what is not there changes nothing.
    pub fn drop_crdb(&self, guid: &str) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            tx.open_table(RESERVATIONS)?.remove(guid)?;
            tx.open_table(CRDBS)?.remove(guid)?;
            let mut bdbs = tx.open_table(BDBS)?;
            let existing: Vec<Bdb> = rows(&bdbs)?;
            for b in existing.iter().filter(|b| b.crdb_guid == guid) {
                bdbs.remove(b.uid)?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

/// Whether some user in `table` is an Admin (a transaction that leaves none is dropped,
/// which aborts it).
fn has_admin(table: &redb::Table<&str, &[u8]>) -> Result<bool, StoreError> {
    let users: Vec<User> = rows(table)?;
    Ok(users.iter().any(|u| u.role == Role::Admin))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ClusterInfo {
        ClusterInfo {
            name: "east.example.com".into(),
            rest_port: 9443,
            console_port: 8443,
            ports: PortRange {
                first: 10000,
                last: 19999,
            },
            cert: "c.pem".into(),
            key: "k.pem".into(),
            ca: None,
            bind: loopback(),
        }
    }

    fn user(name: &str, role: Role) -> User {
        // A fixed hash: these tests are about the store, not argon2.
        User {
            uid: 1,
            name: name.into(),
            email: String::new(),
            role,
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        }
    }

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "concord-manager-state-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_created_cluster_reopens_with_its_users() {
        let d = dir();
        let path = d.join("s.redb");
        let s = Store::create(&path, &info(), &user("admin", Role::Admin)).unwrap();
        let v = s.add_user(user("viewer", Role::DbViewer)).unwrap();
        assert_eq!(v.uid, 2);
        assert!(matches!(
            s.add_user(user("viewer", Role::Admin)),
            Err(StoreError::UserExists(_))
        ));
        drop(s);
        let s = Store::open(&path).unwrap();
        assert_eq!(s.cluster().unwrap(), info());
        let names: Vec<String> = s.users().unwrap().into_iter().map(|u| u.name).collect();
        assert_eq!(names, ["admin", "viewer"]);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn the_last_admin_stays_and_a_refused_change_changes_nothing() {
        let d = dir();
        let s = Store::create(&d.join("s.redb"), &info(), &user("admin", Role::Admin)).unwrap();
        assert!(matches!(s.delete_user("admin"), Err(StoreError::LastAdmin)));
        assert!(matches!(
            s.modify_user("admin", |u| u.role = Role::DbMember),
            Err(StoreError::LastAdmin)
        ));
        assert_eq!(s.user("admin").unwrap().unwrap().role, Role::Admin);
        assert!(matches!(
            s.delete_user("nobody"),
            Err(StoreError::NoUser(_))
        ));
        let second = s.add_user(user("second", Role::Admin)).unwrap();
        s.delete_user("second").unwrap();
        assert!(
            s.add_user(user("third", Role::Admin)).unwrap().uid > second.uid,
            "uid reused"
        );
        s.delete_user("admin").unwrap();
        assert!(s.user("admin").unwrap().is_none());
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_missing_or_foreign_file_is_an_error() {
        let d = dir();
        assert!(Store::open(&d.join("none.redb")).is_err());
        std::fs::write(d.join("junk.redb"), b"not a database at all").unwrap();
        assert!(Store::open(&d.join("junk.redb")).is_err());
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn port_ranges_parse() {
        assert_eq!(
            "10000-19999".parse::<PortRange>(),
            Ok(PortRange {
                first: 10000,
                last: 19999
            })
        );
        for bad in ["", "1", "2-1", "0-5", "a-b", "1-70000"] {
            assert!(bad.parse::<PortRange>().is_err(), "{bad}");
        }
    }
}
