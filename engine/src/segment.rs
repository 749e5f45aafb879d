//! Segments as the data and query roles share them inside one process.
//!
//! A segment is an immutable snapshot: writers never mutate one in place, they
//! publish a new `Arc<Segment>` (one more chunk, one more deleted bit, an index
//! attached). A search therefore works on a consistent view without holding any
//! lock, and the data role can keep ingesting while it runs.

use std::sync::{Arc, OnceLock};

use arrow::array::{Array, ArrayRef, RecordBatch};
use parking_lot::Mutex;
use quiver_filter::{IndexSpec, ScalarIndex};
use quiver_index::sparse::SparseIndex;
use quiver_index::{Bitset, Hnsw};

pub use quiver_types::{PartitionId, SegmentId};

/// Deleted rows of one segment, growable as a growing segment appends rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RowMask {
    words: Vec<u64>,
    len: usize,
    ones: usize,
}

impl RowMask {
    /// A mask of `len` rows, none set.
    pub fn new(len: usize) -> Self {
        RowMask {
            words: vec![0; len.div_ceil(64)],
            len,
            ones: 0,
        }
    }

    /// Rebuilds a mask from persisted words.
    pub fn from_words(words: Vec<u64>, len: usize) -> Self {
        let mut words = words;
        words.resize(len.div_ceil(64), 0);
        let ones = words.iter().map(|w| w.count_ones() as usize).sum();
        RowMask { words, len, ones }
    }

    /// The backing words, for persistence.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Number of rows set.
    pub fn count(&self) -> usize {
        self.ones
    }

    /// Extends the mask to `len` rows (new rows unset).
    pub fn grow(&mut self, len: usize) {
        if len > self.len {
            self.len = len;
            self.words.resize(len.div_ceil(64), 0);
        }
    }

    /// Whether row `i` is set.
    #[inline]
    pub fn get(&self, i: usize) -> bool {
        i < self.len && self.words[i / 64] & (1 << (i % 64)) != 0
    }

    /// Sets row `i`; returns true if it was not set before.
    pub fn set(&mut self, i: usize) -> bool {
        if i >= self.len || self.get(i) {
            return false;
        }
        self.words[i / 64] |= 1 << (i % 64);
        self.ones += 1;
        true
    }
}

/// Where a segment is in its life. One state rather than two flags, so that
/// "sealed and frozen" cannot be expressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentState {
    /// In memory, taking new rows (one chunk per insert batch).
    Growing,
    /// A growing segment a seal is turning into a sealed one: it takes no new
    /// rows (they go to a fresh growing segment) but still takes deletes.
    Frozen,
    /// Written to object storage as one immutable chunk; may carry graphs.
    Sealed,
}

/// One segment: rows in Arrow chunks, a delete mask, and vector indexes.
#[derive(Clone)]
pub struct Segment {
    pub id: SegmentId,
    pub partition: PartitionId,
    /// Growing segments hold one chunk per insert batch (merged now and then);
    /// sealed segments hold exactly one.
    pub chunks: Vec<RecordBatch>,
    /// Row offset of each chunk inside the segment.
    pub offsets: Vec<usize>,
    pub rows: usize,
    pub deleted: Arc<RowMask>,
    pub state: SegmentState,
    /// HNSW indexes by vector field id (sealed segments only).
    pub indexes: Vec<(i64, Arc<Hnsw>)>,
    /// Scalar indexes of a sealed segment's one chunk, shared by every
    /// snapshot of it (deletes republish the segment, not its rows).
    pub scalar: Arc<ScalarIndexes>,
}

/// One index slot: built once, by whichever filter needs it first.
type Slot = Arc<OnceLock<Option<Arc<ScalarIndex>>>>;

/// The scalar indexes of one sealed segment, built on first use.
///
/// A segment's rows never change once sealed, so an index is built at most
/// once per (segment, spec) — one pass over the column, about the cost of the
/// one scan it replaces — and then answers every later filter on that column
/// or JSON path. Built lazily rather than at seal time because the data role
/// does not know the catalog's indexes; an index dropped from the catalog is
/// forgotten the next time a filter consults this segment.
#[derive(Default)]
pub struct ScalarIndexes {
    slots: Mutex<Vec<(IndexSpec, Slot)>>,
    /// Inverted indexes of sparse vector columns, by (column, drop_ratio_build
    /// bits): built on the first search, like the scalar ones.
    sparse: Mutex<Vec<((usize, u32), SparseSlot)>>,
}

/// One sparse index slot.
type SparseSlot = Arc<OnceLock<Arc<SparseIndex>>>;

impl ScalarIndexes {
    /// The index of `spec` over `batch`, built now if no filter built it
    /// before; None when the column cannot be indexed that way. Slots for
    /// specs not in `current` (the collection's indexes now) are released.
    pub fn get(
        &self,
        spec: &IndexSpec,
        batch: &RecordBatch,
        current: &[IndexSpec],
    ) -> Option<Arc<ScalarIndex>> {
        let slot = {
            let mut slots = self.slots.lock();
            slots.retain(|(s, _)| current.contains(s));
            match slots.iter().find(|(s, _)| s == spec) {
                Some((_, slot)) => slot.clone(),
                None => {
                    let slot = Slot::default();
                    slots.push((spec.clone(), slot.clone()));
                    slot
                }
            }
        };
        // Built outside the list's lock: other specs stay available meanwhile.
        slot.get_or_init(|| {
            let col = batch.column_by_name(&spec.column)?;
            ScalarIndex::build(col, spec).ok().flatten().map(Arc::new)
        })
        .clone()
    }

    /// The inverted index of the sparse vector column `col` of `batch`, built
    /// now (outside the list's lock) if no search built it before. Null rows
    /// and non-binary columns index nothing.
    pub fn sparse(
        &self,
        col: usize,
        drop_ratio_build: f32,
        batch: &RecordBatch,
    ) -> Arc<SparseIndex> {
        let key = (col, drop_ratio_build.to_bits());
        let slot = {
            let mut slots = self.sparse.lock();
            match slots.iter().find(|(k, _)| *k == key) {
                Some((_, slot)) => slot.clone(),
                None => {
                    let slot = SparseSlot::default();
                    slots.push((key, slot.clone()));
                    slot
                }
            }
        };
        slot.get_or_init(|| {
            let rows = batch
                .columns()
                .get(col)
                .and_then(|c| c.as_any().downcast_ref::<arrow::array::BinaryArray>());
            let index = match rows {
                Some(a) => SparseIndex::build(
                    (0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i))),
                    drop_ratio_build,
                ),
                None => SparseIndex::default(),
            };
            Arc::new(index)
        })
        .clone()
    }

    /// Heap bytes of the indexes built so far.
    pub fn memory_bytes(&self) -> usize {
        self.slots
            .lock()
            .iter()
            .filter_map(|(_, s)| s.get().and_then(Option::as_ref))
            .map(|i| i.memory_bytes())
            .sum()
    }
}

impl Segment {
    /// An empty growing segment.
    pub fn growing(id: SegmentId, partition: PartitionId) -> Self {
        Segment {
            id,
            partition,
            chunks: Vec::new(),
            offsets: Vec::new(),
            rows: 0,
            deleted: Arc::new(RowMask::new(0)),
            state: SegmentState::Growing,
            indexes: Vec::new(),
            scalar: Arc::default(),
        }
    }

    /// A sealed segment over one batch.
    pub fn sealed(
        id: SegmentId,
        partition: PartitionId,
        batch: RecordBatch,
        deleted: RowMask,
    ) -> Self {
        let rows = batch.num_rows();
        let mut deleted = deleted;
        deleted.grow(rows);
        Segment {
            id,
            partition,
            chunks: vec![batch],
            offsets: vec![0],
            rows,
            deleted: Arc::new(deleted),
            state: SegmentState::Sealed,
            indexes: Vec::new(),
            scalar: Arc::default(),
        }
    }

    /// True once the segment is immutable and persisted.
    pub fn is_sealed(&self) -> bool {
        self.state == SegmentState::Sealed
    }

    /// Rows not deleted.
    pub fn live_rows(&self) -> usize {
        self.rows - self.deleted.count()
    }

    /// The chunk holding segment row `row`, and the row inside it.
    pub fn locate(&self, row: usize) -> (usize, usize) {
        let c = self.offsets.partition_point(|&o| o <= row) - 1;
        (c, row - self.offsets[c])
    }

    /// The column `col` of chunk `chunk`.
    pub fn column(&self, chunk: usize, col: usize) -> &ArrayRef {
        self.chunks[chunk].column(col)
    }

    /// The index on vector field `field_id`, if built.
    pub fn index_for(&self, field_id: i64) -> Option<&Arc<Hnsw>> {
        self.indexes
            .iter()
            .find(|(f, _)| *f == field_id)
            .map(|(_, i)| i)
    }

    /// Allowed rows = `filter` (per segment row, None = all) minus deleted rows.
    /// None when every row is allowed, so index searches can skip the check.
    pub fn allow_mask(&self, filter: Option<&[bool]>) -> Option<Bitset> {
        if filter.is_none() && self.deleted.count() == 0 {
            return None;
        }
        let deleted = &self.deleted;
        Some(Bitset::from_fn(self.rows, |i| {
            !deleted.get(i) && filter.is_none_or(|f| f[i])
        }))
    }

    /// Approximate bytes held in memory by the chunks.
    pub fn memory_bytes(&self) -> usize {
        self.chunks
            .iter()
            .map(|c| {
                c.columns()
                    .iter()
                    .map(|a| a.get_array_memory_size())
                    .sum::<usize>()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_mask_grows_and_counts() {
        let mut m = RowMask::new(3);
        assert!(m.set(1));
        assert!(!m.set(1));
        assert!(!m.set(5));
        m.grow(70);
        assert!(m.set(69));
        assert_eq!(m.count(), 2);
        assert!(m.get(69) && m.get(1) && !m.get(0));
        let r = RowMask::from_words(m.words().to_vec(), 70);
        assert_eq!(r, m);
    }

    #[test]
    fn scalar_indexes_are_built_once_and_released_when_dropped() {
        use arrow::array::Int64Array;
        use arrow::datatypes::{DataType, Field, Schema};
        use quiver_filter::IndexCast;

        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let col: ArrayRef = Arc::new(Int64Array::from_iter_values(0..100));
        let batch = RecordBatch::try_new(schema, vec![col]).unwrap_or_else(|e| panic!("{e}"));
        let seg = Segment::sealed(1, 1, batch.clone(), RowMask::new(100));
        let spec = IndexSpec {
            column: "x".into(),
            path: Vec::new(),
            cast: IndexCast::Field,
        };
        let missing = IndexSpec {
            column: "nope".into(),
            ..spec.clone()
        };
        let all = [spec.clone(), missing.clone()];
        let a = seg.scalar.get(&spec, &batch, &all);
        // A republished snapshot (a delete) shares the built index.
        let copy = seg.clone();
        let b = copy.scalar.get(&spec, &batch, &all);
        match (&a, &b) {
            (Some(a), Some(b)) => assert!(Arc::ptr_eq(a, b) && a.len() == 100),
            _ => panic!("index not built"),
        }
        assert!(seg.scalar.get(&missing, &batch, &all).is_none());
        assert!(seg.scalar.memory_bytes() >= 100 * 16);
        // Once the catalog no longer lists it, the index is released.
        assert!(seg
            .scalar
            .get(&missing, &batch, std::slice::from_ref(&missing))
            .is_none());
        assert_eq!(seg.scalar.memory_bytes(), 0);
    }
}
