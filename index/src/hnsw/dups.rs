//! Groups of bit-identical stored vectors, so that only one of them enters the graph.
//!
//! Why: identical vectors are at distance 0 from each other, so HNSW's neighbour
//! selection fills every copy's list with other copies; the copies form a clique that
//! traversal cannot leave, and a search starting near it returns little but copies (a
//! collection with 5 % identical rows answered 33 hits to limit=50). Real RAG corpora are
//! full of identical chunks. So the build inserts one *representative* per group (its
//! smallest id) and the search hands out the other members, the *copies*, with the
//! representative's distance, each subject to the caller's filter.
//!
//! Grouping is on the stored representation (after cosine normalisation and f16
//! conversion): rows the index cannot tell apart have exactly the same distance to any
//! query, in traversal and in re-ranking alike, so a copy's distance is its representative's.
//!
//! Layout: CSR over all `n` ids (`off[rep]..off[rep + 1]` into `ids`), so finding a
//! node's copies inside the traversal loop is two loads; both arrays are empty when the
//! data has no duplicates, which costs nothing.

use rayon::prelude::*;

use crate::rows::Rows;
use crate::Bitset;

/// Representative -> copies, for every group of bit-identical rows.
#[derive(Default)]
pub(crate) struct Dups {
    /// `n + 1` offsets into `ids`, or empty when there are no copies.
    off: Vec<u32>,
    /// Copies, grouped by representative in id order, ascending within a group.
    ids: Vec<u32>,
}

impl Dups {
    /// Finds the groups of bit-identical rows among `n` rows: a hash of each row's bits,
    /// then an exact comparison within each run of equal hashes (so collisions are harmless).
    pub fn find(rows: &Rows, n: usize, dim: usize) -> Dups {
        let hashes: Vec<u64> = (0..n as u32)
            .into_par_iter()
            .map(|i| rows.row_hash(i, dim))
            .collect();
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.par_sort_unstable_by_key(|&i| (hashes[i as usize], i));
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        let mut reps: Vec<u32> = Vec::new();
        for run in order.chunk_by(|&a, &b| hashes[a as usize] == hashes[b as usize]) {
            if run.len() < 2 {
                continue;
            }
            reps.clear();
            for &id in run {
                match reps.iter().find(|&&r| rows.same_bits(r, id, dim)) {
                    Some(&r) => pairs.push((r, id)),
                    None => reps.push(id),
                }
            }
        }
        Dups::from_pairs(n, pairs)
    }

    /// Builds the CSR from `(representative, copy)` pairs whose copies ascend per group.
    fn from_pairs(n: usize, mut pairs: Vec<(u32, u32)>) -> Dups {
        if pairs.is_empty() {
            return Dups::default();
        }
        pairs.sort_unstable();
        let mut off = vec![0u32; n + 1];
        for &(r, _) in &pairs {
            off[r as usize + 1] += 1;
        }
        for i in 0..n {
            off[i + 1] += off[i];
        }
        Dups {
            off,
            ids: pairs.into_iter().map(|(_, c)| c).collect(),
        }
    }

    /// Rebuilds the groups read from a serialized index, validating them: every id in
    /// range, each copy in exactly one group, greater than its representative (the
    /// smallest id of a group) and not itself a representative.
    pub fn from_groups(
        n: usize,
        reps: &[u32],
        counts: &[u32],
        ids: &[u32],
    ) -> Result<Dups, String> {
        let mut is_rep = Bitset::new(n);
        let mut seen = Bitset::new(n);
        let mut pairs = Vec::with_capacity(ids.len());
        let mut rest = ids;
        let mut prev: Option<u32> = None;
        for (&r, &c) in reps.iter().zip(counts) {
            if r as usize >= n || prev.is_some_and(|p| p >= r) || c == 0 {
                return Err(format!("bad duplicate group {r}"));
            }
            prev = Some(r);
            is_rep.set(r as usize);
            let (group, tail) = rest
                .split_at_checked(c as usize)
                .ok_or("duplicate groups longer than their ids")?;
            rest = tail;
            for &id in group {
                if id as usize >= n || id <= r || seen.get(id as usize) {
                    return Err(format!("bad copy {id} of {r}"));
                }
                seen.set(id as usize);
                pairs.push((r, id));
            }
        }
        if !rest.is_empty() || reps.len() != counts.len() {
            return Err("duplicate group sizes do not match their ids".into());
        }
        if reps.iter().any(|&r| seen.get(r as usize)) {
            return Err("a representative is also a copy".into());
        }
        Ok(Dups::from_pairs(n, pairs))
    }

    /// Copies of `id` (empty unless `id` is the representative of a group).
    #[inline]
    pub fn copies(&self, id: u32) -> &[u32] {
        if self.off.is_empty() {
            return &[];
        }
        let i = id as usize;
        &self.ids[self.off[i] as usize..self.off[i + 1] as usize]
    }

    /// All copies (every id that is not in the graph).
    pub fn all_copies(&self) -> &[u32] {
        &self.ids
    }

    /// True when some copy of `id` is allowed (a representative whose own bit is clear
    /// must still be collected for the copies that pass the filter).
    #[inline]
    pub fn any_copy_allowed(&self, id: u32, allow: &Bitset) -> bool {
        self.copies(id).iter().any(|&c| allow.get(c as usize))
    }

    /// `(representative, copies)` of every group, in id order.
    pub fn groups(&self) -> impl Iterator<Item = (u32, &[u32])> + '_ {
        let n = self.off.len().saturating_sub(1) as u32;
        (0..n).filter_map(|r| {
            let c = self.copies(r);
            (!c.is_empty()).then_some((r, c))
        })
    }

    /// Heap bytes.
    pub fn memory_bytes(&self) -> usize {
        (self.off.len() + self.ids.len()) * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VectorStorage;

    #[test]
    fn groups_identical_rows_only() {
        let dim = 3;
        // 0 = 2 = 5, 1 = 4, 3 alone; 6 differs from 0 in the last bit only; -0.0 != 0.0 in bits.
        let mut v = vec![
            1.0, 2.0, 3.0, /**/ 0.0, 0.0, 0.0, /**/ 1.0, 2.0, 3.0, /**/ 7.0, 8.0,
            9.0, /**/ 0.0, 0.0, 0.0, /**/ 1.0, 2.0, 3.0, /**/ 1.0, 2.0, 3.0,
            /**/ -0.0, 0.0, 0.0,
        ];
        v[20] = f32::from_bits(3.0f32.to_bits() + 1);
        let rows = Rows::new(v, dim, VectorStorage::F32);
        let d = Dups::find(&rows, 8, dim);
        let g: Vec<(u32, Vec<u32>)> = d.groups().map(|(r, c)| (r, c.to_vec())).collect();
        assert_eq!(g, vec![(0, vec![2, 5]), (1, vec![4])]);
        assert_eq!(d.copies(3), &[] as &[u32]);
        assert!(d.any_copy_allowed(0, &Bitset::from_ids(8, [5])));
        assert!(!d.any_copy_allowed(0, &Bitset::from_ids(8, [0, 1, 4])));
        assert!(
            Dups::find(&Rows::new(vec![1.0, 2.0], 1, VectorStorage::F32), 2, 1)
                .all_copies()
                .is_empty()
        );
    }

    #[test]
    fn from_groups_validates() {
        let ok = Dups::from_groups(6, &[0, 1], &[2, 1], &[2, 5, 4]).expect("valid");
        assert_eq!(ok.copies(0), &[2, 5]);
        assert_eq!(ok.copies(1), &[4]);
        for (reps, counts, ids) in [
            (&[0u32, 1][..], &[2u32, 1][..], &[2u32, 5][..]), // ids too short
            (&[0, 1], &[1, 1], &[2, 4, 5]),                   // ids too long
            (&[1, 0], &[1, 1], &[2, 4]),                      // reps not ascending
            (&[0, 1], &[1, 1], &[2, 2]),                      // copy twice
            (&[0, 2], &[1, 1], &[2, 4]),                      // rep is a copy
            (&[3], &[1], &[1]),                               // copy below its rep
            (&[0], &[1], &[6]),                               // out of range
            (&[0], &[0], &[]),                                // empty group
        ] {
            assert!(
                Dups::from_groups(6, reps, counts, ids).is_err(),
                "{reps:?} {ids:?}"
            );
        }
    }
}
