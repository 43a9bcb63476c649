//! The cluster's durable state, in one redb file: every change is one transaction, so a
//! crash at any point leaves either the old or the new state.
//!
//! Records are JSON under a format version, so later versions can read older files.

use crate::users::{Role, User};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The format of the records this version writes.
pub const FORMAT: u32 = 1;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");

const FORMAT_KEY: &str = "format";
const CLUSTER_KEY: &str = "cluster";

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
        let tx = db.begin_write()?;
        {
            let mut meta = tx.open_table(META)?;
            meta.insert(FORMAT_KEY, encode(&FORMAT).as_slice())?;
            meta.insert(CLUSTER_KEY, encode(info).as_slice())?;
            let mut users = tx.open_table(USERS)?;
            users.insert(admin.name.as_str(), encode(admin).as_slice())?;
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
        let tx = self.db.begin_read()?;
        let table = tx.open_table(USERS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            out.push(decode(k.value(), v.value())?);
        }
        Ok(out)
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
            let mut uid = 0;
            for row in table.iter()? {
                let (k, v) = row?;
                uid = uid.max(decode::<User>(k.value(), v.value())?.uid);
            }
            user.uid = uid + 1;
            table.insert(user.name.as_str(), encode(&user).as_slice())?;
        }
        tx.commit()?;
        Ok(user)
    }

    /// Replaces a user (its role or password); the last Admin keeps its role.
    pub fn update_user(&self, user: &User) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut table = tx.open_table(USERS)?;
            if table.get(user.name.as_str())?.is_none() {
                return Err(StoreError::NoUser(user.name.clone()));
            }
            table.insert(user.name.as_str(), encode(user).as_slice())?;
            if !has_admin(&table)? {
                return Err(StoreError::LastAdmin);
            }
        }
        tx.commit()?;
        Ok(())
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

/// Whether some user in `table` is an Admin (a transaction that leaves none is dropped,
/// which aborts it).
fn has_admin(table: &redb::Table<&str, &[u8]>) -> Result<bool, StoreError> {
    for row in table.iter()? {
        let (k, v) = row?;
        if decode::<User>(k.value(), v.value())?.role == Role::Admin {
            return Ok(true);
        }
    }
    Ok(false)
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
            s.update_user(&user("admin", Role::DbMember)),
            Err(StoreError::LastAdmin)
        ));
        assert_eq!(s.user("admin").unwrap().unwrap().role, Role::Admin);
        assert!(matches!(
            s.delete_user("nobody"),
            Err(StoreError::NoUser(_))
        ));
        s.add_user(user("second", Role::Admin)).unwrap();
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
