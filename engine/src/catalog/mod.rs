//! The catalog (Milvus's "root coordinator"): databases, collections, partitions,
//! indexes, aliases and load state, persisted in the metadata store.
//!
//! Every change is written through to the [`MetaStore`] before it becomes
//! visible, so an acknowledged DDL survives a crash. Records are copy-on-write
//! `Arc`s: readers hold a consistent `CollectionMeta` for a whole request.

mod change;
pub mod model;
pub mod names;
pub mod tso;
pub mod users;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::RwLock;
use quiver_storage::{MetaOp, MetaStore};
use serde::Serialize;

pub use change::CollectionChange;
pub use model::*;
pub use tso::Tso;

use crate::error::{QuiverError, Result};

/// The database every server has.
pub const DEFAULT_DB: &str = "default";
/// The partition every collection has.
pub const DEFAULT_PARTITION: &str = "_default";

#[derive(Default)]
struct State {
    dbs: BTreeMap<String, DatabaseMeta>,
    collections: HashMap<i64, Arc<CollectionMeta>>,
    /// (db, name) → collection id.
    names: HashMap<(String, String), i64>,
    /// (db, alias) → alias record.
    aliases: BTreeMap<(String, String), AliasMeta>,
}

impl State {
    /// The collection record `id` a caller already resolved by name; gone only
    /// if it was dropped in between.
    fn current(&self, id: i64) -> Result<Arc<CollectionMeta>> {
        self.collections
            .get(&id)
            .cloned()
            .ok_or_else(|| QuiverError::Internal(format!("collection {id} vanished")))
    }
}

/// The catalog. Cheap to share behind an `Arc`.
pub struct Catalog {
    meta: Arc<dyn MetaStore>,
    state: RwLock<State>,
    tso: Tso,
}

fn db_key(name: &str) -> String {
    format!("{KEY_PREFIX}db/{name}")
}
fn coll_key(id: i64) -> String {
    format!("{KEY_PREFIX}coll/{id:020}")
}
fn part_prefix(coll: i64) -> String {
    format!("{KEY_PREFIX}part/{coll:020}/")
}
fn part_key(coll: i64, part: i64) -> String {
    format!("{}{part:020}", part_prefix(coll))
}
fn alias_key(db: &str, alias: &str) -> String {
    format!("{KEY_PREFIX}alias/{db}/{alias}")
}

fn json<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| QuiverError::Internal(format!("encode metadata: {e}")))
}

fn parse<T: serde::de::DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| QuiverError::Internal(format!("corrupt metadata record {key}: {e}")))
}

impl Catalog {
    /// Loads the catalog from `meta`, creating the default database on first start.
    pub fn open(meta: Arc<dyn MetaStore>) -> Result<Self> {
        let mut state = State::default();
        for (k, v) in meta.scan_prefix(&format!("{KEY_PREFIX}db/"))? {
            let d: DatabaseMeta = parse(&k, &v)?;
            state.dbs.insert(d.name.clone(), d);
        }
        let mut migrate = Vec::new();
        let mut colls = HashMap::new();
        for (k, v) in meta.scan_prefix(&format!("{KEY_PREFIX}coll/"))? {
            let c: CollectionMeta = parse(&k, &v)?;
            if !c.partitions.is_empty() {
                // A record from before partitions had keys of their own.
                for part in &c.partitions {
                    migrate.push(MetaOp::Put(part_key(c.id, part.id), json(part)?));
                }
                migrate.push(MetaOp::Put(k.clone(), json(&c)?));
            }
            colls.insert(c.id, c);
        }
        for (k, v) in meta.scan_prefix(&format!("{KEY_PREFIX}part/"))? {
            let part: PartitionMeta = parse(&k, &v)?;
            let coll = k
                .strip_prefix(&format!("{KEY_PREFIX}part/"))
                .and_then(|rest| rest.split('/').next())
                .and_then(|id| id.parse::<i64>().ok());
            match coll.and_then(|id| colls.get_mut(&id)) {
                Some(c) => c.partitions.push(part),
                None => migrate.push(MetaOp::Delete(k)),
            }
        }
        if !migrate.is_empty() {
            meta.apply(migrate)?;
        }
        for (id, mut c) in colls {
            c.partitions.sort_by_key(|p| (p.created_ts, p.id));
            c.partitions.dedup_by_key(|p| p.id);
            state.names.insert((c.db.clone(), c.name.clone()), id);
            state.collections.insert(id, Arc::new(c));
        }
        for (k, v) in meta.scan_prefix(&format!("{KEY_PREFIX}alias/"))? {
            let a: AliasMeta = parse(&k, &v)?;
            state.aliases.insert((a.db.clone(), a.alias.clone()), a);
        }
        let catalog = Catalog {
            meta,
            state: RwLock::new(state),
            tso: Tso::default(),
        };
        if !catalog.state.read().dbs.contains_key(DEFAULT_DB) {
            catalog.create_database(DEFAULT_DB, Vec::new())?;
        }
        Ok(catalog)
    }

    /// The metadata store the catalog writes through to, for the
    /// coordinator's other records (resource groups).
    pub fn meta_store(&self) -> Arc<dyn MetaStore> {
        self.meta.clone()
    }

    /// A fresh hybrid timestamp (also used as a unique id).
    pub fn tso(&self) -> u64 {
        self.tso.next()
    }

    /// A fresh unique id.
    pub fn next_id(&self) -> i64 {
        self.tso.next() as i64
    }

    // ---------------------------------------------------------------- databases

    /// Creates a database.
    pub fn create_database(&self, name: &str, properties: Vec<(String, String)>) -> Result<()> {
        names::database(name)?;
        let mut st = self.state.write();
        if st.dbs.contains_key(name) {
            return Err(QuiverError::DatabaseInvalid(format!(
                "database already exist: {name}"
            )));
        }
        let d = DatabaseMeta {
            id: self.next_id(),
            name: name.to_string(),
            created_ts: self.tso(),
            properties,
        };
        self.meta.put(&db_key(name), json(&d)?)?;
        st.dbs.insert(name.to_string(), d);
        Ok(())
    }

    /// Drops an empty database other than `default`.
    pub fn drop_database(&self, name: &str) -> Result<()> {
        // Milvus checks the name's form before looking the database up.
        names::database(name)?;
        if name == DEFAULT_DB {
            return Err(QuiverError::DatabaseInvalid(
                "can not drop default database".into(),
            ));
        }
        let mut st = self.state.write();
        if !st.dbs.contains_key(name) {
            return Ok(());
        }
        if st.names.keys().any(|(db, _)| db == name) {
            return Err(QuiverError::DatabaseInvalid(format!(
                "can not drop database {name}: it still has collections"
            )));
        }
        self.meta.delete(&db_key(name))?;
        st.dbs.remove(name);
        Ok(())
    }

    /// All databases, by name.
    pub fn list_databases(&self) -> Vec<DatabaseMeta> {
        self.state.read().dbs.values().cloned().collect()
    }

    /// The database called `name`.
    pub fn database(&self, name: &str) -> Result<DatabaseMeta> {
        self.state
            .read()
            .dbs
            .get(name)
            .cloned()
            .ok_or_else(|| QuiverError::DatabaseNotFound(name.to_string()))
    }

    /// Sets and removes database properties.
    pub fn alter_database(
        &self,
        name: &str,
        set: Vec<(String, String)>,
        delete_keys: &[String],
    ) -> Result<()> {
        let mut st = self.state.write();
        let mut d = st
            .dbs
            .get(name)
            .cloned()
            .ok_or_else(|| QuiverError::DatabaseNotFound(name.to_string()))?;
        merge_properties(&mut d.properties, set, delete_keys);
        self.meta.put(&db_key(name), json(&d)?)?;
        st.dbs.insert(name.to_string(), d);
        Ok(())
    }

    // ---------------------------------------------------------------- collections

    /// Resolves a collection by name or alias.
    pub fn collection(&self, db: &str, name: &str) -> Result<Arc<CollectionMeta>> {
        let st = self.state.read();
        if !st.dbs.contains_key(db) {
            return Err(QuiverError::DatabaseNotFound(db.to_string()));
        }
        let id = st
            .names
            .get(&(db.to_string(), name.to_string()))
            .copied()
            .or_else(|| {
                st.aliases
                    .get(&(db.to_string(), name.to_string()))
                    .map(|a| a.collection_id)
            });
        id.and_then(|id| st.collections.get(&id).cloned())
            .ok_or_else(|| QuiverError::CollectionNotFound {
                db: db.to_string(),
                name: name.to_string(),
            })
    }

    /// A collection by id.
    pub fn collection_by_id(&self, id: i64) -> Option<Arc<CollectionMeta>> {
        self.state.read().collections.get(&id).cloned()
    }

    /// Every collection of every database.
    pub fn all_collections(&self) -> Vec<Arc<CollectionMeta>> {
        self.state.read().collections.values().cloned().collect()
    }

    /// Collections of `db`, oldest first.
    pub fn list_collections(&self, db: &str) -> Result<Vec<Arc<CollectionMeta>>> {
        let st = self.state.read();
        if !st.dbs.contains_key(db) {
            return Err(QuiverError::DatabaseNotFound(db.to_string()));
        }
        let mut v: Vec<_> = st
            .collections
            .values()
            .filter(|c| c.db == db)
            .cloned()
            .collect();
        v.sort_by_key(|c| c.created_ts);
        Ok(v)
    }

    /// Registers a new collection. `Ok(false)` when an identical one exists
    /// (Milvus treats that create as a no-op).
    pub fn create_collection(
        &self,
        meta: CollectionMeta,
        same: impl Fn(&CollectionMeta) -> bool,
    ) -> Result<bool> {
        let mut st = self.state.write();
        if !st.dbs.contains_key(&meta.db) {
            return Err(QuiverError::DatabaseNotFound(meta.db.clone()));
        }
        let key = (meta.db.clone(), meta.name.clone());
        if let Some(id) = st.names.get(&key) {
            let existing = &st.collections[id];
            return if same(existing) {
                Ok(false)
            } else {
                Err(QuiverError::CollectionExists(meta.name.clone()))
            };
        }
        if st.aliases.contains_key(&key) {
            return Err(QuiverError::InvalidParameter(format!(
                "collection name [{}] conflicts with an existing alias",
                meta.name
            )));
        }
        let mut ops = vec![MetaOp::Put(coll_key(meta.id), json(&meta)?)];
        for part in &meta.partitions {
            ops.push(MetaOp::Put(part_key(meta.id, part.id), json(part)?));
        }
        self.meta.apply(ops)?;
        st.names.insert(key, meta.id);
        st.collections.insert(meta.id, Arc::new(meta));
        Ok(true)
    }

    /// Removes a collection and its aliases. Returns its id, or None if absent.
    pub fn drop_collection(&self, db: &str, name: &str) -> Result<Option<i64>> {
        let mut st = self.state.write();
        let Some(id) = st.names.get(&(db.to_string(), name.to_string())).copied() else {
            return Ok(None);
        };
        let doomed: Vec<(String, String)> = st
            .aliases
            .iter()
            .filter(|(_, a)| a.collection_id == id)
            .map(|(k, _)| k.clone())
            .collect();
        let mut ops = vec![MetaOp::Delete(coll_key(id))];
        ops.extend(doomed.iter().map(|(d, a)| MetaOp::Delete(alias_key(d, a))));
        if let Some(c) = st.collections.get(&id) {
            ops.extend(
                c.partitions
                    .iter()
                    .map(|p| MetaOp::Delete(part_key(id, p.id))),
            );
        }
        self.meta.apply(ops)?;
        for k in doomed {
            st.aliases.remove(&k);
        }
        st.names.remove(&(db.to_string(), name.to_string()));
        st.collections.remove(&id);
        Ok(Some(id))
    }

    /// Applies `f` to a copy of the collection record and persists the result.
    pub fn update_collection<T>(
        &self,
        id: i64,
        f: impl FnOnce(&mut CollectionMeta) -> Result<T>,
    ) -> Result<(Arc<CollectionMeta>, T)> {
        let mut st = self.state.write();
        let current = st.current(id)?;
        let mut next = (*current).clone();
        let out = f(&mut next)?;
        next.updated_ts = self.tso();
        if next.name != current.name || next.db != current.db {
            let key = (next.db.clone(), next.name.clone());
            if st.names.contains_key(&key) || st.aliases.contains_key(&key) {
                return Err(QuiverError::InvalidParameter(format!(
                    "duplicated new collection name {} in database {}",
                    next.name, next.db
                )));
            }
            if !st.dbs.contains_key(&next.db) {
                return Err(QuiverError::DatabaseNotFound(next.db.clone()));
            }
        }
        let mut ops = partition_changes(id, &current.partitions, &next.partitions)?;
        ops.push(MetaOp::Put(coll_key(id), json(&next)?));
        self.meta.apply(ops)?;
        st.names.remove(&(current.db.clone(), current.name.clone()));
        st.names.insert((next.db.clone(), next.name.clone()), id);
        let next = Arc::new(next);
        st.collections.insert(id, next.clone());
        Ok((next, out))
    }

    /// Applies one named change to the collection's record and persists it.
    pub fn alter_collection(
        &self,
        id: i64,
        change: CollectionChange,
    ) -> Result<Arc<CollectionMeta>> {
        Ok(self.update_collection(id, |m| change.apply(m))?.0)
    }

    // ---------------------------------------------------------------- partitions

    /// Adds a partition unless one of that name exists; refuses once the
    /// collection has `max` partitions (Milvus's message). Writes only the
    /// partition's own small record.
    pub fn add_partition(&self, id: i64, part: PartitionMeta, max: usize) -> Result<()> {
        let mut st = self.state.write();
        let current = st.current(id)?;
        if current.partition(&part.name).is_some() {
            return Ok(());
        }
        if current.partitions.len() >= max {
            return Err(too_many_partitions(
                current.partitions.len(),
                max,
                &current.name,
            ));
        }
        self.meta.put(&part_key(id, part.id), json(&part)?)?;
        let mut next = (*current).clone();
        next.partitions.push(part);
        st.collections.insert(id, Arc::new(next));
        Ok(())
    }

    /// Removes a partition (absent is fine) and its load state.
    pub fn remove_partition(&self, id: i64, part: i64) -> Result<()> {
        let mut st = self.state.write();
        let Some(current) = st.collections.get(&id).cloned() else {
            return Ok(());
        };
        if current.partitions.iter().all(|p| p.id != part) {
            return Ok(());
        }
        let mut next = (*current).clone();
        next.partitions.retain(|p| p.id != part);
        let mut ops = vec![MetaOp::Delete(part_key(id, part))];
        if next.loaded_partitions.contains(&part) {
            next.loaded_partitions.retain(|p| *p != part);
            ops.push(MetaOp::Put(coll_key(id), json(&next)?));
        }
        self.meta.apply(ops)?;
        st.collections.insert(id, Arc::new(next));
        Ok(())
    }

    // ---------------------------------------------------------------- aliases

    /// Points `alias` at `collection` (a real collection name). `replace`
    /// re-points an existing alias (AlterAlias); otherwise it must not exist.
    pub fn set_alias(&self, db: &str, alias: &str, collection: &str, replace: bool) -> Result<()> {
        // Milvus checks both names' form first, the alias before the collection.
        names::alias(alias)?;
        names::collection(collection)?;
        let mut st = self.state.write();
        let key = (db.to_string(), alias.to_string());
        if st.names.contains_key(&key) {
            return Err(QuiverError::AliasNameConflict(alias.to_string()));
        }
        let id = *st
            .names
            .get(&(db.to_string(), collection.to_string()))
            .ok_or_else(|| QuiverError::CollectionNotFound {
                db: db.to_string(),
                name: collection.to_string(),
            })?;
        match (st.aliases.get(&key), replace) {
            (Some(a), false) if a.collection_id != id => {
                return Err(QuiverError::AliasExists(alias.to_string()))
            }
            (Some(_), false) => return Ok(()),
            (None, true) => {
                return Err(QuiverError::AliasNotFound {
                    db: db.to_string(),
                    alias: alias.to_string(),
                })
            }
            _ => {}
        }
        let a = AliasMeta {
            db: db.to_string(),
            alias: alias.to_string(),
            collection_id: id,
        };
        self.meta.put(&alias_key(db, alias), json(&a)?)?;
        st.aliases.insert(key, a);
        Ok(())
    }

    /// Removes an alias (absent is fine, as in Milvus).
    pub fn drop_alias(&self, db: &str, alias: &str) -> Result<()> {
        let mut st = self.state.write();
        if st
            .aliases
            .remove(&(db.to_string(), alias.to_string()))
            .is_some()
        {
            self.meta.delete(&alias_key(db, alias))?;
        }
        Ok(())
    }

    /// The collection name an alias points at.
    pub fn describe_alias(&self, db: &str, alias: &str) -> Result<String> {
        let st = self.state.read();
        st.aliases
            .get(&(db.to_string(), alias.to_string()))
            .and_then(|a| st.collections.get(&a.collection_id))
            .map(|c| c.name.clone())
            .ok_or_else(|| QuiverError::AliasNotFound {
                db: db.to_string(),
                alias: alias.to_string(),
            })
    }

    /// Aliases in `db`, optionally only those of one collection id.
    pub fn aliases(&self, db: &str, collection_id: Option<i64>) -> Vec<String> {
        self.state
            .read()
            .aliases
            .values()
            .filter(|a| a.db == db && collection_id.is_none_or(|id| a.collection_id == id))
            .map(|a| a.alias.clone())
            .collect()
    }
}

/// Milvus's refusal of a partition count above `rootCoord.maxPartitionNum`, for
/// CreatePartition and a partition-key collection's `num_partitions` alike.
pub fn too_many_partitions(
    count: impl std::fmt::Display,
    max: impl std::fmt::Display,
    collection: &str,
) -> QuiverError {
    QuiverError::InvalidParameter(format!(
        "partition number ({count}) exceeds max configuration ({max}), collection: {collection}"
    ))
}

/// The writes that turn partition list `old` into `new` (both small records).
fn partition_changes(
    coll: i64,
    old: &[PartitionMeta],
    new: &[PartitionMeta],
) -> Result<Vec<MetaOp>> {
    let old_ids: std::collections::HashSet<i64> = old.iter().map(|p| p.id).collect();
    let new_ids: std::collections::HashSet<i64> = new.iter().map(|p| p.id).collect();
    let mut ops = Vec::new();
    for p in new.iter().filter(|p| !old_ids.contains(&p.id)) {
        ops.push(MetaOp::Put(part_key(coll, p.id), json(p)?));
    }
    for p in old.iter().filter(|p| !new_ids.contains(&p.id)) {
        ops.push(MetaOp::Delete(part_key(coll, p.id)));
    }
    Ok(ops)
}

/// Applies property updates and deletions in place.
pub fn merge_properties(
    props: &mut Vec<(String, String)>,
    set: Vec<(String, String)>,
    delete_keys: &[String],
) {
    props.retain(|(k, _)| !delete_keys.contains(k));
    for (k, v) in set {
        match props.iter_mut().find(|(pk, _)| *pk == k) {
            Some(slot) => slot.1 = v,
            None => props.push((k, v)),
        }
    }
}

#[cfg(test)]
mod tests;
