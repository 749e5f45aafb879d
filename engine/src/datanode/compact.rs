//! Compaction: merge small sealed segments of a partition and drop deleted rows.
//!
//! Many small flushes leave many small segments (each searched separately) and
//! deletes leave dead rows behind. Compaction rewrites such segments into one,
//! without the dead rows, then swaps the manifest. Searches keep using their
//! snapshot meanwhile; deletes and upserts that land on the old segments while
//! the new one is written are carried over at the swap through the primary-key
//! index, so nothing acknowledged is lost or resurrected.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{RecordBatch, UInt32Array};
use arrow::compute::{concat_batches, take_record_batch};
use quiver_storage::batch_to_parquet;

use super::collection::{CollectionData, RowLoc};
use super::manifest::{segment_prefix, SegmentEntry};
use super::{seal, DataNode};
use crate::error::{QuiverError, Result};
use crate::segment::{RowMask, Segment, SegmentId};

/// Segments below this fraction of the seal size are "small".
pub(super) const SMALL_FRACTION: usize = 4;
/// Segments with at least this percentage of deleted rows are rewritten.
const DELETED_PERCENT: usize = 20;

/// The sealed segments of each partition, partitions in id order.
fn sealed_by_partition(segments: &[Arc<Segment>]) -> Vec<(i64, Vec<&Arc<Segment>>)> {
    let mut by_part: HashMap<i64, Vec<&Arc<Segment>>> = HashMap::new();
    for s in segments.iter().filter(|s| s.is_sealed()) {
        by_part.entry(s.partition).or_default().push(s);
    }
    let mut parts: Vec<_> = by_part.into_iter().collect();
    parts.sort_unstable_by_key(|(p, _)| *p);
    parts
}

/// Picks groups of segments worth rewriting: per partition, all small ones
/// (when there are two or more) plus any with many deleted rows.
pub fn plan(segments: &[Arc<Segment>], small_rows: usize) -> Vec<Vec<SegmentId>> {
    let mut groups = Vec::new();
    for (_, segs) in sealed_by_partition(segments) {
        let small: Vec<&Arc<Segment>> = segs
            .iter()
            .copied()
            .filter(|s| s.live_rows() < small_rows)
            .collect();
        let dirty: Vec<&Arc<Segment>> = segs
            .iter()
            .copied()
            .filter(|s| s.rows > 0 && s.deleted.count() * 100 >= s.rows * DELETED_PERCENT)
            .collect();
        let mut ids: Vec<SegmentId> = Vec::new();
        if small.len() >= 2 {
            ids.extend(small.iter().map(|s| s.id));
        }
        ids.extend(dirty.iter().map(|s| s.id));
        ids.sort_unstable();
        ids.dedup();
        if !ids.is_empty() {
            groups.push(ids);
        }
    }
    groups
}

/// Force merge: per partition, every sealed segment in id order, packed
/// greedily into groups of at most `target_bytes` (a segment larger than that
/// is a group of its own). Every segment lands in exactly one group.
pub fn force_plan(segments: &[Arc<Segment>], target_bytes: u64) -> Vec<Vec<SegmentId>> {
    let mut groups = Vec::new();
    for (_, mut segs) in sealed_by_partition(segments) {
        segs.sort_unstable_by_key(|s| s.id);
        let (mut group, mut bytes) = (Vec::new(), 0u64);
        for s in segs {
            let size = s.memory_bytes() as u64;
            if !group.is_empty() && bytes.saturating_add(size) > target_bytes {
                groups.push(std::mem::take(&mut group));
                bytes = 0;
            }
            group.push(s.id);
            bytes = bytes.saturating_add(size);
        }
        if !group.is_empty() {
            groups.push(group);
        }
    }
    groups
}

/// Compacts whatever [`plan`] selects. Returns the number of segments rewritten.
pub async fn compact_collection(
    node: &Arc<DataNode>,
    data: &Arc<CollectionData>,
    seal_rows: usize,
) -> Result<usize> {
    let _seal = data.seal_lock.lock().await;
    let groups = plan(&data.snapshot(), (seal_rows / SMALL_FRACTION).max(1));
    let mut rewritten = 0;
    for ids in groups {
        rewritten += ids.len();
        let target = node.coord.next_id();
        merge(node, data, &ids, target).await?;
    }
    Ok(rewritten)
}

/// Rewrites segments `ids` (one partition) into segment `new_id`, without
/// deleted rows.
pub(super) async fn merge(
    node: &Arc<DataNode>,
    data: &Arc<CollectionData>,
    ids: &[SegmentId],
    new_id: SegmentId,
) -> Result<()> {
    let olds: Vec<Arc<Segment>> = data
        .snapshot()
        .into_iter()
        .filter(|s| s.is_sealed() && ids.contains(&s.id))
        .collect();
    let Some(first) = olds.first() else {
        return Ok(());
    };
    let partition = first.partition;
    let compacted_from: Vec<SegmentId> = olds.iter().map(|s| s.id).collect();
    // Rows carried over: (old segment, old row) in new-row order.
    let mut moved: Vec<(SegmentId, u32)> = Vec::new();
    let mut parts: Vec<RecordBatch> = Vec::new();
    for s in &olds {
        let keep: Vec<u32> = (0..s.rows as u32)
            .filter(|r| !s.deleted.get(*r as usize))
            .collect();
        moved.extend(keep.iter().map(|r| (s.id, *r)));
        parts.push(take_record_batch(&s.chunks[0], &UInt32Array::from(keep))?);
    }
    let schema = data.schema().arrow_schema();
    let batch = tokio::task::spawn_blocking(move || concat_batches(&schema, &parts))
        .await
        .map_err(|e| QuiverError::Internal(e.to_string()))??;
    let data_key = format!("{}/data.parquet", segment_prefix(data.id, new_id));
    if batch.num_rows() > 0 {
        let b = batch.clone();
        let parquet = tokio::task::spawn_blocking(move || batch_to_parquet(&b))
            .await
            .map_err(|e| QuiverError::Internal(e.to_string()))??;
        node.store().put(&data_key, parquet).await?;
    }
    let pks = data.batch_pks(&batch)?;
    let old_keys: Vec<String>;
    {
        let mut st = data.state.write();
        let mut mask = RowMask::new(batch.num_rows());
        for (new_row, (pk, (seg, row))) in pks.into_iter().zip(moved.iter()).enumerate() {
            let old = RowLoc {
                segment: *seg,
                row: *row,
            };
            match st.pk_index.get_mut(&pk) {
                Some(loc) if *loc == old => {
                    *loc = RowLoc {
                        segment: new_id,
                        row: new_row as u32,
                    }
                }
                // Deleted or replaced while we were copying: keep it dead.
                _ => {
                    mask.set(new_row);
                }
            }
        }
        let doomed: HashSet<SegmentId> = ids.iter().copied().collect();
        st.segments.retain(|s| !doomed.contains(&s.id));
        old_keys = doomed
            .iter()
            .filter_map(|id| st.files.remove(id))
            .flat_map(|e| {
                let mut k = vec![e.data_key];
                k.extend(e.delete_key);
                k.extend(e.indexes.into_iter().map(|(_, k)| k));
                k
            })
            .collect();
        for id in &doomed {
            st.dirty_masks.remove(id);
        }
        if batch.num_rows() > 0 {
            let rows = batch.num_rows();
            let dirty = mask.count() > 0;
            st.segments
                .push(Arc::new(Segment::sealed(new_id, partition, batch, mask)));
            st.files.insert(
                new_id,
                SegmentEntry {
                    id: new_id,
                    partition,
                    rows,
                    data_key,
                    delete_key: None,
                    indexes: Vec::new(),
                    compacted_from,
                },
            );
            if dirty {
                st.dirty_masks.insert(new_id);
            }
        }
    }
    let mut superseded = seal::persist_masks(node.store(), data).await?;
    seal::write_manifest(node.meta.as_ref(), data)?;
    superseded.extend(old_keys);
    seal::delete_objects(node.store(), superseded).await;
    tracing::info!(
        collection = data.id,
        merged = ids.len(),
        segment = new_id,
        "compacted segments"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;

    fn seg(id: i64, part: i64, rows: usize, deleted: usize) -> Arc<Segment> {
        let b = RecordBatch::try_from_iter([(
            "id",
            Arc::new(Int64Array::from((0..rows as i64).collect::<Vec<_>>())) as _,
        )])
        .expect("batch");
        let mut m = RowMask::new(rows);
        for r in 0..deleted {
            m.set(r);
        }
        Arc::new(Segment::sealed(id, part, b, m))
    }

    #[test]
    fn plans_small_and_dirty_segments_per_partition() {
        let segs = vec![
            seg(1, 1, 10, 0),
            seg(2, 1, 10, 0),
            seg(3, 1, 1000, 0),
            seg(4, 2, 10, 0),
            seg(5, 2, 1000, 300),
        ];
        let mut groups = plan(&segs, 100);
        groups.sort();
        assert_eq!(groups, vec![vec![1, 2], vec![5]]);
        assert!(plan(&segs[2..3], 100).is_empty());
    }

    #[test]
    fn force_plan_packs_every_segment_up_to_the_target() {
        let segs = vec![
            seg(3, 1, 1000, 0),
            seg(1, 1, 10, 0),
            seg(2, 1, 10, 5),
            seg(4, 2, 10, 0),
        ];
        let one = segs[0].memory_bytes() as u64;
        // Everything fits: one group per partition, in id order.
        assert_eq!(force_plan(&segs, u64::MAX), vec![vec![1, 2, 3], vec![4]]);
        // Below the large segment's size: it stands alone, the rest still pack.
        let small = segs[1].memory_bytes() as u64 + segs[2].memory_bytes() as u64;
        assert!(small < one);
        assert_eq!(force_plan(&segs, small), vec![vec![1, 2], vec![3], vec![4]]);
        // Every segment lands in exactly one group whatever the target.
        for t in [0, 1, small, one, u64::MAX] {
            let mut ids: Vec<i64> = force_plan(&segs, t).concat();
            ids.sort_unstable();
            assert_eq!(ids, vec![1, 2, 3, 4], "target {t}");
        }
    }
}
