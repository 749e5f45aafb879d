//! Sparse float vectors: rows in Milvus's wire format (little-endian `(u32
//! index, f32 value)` pairs, indices strictly increasing), their validation,
//! inner-product scoring, and an inverted index for sealed segments.
//!
//! Scores are inner products (the only metric Milvus offers for sparse
//! vectors besides BM25, which is an inner product over weighted terms). The
//! exact scan merges a row's pairs with the query's; the inverted index walks
//! the query's terms' posting lists and accumulates into one score per row
//! (term-at-a-time), which visits only rows sharing a term with the query.
//! With both drop ratios 0 the two return identical scores.

use std::collections::HashMap;

use crate::topk::TopK;
use crate::{Bitset, Neighbor};

/// Bytes per (index, value) pair.
pub const PAIR_BYTES: usize = 8;

/// Why a sparse row is refused (the texts are Milvus's).
pub fn validate(row: &[u8]) -> Result<(), String> {
    if !row.len().is_multiple_of(PAIR_BYTES) {
        return Err(format!(
            "invalid data length in sparse float vector: {}",
            row.len()
        ));
    }
    let mut prev: Option<u32> = None;
    for (idx, val) in pairs(row) {
        if idx == u32::MAX {
            return Err(
                "invalid index in sparse float vector: must be less than 2^32-1".to_string(),
            );
        }
        if prev.is_some_and(|p| idx <= p) {
            return Err("unsorted or same indices in sparse float vector".to_string());
        }
        prev = Some(idx);
        if !val.is_finite() {
            // Go's `%f` of the value, as Milvus prints it.
            let shown = if val.is_nan() {
                "NaN"
            } else if val > 0.0 {
                "+Inf"
            } else {
                "-Inf"
            };
            return Err(format!("value '{shown}' is not a number or infinity"));
        }
        if val < 0.0 {
            return Err("negative value in sparse float vector".to_string());
        }
    }
    Ok(())
}

/// The (index, value) pairs of a row (a trailing partial pair is ignored;
/// rows are validated at the edge).
pub fn pairs(row: &[u8]) -> impl Iterator<Item = (u32, f32)> + '_ {
    row.chunks_exact(PAIR_BYTES).map(|c| {
        let idx = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        let val = f32::from_le_bytes([c[4], c[5], c[6], c[7]]);
        (idx, val)
    })
}

/// One more than the largest index of a row (Milvus's "dim" of a sparse row).
pub fn row_dim(row: &[u8]) -> u64 {
    pairs(row).last().map_or(0, |(i, _)| i as u64 + 1)
}

/// A query, decoded once, with its smallest values dropped if asked.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseQuery {
    indices: Vec<u32>,
    values: Vec<f32>,
}

impl SparseQuery {
    /// Decodes a validated row, keeping the `1 - drop_ratio` largest values
    /// (knowhere's `drop_ratio_search`).
    pub fn new(row: &[u8], drop_ratio: f32) -> Self {
        let mut p: Vec<(u32, f32)> = pairs(row).collect();
        let drop = ((p.len() as f32) * drop_ratio.clamp(0.0, 1.0)) as usize;
        if drop > 0 {
            let mut by_value: Vec<usize> = (0..p.len()).collect();
            by_value.sort_by(|&a, &b| p[a].1.abs().total_cmp(&p[b].1.abs()));
            let mut keep = vec![true; p.len()];
            for &i in &by_value[..drop] {
                keep[i] = false;
            }
            let mut k = keep.iter();
            p.retain(|_| *k.next().unwrap_or(&true));
        }
        SparseQuery {
            indices: p.iter().map(|x| x.0).collect(),
            values: p.iter().map(|x| x.1).collect(),
        }
    }

    /// Inner product with a row: a merge of two sorted index lists.
    pub fn dot(&self, row: &[u8]) -> f32 {
        self.overlap(row).unwrap_or(0.0)
    }

    /// The inner product with a row that shares a term with the query, None
    /// for a row that shares none (such rows are never hits, as in Milvus).
    pub fn overlap(&self, row: &[u8]) -> Option<f32> {
        let mut sum = 0.0f32;
        let mut any = false;
        let mut qi = 0usize;
        let n = self.indices.len();
        if n == 0 {
            return None;
        }
        for (idx, val) in pairs(row) {
            while qi < n && self.indices[qi] < idx {
                qi += 1;
            }
            if qi == n {
                break;
            }
            if self.indices[qi] == idx {
                sum += self.values[qi] * val;
                any = true;
            }
        }
        any.then_some(sum)
    }

    /// The query's terms.
    pub fn terms(&self) -> impl Iterator<Item = (u32, f32)> + '_ {
        self.indices
            .iter()
            .copied()
            .zip(self.values.iter().copied())
    }
}

/// Exact top-`k` by inner product over `rows` (row `i` is id `i`), only ids
/// allowed by `mask`. Distances are `-ip` (smaller is better), like dense IP.
/// Rows that share no term with the query are not hits.
pub fn scan<'a>(
    q: &SparseQuery,
    rows: impl Iterator<Item = Option<&'a [u8]>>,
    mask: Option<&Bitset>,
    k: usize,
) -> Vec<Neighbor> {
    let mut top = TopK::new(k);
    for (i, row) in rows.enumerate() {
        let Some(row) = row else { continue };
        if mask.is_some_and(|m| !m.get(i)) {
            continue;
        }
        if let Some(s) = q.overlap(row) {
            top.push(i as u32, -s);
        }
    }
    top.into_sorted()
}

/// An inverted index over a sealed segment's sparse column: per index (term),
/// the rows holding it and their values.
#[derive(Debug, Default)]
pub struct SparseIndex {
    postings: HashMap<u32, (Vec<u32>, Vec<f32>)>,
    rows: usize,
}

impl SparseIndex {
    /// Builds the index of `rows`, dropping the smallest `drop_ratio` of all
    /// values first (knowhere's `drop_ratio_build`).
    pub fn build<'a>(rows: impl Iterator<Item = Option<&'a [u8]>>, drop_ratio: f32) -> Self {
        let mut postings: HashMap<u32, (Vec<u32>, Vec<f32>)> = HashMap::new();
        let mut n = 0usize;
        for (i, row) in rows.enumerate() {
            n = i + 1;
            let Some(row) = row else { continue };
            for (idx, val) in pairs(row) {
                let e = postings.entry(idx).or_default();
                e.0.push(i as u32);
                e.1.push(val);
            }
        }
        let ratio = drop_ratio.clamp(0.0, 1.0);
        if ratio > 0.0 {
            let mut all: Vec<f32> = postings
                .values()
                .flat_map(|p| p.1.iter().map(|v| v.abs()))
                .collect();
            let cut = ((all.len() as f32) * ratio) as usize;
            if cut > 0 && cut <= all.len() {
                let (_, t, _) = all.select_nth_unstable_by(cut - 1, |a, b| a.total_cmp(b));
                let threshold = *t;
                for (ids, vals) in postings.values_mut() {
                    let mut w = 0;
                    for r in 0..ids.len() {
                        if vals[r].abs() > threshold {
                            ids[w] = ids[r];
                            vals[w] = vals[r];
                            w += 1;
                        }
                    }
                    ids.truncate(w);
                    vals.truncate(w);
                }
            }
        }
        SparseIndex { postings, rows: n }
    }

    /// Top-`k` by inner product among the ids `mask` allows, term at a time.
    /// Only rows that share a term with the query can be hits.
    pub fn search(&self, q: &SparseQuery, mask: Option<&Bitset>, k: usize) -> Vec<Neighbor> {
        let mut scores = vec![0.0f32; self.rows];
        let mut touched = Bitset::new(self.rows);
        for (term, qv) in q.terms() {
            let Some((ids, vals)) = self.postings.get(&term) else {
                continue;
            };
            for (&id, &v) in ids.iter().zip(vals) {
                let i = id as usize;
                scores[i] += qv * v;
                touched.set(i);
            }
        }
        let mut top = TopK::new(k);
        for (i, &s) in scores.iter().enumerate() {
            if touched.get(i) && mask.is_none_or(|m| m.get(i)) {
                top.push(i as u32, -s);
            }
        }
        top.into_sorted()
    }

    /// Bytes held by the postings (ids and values).
    pub fn bytes(&self) -> usize {
        self.postings.values().map(|p| p.0.len() * 8 + 16).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(p: &[(u32, f32)]) -> Vec<u8> {
        p.iter()
            .flat_map(|(i, v)| i.to_le_bytes().into_iter().chain(v.to_le_bytes()))
            .collect()
    }

    #[test]
    fn validation_uses_milvus_rules() {
        let err = |r: &[u8]| validate(r).err().unwrap_or_default();
        assert!(validate(&row(&[(1, 0.5), (7, 2.0)])).is_ok());
        assert!(validate(&[]).is_ok());
        assert_eq!(
            err(&[0u8; 5]),
            "invalid data length in sparse float vector: 5"
        );
        assert!(err(&row(&[(7, 0.5), (1, 2.0)])).contains("unsorted or same indices"));
        assert!(err(&row(&[(1, 0.5), (1, 2.0)])).contains("unsorted or same indices"));
        assert!(err(&row(&[(1, -0.5)])).contains("negative value"));
        assert_eq!(
            err(&row(&[(1, f32::INFINITY)])),
            "value '+Inf' is not a number or infinity"
        );
        assert!(err(&row(&[(1, f32::NAN)])).contains("not a number"));
        assert!(err(&row(&[(u32::MAX, 1.0)])).contains("2^32-1"));
    }

    #[test]
    fn scan_and_index_agree_exactly() {
        let rows: Vec<Vec<u8>> = (0..200u32)
            .map(|i| {
                let p: Vec<(u32, f32)> = (0..(i % 7 + 1))
                    .map(|j| ((i * 13 + j * 29) % 50, ((i + j) % 11) as f32 / 10.0 + 0.05))
                    .collect::<std::collections::BTreeMap<_, _>>()
                    .into_iter()
                    .collect();
                row(&p)
            })
            .collect();
        let q = SparseQuery::new(&row(&[(3, 1.0), (17, 0.5), (29, 2.0), (42, 0.25)]), 0.0);
        let it = || rows.iter().map(|r| Some(r.as_slice()));
        let idx = SparseIndex::build(it(), 0.0);
        let mask = Bitset::from_fn(rows.len(), |i| i % 3 != 0);
        let a = scan(&q, it(), Some(&mask), 10);
        let b = idx.search(&q, Some(&mask), 10);
        assert_eq!(a, b);
        // the best hit is the row with the largest inner product
        let best = (0..rows.len())
            .filter(|i| i % 3 != 0)
            .map(|i| q.dot(&rows[i]))
            .fold(f32::MIN, f32::max);
        assert_eq!(-a[0].dist, best);
        assert!(a.windows(2).all(|w| w[0].dist <= w[1].dist));
    }

    #[test]
    fn drop_ratio_search_keeps_the_largest_values() {
        let q = SparseQuery::new(&row(&[(1, 0.1), (2, 5.0), (3, 0.2), (4, 3.0)]), 0.5);
        assert_eq!(q.terms().collect::<Vec<_>>(), vec![(2, 5.0), (4, 3.0)]);
        assert_eq!(q.dot(&row(&[(1, 9.0), (2, 1.0)])), 5.0);
    }

    #[test]
    fn drop_ratio_build_drops_small_postings() {
        let rows = [row(&[(1, 0.1), (2, 1.0)]), row(&[(1, 2.0), (2, 0.2)])];
        let idx = SparseIndex::build(rows.iter().map(|r| Some(r.as_slice())), 0.5);
        let q = SparseQuery::new(&row(&[(1, 1.0), (2, 1.0)]), 0.0);
        let hits = idx.search(&q, None, 2);
        assert_eq!(hits[0], Neighbor { id: 1, dist: -2.0 });
        assert_eq!(hits[1], Neighbor { id: 0, dist: -1.0 });
    }
}
