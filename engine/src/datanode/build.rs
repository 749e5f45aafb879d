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
use crate::catalog::{CollectionMeta, IndexKind};
use crate::error::Result;
use crate::indexnode::{BuildError, BuildTask};
use crate::segment::SegmentId;

/// First wait before retrying a transient failure; doubled per attempt.
const RETRY_BASE: Duration = Duration::from_secs(2);
/// Longest wait between retries of one segment.
const RETRY_MAX: Duration = Duration::from_secs(60);

/// A build's identity: (collection, segment, field).
pub(super) type BuildKey = (i64, SegmentId, i64);

/// How long to wait before the `attempt`-th retry (1-based).
pub(super) fn retry_delay(attempt: u32) -> Duration {
    RETRY_BASE
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(5))
        .min(RETRY_MAX)
}

impl DataNode {
    /// Starts builds for sealed segments that lack an HNSW graph the catalog
    /// asks for. Indexes marked Failed are skipped.
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
            let Some(col) = coll.schema.column_index(&field.name) else {
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
                let progress = Arc::new(AtomicUsize::new(0));
                let cancel = Arc::new(AtomicBool::new(false));
                {
                    let mut b = self.builds.lock();
                    if b.contains_key(&key) {
                        continue;
                    }
                    b.insert(key, (progress.clone(), cancel.clone()));
                }
                let task = BuildTask {
                    segment_key,
                    column: col,
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
                    progress,
                    cancel,
                    max_bytes: self.cfg.index_build_max_bytes,
                };
                let this = self.clone();
                let data = data.clone();
                let index_id = idx.id;
                self.spawn(async move { this.run_build(data, key, index_id, task).await });
            }
        }
    }

    /// Runs one build to its end and acts on how it ended (see the module doc).
    async fn run_build(
        self: Arc<Self>,
        data: Arc<CollectionData>,
        key: BuildKey,
        index_id: i64,
        task: BuildTask,
    ) {
        let ended = match self.index_node.build(task).await {
            Ok(built) => match seal::attach_index(&self, &data, key.1, key.2, built).await {
                Ok(()) => Ended::Attached,
                Err(e) => Ended::PersistFailed(e.to_string()),
            },
            Err(BuildError::Cancelled | BuildError::ShuttingDown) => Ended::Cancelled,
            Err(BuildError::Rejected(reason)) => Ended::Rejected(reason),
            Err(BuildError::Storage(e)) => Ended::PersistFailed(e),
        };
        let cancelled = self
            .builds
            .lock()
            .remove(&key)
            .is_some_and(|(_, c)| c.load(Ordering::Relaxed));
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
                self.mark_index_failed(key.0, index_id, &reason);
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
        if let Some(meta) = self.catalog.collection_by_id(key.0) {
            self.ensure_indexes(&meta);
        }
    }

    /// Records in the catalog that an index failed, so it is reported and
    /// never scheduled again (a later record of the same index keeps the first reason).
    fn mark_index_failed(&self, coll: i64, index_id: i64, reason: &str) {
        let res = self.catalog.update_collection(coll, |m| {
            if let Some(i) = m.indexes.iter_mut().find(|i| i.id == index_id) {
                if i.fail_reason.is_none() {
                    i.fail_reason = Some(reason.to_string());
                }
            }
            Ok(())
        });
        if let Err(e) = res {
            tracing::warn!(collection = coll, error = %e, "could not record a failed index");
        }
    }

    /// (indexed_rows, total_rows, pending_rows) of the index on `field_id`.
    pub fn index_progress(&self, coll: i64, field_id: i64) -> (usize, usize, usize) {
        let Ok(data) = self.collection(coll) else {
            return (0, 0, 0);
        };
        let builds = self.builds.lock();
        let (mut indexed, mut total, mut pending) = (0, 0, 0);
        for seg in data.snapshot() {
            total += seg.rows;
            if !seg.is_sealed() {
                continue;
            }
            if seg.index_for(field_id).is_some() {
                indexed += seg.rows;
            } else {
                let done = builds
                    .get(&(coll, seg.id, field_id))
                    .map(|(p, _)| p.load(Ordering::Relaxed).min(seg.rows))
                    .unwrap_or(0);
                indexed += done;
                pending += seg.rows - done;
            }
        }
        (indexed, total, pending)
    }

    /// Cancels builds and removes graphs of the index on `field_id`.
    pub async fn drop_index(&self, coll: i64, field_id: i64) -> Result<()> {
        self.cancel_builds(|c, _, f| c == coll && f == field_id);
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
    pub fn cancel_index_builds(&self, coll: i64) {
        self.cancel_builds(|c, _, _| c == coll);
    }

    pub(super) fn cancel_builds(&self, pred: impl Fn(i64, SegmentId, i64) -> bool) {
        for ((c, s, f), (_, cancel)) in self.builds.lock().iter() {
            if pred(*c, *s, *f) {
                cancel.store(true, Ordering::Relaxed);
            }
        }
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
