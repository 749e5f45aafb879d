//! Tests of the data role through its public methods, on real files: a
//! failed index build, WAL retention, and restarts on the same directories.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, FixedSizeListArray, Float32Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType as ArrowType, Field};
use quiver_storage::{
    CollectionSchema, DataType, FieldSchema, MemoryMetaStore, MetaStore, ObjectStorage,
};

use super::{DataNode, DataNodeConfig};
use crate::catalog::{
    Catalog, CollectionChange, CollectionMeta, IndexKind, IndexMeta, PartitionMeta,
};
use crate::coord::LocalCoordinator;
use crate::indexnode::IndexNode;
use crate::roles::{Coordinator, Queries};

const DIM: usize = 8;

struct Env {
    dir: tempfile::TempDir,
    meta: Arc<dyn MetaStore>,
    coord: Arc<dyn Coordinator>,
    store: ObjectStorage,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let meta: Arc<dyn MetaStore> = Arc::new(MemoryMetaStore::default());
    let coord = coordinator(&meta);
    let store = ObjectStorage::from_uri("", dir.path()).unwrap_or_else(|e| panic!("{e}"));
    Env {
        dir,
        meta,
        coord,
        store,
    }
}

/// A coordinator over the catalog persisted in `meta` (a "restart" of it).
fn coordinator(meta: &Arc<dyn MetaStore>) -> Arc<dyn Coordinator> {
    let catalog = Catalog::open(meta.clone()).unwrap_or_else(|e| panic!("{e}"));
    Arc::new(LocalCoordinator::new(Arc::new(catalog)).unwrap_or_else(|e| panic!("{e}")))
}

fn config(dir: &Path, seal_idle: Duration, index_build_max_bytes: usize) -> DataNodeConfig {
    DataNodeConfig {
        wal_dir: dir.join("wal"),
        segment_max_bytes: 1 << 30,
        sync_wal: false,
        seal_idle,
        index_build_max_bytes,
    }
}

async fn open(e: &Env, cfg: DataNodeConfig) -> Arc<DataNode> {
    DataNode::open(
        cfg,
        e.coord.clone(),
        e.meta.clone(),
        e.store.clone(),
        Arc::new(IndexNode::new(e.store.clone(), 2).unwrap_or_else(|e| panic!("{e}"))),
    )
    .await
    .unwrap_or_else(|e| panic!("open: {e}"))
}

fn collection(e: &Env, name: &str, dim: usize) -> CollectionMeta {
    let mut pk = FieldSchema::new(100, "id", DataType::Int64);
    pk.is_primary = true;
    let mut v = FieldSchema::new(101, "v", DataType::FloatVector);
    v.dim = Some(dim);
    let c = &e.coord;
    CollectionMeta {
        id: c.next_id(),
        db: "default".into(),
        name: name.into(),
        schema: CollectionSchema {
            name: name.into(),
            description: String::new(),
            fields: vec![pk, v],
            enable_dynamic_field: false,
        },
        schema_proto: vec![],
        shards_num: 1,
        consistency_level: 2,
        properties: vec![],
        created_ts: c.tso(),
        updated_ts: 0,
        partitions: vec![PartitionMeta {
            id: c.next_id(),
            name: "_default".into(),
            created_ts: c.tso(),
        }],
        num_partitions: 0,
        indexes: vec![],
        loaded: false,
        loaded_partitions: vec![],
        replica_group: String::new(),
    }
}

fn hnsw(e: &Env) -> IndexMeta {
    IndexMeta {
        id: e.coord.next_id(),
        name: "v".into(),
        field_id: 101,
        field_name: "v".into(),
        params: vec![],
        kind: IndexKind::Hnsw,
        index_type: "HNSW".into(),
        metric: Some(quiver_index::Metric::L2),
        m: 8,
        ef_construction: 32,
        created_ts: e.coord.tso(),
        fail_reason: None,
        json_path: None,
    }
}

fn rows(first: i64, n: usize, dim: usize) -> RecordBatch {
    let ids = Int64Array::from((first..first + n as i64).collect::<Vec<_>>());
    let values = Float32Array::from(
        (0..n * dim)
            .map(|i| (i % 97) as f32 / 97.0)
            .collect::<Vec<_>>(),
    );
    let item = Arc::new(Field::new("item", ArrowType::Float32, false));
    let vecs = FixedSizeListArray::try_new(item, dim as i32, Arc::new(values), None)
        .unwrap_or_else(|e| panic!("{e}"));
    RecordBatch::try_from_iter([
        ("id", Arc::new(ids) as ArrayRef),
        ("v", Arc::new(vecs) as ArrayRef),
    ])
    .unwrap_or_else(|e| panic!("{e}"))
}

async fn create(e: &Env, node: &DataNode, meta: &CollectionMeta) {
    assert!(e
        .coord
        .create_collection(meta.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}")));
    node.create_collection(meta)
        .unwrap_or_else(|e| panic!("{e}"));
}

async fn insert(node: &Arc<DataNode>, meta: &CollectionMeta, batch: RecordBatch) {
    let part = meta.partitions[0].id;
    node.insert(meta.id, vec![(part, batch)])
        .await
        .unwrap_or_else(|e| panic!("insert: {e}"));
}

/// Waits up to ten seconds for `f`.
async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
}

/// The index progress once it equals `want`, or the last one seen after ten seconds.
async fn progress_reaches(
    node: &DataNode,
    coll: i64,
    field: i64,
    want: (usize, usize, usize),
) -> (usize, usize, usize) {
    let mut seen = node.index_progress(coll, field).await;
    for _ in 0..200 {
        if seen == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        seen = node.index_progress(coll, field).await;
    }
    seen
}

/// Drops the node once no background task holds it, so the next open owns the WAL.
async fn close(node: Arc<DataNode>) {
    assert!(eventually(|| Arc::strong_count(&node) == 1).await);
    drop(node);
}

fn fail_reason(e: &Env, id: i64) -> Option<String> {
    e.coord
        .collection_by_id(id)
        .and_then(|c| c.indexes.first().and_then(|i| i.fail_reason.clone()))
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(|f| f.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_build_marks_index_failed_and_is_not_retried_after_restart() {
    let e = env();
    let idle = Duration::from_secs(600);
    let node = open(&e, config(e.dir.path(), idle, 1)).await;
    let mut meta = collection(&e, "failing", DIM);
    meta.indexes.push(hnsw(&e));
    create(&e, &node, &meta).await;
    insert(&node, &meta, rows(0, 64, DIM)).await;
    node.flush(meta.id).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(eventually(|| fail_reason(&e, meta.id).is_some()).await);
    let reason = fail_reason(&e, meta.id).unwrap_or_default();
    assert!(reason.contains("index_build_max_bytes"), "{reason}");
    assert_eq!(node.index_progress(meta.id, 101).await.0, 0);
    close(node).await;

    // The failure is in the catalog: a restart (same bound) builds nothing.
    let e = Env {
        coord: coordinator(&e.meta),
        ..e
    };
    assert_eq!(fail_reason(&e, meta.id), Some(reason));
    let node = open(&e, config(e.dir.path(), idle, 1)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(e.coord.builds_in_flight(meta.id, 101).await.is_empty());
    assert_eq!(node.index_progress(meta.id, 101).await, (0, 64, 64));
    assert_eq!(
        node.collection(meta.id).map(|d| d.live_rows()).ok(),
        Some(64)
    );

    // Dropping and re-creating the index starts afresh (and, unbounded, succeeds).
    close(node).await;
    let node = open(&e, config(e.dir.path(), idle, usize::MAX)).await;
    node.drop_index(meta.id, 101)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let old: Vec<i64> = meta.indexes.iter().map(|i| i.id).collect();
    let fresh = CollectionChange::AddIndex(hnsw(&e));
    let ok = |r: crate::error::Result<Arc<CollectionMeta>>| r.unwrap_or_else(|e| panic!("{e}"));
    ok(e.coord
        .alter_collection(meta.id, CollectionChange::DropIndexes(old))
        .await);
    let updated = ok(e.coord.alter_collection(meta.id, fresh).await);
    node.ensure_indexes(&updated);
    assert_eq!(
        progress_reaches(&node, meta.id, 101, (64, 64, 0)).await,
        (64, 64, 0)
    );
    assert_eq!(fail_reason(&e, meta.id), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_of_dropped_and_idle_collections_is_removed() {
    let e = env();
    let idle = Duration::from_secs(2);
    let node = open(&e, config(e.dir.path(), idle, usize::MAX)).await;
    let small = collection(&e, "small", DIM);
    let big = collection(&e, "big", 128);
    create(&e, &node, &small).await;
    create(&e, &node, &big).await;
    // One small unflushed write first, then ~2 MB of another collection's rows.
    insert(&node, &small, rows(0, 1, DIM)).await;
    for i in 0..4 {
        insert(&node, &big, rows(i * 1000, 1000, 128)).await;
    }
    let wal_dir = e.dir.path().join("wal");
    let before = dir_bytes(&wal_dir);
    assert!(before > 2_000_000, "{before}");

    e.coord
        .drop_collection("default", "big")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    node.drop_collection(big.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The small collection's write still pins the log until its idle seal.
    assert!(dir_bytes(&wal_dir) > 2_000_000);
    let shrunk = eventually(|| dir_bytes(&wal_dir) < 64 * 1024).await;
    let listing: Vec<_> = std::fs::read_dir(&wal_dir)
        .map(|it| {
            it.filter_map(|f| f.ok())
                .map(|f| (f.file_name(), f.metadata().map(|m| m.len()).unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    let unsealed = node.collection(small.id).map(|d| {
        let st = d.state.read();
        (st.first_unsealed_lsn, st.sealing_from, st.checkpoint_lsn)
    });
    assert!(
        shrunk,
        "{listing:?} {unsealed:?} last={}",
        node.wal.last_lsn()
    );
    let st_checkpoint = node
        .collection(small.id)
        .map(|d| d.state.read().checkpoint_lsn)
        .unwrap_or(0);
    assert!(st_checkpoint > 0);
    close(node).await;

    // Nothing acknowledged was lost with the files.
    let node = open(&e, config(e.dir.path(), idle, usize::MAX)).await;
    assert_eq!(
        node.collection(small.id).map(|d| d.live_rows()).ok(),
        Some(1)
    );
    assert!(node.collection(big.id).is_err());
    insert(&node, &small, rows(1, 1, DIM)).await;
    assert_eq!(
        node.collection(small.id).map(|d| d.live_rows()).ok(),
        Some(2)
    );
}

/// The query node drops a search or query whose client deadline has passed
/// between units of work, and serves the same request without one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_node_stops_at_a_passed_deadline() {
    use crate::querynode::QueryNode;
    use crate::roles::{QueryRequest, QueryService, SearchRequest};
    use std::time::Instant;

    let e = env();
    let node = open(&e, config(e.dir.path(), Duration::from_secs(600), 1 << 30)).await;
    let meta = collection(&e, "deadline", DIM);
    create(&e, &node, &meta).await;
    insert(&node, &meta, rows(0, 50, DIM)).await;
    let qn = QueryNode::new(
        node.clone(),
        e.coord.clone(),
        Default::default(),
        Default::default(),
    );
    let search = |deadline| SearchRequest {
        collection_id: meta.id,
        partitions: None,
        field_id: 101,
        metric: quiver_index::Metric::L2,
        use_index: false,
        queries: Queries::Dense(vec![vec![0.5; DIM]]),
        limit: 5,
        ef: 16,
        filter: None,
        range: None,
        group_by: None,
        ignore_growing: false,
        output: Vec::new(),
        guarantee_ts: 0,
        deadline,
    };
    let query = |deadline| QueryRequest {
        collection_id: meta.id,
        partitions: None,
        filter: None,
        limit: None,
        offset: 0,
        count_only: true,
        ignore_growing: false,
        pks: None,
        output: Vec::new(),
        guarantee_ts: e.coord.tso(),
        deadline,
    };
    let past = Instant::now()
        .checked_sub(Duration::from_millis(1))
        .unwrap_or_else(Instant::now);
    let late = qn.search(search(Some(past))).await;
    assert!(
        matches!(late, Err(crate::error::QuiverError::DeadlineExceeded(_))),
        "search past its deadline ran"
    );
    let late = qn.query(query(Some(past))).await;
    assert!(
        matches!(late, Err(crate::error::QuiverError::DeadlineExceeded(_))),
        "query past its deadline ran"
    );
    let future = Some(Instant::now() + Duration::from_secs(60));
    let out = qn
        .search(search(future))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.counts, vec![5]);
    assert_eq!(out.ids.len(), 5);
    let out = qn
        .query(query(None))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.count, 50);
    drop(qn);
    close(node).await;
}

/// The `n` column of every live row, by primary key, as the data role holds it.
fn column_by_pk(node: &DataNode, coll: i64, col: usize) -> Vec<(i64, Option<i64>)> {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int64Type;
    let data = node.collection(coll).unwrap_or_else(|e| panic!("{e}"));
    let (schema, segments) = data.view();
    let mut out = Vec::new();
    for s in &segments {
        for chunk in &s.chunks {
            assert_eq!(
                chunk.schema(),
                schema.arrow_schema(),
                "every chunk in the current layout"
            );
            let ids = chunk.column(0).as_primitive::<Int64Type>();
            let n = chunk.column(col).as_primitive::<Int64Type>();
            for r in 0..chunk.num_rows() {
                out.push((ids.value(r), n.is_valid(r).then(|| n.value(r))));
            }
        }
    }
    out.sort();
    out
}

/// AddCollectionField: rows held in memory, in sealed segments written before
/// and in WAL records logged before all read the new field's default; rows
/// written after carry it; both survive a restart. A change that does not
/// only append fields is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn added_field_reads_its_default_from_old_segments_and_wal() {
    use quiver_storage::ScalarValue;
    let e = env();
    let node = open(&e, config(e.dir.path(), Duration::from_secs(600), 1 << 30)).await;
    let meta = collection(&e, "evolve", DIM);
    create(&e, &node, &meta).await;
    insert(&node, &meta, rows(0, 10, DIM)).await;
    node.flush(meta.id).await.unwrap_or_else(|e| panic!("{e}"));
    insert(&node, &meta, rows(10, 10, DIM)).await;

    let mut n = FieldSchema::new(102, "n", DataType::Int64);
    n.nullable = true;
    n.default_value = Some(ScalarValue::Int(3));
    let mut grown = meta.clone();
    grown.schema.fields.push(n.clone());
    node.evolve_schema(&grown)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    e.coord
        .alter_collection(
            meta.id,
            CollectionChange::AddField {
                field: n,
                schema_proto: vec![],
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let given = rows(20, 2, DIM);
    let mut cols = given.columns().to_vec();
    cols.push(Arc::new(Int64Array::from(vec![Some(40), None])));
    let batch =
        RecordBatch::try_new(grown.schema.arrow_schema(), cols).unwrap_or_else(|e| panic!("{e}"));
    insert(&node, &grown, batch).await;

    let mut want: Vec<(i64, Option<i64>)> = (0..20).map(|i| (i, Some(3))).collect();
    want.extend([(20, Some(40)), (21, None)]);
    assert_eq!(column_by_pk(&node, meta.id, 2), want);

    let mut shrunk = grown.clone();
    shrunk.schema.fields.remove(2);
    shrunk
        .schema
        .fields
        .push(FieldSchema::new(103, "m", DataType::Int64));
    assert!(node.evolve_schema(&shrunk).await.is_err());
    close(node).await;

    // Restart: the sealed segment (written before the field) and the WAL
    // records (logged before and after it) read the same.
    let e2 = Env {
        coord: coordinator(&e.meta),
        ..e
    };
    let node = open(
        &e2,
        config(e2.dir.path(), Duration::from_secs(600), 1 << 30),
    )
    .await;
    assert_eq!(column_by_pk(&node, meta.id, 2), want);
    close(node).await;
}
