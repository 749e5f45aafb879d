//! The catalog (Milvus's "root coordinator"): databases, collections, partitions,
//! indexes, aliases and load state, persisted in the metadata store.
//!
//! Every change is written through to the [`MetaStore`] before it becomes
//! visible, so an acknowledged DDL survives a crash. Records are copy-on-write
//! `Arc`s: readers hold a consistent `CollectionMeta` for a whole request.

pub mod model;
pub mod tso;
pub mod users;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::RwLock;
use quiver_storage::{MetaOp, MetaStore};
use serde::Serialize;

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
        validate_name(name, "database")?;
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
        let current = st
            .collections
            .get(&id)
            .cloned()
            .ok_or_else(|| QuiverError::Internal(format!("collection {id} vanished")))?;
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

    // ---------------------------------------------------------------- partitions

    /// Adds a partition unless one of that name exists; refuses once the
    /// collection has `max` partitions (Milvus's message). Writes only the
    /// partition's own small record.
    pub fn add_partition(&self, id: i64, part: PartitionMeta, max: usize) -> Result<()> {
        let mut st = self.state.write();
        let current = st
            .collections
            .get(&id)
            .cloned()
            .ok_or_else(|| QuiverError::Internal(format!("collection {id} vanished")))?;
        if current.partition(&part.name).is_some() {
            return Ok(());
        }
        if current.partitions.len() >= max {
            return Err(QuiverError::InvalidParameter(format!(
                "partition number ({}) exceeds max configuration ({max}), collection: {}",
                current.partitions.len(),
                current.name
            )));
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
        validate_name(alias, "alias")?;
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

/// Milvus naming rules: a letter or underscore, then letters, digits, underscores
/// (database names may also contain dashes), at most 255 characters.
pub fn validate_name(name: &str, what: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok_first = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let ok_rest = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || (what == "database" && c == '-'));
    if name.is_empty() || name.len() > 255 || !ok_first || !ok_rest {
        return Err(QuiverError::InvalidParameter(format!(
            "invalid {what} name [{name}]: the first character must be an underscore or a letter, \
             the rest underscores, letters or digits, at most 255 characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use quiver_storage::{CollectionSchema, MemoryMetaStore};

    fn coll(c: &Catalog, db: &str, name: &str) -> CollectionMeta {
        CollectionMeta {
            id: c.next_id(),
            db: db.into(),
            name: name.into(),
            schema: CollectionSchema {
                name: name.into(),
                description: String::new(),
                fields: vec![],
                enable_dynamic_field: false,
            },
            schema_proto: vec![],
            shards_num: 1,
            consistency_level: 2,
            properties: vec![],
            created_ts: c.tso(),
            updated_ts: 0,
            partitions: vec![],
            num_partitions: 0,
            indexes: vec![],
            loaded: false,
            loaded_partitions: vec![],
        }
    }

    #[test]
    fn survives_reopen_and_resolves_aliases() {
        let store: Arc<dyn MetaStore> = Arc::new(MemoryMetaStore::default());
        let c = Catalog::open(store.clone()).expect("open");
        let m = coll(&c, DEFAULT_DB, "a");
        assert!(c.create_collection(m, |_| false).expect("create"));
        c.set_alias(DEFAULT_DB, "al", "a", false).expect("alias");
        assert!(matches!(
            c.set_alias(DEFAULT_DB, "a", "a", false),
            Err(QuiverError::AliasNameConflict(_))
        ));
        let c2 = Catalog::open(store).expect("reopen");
        assert_eq!(c2.collection(DEFAULT_DB, "al").expect("alias").name, "a");
        assert!(matches!(
            c2.collection(DEFAULT_DB, "b"),
            Err(QuiverError::CollectionNotFound { .. })
        ));
        c2.drop_collection(DEFAULT_DB, "a").expect("drop");
        assert!(c2.aliases(DEFAULT_DB, None).is_empty());
    }

    #[test]
    fn database_rules() {
        let c = Catalog::open(Arc::new(MemoryMetaStore::default())).expect("open");
        assert!(c.drop_database(DEFAULT_DB).is_err());
        c.create_database("db2", vec![]).expect("create");
        assert!(c.create_database("db2", vec![]).is_err());
        assert!(c.create_database("9bad", vec![]).is_err());
        let m = coll(&c, "db2", "x");
        c.create_collection(m, |_| false).expect("create");
        assert!(c.drop_database("db2").is_err());
        c.drop_collection("db2", "x").expect("drop");
        c.drop_database("db2").expect("drop db");
        assert_eq!(c.list_databases().len(), 1);
    }

    /// A metadata store that counts the bytes written through it.
    #[derive(Default)]
    struct Counting {
        inner: MemoryMetaStore,
        written: std::sync::atomic::AtomicUsize,
    }

    impl MetaStore for Counting {
        fn get(&self, key: &str) -> quiver_storage::Result<Option<Vec<u8>>> {
            self.inner.get(key)
        }
        fn scan_prefix(&self, prefix: &str) -> quiver_storage::Result<Vec<(String, Vec<u8>)>> {
            self.inner.scan_prefix(prefix)
        }
        fn apply(&self, ops: Vec<MetaOp>) -> quiver_storage::Result<()> {
            let n: usize = ops
                .iter()
                .map(|op| match op {
                    MetaOp::Put(k, v) => k.len() + v.len(),
                    MetaOp::Delete(k) => k.len(),
                })
                .sum();
            self.written
                .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            self.inner.apply(ops)
        }
    }

    fn part(c: &Catalog, i: usize) -> PartitionMeta {
        PartitionMeta {
            id: c.next_id(),
            name: format!("p{i}"),
            created_ts: c.tso(),
        }
    }

    #[test]
    fn a_partition_costs_one_small_record() {
        let store = Arc::new(Counting::default());
        let c = Catalog::open(store.clone()).expect("open");
        let mut m = coll(&c, DEFAULT_DB, "many");
        m.partitions.push(part(&c, 0));
        m.schema_proto = vec![7; 2000];
        let id = m.id;
        c.create_collection(m, |_| false).expect("create");
        let start = store.written.load(std::sync::atomic::Ordering::Relaxed);
        for i in 1..1024 {
            c.add_partition(id, part(&c, i), 1024).expect("add");
        }
        let per_partition =
            (store.written.load(std::sync::atomic::Ordering::Relaxed) - start) / 1023;
        // Before partitions had keys of their own, the 1024th create rewrote
        // all 1024 partitions and the 2 KB schema: ~80 KB, ~40 KB on average.
        eprintln!("bytes written per partition create: {per_partition}");
        assert!(per_partition < 200, "{per_partition} bytes per partition");
        let err = c.add_partition(id, part(&c, 1024), 1024).expect_err("cap");
        assert_eq!(
            err.to_string(),
            "invalid parameter[partition number (1024) exceeds max configuration (1024), \
             collection: many]"
        );
        // Other changes don't rewrite the partitions either.
        let before = store.written.load(std::sync::atomic::Ordering::Relaxed);
        c.update_collection(id, |m| {
            m.properties.push(("k".into(), "v".into()));
            Ok(())
        })
        .expect("update");
        let update = store.written.load(std::sync::atomic::Ordering::Relaxed) - before;
        // The record itself (mostly the 2 KB schema, as JSON) is all that is written.
        assert!(update < 8000, "{update} bytes per collection update");

        c.remove_partition(id, c.collection_by_id(id).expect("c").partitions[5].id)
            .expect("remove");
        let reopened = Catalog::open(store).expect("reopen");
        let parts = &reopened.collection_by_id(id).expect("c").partitions;
        assert_eq!(parts.len(), 1023);
        assert_eq!(parts[0].name, "p0");
        assert_eq!(parts[5].name, "p6");
        assert_eq!(parts[1022].name, "p1023");
        c.drop_collection(DEFAULT_DB, "many").expect("drop");
        assert!(c
            .meta
            .scan_prefix(&part_prefix(id))
            .expect("scan")
            .is_empty());
    }

    #[test]
    fn records_with_embedded_partitions_are_migrated() {
        let store: Arc<dyn MetaStore> = Arc::new(MemoryMetaStore::default());
        let c = Catalog::open(store.clone()).expect("open");
        let m = coll(&c, DEFAULT_DB, "old");
        let id = m.id;
        let mut legacy = serde_json::to_value(&m).expect("json");
        legacy["partitions"] = serde_json::json!([
            {"id": 11, "name": "_default", "created_ts": 1},
            {"id": 12, "name": "p1", "created_ts": 2}
        ]);
        store
            .put(&coll_key(id), serde_json::to_vec(&legacy).expect("bytes"))
            .expect("put");
        let c = Catalog::open(store.clone()).expect("reopen");
        let names: Vec<String> = c
            .collection_by_id(id)
            .expect("c")
            .partitions
            .iter()
            .map(|p| p.name.clone())
            .collect();
        assert_eq!(names, ["_default", "p1"]);
        assert_eq!(store.scan_prefix(&part_prefix(id)).expect("scan").len(), 2);
        let record = store.get(&coll_key(id)).expect("get").expect("record");
        assert!(!String::from_utf8_lossy(&record).contains("\"partitions\""));
        let again = Catalog::open(store).expect("reopen");
        assert_eq!(again.collection_by_id(id).expect("c").partitions.len(), 2);
    }

    /// The on-disk figure the issue measured: sled's directory after 1,024
    /// partition creates (printed for the record; bounded loosely, as sled
    /// pre-allocates).
    #[test]
    fn sled_store_stays_small_with_many_partitions() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Arc::new(quiver_storage::SledMetaStore::open(dir.path()).expect("sled"));
        let c = Catalog::open(store.clone()).expect("open");
        let mut m = coll(&c, DEFAULT_DB, "many");
        m.partitions.push(part(&c, 0));
        m.schema_proto = vec![7; 2000];
        let id = m.id;
        c.create_collection(m, |_| false).expect("create");
        for i in 1..1024 {
            c.add_partition(id, part(&c, i), 1024).expect("add");
        }
        drop(c);
        drop(store);
        let bytes: u64 = walk(dir.path());
        eprintln!("sled dir after 1024 partitions: {bytes} bytes");
        assert!(bytes < 16 << 20, "{bytes}");
    }

    fn walk(dir: &std::path::Path) -> u64 {
        std::fs::read_dir(dir)
            .map(|it| {
                it.filter_map(|e| e.ok())
                    .map(|e| match e.metadata() {
                        Ok(m) if m.is_dir() => walk(&e.path()),
                        Ok(m) => m.len(),
                        Err(_) => 0,
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
}
