//! The data role: ingest through the write-ahead log into growing segments,
//! seal them into Parquet segments on object storage, keep the manifests, and
//! recover all of it at start-up.
//!
//! Write path: validate (proxy) → WAL submit + apply to memory under the
//! collection's write-order lock → await the group-commit fsync → acknowledge.
//! Rows are visible to searches as soon as they are applied, and durable before
//! the client hears back.

mod build;
mod collection;
mod compact;
mod jobs;
pub mod manifest;
mod record;
mod retention;
mod seal;
pub mod tsafe;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::RecordBatch;
use parking_lot::{Mutex, RwLock};
use quiver_storage::{MetaStore, ObjectStorage, Wal, WalOptions};
use quiver_types::{PkValue, Timestamp};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use collection::{pk_values, CollectionData};
pub use record::WalRecord;

use crate::catalog::CollectionMeta;
use crate::error::{QuiverError, Result};
use crate::indexnode::IndexNode;
use crate::roles::Coordinator;
use crate::segment::PartitionId;

/// Data-role settings.
#[derive(Debug, Clone)]
pub struct DataNodeConfig {
    /// Directory of the write-ahead log.
    pub wal_dir: PathBuf,
    /// A growing segment is sealed once it holds this many bytes of row data.
    pub segment_max_bytes: usize,
    /// fsync before acknowledging writes.
    pub sync_wal: bool,
    /// A growing segment with no writes for this long is sealed.
    pub seal_idle: std::time::Duration,
    /// Index builds estimated above this many bytes are refused (index Failed).
    pub index_build_max_bytes: usize,
}

/// The data role.
pub struct DataNode {
    cfg: DataNodeConfig,
    /// Ids, timestamps, collection metadata and the index build table.
    coord: Arc<dyn Coordinator>,
    meta: Arc<dyn MetaStore>,
    store: ObjectStorage,
    wal: Wal,
    index_node: Arc<IndexNode>,
    collections: RwLock<HashMap<i64, Arc<CollectionData>>>,
    /// Failed attempts to persist a build, per build, for back-off.
    retries: Mutex<HashMap<build::BuildKey, u32>>,
    /// Recent manual compactions, for their state and plans.
    jobs: Mutex<jobs::Jobs>,
    /// Every background task (seals, compactions, builds, file removal,
    /// retention) runs under this tracker, so shutdown can stop and await them.
    tasks: TaskTracker,
    stop: CancellationToken,
}

impl DataNode {
    /// Opens the data role: loads every collection's sealed segments, then
    /// replays the WAL past each collection's checkpoint.
    pub async fn open(
        cfg: DataNodeConfig,
        coord: Arc<dyn Coordinator>,
        meta: Arc<dyn MetaStore>,
        store: ObjectStorage,
        index_node: Arc<IndexNode>,
    ) -> Result<Arc<DataNode>> {
        let mut collections = HashMap::new();
        for c in coord.all_collections() {
            let data = seal::recover_collection(&c, meta.as_ref(), &store).await?;
            collections.insert(c.id, Arc::new(data));
        }
        let after = collections
            .values()
            .map(|d| d.state.read().checkpoint_lsn)
            .min()
            .unwrap_or(0);
        let wal_dir = cfg.wal_dir.clone();
        let sync = cfg.sync_wal;
        let (wal, records) = tokio::task::spawn_blocking(move || {
            Wal::open(
                &wal_dir,
                WalOptions {
                    sync,
                    ..WalOptions::default()
                },
                after,
            )
        })
        .await
        .map_err(|e| QuiverError::Internal(e.to_string()))??;
        let replayed = records.len();
        for (lsn, bytes) in records {
            let rec = WalRecord::decode(&bytes)?;
            let Some(data) = collections.get(&rec.collection()) else {
                continue;
            };
            let mut st = data.state.write();
            if lsn <= st.checkpoint_lsn {
                continue;
            }
            data.tsafe.replayed(rec.ts());
            match rec {
                WalRecord::Insert {
                    partition, batch, ..
                } => {
                    let exists = coord
                        .collection_by_id(data.id)
                        .is_some_and(|m| m.partitions.iter().any(|p| p.id == partition));
                    if exists {
                        data.apply_insert(&mut st, lsn, partition, batch, || coord.next_id())?;
                    }
                }
                WalRecord::Delete { pks, .. } => {
                    data.apply_delete(&mut st, lsn, &pks);
                }
            }
        }
        if replayed > 0 {
            tracing::info!(records = replayed, "replayed write-ahead log");
        }
        let node = Arc::new(DataNode {
            cfg,
            coord,
            meta,
            store,
            wal,
            index_node,
            collections: RwLock::new(collections),
            retries: Mutex::new(HashMap::new()),
            jobs: Mutex::new(jobs::Jobs::default()),
            tasks: TaskTracker::new(),
            stop: CancellationToken::new(),
        });
        for c in node.coord.all_collections() {
            node.ensure_indexes(&c);
        }
        // Files of collections dropped before this start are not needed.
        node.truncate_wal()?;
        node.spawn_retention();
        Ok(node)
    }

    /// The data of a collection.
    pub fn collection(&self, id: i64) -> Result<Arc<CollectionData>> {
        self.collections
            .read()
            .get(&id)
            .cloned()
            .ok_or_else(|| QuiverError::Internal(format!("no data for collection {id}")))
    }

    /// Registers a new, empty collection.
    pub fn create_collection(&self, meta: &CollectionMeta) -> Result<()> {
        let data = CollectionData::new(meta.id, Arc::new(meta.schema.clone()))?;
        self.collections.write().insert(meta.id, Arc::new(data));
        Ok(())
    }

    /// Lays the collection's rows in memory out in its grown schema (see
    /// [`crate::roles::DataService::evolve_schema`]). Waits for a running seal
    /// or compaction and holds writes back while the chunks change.
    pub async fn evolve_schema(&self, meta: &CollectionMeta) -> Result<()> {
        let data = self.collection(meta.id)?;
        let _seal = data.seal_lock.lock().await;
        let _order = data.write_order.lock();
        let current = data.schema();
        if !meta.schema.fields.starts_with(&current.fields)
            || meta.schema.enable_dynamic_field != current.enable_dynamic_field
        {
            return Err(QuiverError::Internal(format!(
                "collection {}: a schema change may only append fields",
                meta.id
            )));
        }
        data.evolve(Arc::new(meta.schema.clone()))
    }

    /// Forgets a collection and removes its files.
    pub async fn drop_collection(&self, id: i64) -> Result<()> {
        self.coord.cancel_builds(id, None).await;
        let removed = self.collections.write().remove(&id);
        if removed.is_some() {
            self.meta.delete(&manifest::manifest_key(id))?;
            // Its unflushed records no longer hold the log.
            if let Err(e) = self.truncate_wal() {
                tracing::warn!(collection = id, error = %e, "wal truncation failed");
            }
            let store = self.store.clone();
            self.spawn(async move {
                if let Ok(keys) = store.list(&manifest::collection_prefix(id)).await {
                    for k in keys {
                        let _ = store.delete(&k).await;
                    }
                }
            });
        }
        Ok(())
    }

    /// Removes a partition's rows and persists the new manifest.
    pub async fn drop_partition(self: &Arc<Self>, coll: i64, partition: PartitionId) -> Result<()> {
        let data = self.collection(coll)?;
        let _seal = data.seal_lock.lock().await;
        data.drop_partition(partition);
        self.write_manifest(&data).await
    }

    /// Logs and applies inserts (one record per partition). Returns once
    /// durable, with the timestamp of the last record (0 when nothing was written).
    pub async fn insert(
        self: &Arc<Self>,
        coll: i64,
        parts: Vec<(PartitionId, RecordBatch)>,
    ) -> Result<Timestamp> {
        let data = self.collection(coll)?;
        let mut acks = Vec::with_capacity(parts.len());
        let mut seal_needed = false;
        let mut last_ts = 0;
        {
            let _order = data.write_order.lock();
            for (partition, batch) in parts {
                if batch.num_rows() == 0 {
                    continue;
                }
                let row_bytes = batch.get_array_memory_size() / batch.num_rows().max(1);
                data.tsafe.begin();
                let ts = self.coord.tso();
                let applied = (|| {
                    let rec = WalRecord::Insert {
                        collection: coll,
                        ts,
                        partition,
                        batch,
                    };
                    let (lsn, ack) = self.wal.submit(rec.encode()?)?;
                    let WalRecord::Insert { batch, .. } = rec else {
                        unreachable!("constructed above")
                    };
                    let mut st = data.state.write();
                    let rows =
                        data.apply_insert(&mut st, lsn, partition, batch, || self.coord.next_id())?;
                    Ok::<_, QuiverError>((rows, ack))
                })();
                data.tsafe.end(ts);
                let (rows, ack) = applied?;
                seal_needed |= rows.saturating_mul(row_bytes.max(1)) >= self.cfg.segment_max_bytes;
                acks.push(ack);
                last_ts = ts;
            }
        }
        for ack in acks {
            ack.await?;
        }
        if seal_needed {
            let this = self.clone();
            let id = coll;
            self.spawn(async move {
                if let Err(e) = this.flush(id).await {
                    tracing::warn!(collection = id, error = %e, "automatic seal failed");
                }
            });
        }
        Ok(last_ts)
    }

    /// Logs and applies a delete of these primary keys; returns rows deleted
    /// and the record's timestamp (0 when there was nothing to delete).
    pub async fn delete(&self, coll: i64, pks: Vec<PkValue>) -> Result<(usize, Timestamp)> {
        let data = self.collection(coll)?;
        if pks.is_empty() {
            return Ok((0, 0));
        }
        let (n, ack, ts) = {
            let _order = data.write_order.lock();
            data.tsafe.begin();
            let ts = self.coord.tso();
            let applied = (|| {
                let rec = WalRecord::Delete {
                    collection: coll,
                    ts,
                    pks,
                };
                let (lsn, ack) = self.wal.submit(rec.encode()?)?;
                let WalRecord::Delete { pks, .. } = rec else {
                    unreachable!("constructed above")
                };
                let mut st = data.state.write();
                Ok::<_, QuiverError>((data.apply_delete(&mut st, lsn, &pks), ack))
            })();
            data.tsafe.end(ts);
            let (n, ack) = applied?;
            (n, ack, ts)
        };
        ack.await?;
        Ok((n, ts))
    }

    /// Seals every growing segment of a collection and persists it; then
    /// schedules index builds for the new segments.
    pub async fn flush(self: &Arc<Self>, coll: i64) -> Result<()> {
        let data = self.collection(coll)?;
        seal::seal_collection(self, &data).await?;
        self.truncate_wal()?;
        if let Some(meta) = self.coord.collection_by_id(coll) {
            self.ensure_indexes(&meta);
        }
        let this = self.clone();
        self.spawn(async move {
            if let Err(e) = this.compact(coll).await {
                tracing::warn!(collection = coll, error = %e, "compaction failed");
            }
        });
        Ok(())
    }

    /// Merges small sealed segments and drops deleted rows; then indexes the result.
    pub async fn compact(self: &Arc<Self>, coll: i64) -> Result<usize> {
        let data = self.collection(coll)?;
        let n = compact::compact_collection(self, &data, self.seal_rows(&data)).await?;
        if n > 0 {
            if let Some(meta) = self.coord.collection_by_id(coll) {
                self.ensure_indexes(&meta);
            }
        }
        Ok(n)
    }

    /// TruncateCollection: deletes every row (one logged delete, so a replay
    /// cannot bring them back), seals, and drops every sealed segment left
    /// without a live row, files included, as Milvus does (no segment of the
    /// old data is listed afterwards). Rows inserted meanwhile stay.
    pub async fn truncate(self: &Arc<Self>, coll: i64) -> Result<Timestamp> {
        let data = self.collection(coll)?;
        let pks: Vec<PkValue> = data.state.read().pk_index.keys().cloned().collect();
        let (_, ts) = self.delete(coll, pks).await?;
        self.flush(coll).await?;
        let _seal = data.seal_lock.lock().await;
        let empty: Vec<_> = data
            .snapshot()
            .iter()
            .filter(|s| s.is_sealed() && s.live_rows() == 0)
            .map(|s| s.id)
            .collect();
        for id in empty {
            // A merge of nothing but deleted rows writes no segment.
            compact::merge(self, &data, &[id], self.coord.next_id()).await?;
        }
        Ok(if ts == 0 { self.coord.tso() } else { ts })
    }

    /// Starts a manual compaction (see [`crate::roles::DataService::compact`]).
    pub async fn compact_job(
        self: &Arc<Self>,
        coll: i64,
        req: crate::roles::CompactRequest,
    ) -> Result<crate::roles::CompactionJob> {
        let data = self.collection(coll)?;
        jobs::start_job(self, &data, req, self.seal_rows(&data)).await
    }

    /// A manual compaction started on this node, while it is remembered.
    pub fn compaction(&self, job: i64) -> Option<crate::roles::CompactionJob> {
        self.jobs.lock().get(job)
    }

    /// The manual compactions of a collection this node still remembers.
    pub fn compactions(&self, coll: i64) -> Vec<crate::roles::CompactionJob> {
        self.jobs.lock().of_collection(coll)
    }

    /// Rows a full segment of this collection holds, estimated from its
    /// first non-empty segment's bytes per row.
    fn seal_rows(&self, data: &CollectionData) -> usize {
        let row_bytes = data
            .snapshot()
            .iter()
            .find(|s| s.rows > 0)
            .map(|s| s.memory_bytes() / s.rows)
            .unwrap_or(1)
            .max(1);
        self.cfg.segment_max_bytes / row_bytes
    }

    /// Writes the collection's manifest from its current state.
    async fn write_manifest(&self, data: &CollectionData) -> Result<()> {
        seal::write_manifest(self.meta.as_ref(), data)
    }

    /// Runs `task` in the background, owned by this node: it is dropped at its
    /// next await once [`DataNode::shutdown`] starts. Seals and compactions
    /// are safe to drop anywhere (the manifest swap is atomic and the WAL
    /// keeps everything a dropped seal had not checkpointed).
    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let stop = self.stop.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = task => {}
            }
        });
    }

    /// Stops background work: drops seals, compactions, index builds (which
    /// stop their builder as they are dropped) and the retention loop at their
    /// next await, and waits (up to `within`) for all of them to end.
    /// Acknowledged writes are in the WAL already.
    pub async fn shutdown(&self, within: std::time::Duration) -> bool {
        self.stop.cancel();
        self.tasks.close();
        tokio::time::timeout(within, self.tasks.wait())
            .await
            .is_ok()
    }

    /// The object store, for the seal module.
    fn store(&self) -> &ObjectStorage {
        &self.store
    }
}

#[cfg(test)]
mod tests;
