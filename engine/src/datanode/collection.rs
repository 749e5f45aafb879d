//! The in-memory data of one collection: its segments and primary-key index.
//!
//! All mutation happens here, under the collection's state lock, by publishing
//! new `Arc<Segment>`s; readers take [`CollectionData::snapshot`] and never block
//! writers for longer than a vector clone.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::Int64Type;
use parking_lot::{Mutex, RwLock};
use quiver_filter::PkValue;
use quiver_storage::{CollectionSchema, Lsn};

use super::manifest::SegmentEntry;
use crate::error::{no_primary_key, QuiverError, Result};
use crate::segment::{PartitionId, Segment, SegmentId, SegmentState};

/// Where a live row is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowLoc {
    pub segment: SegmentId,
    pub row: u32,
}

/// Growing segments merge their small tail chunks once this many pile up.
const MERGE_TAIL_CHUNKS: usize = 16;
/// Chunks at or above this many rows are left alone by the merge.
const SMALL_CHUNK_ROWS: usize = 4096;

/// Mutable state of a collection's data, guarded by one lock.
pub struct DataState {
    /// The schema every segment's chunks are laid out in; replaced (and the
    /// chunks conformed) under this lock, so a reader's schema and segments
    /// always agree.
    pub schema: Arc<CollectionSchema>,
    pub segments: Vec<Arc<Segment>>,
    pub pk_index: HashMap<PkValue, RowLoc>,
    /// Last LSN applied to memory.
    pub applied_lsn: Lsn,
    /// Everything up to here is in persisted segments and delete masks.
    pub checkpoint_lsn: Lsn,
    /// First LSN applied since the last seal began (None: nothing new).
    pub first_unsealed_lsn: Option<Lsn>,
    /// First LSN covered by a seal in progress, kept until its manifest lands.
    pub sealing_from: Option<Lsn>,
    /// Sealed segments whose delete masks changed since they were persisted.
    pub dirty_masks: HashSet<SegmentId>,
    /// Object keys of every persisted sealed segment.
    pub files: HashMap<SegmentId, SegmentEntry>,
    /// When a write was last applied (replay counts): the idle seal's clock.
    pub last_write: Option<Instant>,
}

/// One collection's data.
pub struct CollectionData {
    pub id: i64,
    /// Position of the primary key; fields are only ever appended, so it is fixed.
    pk_col: usize,
    pub state: RwLock<DataState>,
    /// Serialises WAL submission + apply, so log order equals apply order.
    pub write_order: Mutex<()>,
    /// Serialises seals and manifest updates of this collection.
    pub seal_lock: Arc<tokio::sync::Mutex<()>>,
    /// Up to which timestamp writes are applied (reads wait on it).
    pub tsafe: super::tsafe::TSafe,
}

impl CollectionData {
    /// Empty data for a collection.
    pub fn new(id: i64, schema: Arc<CollectionSchema>) -> Result<Self> {
        let pk_col = schema.primary_column().ok_or_else(no_primary_key)?;
        Ok(CollectionData {
            id,
            pk_col,
            state: RwLock::new(DataState {
                schema,
                segments: Vec::new(),
                pk_index: HashMap::new(),
                applied_lsn: 0,
                checkpoint_lsn: 0,
                first_unsealed_lsn: None,
                sealing_from: None,
                dirty_masks: HashSet::new(),
                files: HashMap::new(),
                last_write: None,
            }),
            write_order: Mutex::new(()),
            seal_lock: Arc::new(tokio::sync::Mutex::new(())),
            tsafe: Default::default(),
        })
    }

    /// The current segments: a consistent, lock-free view.
    pub fn snapshot(&self) -> Vec<Arc<Segment>> {
        self.state.read().segments.clone()
    }

    /// The current schema.
    pub fn schema(&self) -> Arc<CollectionSchema> {
        self.state.read().schema.clone()
    }

    /// The schema and the segments laid out in it, taken together.
    pub fn view(&self) -> (Arc<CollectionSchema>, Vec<Arc<Segment>>) {
        let st = self.state.read();
        (st.schema.clone(), st.segments.clone())
    }

    /// Moves to `schema` (the current one with fields appended): every chunk
    /// in memory gains the new columns, filled as [`CollectionSchema::conform`]
    /// fills them. The caller holds the write-order and seal locks, so no
    /// write or seal works on the old layout meanwhile.
    pub fn evolve(&self, schema: Arc<CollectionSchema>) -> Result<()> {
        let mut st = self.state.write();
        let mut segments = Vec::with_capacity(st.segments.len());
        for seg in &st.segments {
            let mut s = Segment::clone(seg);
            for chunk in s.chunks.iter_mut() {
                *chunk = schema.conform(chunk.clone())?;
            }
            segments.push(Arc::new(s));
        }
        st.segments = segments;
        st.schema = schema;
        Ok(())
    }

    /// Number of live rows.
    pub fn live_rows(&self) -> usize {
        self.state.read().pk_index.len()
    }

    /// Primary keys of a batch's rows, in order.
    pub fn batch_pks(&self, batch: &RecordBatch) -> Result<Vec<PkValue>> {
        pk_values(batch.column(self.pk_col).as_ref())
    }

    /// Adds a sealed segment loaded from storage (recovery), indexing its live rows.
    pub fn add_recovered(&self, seg: Segment) -> Result<()> {
        let pks = match seg.chunks.first() {
            Some(b) => self.batch_pks(b)?,
            None => Vec::new(),
        };
        let mut st = self.state.write();
        for (row, pk) in pks.into_iter().enumerate() {
            if !seg.deleted.get(row) {
                st.pk_index.insert(
                    pk,
                    RowLoc {
                        segment: seg.id,
                        row: row as u32,
                    },
                );
            }
        }
        st.segments.push(Arc::new(seg));
        Ok(())
    }

    /// Appends `batch` to the partition's growing segment; rows whose primary
    /// key is already live replace the old row (last write wins). Returns the
    /// growing segment's row count afterwards.
    pub fn apply_insert(
        &self,
        st: &mut DataState,
        lsn: Lsn,
        partition: PartitionId,
        batch: RecordBatch,
        new_segment_id: impl FnOnce() -> SegmentId,
    ) -> Result<usize> {
        // Records logged before a field was added carry fewer columns.
        let batch = st.schema.conform(batch)?;
        let pks = self.batch_pks(&batch)?;
        let gi = match st
            .segments
            .iter()
            .position(|s| s.state == SegmentState::Growing && s.partition == partition)
        {
            Some(i) => i,
            None => {
                st.segments
                    .push(Arc::new(Segment::growing(new_segment_id(), partition)));
                st.segments.len() - 1
            }
        };
        let (seg_id, base) = {
            let g = Arc::make_mut(&mut st.segments[gi]);
            let base = g.rows;
            g.offsets.push(base);
            g.rows += batch.num_rows();
            g.chunks.push(batch);
            Arc::make_mut(&mut g.deleted).grow(g.rows);
            merge_small_tail(g)?;
            (g.id, base)
        };
        let mut replaced: Vec<RowLoc> = Vec::new();
        for (i, pk) in pks.into_iter().enumerate() {
            let loc = RowLoc {
                segment: seg_id,
                row: (base + i) as u32,
            };
            if let Some(old) = st.pk_index.insert(pk, loc) {
                replaced.push(old);
            }
        }
        mark_deleted(st, &replaced);
        note_applied(st, lsn);
        Ok(st.segments[gi].rows)
    }

    /// Deletes the live rows with these primary keys; returns how many existed.
    pub fn apply_delete(&self, st: &mut DataState, lsn: Lsn, pks: &[PkValue]) -> usize {
        let locs: Vec<RowLoc> = pks.iter().filter_map(|pk| st.pk_index.remove(pk)).collect();
        mark_deleted(st, &locs);
        note_applied(st, lsn);
        locs.len()
    }

    /// Removes every segment of a partition and their rows from the pk index.
    pub fn drop_partition(&self, partition: PartitionId) {
        let mut st = self.state.write();
        let doomed: HashSet<SegmentId> = st
            .segments
            .iter()
            .filter(|s| s.partition == partition)
            .map(|s| s.id)
            .collect();
        st.segments.retain(|s| s.partition != partition);
        st.pk_index.retain(|_, loc| !doomed.contains(&loc.segment));
    }
}

fn note_applied(st: &mut DataState, lsn: Lsn) {
    st.applied_lsn = st.applied_lsn.max(lsn);
    st.last_write = Some(Instant::now());
    if st.first_unsealed_lsn.is_none() {
        st.first_unsealed_lsn = Some(lsn);
    }
}

/// Sets deleted bits, copying each touched segment once.
fn mark_deleted(st: &mut DataState, locs: &[RowLoc]) {
    if locs.is_empty() {
        return;
    }
    let mut by_seg: HashMap<SegmentId, Vec<u32>> = HashMap::new();
    for l in locs {
        by_seg.entry(l.segment).or_default().push(l.row);
    }
    for seg in st.segments.iter_mut() {
        if let Some(rows) = by_seg.get(&seg.id) {
            let s = Arc::make_mut(seg);
            let mask = Arc::make_mut(&mut s.deleted);
            for &r in rows {
                mask.set(r as usize);
            }
            if s.is_sealed() {
                st.dirty_masks.insert(s.id);
            }
        }
    }
}

/// Keeps a growing segment's chunk count bounded without re-copying big chunks.
fn merge_small_tail(g: &mut Segment) -> Result<()> {
    let tail = g
        .chunks
        .iter()
        .rev()
        .take_while(|c| c.num_rows() < SMALL_CHUNK_ROWS)
        .count();
    if tail < MERGE_TAIL_CHUNKS {
        return Ok(());
    }
    let start = g.chunks.len() - tail;
    let schema = g.chunks[start].schema();
    let merged = concat_batches(&schema, &g.chunks[start..])?;
    g.chunks.truncate(start);
    g.chunks.push(merged);
    g.offsets.truncate(start + 1);
    Ok(())
}

/// Concatenates a growing segment's chunks into the single batch of a sealed one.
pub fn seal_segment(g: &Segment) -> Result<Segment> {
    let batch = match g.chunks.len() {
        1 => g.chunks[0].clone(),
        _ => {
            let schema = g.chunks[0].schema();
            concat_batches(&schema, &g.chunks)?
        }
    };
    let mut s = Segment::sealed(g.id, g.partition, batch, (*g.deleted).clone());
    s.indexes = g.indexes.clone();
    Ok(s)
}

/// Primary keys of a pk column.
pub fn pk_values(col: &dyn Array) -> Result<Vec<PkValue>> {
    if let Some(a) = col.as_primitive_opt::<Int64Type>() {
        return Ok(a.values().iter().map(|v| PkValue::Int(*v)).collect());
    }
    if let Some(a) = col.as_string_opt::<i32>() {
        return Ok(a
            .iter()
            .map(|v| PkValue::Str(v.unwrap_or("").to_string()))
            .collect());
    }
    Err(QuiverError::Internal(format!(
        "unsupported primary key column type {}",
        col.data_type()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use quiver_storage::{DataType, FieldSchema};

    fn data() -> CollectionData {
        let mut pk = FieldSchema::new(100, "id", DataType::Int64);
        pk.is_primary = true;
        let schema = CollectionSchema {
            name: "c".into(),
            description: String::new(),
            fields: vec![pk, FieldSchema::new(101, "x", DataType::Int64)],
            enable_dynamic_field: false,
        };
        CollectionData::new(1, Arc::new(schema)).expect("data")
    }

    fn batch(schema: &arrow::datatypes::SchemaRef, ids: &[i64]) -> RecordBatch {
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(ids.to_vec())),
                Arc::new(Int64Array::from(ids.to_vec())),
            ],
        )
        .expect("batch")
    }

    #[test]
    fn last_write_wins_and_deletes() {
        let d = data();
        // Read before the state lock is taken: `schema()` takes it too.
        let schema = d.schema().arrow_schema();
        let mut st = d.state.write();
        d.apply_insert(&mut st, 1, 10, batch(&schema, &[1, 2, 2]), || 5)
            .expect("insert");
        assert_eq!(st.pk_index.len(), 2);
        assert_eq!(st.pk_index[&PkValue::Int(2)].row, 2);
        d.apply_insert(&mut st, 2, 10, batch(&schema, &[1]), || 6)
            .expect("insert");
        assert_eq!(st.segments.len(), 1);
        assert_eq!(st.segments[0].live_rows(), 2);
        assert_eq!(
            d.apply_delete(&mut st, 3, &[PkValue::Int(1), PkValue::Int(9)]),
            1
        );
        assert_eq!(st.segments[0].live_rows(), 1);
        assert_eq!(st.first_unsealed_lsn, Some(1));
        assert_eq!(st.applied_lsn, 3);
    }

    #[test]
    fn tail_chunks_merge_and_seal_keeps_row_order() {
        let d = data();
        // Read before the state lock is taken: `schema()` takes it too.
        let schema = d.schema().arrow_schema();
        let mut st = d.state.write();
        for i in 0..40 {
            d.apply_insert(&mut st, i + 1, 1, batch(&schema, &[i as i64]), || 5)
                .expect("insert");
        }
        let g = &st.segments[0];
        assert!(g.chunks.len() < MERGE_TAIL_CHUNKS + 1);
        assert_eq!(g.rows, 40);
        let (c, r) = g.locate(33);
        let col = g.chunks[c].column(0).as_primitive::<Int64Type>();
        assert_eq!(col.value(r), 33);
        let s = seal_segment(g).expect("seal");
        assert_eq!(s.chunks.len(), 1);
        assert_eq!(
            s.chunks[0].column(0).as_primitive::<Int64Type>().value(33),
            33
        );
    }
}
