//! Sealing growing segments into Parquet files, persisting delete masks and
//! graphs, swapping the manifest, and loading it all back at start-up.
//!
//! A seal never holds the collection's state lock while it copies or uploads:
//! it freezes the growing segments (new rows go to fresh ones), concatenates and
//! uploads them unlocked, then swaps the sealed versions in. Deletes that land
//! on a frozen segment meanwhile are carried over, because the swap takes the
//! segment's mask at swap time.

use std::sync::Arc;

use bytes::Bytes;
use quiver_index::Hnsw;
use quiver_storage::{
    batch_to_parquet, decode_bitmap, encode_bitmap, parquet_to_batch, MetaStore, ObjectStorage,
};

use super::collection::{seal_segment, CollectionData};
use super::manifest::{manifest_key, segment_prefix, Manifest, SegmentEntry};
use super::{build::BuildKey, DataNode};
use crate::catalog::CollectionMeta;
use crate::error::{QuiverError, Result};
use crate::indexnode::Built;
use crate::segment::{RowMask, Segment, SegmentId, SegmentState};

fn join<T>(r: std::result::Result<T, tokio::task::JoinError>) -> Result<T> {
    r.map_err(|e| QuiverError::Internal(format!("background task failed: {e}")))
}

/// Loads a collection's sealed segments (and graphs) named by its manifest.
pub async fn recover_collection(
    meta: &CollectionMeta,
    store_meta: &dyn MetaStore,
    store: &ObjectStorage,
) -> Result<CollectionData> {
    let data = CollectionData::new(meta.id, Arc::new(meta.schema.clone()))?;
    let Some(bytes) = store_meta.get(&manifest_key(meta.id))? else {
        return Ok(data);
    };
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| QuiverError::Internal(format!("corrupt manifest of {}: {e}", meta.id)))?;
    for entry in &manifest.segments {
        let parquet = store.get(&entry.data_key).await?;
        let batch =
            join(tokio::task::spawn_blocking(move || parquet_to_batch(parquet, None)).await)??;
        // Written before a field was added: read the new columns as their fill.
        let batch = meta.schema.conform(batch)?;
        let mask = match &entry.delete_key {
            Some(k) => {
                let (words, len) = decode_bitmap(&store.get(k).await?)?;
                RowMask::from_words(words, len)
            }
            None => RowMask::new(entry.rows),
        };
        let mut seg = Segment::sealed(entry.id, entry.partition, batch, mask);
        for (field, key) in &entry.indexes {
            let bytes = store.get(key).await?;
            let graph = join(tokio::task::spawn_blocking(move || Hnsw::from_bytes(&bytes)).await)??;
            seg.indexes.push((*field, Arc::new(graph)));
        }
        data.add_recovered(seg)?;
    }
    {
        let mut st = data.state.write();
        st.checkpoint_lsn = manifest.checkpoint_lsn;
        st.applied_lsn = manifest.checkpoint_lsn;
        st.files = manifest
            .segments
            .iter()
            .map(|e| (e.id, e.clone()))
            .collect();
    }
    Ok(data)
}

/// Seals all growing segments of `data` and persists everything up to the seal.
pub async fn seal_collection(node: &DataNode, data: &CollectionData) -> Result<()> {
    let _seal = data.seal_lock.lock().await;
    // 1. Freeze: fix the LSN this seal covers; new rows go to new segments.
    let (frozen, seal_lsn) = {
        let _order = data.write_order.lock();
        let mut st = data.state.write();
        let seal_lsn = st.applied_lsn;
        st.sealing_from = st.first_unsealed_lsn.take();
        let mut frozen = Vec::new();
        for seg in st.segments.iter_mut() {
            if !seg.is_sealed() && seg.rows > 0 {
                Arc::make_mut(seg).state = SegmentState::Frozen;
                frozen.push(seg.clone());
            }
        }
        st.segments.retain(|s| s.is_sealed() || s.rows > 0);
        (frozen, seal_lsn)
    };
    let result = persist_seal(node, data, frozen, seal_lsn).await;
    let mut st = data.state.write();
    match &result {
        Ok(()) => {
            st.checkpoint_lsn = st.checkpoint_lsn.max(seal_lsn);
            st.sealing_from = None;
        }
        Err(_) => {
            // Keep the WAL from this seal's start: nothing it covered is safe yet.
            let from = st.sealing_from.take();
            st.first_unsealed_lsn = match (st.first_unsealed_lsn, from) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
    }
    result
}

async fn persist_seal(
    node: &DataNode,
    data: &CollectionData,
    frozen: Vec<Arc<Segment>>,
    seal_lsn: u64,
) -> Result<()> {
    let store = node.store();
    // 2. Concatenate and upload each frozen segment, unlocked.
    let mut sealed = Vec::with_capacity(frozen.len());
    for g in frozen {
        let s = join(tokio::task::spawn_blocking(move || seal_segment(&g)).await)??;
        let batch = s.chunks[0].clone();
        let parquet = join(tokio::task::spawn_blocking(move || batch_to_parquet(&batch)).await)??;
        let data_key = format!("{}/data.parquet", segment_prefix(data.id, s.id));
        store.put(&data_key, parquet).await?;
        sealed.push((s, data_key));
    }
    // 3. Swap the sealed versions in, keeping deletes made meanwhile.
    {
        let mut st = data.state.write();
        for (s, data_key) in sealed {
            if let Some(slot) = st.segments.iter_mut().find(|x| x.id == s.id) {
                let mut s = s;
                s.deleted = Arc::new({
                    let mut m = (*slot.deleted).clone();
                    m.grow(s.rows);
                    m
                });
                let rows = s.rows;
                let id = s.id;
                let partition = s.partition;
                *slot = Arc::new(s);
                st.dirty_masks.insert(id);
                st.files.insert(
                    id,
                    SegmentEntry {
                        id,
                        partition,
                        rows,
                        data_key,
                        delete_key: None,
                        indexes: Vec::new(),
                        compacted_from: Vec::new(),
                    },
                );
            }
        }
    }
    let superseded = persist_masks(store, data).await?;
    // Every record up to `seal_lsn` is now in a sealed segment or a persisted mask.
    write_manifest_with(node.meta.as_ref(), data, Some(seal_lsn))?;
    delete_objects(store, superseded).await;
    Ok(())
}

/// Best-effort removal of objects no manifest references any more. Only call
/// after the manifest that stopped referencing them has been written.
pub(super) async fn delete_objects(store: &ObjectStorage, keys: Vec<String>) {
    for k in keys {
        if let Err(e) = store.delete(&k).await {
            tracing::debug!(key = %k, error = %e, "could not remove superseded object");
        }
    }
}

/// Uploads the delete masks changed since they were last persisted. Returns the
/// keys of the masks they supersede, to delete once the new manifest is written.
pub(super) async fn persist_masks(
    store: &ObjectStorage,
    data: &CollectionData,
) -> Result<Vec<String>> {
    let todo: Vec<(SegmentId, Vec<u8>, usize)> = {
        let mut st = data.state.write();
        let dirty: Vec<SegmentId> = st.dirty_masks.drain().collect();
        dirty
            .into_iter()
            .filter_map(|id| {
                st.segments
                    .iter()
                    .find(|s| s.id == id && s.is_sealed())
                    .map(|s| {
                        (
                            id,
                            encode_bitmap(s.deleted.words(), s.rows),
                            s.deleted.count(),
                        )
                    })
            })
            .collect()
    };
    let mut superseded = Vec::new();
    for (id, bytes, ones) in todo {
        let key = if ones == 0 {
            None
        } else {
            let key = format!(
                "{}/deletes-{}.bin",
                segment_prefix(data.id, id),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0)
            );
            if let Err(e) = store.put(&key, Bytes::from(bytes)).await {
                data.state.write().dirty_masks.insert(id);
                return Err(e.into());
            }
            Some(key)
        };
        let old = {
            let mut st = data.state.write();
            st.files
                .get_mut(&id)
                .and_then(|e| std::mem::replace(&mut e.delete_key, key))
        };
        superseded.extend(old);
    }
    Ok(superseded)
}

/// Writes the manifest from the collection's current persisted files.
pub fn write_manifest(meta: &dyn MetaStore, data: &CollectionData) -> Result<()> {
    write_manifest_with(meta, data, None)
}

fn write_manifest_with(
    meta: &dyn MetaStore,
    data: &CollectionData,
    checkpoint: Option<u64>,
) -> Result<()> {
    let manifest = {
        let st = data.state.read();
        let live: std::collections::HashSet<SegmentId> = st
            .segments
            .iter()
            .filter(|s| s.is_sealed())
            .map(|s| s.id)
            .collect();
        let mut segments: Vec<SegmentEntry> = st
            .files
            .values()
            .filter(|e| live.contains(&e.id))
            .cloned()
            .collect();
        segments.sort_by_key(|e| e.id);
        let checkpoint_lsn = checkpoint.unwrap_or_else(|| {
            // Everything applied before the oldest unpersisted change is covered.
            match (st.first_unsealed_lsn, st.sealing_from) {
                (None, None) => st.applied_lsn,
                (a, b) => a.into_iter().chain(b).min().unwrap_or(1).saturating_sub(1),
            }
        });
        Manifest {
            checkpoint_lsn,
            segments,
        }
    };
    let bytes = serde_json::to_vec(&manifest)
        .map_err(|e| QuiverError::Internal(format!("encode manifest: {e}")))?;
    meta.put(&manifest_key(data.id), bytes)?;
    Ok(())
}

/// Attaches a graph the index node built and wrote to object storage, and
/// records its key in the manifest.
pub async fn attach_index(
    node: &DataNode,
    data: &CollectionData,
    (coll, segment, field_id): BuildKey,
    index_id: i64,
    built: Built,
) -> Result<()> {
    let graph = Arc::new(built.graph);
    let key = built.graph_key;
    let _seal = data.seal_lock.lock().await;
    // DropIndex removes the index from the catalog before it takes the seal
    // lock to remove graphs: a build that ended in between must not attach.
    let wanted = node
        .coord
        .collection_by_id(coll)
        .is_some_and(|m| m.indexes.iter().any(|i| i.id == index_id));
    if !wanted {
        let _ = node.store().delete(&key).await;
        return Ok(());
    }
    {
        let mut st = data.state.write();
        let Some(slot) = st
            .segments
            .iter_mut()
            .find(|s| s.id == segment && s.is_sealed())
        else {
            return Ok(());
        };
        let s = Arc::make_mut(slot);
        s.indexes.retain(|(f, _)| *f != field_id);
        s.indexes.push((field_id, graph));
        if let Some(e) = st.files.get_mut(&segment) {
            e.indexes.retain(|(f, _)| *f != field_id);
            e.indexes.push((field_id, key));
        }
    }
    write_manifest(node.meta.as_ref(), data)
}
