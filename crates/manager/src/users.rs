//! The people and programs that may manage the cluster, and what each role may do.
//! Passwords are kept only as argon2id hashes.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use serde::{Deserialize, Serialize};

/// What a user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read everything.
    DbViewer,
    /// Read everything, and create, change and flush databases.
    DbMember,
    /// Everything, users and the cluster included.
    Admin,
}

impl Role {
    /// Whether the role may create, change, flush and delete databases.
    pub fn manages_databases(self) -> bool {
        self >= Role::DbMember
    }

    /// Whether the role may manage users and the cluster.
    pub fn is_admin(self) -> bool {
        self == Role::Admin
    }
}

impl Role {
    /// The role's name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::DbMember => "db_member",
            Role::DbViewer => "db_viewer",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        [Role::Admin, Role::DbMember, Role::DbViewer]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("role {s:?} is not one of admin, db_member, db_viewer"))
    }
}

/// A user of the manager.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Its number, unique in the cluster.
    pub uid: u64,
    /// Its login name.
    pub name: String,
    /// Its e-mail address (informational).
    #[serde(default)]
    pub email: String,
    /// What it may do.
    pub role: Role,
    /// The argon2id hash of its password (PHC string).
    pub password_hash: String,
}

/// The longest name or password taken (argon2 takes any length; bounds keep requests cheap).
pub const MAX_CREDENTIAL: usize = 256;

/// Checks a login name: 1 to 256 characters, no control characters, no ':' (HTTP basic
/// auth splits on it).
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_CREDENTIAL {
        return Err(format!("a user name has 1 to {MAX_CREDENTIAL} bytes"));
    }
    if name.contains(':') || name.chars().any(char::is_control) {
        return Err("a user name has no ':' and no control characters".into());
    }
    Ok(())
}

/// Checks a password: 8 to 256 bytes.
pub fn check_password(password: &str) -> Result<(), String> {
    if password.len() < 8 || password.len() > MAX_CREDENTIAL {
        return Err(format!("a password has 8 to {MAX_CREDENTIAL} bytes"));
    }
    Ok(())
}

/// The argon2id hash of `password`, with a random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("hashing the password: {e}"))
}

impl User {
    /// A user with `password` hashed.
    pub fn new(uid: u64, name: &str, role: Role, password: &str) -> Result<User, String> {
        check_name(name)?;
        check_password(password)?;
        Ok(User {
            uid,
            name: name.to_string(),
            email: String::new(),
            role,
            password_hash: hash_password(password)?,
        })
    }

    /// Whether `password` is the user's (argon2 verification: slow on purpose).
    pub fn password_matches(&self, password: &str) -> bool {
        if password.len() > MAX_CREDENTIAL {
            return false;
        }
        PasswordHash::new(&self.password_hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hashed_and_verified() {
        let u = User::new(1, "admin", Role::Admin, "correct horse").unwrap();
        assert!(u.password_hash.starts_with("$argon2id$"));
        assert!(!u.password_hash.contains("correct horse"));
        assert!(u.password_matches("correct horse"));
        assert!(!u.password_matches("correct hors"));
        assert!(!u.password_matches(""));
        let again = User::new(1, "admin", Role::Admin, "correct horse").unwrap();
        assert_ne!(u.password_hash, again.password_hash, "salted");
    }

    #[test]
    fn names_roles_and_passwords_are_checked() {
        assert!(check_name("").is_err());
        assert!(check_name("a:b").is_err());
        assert!(check_name("a\nb").is_err());
        assert!(check_name(&"x".repeat(257)).is_err());
        assert!(check_password("short").is_err());
        assert!(check_password(&"x".repeat(257)).is_err());
        assert_eq!("db_member".parse::<Role>(), Ok(Role::DbMember));
        assert!("root".parse::<Role>().is_err());
        assert!(Role::Admin.manages_databases() && Role::Admin.is_admin());
        assert!(Role::DbMember.manages_databases() && !Role::DbMember.is_admin());
        assert!(!Role::DbViewer.manages_databases());
    }
}
