//! Catalog tests: persistence, names and aliases, and what a partition costs
//! in the metadata store.

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
        replica_group: String::new(),
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
    let per_partition = (store.written.load(std::sync::atomic::Ordering::Relaxed) - start) / 1023;
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
