//! Users and their credentials, for servers started with authentication on.
//!
//! Passwords are stored as argon2id hashes in PHC string form (random 16-byte
//! salt, the crate's default cost), never in clear. Records written by older
//! versions hold one round of salted SHA-256; they still verify and are
//! re-hashed with argon2id at the first successful login. Because pymilvus
//! sends the credentials on every call, a verified (user, password) pair is
//! remembered under a keyed SHA-256 of the pair, so only the first call pays
//! for argon2; a password change or delete forgets the user's entries.
//! With authentication off (the default, as in Milvus) credentials are
//! ignored, but users can still be managed so turning it on later needs no
//! migration.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use parking_lot::RwLock;
use quiver_storage::MetaStore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::KEY_PREFIX;
use crate::error::{invalid, QuiverError, Result};

/// The superuser every server has, with Milvus's default password.
pub const ROOT_USER: &str = "root";
const ROOT_DEFAULT_PASSWORD: &str = "Milvus";
/// Verified credentials remembered at most (then the cache starts afresh).
const CACHE_ENTRIES: usize = 4096;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct UserRecord {
    name: String,
    /// Legacy SHA-256 salt and digest (records from before argon2).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    salt: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    digest: String,
    /// argon2id hash in PHC string format.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    phc: String,
}

fn user_key(name: &str) -> String {
    format!("{KEY_PREFIX}user/{name}")
}

/// The legacy digest: SHA-256(salt, 0, password) in hex.
fn legacy_digest(salt: &str, password: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0u8]);
    h.update(password.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn hash_password(password: &str) -> Result<String> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| QuiverError::Internal(format!("password salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| QuiverError::Internal(format!("password hash: {e}")))
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Debug, PartialEq, Eq)]
enum Check {
    Ok,
    /// Right password, stored the old way: re-hash it.
    OkLegacy,
    Wrong,
}

fn check_record(u: &UserRecord, password: &str) -> Check {
    if !u.phc.is_empty() {
        let ok = PasswordHash::new(&u.phc).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        });
        return if ok { Check::Ok } else { Check::Wrong };
    }
    let legacy = legacy_digest(&u.salt, password);
    if !u.digest.is_empty() && same(legacy.as_bytes(), u.digest.as_bytes()) {
        Check::OkLegacy
    } else {
        Check::Wrong
    }
}

/// The user table.
pub struct Users {
    meta: Arc<dyn MetaStore>,
    users: RwLock<BTreeMap<String, UserRecord>>,
    /// Keyed hash of (user, password) → user, for credentials verified before.
    verified: RwLock<HashMap<[u8; 32], String>>,
    /// Per-process key of that hash, so the cache holds nothing reusable.
    cache_key: [u8; 32],
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
            verified: RwLock::new(HashMap::new()),
            cache_key: rand::random(),
        };
        if !this.users.read().contains_key(ROOT_USER) {
            this.put(ROOT_USER, ROOT_DEFAULT_PASSWORD)?;
        }
        Ok(this)
    }

    fn put(&self, name: &str, password: &str) -> Result<()> {
        let rec = UserRecord {
            name: name.to_string(),
            phc: hash_password(password)?,
            ..UserRecord::default()
        };
        let bytes = serde_json::to_vec(&rec).map_err(|e| QuiverError::Internal(e.to_string()))?;
        self.meta.put(&user_key(name), bytes)?;
        self.users.write().insert(name.to_string(), rec);
        self.forget(name);
        Ok(())
    }

    fn cache_slot(&self, name: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.cache_key);
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update(password.as_bytes());
        h.finalize().into()
    }

    fn forget(&self, name: &str) {
        self.verified.write().retain(|_, u| u != name);
    }

    /// Whether this pair was verified before (cheap: no argon2).
    pub fn verify_cached(&self, name: &str, password: &str) -> bool {
        let slot = self.cache_slot(name, password);
        self.verified.read().get(&slot).is_some_and(|u| u == name)
    }

    /// Whether `password` is `name`'s (argon2 unless cached). A right password
    /// stored the legacy way is re-hashed with argon2id.
    pub fn verify(&self, name: &str, password: &str) -> bool {
        if self.verify_cached(name, password) {
            return true;
        }
        let Some(rec) = self.users.read().get(name).cloned() else {
            return false;
        };
        match check_record(&rec, password) {
            Check::Wrong => return false,
            Check::Ok => {}
            Check::OkLegacy => {
                if let Err(e) = self.put(name, password) {
                    tracing::warn!(user = name, error = %e, "cannot upgrade the password hash");
                }
            }
        }
        let slot = self.cache_slot(name, password);
        let mut cache = self.verified.write();
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(slot, name.to_string());
        true
    }

    /// Creates a user; the name's form, then the password's length, as Milvus
    /// checks them (see [`super::names`]).
    pub fn create(&self, name: &str, password: &str) -> Result<()> {
        super::names::user(name)?;
        super::names::password(password)?;
        if self.users.read().contains_key(name) {
            return Err(invalid(format!("user already exists: {name}")));
        }
        self.put(name, password)
    }

    /// Changes a password after checking the old one (the new password's
    /// length first, as Milvus does).
    pub fn update(&self, name: &str, old: &str, new: &str) -> Result<()> {
        super::names::password(new)?;
        if !self.verify(name, old) {
            return Err(invalid("old password not correct"));
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
        self.forget(name);
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
        assert!(
            !u2.verify("alice", "secret2"),
            "deleted users are forgotten"
        );
    }

    #[test]
    fn hashes_are_argon2id_phc_with_random_salts() {
        let a = hash_password("same password").expect("hash");
        let b = hash_password("same password").expect("hash");
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "salts differ");
        let rec = UserRecord {
            name: "u".into(),
            phc: a,
            ..UserRecord::default()
        };
        assert_eq!(check_record(&rec, "same password"), Check::Ok);
        assert_eq!(check_record(&rec, "same passwore"), Check::Wrong);
        let broken = UserRecord {
            phc: "not a phc string".into(),
            ..rec
        };
        assert_eq!(check_record(&broken, "same password"), Check::Wrong);
    }

    #[test]
    fn legacy_sha256_records_migrate_at_login() {
        let meta: Arc<dyn MetaStore> = Arc::new(MemoryMetaStore::default());
        let old = UserRecord {
            name: "carol".into(),
            salt: "0123456789abcdef".into(),
            digest: legacy_digest("0123456789abcdef", "hunter22"),
            phc: String::new(),
        };
        meta.put(&user_key("carol"), serde_json::to_vec(&old).expect("json"))
            .expect("put");
        let u = Users::open(meta.clone()).expect("open");
        assert!(!u.verify("carol", "hunter23"));
        let stored = |m: &Arc<dyn MetaStore>| -> UserRecord {
            let v = m.get(&user_key("carol")).expect("get").expect("present");
            serde_json::from_slice(&v).expect("json")
        };
        assert!(
            stored(&meta).phc.is_empty(),
            "a wrong password migrates nothing"
        );
        assert!(u.verify("carol", "hunter22"));
        let now = stored(&meta);
        assert!(now.phc.starts_with("$argon2id$") && now.digest.is_empty());
        let again = Users::open(meta).expect("reopen");
        assert!(again.verify("carol", "hunter22") && !again.verify("carol", "hunter2"));
    }

    #[test]
    fn cache_is_dropped_on_password_change() {
        let meta: Arc<dyn MetaStore> = Arc::new(MemoryMetaStore::default());
        let u = Users::open(meta).expect("open");
        u.create("dave", "password1").expect("create");
        assert!(!u.verify_cached("dave", "password1"));
        assert!(u.verify("dave", "password1"));
        assert!(u.verify_cached("dave", "password1"));
        assert!(!u.verify_cached("dave", "password2"));
        u.update("dave", "password1", "password2").expect("update");
        assert!(!u.verify_cached("dave", "password1"));
        assert!(!u.verify("dave", "password1"));
        assert!(u.verify("dave", "password2"));
    }
}
