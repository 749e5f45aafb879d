//! The per-collection manifest: which sealed segments exist and where their
//! files are, plus the WAL position they cover.
//!
//! Segment files are immutable and written before the manifest that names them;
//! the manifest is one metadata record replaced atomically, so a crash leaves
//! either the old or the new set of segments, never a mix.

use serde::{Deserialize, Serialize};

use crate::catalog::KEY_PREFIX;
use crate::segment::{PartitionId, SegmentId};

/// One persisted sealed segment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SegmentEntry {
    pub id: SegmentId,
    pub partition: PartitionId,
    pub rows: usize,
    /// Parquet file with every column.
    pub data_key: String,
    /// Delete mask, if any row was deleted when it was last persisted.
    pub delete_key: Option<String>,
    /// Serialized HNSW graphs: (vector field id, object key).
    pub indexes: Vec<(i64, String)>,
    /// The segments a compaction merged into this one (Milvus's
    /// `compaction_from`); empty for a sealed growing segment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compacted_from: Vec<SegmentId>,
}

/// A collection's manifest.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// Every WAL record of this collection up to here is reflected in `segments`.
    pub checkpoint_lsn: u64,
    pub segments: Vec<SegmentEntry>,
}

/// Metadata key of a collection's manifest.
pub fn manifest_key(collection: i64) -> String {
    format!("{KEY_PREFIX}manifest/{collection:020}")
}

/// Object key prefix of a segment's files.
pub fn segment_prefix(collection: i64, segment: SegmentId) -> String {
    format!("collections/{collection}/segments/{segment}")
}

/// Object key prefix of everything a collection stored.
pub fn collection_prefix(collection: i64) -> String {
    format!("collections/{collection}/")
}
