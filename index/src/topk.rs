//! Small ordered candidate type and a bounded top-k collector shared by flat and HNSW search.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::Neighbor;

/// A (distance, id) pair ordered by distance, ties broken by id.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cand {
    pub dist: f32,
    pub id: u32,
}

impl PartialEq for Cand {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Cand {}
impl PartialOrd for Cand {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Cand {
    fn cmp(&self, other: &Self) -> Ordering {
        self.dist
            .total_cmp(&other.dist)
            .then(self.id.cmp(&other.id))
    }
}

/// Keeps the `k` smallest candidates seen so far (a max-heap whose top is the worst kept).
pub(crate) struct TopK {
    heap: BinaryHeap<Cand>,
    k: usize,
}

impl TopK {
    pub fn new(k: usize) -> Self {
        TopK {
            heap: BinaryHeap::with_capacity(k + 1),
            k,
        }
    }

    #[inline]
    pub fn push(&mut self, id: u32, dist: f32) {
        if self.k == 0 {
            return;
        }
        let c = Cand {
            dist: crate::metric::ordered(dist),
            id,
        };
        if self.heap.len() < self.k {
            self.heap.push(c);
        } else if let Some(mut top) = self.heap.peek_mut() {
            if c < *top {
                *top = c;
            }
        }
    }

    /// Results sorted best-first.
    pub fn into_sorted(self) -> Vec<Neighbor> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|c| Neighbor {
                id: c.id,
                dist: c.dist,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_k_smallest_sorted() {
        let mut t = TopK::new(3);
        for (i, d) in [5.0, 1.0, 4.0, 2.0, 3.0, 0.5].iter().enumerate() {
            t.push(i as u32, *d);
        }
        let ids: Vec<u32> = t.into_sorted().iter().map(|n| n.id).collect();
        assert_eq!(ids, vec![5, 1, 3]);
    }

    #[test]
    fn nan_ranks_last_and_is_kept() {
        let mut t = TopK::new(4);
        for (i, d) in [f32::NAN, 1.0, -f32::NAN, f32::INFINITY, 2.0]
            .iter()
            .enumerate()
        {
            t.push(i as u32, *d);
        }
        let r = t.into_sorted();
        let ids: Vec<u32> = r.iter().map(|n| n.id).collect();
        assert_eq!(ids[..2], [1, 4]);
        assert_eq!(r.len(), 4);
        assert!(r.iter().all(|n| !n.dist.is_nan()));
    }

    #[test]
    fn zero_k() {
        let mut t = TopK::new(0);
        t.push(1, 1.0);
        assert!(t.into_sorted().is_empty());
    }
}
