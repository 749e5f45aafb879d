//! Users and their credentials, for servers started with authentication on.
//!
//! Passwords are stored as salted SHA-256 digests, never in clear. With
//! authentication off (the default, as in Milvus) credentials are ignored, but
//! users can still be managed so turning it on later needs no migration.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;
use quiver_storage::MetaStore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::KEY_PREFIX;
use crate::error::{invalid, QuiverError, Result};

/// The superuser every server has, with Milvus's default password.
pub const ROOT_USER: &str = "root";
const ROOT_DEFAULT_PASSWORD: &str = "Milvus";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct UserRecord {
    name: String,
    salt: String,
    digest: String,
}

fn user_key(name: &str) -> String {
    format!("{KEY_PREFIX}user/{name}")
}

fn digest(salt: &str, password: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0u8]);
    h.update(password.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn new_salt() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    digest(&nanos.to_string(), &std::process::id().to_string())[..16].to_string()
}

/// The user table.
pub struct Users {
    meta: Arc<dyn MetaStore>,
    users: RwLock<BTreeMap<String, UserRecord>>,
}

impl Users {
    /// Loads users, creating `root` on first start.
    pub fn open(meta: Arc<dyn MetaStore>) -> Result<Self> {
        let mut users = BTreeMap::new();
        for (k, v) in meta.scan_prefix(&format!("{KEY_PREFIX}user/"))? {
            let u: UserRecord = serde_json::from_slice(&v)
                .map_err(|e| QuiverError::Internal(format!("corrupt user record {k}: {e}")))?;
            users.insert(u.name.clone(), u);
        }
        let this = Users {
            meta,
            users: RwLock::new(users),
        };
        if !this.users.read().contains_key(ROOT_USER) {
            this.put(ROOT_USER, ROOT_DEFAULT_PASSWORD)?;
        }
        Ok(this)
    }

    fn put(&self, name: &str, password: &str) -> Result<()> {
        let salt = new_salt();
        let rec = UserRecord {
            name: name.to_string(),
            digest: digest(&salt, password),
            salt,
        };
        let bytes = serde_json::to_vec(&rec).map_err(|e| QuiverError::Internal(e.to_string()))?;
        self.meta.put(&user_key(name), bytes)?;
        self.users.write().insert(name.to_string(), rec);
        Ok(())
    }

    /// Whether `password` is `name`'s.
    pub fn verify(&self, name: &str, password: &str) -> bool {
        self.users
            .read()
            .get(name)
            .is_some_and(|u| digest(&u.salt, password) == u.digest)
    }

    /// Creates a user (Milvus: 6–256 character passwords).
    pub fn create(&self, name: &str, password: &str) -> Result<()> {
        super::validate_name(name, "user")?;
        if !(6..=256).contains(&password.chars().count()) {
            return Err(invalid(
                "the length of password must be great than 6 and less than 256 characters",
            ));
        }
        if self.users.read().contains_key(name) {
            return Err(invalid(format!("user already exists: {name}")));
        }
        self.put(name, password)
    }

    /// Changes a password after checking the old one.
    pub fn update(&self, name: &str, old: &str, new: &str) -> Result<()> {
        if !self.verify(name, old) {
            return Err(invalid("old password not correct"));
        }
        if !(6..=256).contains(&new.chars().count()) {
            return Err(invalid(
                "the length of password must be great than 6 and less than 256 characters",
            ));
        }
        self.put(name, new)
    }

    /// Deletes a user other than root.
    pub fn delete(&self, name: &str) -> Result<()> {
        if name == ROOT_USER {
            return Err(invalid("root user cannot be deleted"));
        }
        if self.users.write().remove(name).is_some() {
            self.meta.delete(&user_key(name))?;
        }
        Ok(())
    }

    /// User names.
    pub fn list(&self) -> Vec<String> {
        self.users.read().keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quiver_storage::MemoryMetaStore;

    #[test]
    fn root_exists_and_passwords_verify() {
        let meta: Arc<dyn MetaStore> = Arc::new(MemoryMetaStore::default());
        let u = Users::open(meta.clone()).expect("open");
        assert!(u.verify("root", "Milvus"));
        assert!(!u.verify("root", "milvus"));
        u.create("alice", "secret1").expect("create");
        assert!(u.create("alice", "secret1").is_err());
        assert!(u.create("bob", "short").is_err());
        let u2 = Users::open(meta).expect("reopen");
        assert!(u2.verify("alice", "secret1"));
        u2.update("alice", "secret1", "secret2").expect("update");
        assert!(u2.verify("alice", "secret2") && !u2.verify("alice", "secret1"));
        assert!(u2.delete("root").is_err());
        u2.delete("alice").expect("delete");
        assert_eq!(u2.list(), vec!["root".to_string()]);
    }
}
