//! Index build scheduling: which sealed segments need a graph, what happens
//! when a build ends, and how DescribeIndex learns about it.
//!
//! A build ends in one of three ways, and each needs a different answer:
//! - it succeeded: the graph is persisted and attached to its segment;
//! - it was refused for a reason that will not change (the builder rejected the
//!   parameters, the memory estimate is above the bound, the builder panicked):
//!   the index is marked Failed in the catalog with the reason, which
//!   DescribeIndex reports as Milvus's `IndexState.Failed` so pymilvus's
//!   `create_index` raises instead of waiting forever. Failed indexes are never
//!   scheduled again, at start-up included; dropping and re-creating the index
//!   starts afresh;
//! - persisting the graph failed (object storage, metadata store): that is
//!   transient, so the segment is tried again with exponential back-off.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::manifest::segment_prefix;
use super::{seal, CollectionData, DataNode};
use crate::catalog::{CollectionChange, CollectionMeta, IndexKind};
use crate::error::Result;
use crate::indexnode::{BuildError, BuildTask};
pub(super) use crate::roles::BuildKey;

/// First wait before retrying a transient failure; doubled per attempt.
const RETRY_BASE: Duration = Duration::from_secs(2);
/// Longest wait between retries of one segment.
const RETRY_MAX: Duration = Duration::from_secs(60);

/// How often a build in flight reports its progress to the coordinator (and
/// so how soon it learns that it was cancelled).
const REPORT_EVERY: Duration = Duration::from_millis(50);

/// How long to wait before the `attempt`-th retry (1-based).
pub(super) fn retry_delay(attempt: u32) -> Duration {
    RETRY_BASE
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(5))
        .min(RETRY_MAX)
}

impl DataNode {
    /// Starts builds for sealed segments that lack an HNSW graph the catalog
    /// asks for. Indexes marked Failed are skipped; a build already in the
    /// coordinator's table is not started twice.
    pub fn ensure_indexes(self: &Arc<Self>, coll: &CollectionMeta) {
        let Ok(data) = self.collection(coll.id) else {
            return;
        };
        for idx in coll
            .indexes
            .iter()
            .filter(|i| i.kind == IndexKind::Hnsw && i.fail_reason.is_none())
        {
            let Some(field) = coll.schema.fields.iter().find(|f| f.id == idx.field_id) else {
                continue;
            };
            let metric = idx.metric.unwrap_or(quiver_index::Metric::L2);
            for seg in data.snapshot() {
                if !seg.is_sealed() || seg.index_for(idx.field_id).is_some() || seg.rows == 0 {
                    continue;
                }
                // The task names the sealed file; a segment whose file is not
                // recorded yet (a seal in progress) is picked up after the seal.
                let Some(segment_key) = data
                    .state
                    .read()
                    .files
                    .get(&seg.id)
                    .map(|e| e.data_key.clone())
                else {
                    continue;
                };
                let key = (coll.id, seg.id, idx.field_id);
                let task = BuildTask {
                    segment_key,
                    column: field.name.clone(),
                    graph_key: format!(
                        "{}/index-{}-{}.bin",
                        segment_prefix(coll.id, seg.id),
                        idx.field_id,
                        idx.id
                    ),
                    dim: field.dim.unwrap_or(0),
                    metric,
                    params: quiver_index::HnswParams {
                        m: idx.m,
                        ef_construction: idx.ef_construction,
                    },
                    progress: Arc::new(AtomicUsize::new(0)),
                    cancel: Arc::new(AtomicBool::new(false)),
                    max_bytes: self.cfg.index_build_max_bytes,
                };
                let this = self.clone();
                let data = data.clone();
                let index_id = idx.id;
                self.spawn(async move {
                    if this.coord.claim_build(key).await {
                        this.run_build(data, key, index_id, task).await;
                    }
                });
            }
        }
    }

    /// Runs one claimed build to its end, reporting its progress to the
    /// coordinator (whose answer says whether it was cancelled), and acts on
    /// how it ended (see the module doc).
    async fn run_build(
        self: Arc<Self>,
        data: Arc<CollectionData>,
        key: BuildKey,
        index_id: i64,
        task: BuildTask,
    ) {
        let progress = task.progress.clone();
        // Dropped with this future (shutdown), the guard stops the builder,
        // which runs on its own pool and would otherwise go on.
        let cancel = CancelOnDrop(task.cancel.clone());
        let build = self.index_node.build(task);
        tokio::pin!(build);
        let mut tick = tokio::time::interval(REPORT_EVERY);
        let outcome = loop {
            tokio::select! {
                out = &mut build => break out,
                _ = tick.tick() => {
                    if !self.coord.report_build(key, progress.load(Ordering::Relaxed)).await {
                        cancel.0.store(true, Ordering::Relaxed);
                    }
                }
            }
        };
        let cancelled = self.coord.end_build(key).await;
        let ended = match outcome {
            Ok(built) if cancelled => {
                let _ = self.store.delete(&built.graph_key).await;
                Ended::Cancelled
            }
            Ok(built) => match seal::attach_index(&self, &data, key, index_id, built).await {
                Ok(()) => Ended::Attached,
                Err(e) => Ended::PersistFailed(e.to_string()),
            },
            Err(BuildError::Cancelled | BuildError::ShuttingDown) => Ended::Cancelled,
            Err(BuildError::Rejected(reason)) => Ended::Rejected(reason),
            Err(BuildError::Storage(e)) => Ended::PersistFailed(e),
        };
        match ended {
            Ended::Attached | Ended::Cancelled => {
                self.retries.lock().remove(&key);
            }
            _ if cancelled => {
                self.retries.lock().remove(&key);
            }
            Ended::PersistFailed(e) => self.retry_later(key, &e).await,
            Ended::Rejected(reason) => {
                tracing::warn!(collection = key.0, segment = key.1, %reason, "index build failed");
                self.retries.lock().remove(&key);
                self.mark_index_failed(key.0, index_id, reason).await;
            }
        }
    }

    /// Schedules another attempt at a build whose graph could not be persisted.
    async fn retry_later(self: &Arc<Self>, key: BuildKey, error: &str) {
        let attempt = {
            let mut r = self.retries.lock();
            let n = r.entry(key).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        let delay = retry_delay(attempt);
        tracing::warn!(
            collection = key.0,
            segment = key.1,
            attempt,
            ?delay,
            error,
            "persisting an index failed; retrying"
        );
        tokio::time::sleep(delay).await;
        if let Some(meta) = self.coord.collection_by_id(key.0) {
            self.ensure_indexes(&meta);
        }
    }

    /// Records in the catalog that an index failed, so it is reported and
    /// never scheduled again (a later record of the same index keeps the first reason).
    async fn mark_index_failed(&self, coll: i64, index_id: i64, reason: String) {
        let change = CollectionChange::IndexFailed { index_id, reason };
        if let Err(e) = self.coord.alter_collection(coll, change).await {
            tracing::warn!(collection = coll, error = %e, "could not record a failed index");
        }
    }

    /// (indexed_rows, total_rows, pending_rows) of the index on `field_id`:
    /// sealed segments with the graph count as indexed, builds in flight by
    /// the rows they report to the coordinator.
    pub async fn index_progress(&self, coll: i64, field_id: i64) -> (usize, usize, usize) {
        let Ok(data) = self.collection(coll) else {
            return (0, 0, 0);
        };
        let in_flight = self.coord.builds_in_flight(coll, field_id).await;
        let (mut indexed, mut total, mut pending) = (0, 0, 0);
        for seg in data.snapshot() {
            total += seg.rows;
            if !seg.is_sealed() {
                continue;
            }
            if seg.index_for(field_id).is_some() {
                indexed += seg.rows;
            } else {
                let done = in_flight
                    .iter()
                    .find(|(s, _)| *s == seg.id)
                    .map(|(_, rows)| (*rows).min(seg.rows))
                    .unwrap_or(0);
                indexed += done;
                pending += seg.rows - done;
            }
        }
        (indexed, total, pending)
    }

    /// Cancels builds and removes graphs of the index on `field_id`.
    pub async fn drop_index(&self, coll: i64, field_id: i64) -> Result<()> {
        self.coord.cancel_builds(coll, Some(field_id)).await;
        self.retries
            .lock()
            .retain(|(c, _, f), _| !(*c == coll && *f == field_id));
        let data = self.collection(coll)?;
        let _seal = data.seal_lock.lock().await;
        let keys = {
            let mut st = data.state.write();
            let mut keys = Vec::new();
            for seg in st.segments.iter_mut() {
                if seg.index_for(field_id).is_some() {
                    Arc::make_mut(seg).indexes.retain(|(f, _)| *f != field_id);
                }
            }
            for entry in st.files.values_mut() {
                entry.indexes.retain(|(f, k)| {
                    if *f == field_id {
                        keys.push(k.clone());
                    }
                    *f != field_id
                });
            }
            keys
        };
        self.write_manifest(&data).await?;
        for k in keys {
            let _ = self.store.delete(&k).await;
        }
        Ok(())
    }

    /// Cancels the collection's index builds in flight (ReleaseCollection); the
    /// next load or flush starts them again.
    pub async fn cancel_index_builds(&self, coll: i64) {
        self.coord.cancel_builds(coll, None).await;
    }
}

/// Sets a builder's cancel flag when dropped.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// How one build ended.
enum Ended {
    Attached,
    Cancelled,
    /// Not worth retrying; the index is marked Failed with this reason.
    Rejected(String),
    /// The graph was built but could not be persisted: retried with back-off.
    PersistFailed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_up_to_a_minute() {
        assert_eq!(retry_delay(1), Duration::from_secs(2));
        assert_eq!(retry_delay(2), Duration::from_secs(4));
        assert_eq!(retry_delay(5), Duration::from_secs(32));
        assert_eq!(retry_delay(6), RETRY_MAX);
        assert_eq!(retry_delay(u32::MAX), RETRY_MAX);
    }
}
