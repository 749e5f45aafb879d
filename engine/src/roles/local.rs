//! The in-process implementations of the data and index services: the
//! standalone wiring calls the data node directly, with no copies beyond what
//! the traits' plain-data results need.

use std::sync::Arc;

use arrow::array::RecordBatch;
use async_trait::async_trait;
use quiver_types::{CollectionId, PartitionId, PkValue, Timestamp};

use super::{CompactRequest, CompactionJob, DataService, IndexProgress, IndexService, SegmentInfo};
use crate::catalog::CollectionMeta;
use crate::datanode::DataNode;
use crate::error::Result;

/// The data node behind [`DataService`] and [`IndexService`].
#[derive(Clone)]
pub struct LocalData(pub Arc<DataNode>);

#[async_trait]
impl DataService for LocalData {
    async fn create_collection(&self, meta: &CollectionMeta) -> Result<()> {
        self.0.create_collection(meta)
    }

    async fn evolve_schema(&self, meta: &CollectionMeta) -> Result<()> {
        self.0.evolve_schema(meta).await
    }

    async fn drop_collection(&self, id: CollectionId) -> Result<()> {
        self.0.drop_collection(id).await
    }

    async fn drop_partition(&self, id: CollectionId, partition: PartitionId) -> Result<()> {
        self.0.drop_partition(id, partition).await
    }

    async fn insert(
        &self,
        id: CollectionId,
        parts: Vec<(PartitionId, RecordBatch)>,
    ) -> Result<Timestamp> {
        self.0.insert(id, parts).await
    }

    async fn delete(&self, id: CollectionId, pks: Vec<PkValue>) -> Result<(usize, Timestamp)> {
        self.0.delete(id, pks).await
    }

    async fn truncate(&self, id: CollectionId) -> Result<Timestamp> {
        self.0.truncate(id).await
    }

    async fn flush(&self, id: CollectionId) -> Result<()> {
        self.0.flush(id).await
    }

    async fn compact(&self, id: CollectionId, req: CompactRequest) -> Result<CompactionJob> {
        self.0.compact_job(id, req).await
    }

    async fn compaction(&self, job: i64) -> Result<Option<CompactionJob>> {
        Ok(self.0.compaction(job))
    }

    async fn compactions(&self, id: CollectionId) -> Result<Vec<CompactionJob>> {
        Ok(self.0.compactions(id))
    }

    async fn segments(&self, id: CollectionId) -> Result<Vec<SegmentInfo>> {
        let data = self.0.collection(id)?;
        let st = data.state.read();
        Ok(st
            .segments
            .iter()
            .map(|s| SegmentInfo {
                id: s.id,
                partition: s.partition,
                live_rows: s.live_rows(),
                memory_bytes: s.memory_bytes(),
                sealed: s.is_sealed(),
                indexed_fields: s.indexes.iter().map(|(f, _)| *f).collect(),
                compacted_from: st
                    .files
                    .get(&s.id)
                    .map(|e| e.compacted_from.clone())
                    .unwrap_or_default(),
            })
            .collect())
    }
}

#[async_trait]
impl IndexService for LocalData {
    async fn ensure_indexes(&self, meta: &CollectionMeta) -> Result<()> {
        self.0.ensure_indexes(meta);
        Ok(())
    }

    async fn progress(&self, id: CollectionId, field_id: i64) -> Result<IndexProgress> {
        let (indexed_rows, total_rows, pending_rows) = self.0.index_progress(id, field_id).await;
        Ok(IndexProgress {
            indexed_rows,
            total_rows,
            pending_rows,
        })
    }

    async fn drop_index(&self, id: CollectionId, field_id: i64) -> Result<()> {
        self.0.drop_index(id, field_id).await
    }

    async fn cancel_builds(&self, id: CollectionId) -> Result<()> {
        self.0.cancel_index_builds(id).await;
        Ok(())
    }
}
