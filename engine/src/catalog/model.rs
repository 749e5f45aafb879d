//! The catalog's persisted records: databases, collections (with partitions,
//! indexes and load state) and aliases.
//!
//! Records are serde structs stored as JSON under versioned keys, so a later
//! format can be migrated by key prefix rather than by guessing.

use quiver_index::Metric;
use quiver_storage::CollectionSchema;
use serde::{Deserialize, Serialize};

use crate::segment::PartitionId;

/// Key prefix of format version 1.
pub const KEY_PREFIX: &str = "v1/";

/// A database.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatabaseMeta {
    pub id: i64,
    pub name: String,
    pub created_ts: u64,
    pub properties: Vec<(String, String)>,
}

/// A partition of a collection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartitionMeta {
    pub id: PartitionId,
    pub name: String,
    pub created_ts: u64,
}

/// The index kinds Quiver serves. Other Milvus names map onto the nearest one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndexKind {
    Hnsw,
    Flat,
    /// A scalar index (INVERTED, STL_SORT, …, or a JSON path index): sealed
    /// segments build it on first use and narrow filters on its field or path
    /// with it (`Segment::scalar`); growing segments scan.
    Scalar,
}

/// An index on one field.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexMeta {
    pub id: i64,
    pub name: String,
    pub field_id: i64,
    pub field_name: String,
    /// The user's parameters, echoed by DescribeIndex exactly as sent.
    pub params: Vec<(String, String)>,
    pub kind: IndexKind,
    /// The index type name the user asked for (e.g. "IVF_FLAT").
    pub index_type: String,
    #[serde(with = "metric_serde")]
    pub metric: Option<Metric>,
    pub m: usize,
    pub ef_construction: usize,
    pub created_ts: u64,
    /// Why building this index failed for good (Milvus `IndexState.Failed`);
    /// a failed index is never built again until dropped and re-created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_reason: Option<String>,
    /// A JSON path index's path below its field, as a JSON pointer ("" for
    /// the whole value); a JSON field (or `$meta`) holds one index per path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_path: Option<String>,
}

/// A collection and everything the catalog knows about it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CollectionMeta {
    pub id: i64,
    pub db: String,
    pub name: String,
    pub schema: CollectionSchema,
    /// The schema as the client sent it (protobuf bytes), with field ids
    /// filled in: DescribeCollection echoes it so the ORM's comparison holds.
    pub schema_proto: Vec<u8>,
    pub shards_num: i32,
    pub consistency_level: i32,
    pub properties: Vec<(String, String)>,
    pub created_ts: u64,
    pub updated_ts: u64,
    /// Stored under keys of their own (one small record per partition), not in
    /// the collection's record: rewriting every partition on every change made
    /// each partition cost ~100 KB of metadata. Old records that still embed
    /// them are read and migrated at open.
    #[serde(default, skip_serializing)]
    pub partitions: Vec<PartitionMeta>,
    /// `num_partitions` of a partition-key collection (0 otherwise).
    pub num_partitions: i64,
    pub indexes: Vec<IndexMeta>,
    pub loaded: bool,
    /// Partitions loaded one by one (LoadPartitions) while the collection itself isn't.
    pub loaded_partitions: Vec<PartitionId>,
    /// The resource group the loaded replica is placed in ("" is the
    /// default group; reset by a release).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub replica_group: String,
}

impl CollectionMeta {
    /// The partition called `name`.
    pub fn partition(&self, name: &str) -> Option<&PartitionMeta> {
        self.partitions.iter().find(|p| p.name == name)
    }

    /// The index on `field_name`.
    pub fn index_on(&self, field_name: &str) -> Option<&IndexMeta> {
        self.indexes.iter().find(|i| i.field_name == field_name)
    }

    /// Whether a partition is searchable.
    pub fn partition_loaded(&self, id: PartitionId) -> bool {
        self.loaded || self.loaded_partitions.contains(&id)
    }

    /// The resource group the loaded replica is placed in.
    pub fn resource_group(&self) -> &str {
        if self.replica_group.is_empty() {
            crate::roles::DEFAULT_RESOURCE_GROUP
        } else {
            &self.replica_group
        }
    }

    /// Whether anything of the collection is loaded.
    pub fn any_loaded(&self) -> bool {
        self.loaded || !self.loaded_partitions.is_empty()
    }

    /// Whether this is a partition-key collection.
    pub fn has_partition_key(&self) -> bool {
        self.schema.partition_key().is_some()
    }
}

/// An alias pointing at a collection by name within one database.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AliasMeta {
    pub db: String,
    pub alias: String,
    pub collection_id: i64,
}

mod metric_serde {
    use quiver_index::Metric;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(m: &Option<Metric>, s: S) -> Result<S::Ok, S::Error> {
        m.map(super::metric_name).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Metric>, D::Error> {
        let name: Option<String> = Option::deserialize(d)?;
        Ok(name.and_then(|n| Metric::parse(&n)))
    }
}

/// The Milvus spelling of a metric.
pub fn metric_name(m: Metric) -> &'static str {
    match m {
        Metric::L2 => "L2",
        Metric::Ip => "IP",
        Metric::Cosine => "COSINE",
    }
}
