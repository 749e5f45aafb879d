//! A data node, query node and coordinator over a temporary directory, and the
//! small collection (int64 pk, 8-d vectors, an int64 `tag`) every test uses.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, FixedSizeListArray, Float32Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType as ArrowType, Field};
use quiver_engine::catalog::{Catalog, CollectionMeta, PartitionMeta};
use quiver_engine::coord::LocalCoordinator;
use quiver_engine::datanode::{DataNode, DataNodeConfig};
use quiver_engine::indexnode::IndexNode;
use quiver_engine::querynode::{FilterCache, QueryNode};
use quiver_engine::roles::{
    CompactRequest, CompactionJob, Coordinator, DataService, FilterExpr, LocalData, OutputSpec,
    Queries, QueryRequest, QueryService, SearchRequest,
};
use quiver_index::Metric;
use quiver_storage::{
    CollectionSchema, DataType, FieldSchema, MemoryMetaStore, MetaStore, ObjectStorage,
};
use quiver_types::PkValue;

pub const DIM: usize = 8;
pub const VEC_FIELD: i64 = 101;
pub const TAG_FIELD: i64 = 102;

/// Unwraps or fails the test with the error's text.
pub fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// Where a node's state lives; survives "restarts" of the node.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub meta: Arc<dyn MetaStore>,
    pub store: ObjectStorage,
}

impl Env {
    /// Local files under a temporary directory.
    pub fn local() -> Env {
        let dir = ok(tempfile::tempdir());
        let store = ok(ObjectStorage::from_uri("", dir.path()));
        Env::with_store(dir, store)
    }

    /// `memory://` object storage (the WAL stays on disk).
    pub fn memory() -> Env {
        let dir = ok(tempfile::tempdir());
        let store = ok(ObjectStorage::from_uri("memory://", dir.path()));
        Env::with_store(dir, store)
    }

    fn with_store(dir: tempfile::TempDir, store: ObjectStorage) -> Env {
        Env {
            dir,
            meta: Arc::new(MemoryMetaStore::default()),
            store,
        }
    }
}

/// One running engine.
pub struct Node {
    pub coord: Arc<dyn Coordinator>,
    pub data: Arc<DataNode>,
    pub local: LocalData,
    pub query: QueryNode,
}

impl Node {
    /// Opens (or recovers) the engine over `env`; `segment_max_bytes` small
    /// makes inserts seal on their own.
    pub async fn open(env: &Env, segment_max_bytes: usize) -> Node {
        let coord: Arc<dyn Coordinator> = Arc::new(ok(LocalCoordinator::new(Arc::new(ok(
            Catalog::open(env.meta.clone()),
        )))));
        let index = Arc::new(ok(IndexNode::new(env.store.clone(), 1)));
        let data = ok(DataNode::open(
            DataNodeConfig {
                wal_dir: env.dir.path().join("wal"),
                segment_max_bytes,
                sync_wal: false,
                seal_idle: Duration::from_secs(600),
                index_build_max_bytes: 1 << 30,
            },
            coord.clone(),
            env.meta.clone(),
            env.store.clone(),
            index,
        )
        .await);
        let query = QueryNode::new(
            data.clone(),
            coord.clone(),
            Default::default(),
            Arc::new(FilterCache::default()),
        );
        Node {
            coord,
            local: LocalData(data.clone()),
            data,
            query,
        }
    }

    /// Creates the test collection `name` in the coordinator and the data node.
    pub async fn create(&self, name: &str) -> CollectionMeta {
        let c = &self.coord;
        let mut pk = FieldSchema::new(100, "id", DataType::Int64);
        pk.is_primary = true;
        let mut v = FieldSchema::new(VEC_FIELD, "v", DataType::FloatVector);
        v.dim = Some(DIM);
        let tag = FieldSchema::new(TAG_FIELD, "tag", DataType::Int64);
        let meta = CollectionMeta {
            id: c.next_id(),
            db: "default".into(),
            name: name.into(),
            schema: CollectionSchema {
                name: name.into(),
                description: String::new(),
                fields: vec![pk, v, tag],
                enable_dynamic_field: false,
            },
            schema_proto: vec![],
            shards_num: 1,
            consistency_level: 0,
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
            loaded: true,
            loaded_partitions: vec![],
            replica_group: String::new(),
        };
        assert!(ok(c.create_collection(meta.clone()).await));
        ok(self.data.create_collection(&meta));
        meta
    }

    /// Stops the node once its background tasks let go, so the next open owns the WAL.
    pub async fn close(self) {
        assert!(
            self.data.shutdown(Duration::from_secs(30)).await,
            "background tasks did not stop"
        );
        let Node { data, local, .. } = self;
        drop(local);
        for _ in 0..400 {
            if Arc::strong_count(&data) <= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        drop(data);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    /// Runs a manual compaction to its end (up to ten seconds); returns the
    /// finished job.
    pub async fn compact(&self, coll: i64, req: CompactRequest) -> CompactionJob {
        let job = ok(self.local.compact(coll, req).await);
        for _ in 0..400 {
            let j = ok(self.local.compaction(job.id).await).expect("job is remembered");
            if j.done() {
                return j;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("compaction {} did not finish", job.id);
    }

    /// Every live primary key (Strong consistency), in key order.
    pub async fn all_ids(&self, meta: &CollectionMeta) -> Vec<i64> {
        let out = ok(self
            .query
            .query(QueryRequest {
                collection_id: meta.id,
                partitions: None,
                filter: FilterExpr::new("id >= 0", Default::default()),
                pks: None,
                limit: None,
                offset: 0,
                count_only: false,
                ignore_growing: false,
                output: vec![],
                guarantee_ts: self.coord.tso(),
                deadline: None,
            })
            .await);
        out.ids.iter().map(int).collect()
    }

    /// Top-`k` ids and distances for `q` (L2, graphs when built).
    pub async fn search(
        &self,
        meta: &CollectionMeta,
        q: Vec<f32>,
        k: usize,
    ) -> (Vec<i64>, Vec<f32>) {
        let out = ok(self
            .query
            .search(SearchRequest {
                collection_id: meta.id,
                partitions: None,
                field_id: VEC_FIELD,
                metric: Metric::L2,
                use_index: true,
                queries: Queries::Dense(vec![q]),
                limit: k,
                ef: 64,
                filter: None,
                range: None,
                group_by: None,
                ignore_growing: false,
                output: vec![OutputSpec::Field(TAG_FIELD)],
                guarantee_ts: self.coord.tso(),
                deadline: None,
            })
            .await);
        (out.ids.iter().map(int).collect(), out.dists)
    }
}

pub fn int(p: &PkValue) -> i64 {
    match p {
        PkValue::Int(v) => *v,
        PkValue::Str(s) => panic!("string key {s} in an int64 collection"),
    }
}

/// The vector of row `id` at `version` (a function of both, so any copy can
/// be checked; distinct ids get distinct vectors).
pub fn vector(id: i64, version: i64) -> Vec<f32> {
    (0..DIM)
        .map(|d| (id as f32 * 0.618 + d as f32 * 1.37 + version as f32 * 0.31).sin())
        .collect()
}

/// Rows `ids`, each with `tag = version`.
pub fn rows(ids: &[i64], version: i64) -> RecordBatch {
    let values: Vec<f32> = ids.iter().flat_map(|&id| vector(id, version)).collect();
    let item = Arc::new(Field::new("item", ArrowType::Float32, false));
    let vecs = ok(FixedSizeListArray::try_new(
        item,
        DIM as i32,
        Arc::new(Float32Array::from(values)),
        None,
    ));
    ok(RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef),
        ("v", Arc::new(vecs) as ArrayRef),
        (
            "tag",
            Arc::new(Int64Array::from(vec![version; ids.len()])) as ArrayRef,
        ),
    ]))
}
