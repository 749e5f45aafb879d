//! The metadata store: databases, collections, segments, manifests, users.
//!
//! Metadata is small, must survive restarts, and must change atomically (a
//! seal swaps a segment manifest and records the WAL checkpoint in one step).
//! It lives behind the [`MetaStore`] trait so the embedded sled store could be
//! replaced by etcd in a clustered deployment; [`MemoryMetaStore`] serves tests.
//! Values are opaque bytes; [`put_json`], [`get_json`] and [`scan_json`] add
//! typed access for serde types.

use std::collections::BTreeMap;
use std::path::Path;

use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Result, StorageError};

/// Key holding the on-disk format version of a [`SledMetaStore`].
pub const META_VERSION_KEY: &str = "__version";
/// The format version this build writes and understands.
pub const META_FORMAT_VERSION: u32 = 1;

/// One change in an atomic [`MetaStore::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaOp {
    Put(String, Vec<u8>),
    Delete(String),
}

/// A durable, ordered key-value store with atomic multi-key writes.
pub trait MetaStore: Send + Sync {
    /// The value under `key`, if any.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Every pair whose key starts with `prefix`, sorted by key.
    fn scan_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>>;
    /// Atomically applies all ops and makes them durable before returning.
    fn apply(&self, ops: Vec<MetaOp>) -> Result<()>;
    /// Puts one key (durably).
    fn put(&self, key: &str, value: Vec<u8>) -> Result<()> {
        self.apply(vec![MetaOp::Put(key.to_string(), value)])
    }
    /// Deletes one key (durably); deleting a missing key is not an error.
    fn delete(&self, key: &str) -> Result<()> {
        self.apply(vec![MetaOp::Delete(key.to_string())])
    }
}

/// The embedded metadata store: one sled database in a local directory.
pub struct SledMetaStore {
    db: sled::Db,
}

impl std::fmt::Debug for SledMetaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledMetaStore").finish_non_exhaustive()
    }
}

impl SledMetaStore {
    /// Opens (creating) the store in `dir`. A new store is stamped with
    /// [`META_FORMAT_VERSION`]; an existing one must carry that version.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let db = sled::Config::new().path(dir).open()?;
        match db.get(META_VERSION_KEY)? {
            Some(v) => {
                let found = std::str::from_utf8(&v)
                    .ok()
                    .and_then(|s| s.parse::<u32>().ok());
                if found != Some(META_FORMAT_VERSION) {
                    return Err(StorageError::Meta(format!(
                        "metadata in {} has format version {}, this build understands {}",
                        dir.display(),
                        String::from_utf8_lossy(&v),
                        META_FORMAT_VERSION
                    )));
                }
            }
            None if db.is_empty() => {
                db.insert(META_VERSION_KEY, META_FORMAT_VERSION.to_string().as_bytes())?;
                db.flush()?;
            }
            None => {
                return Err(StorageError::Meta(format!(
                    "metadata in {} has no format version",
                    dir.display()
                )));
            }
        }
        Ok(SledMetaStore { db })
    }
}

fn key_string(k: &[u8]) -> Result<String> {
    String::from_utf8(k.to_vec()).map_err(|_| StorageError::Meta("non-UTF-8 key in store".into()))
}

impl MetaStore for SledMetaStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(key)?.map(|v| v.to_vec()))
    }

    fn scan_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        for item in self.db.scan_prefix(prefix) {
            let (k, v) = item?;
            if &*k == META_VERSION_KEY.as_bytes() {
                continue;
            }
            out.push((key_string(&k)?, v.to_vec()));
        }
        Ok(out)
    }

    fn apply(&self, ops: Vec<MetaOp>) -> Result<()> {
        let mut batch = sled::Batch::default();
        for op in ops {
            match op {
                MetaOp::Put(k, _) | MetaOp::Delete(k) if k == META_VERSION_KEY => {
                    return Err(StorageError::Meta(format!("{k} is reserved")));
                }
                MetaOp::Put(k, v) => batch.insert(k.as_bytes(), v),
                MetaOp::Delete(k) => batch.remove(k.as_bytes()),
            }
        }
        self.db.apply_batch(batch)?;
        self.db.flush()?;
        Ok(())
    }
}

/// An in-memory store for tests: a `BTreeMap` behind a mutex.
#[derive(Debug, Default)]
pub struct MemoryMetaStore {
    map: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryMetaStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl MetaStore for MemoryMetaStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.map.lock().get(key).cloned())
    }

    fn scan_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let map = self.map.lock();
        Ok(map
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn apply(&self, ops: Vec<MetaOp>) -> Result<()> {
        let mut map = self.map.lock();
        for op in ops {
            match op {
                MetaOp::Put(k, v) => {
                    map.insert(k, v);
                }
                MetaOp::Delete(k) => {
                    map.remove(&k);
                }
            }
        }
        Ok(())
    }
}

/// Serialises `value` as JSON under `key`.
pub fn put_json<T: Serialize + ?Sized>(store: &dyn MetaStore, key: &str, value: &T) -> Result<()> {
    store.put(key, to_json(key, value)?)
}

/// A `MetaOp::Put` of `value` as JSON, for use in an atomic [`MetaStore::apply`].
pub fn json_op<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<MetaOp> {
    Ok(MetaOp::Put(key.to_string(), to_json(key, value)?))
}

/// Reads and deserialises the JSON value under `key`.
pub fn get_json<T: DeserializeOwned>(store: &dyn MetaStore, key: &str) -> Result<Option<T>> {
    store
        .get(key)?
        .map(|bytes| from_json(key, &bytes))
        .transpose()
}

/// Every JSON value under keys starting with `prefix`, sorted by key.
pub fn scan_json<T: DeserializeOwned>(
    store: &dyn MetaStore,
    prefix: &str,
) -> Result<Vec<(String, T)>> {
    store
        .scan_prefix(prefix)?
        .into_iter()
        .map(|(k, v)| {
            let t = from_json(&k, &v)?;
            Ok((k, t))
        })
        .collect()
}

fn to_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| StorageError::Meta(format!("encoding {key}: {e}")))
}

fn from_json<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::Meta(format!("decoding {key}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok<T>(r: Result<T>) -> T {
        r.unwrap_or_else(|e| panic!("{e}"))
    }

    fn exercise(store: &dyn MetaStore) {
        ok(store.put("c/b", b"2".to_vec()));
        ok(store.put("c/a", b"1".to_vec()));
        ok(store.put("d/x", b"3".to_vec()));
        assert_eq!(ok(store.get("c/a")), Some(b"1".to_vec()));
        assert_eq!(ok(store.get("nope")), None);
        let keys: Vec<String> = ok(store.scan_prefix("c/"))
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(keys, vec!["c/a", "c/b"]);
        ok(store.apply(vec![
            MetaOp::Delete("c/a".into()),
            MetaOp::Put("c/c".into(), b"4".to_vec()),
        ]));
        let keys: Vec<String> = ok(store.scan_prefix("c/"))
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(keys, vec!["c/b", "c/c"]);
        ok(store.delete("missing"));
        ok(put_json(store, "j/1", &vec![1, 2, 3]));
        assert_eq!(ok(get_json::<Vec<i32>>(store, "j/1")), Some(vec![1, 2, 3]));
        assert_eq!(ok(scan_json::<Vec<i32>>(store, "j/")).len(), 1);
        assert!(get_json::<String>(store, "j/1").is_err());
    }

    #[test]
    fn memory_store_behaves() {
        exercise(&MemoryMetaStore::new());
    }

    #[test]
    fn sled_store_round_trips_and_reopens() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        {
            let store = ok(SledMetaStore::open(tmp.path()));
            exercise(&store);
            assert!(ok(store.scan_prefix(""))
                .iter()
                .all(|(k, _)| k != META_VERSION_KEY));
            assert!(store.put(META_VERSION_KEY, b"2".to_vec()).is_err());
        }
        let store = ok(SledMetaStore::open(tmp.path()));
        assert_eq!(ok(store.get("c/c")), Some(b"4".to_vec()));
        assert_eq!(ok(store.get("c/a")), None);
        assert_eq!(ok(store.get(META_VERSION_KEY)), Some(b"1".to_vec()));
    }

    #[test]
    fn sled_store_rejects_unknown_version() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        {
            let db = ok(sled::open(tmp.path()).map_err(StorageError::from));
            ok(db
                .insert(META_VERSION_KEY, b"99".as_slice())
                .map_err(StorageError::from));
            ok(db.flush().map_err(StorageError::from));
        }
        assert!(matches!(
            SledMetaStore::open(tmp.path()),
            Err(StorageError::Meta(_))
        ));
    }

    #[test]
    fn failed_apply_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = ok(SledMetaStore::open(tmp.path()));
        let r = store.apply(vec![
            MetaOp::Put("a".into(), b"1".to_vec()),
            MetaOp::Put(META_VERSION_KEY.into(), b"7".to_vec()),
        ]);
        assert!(r.is_err());
        assert_eq!(ok(store.get("a")), None);
    }
}
