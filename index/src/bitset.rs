//! A fixed-size bitset over internal ids: the filter format every search accepts.
//!
//! Bits past `len` are always zero, so `count_ones` and the set operations never see
//! garbage; operations between bitsets of different lengths treat missing bits as zero.

/// Fixed-size set of internal ids `0..len`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Bitset {
    words: Vec<u64>,
    len: usize,
}

impl Bitset {
    /// All-false bitset of `n` bits.
    pub fn new(n: usize) -> Self {
        Bitset {
            words: vec![0; n.div_ceil(64)],
            len: n,
        }
    }

    /// All-true bitset of `n` bits.
    pub fn full(n: usize) -> Self {
        let mut b = Bitset {
            words: vec![u64::MAX; n.div_ceil(64)],
            len: n,
        };
        b.trim();
        b
    }

    /// Bitset whose bit `i` is `f(i)`.
    pub fn from_fn(n: usize, mut f: impl FnMut(usize) -> bool) -> Self {
        let mut b = Bitset::new(n);
        for i in 0..n {
            if f(i) {
                b.set(i);
            }
        }
        b
    }

    /// Bitset of `n` bits with the given ids set (ids `>= n` are ignored).
    pub fn from_ids(n: usize, ids: impl IntoIterator<Item = u32>) -> Self {
        let mut b = Bitset::new(n);
        for id in ids {
            if (id as usize) < n {
                b.set(id as usize);
            }
        }
        b
    }

    fn trim(&mut self) {
        let rem = self.len % 64;
        if rem != 0 {
            if let Some(last) = self.words.last_mut() {
                *last &= (1u64 << rem) - 1;
            }
        }
    }

    /// Number of bits.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the bitset has no bits at all (`len() == 0`).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sets bit `i`. Panics if `i >= len`.
    #[inline]
    pub fn set(&mut self, i: usize) {
        assert!(i < self.len, "bit {i} out of range {}", self.len);
        self.words[i / 64] |= 1 << (i % 64);
    }

    /// Clears bit `i`. Panics if `i >= len`.
    #[inline]
    pub fn clear(&mut self, i: usize) {
        assert!(i < self.len, "bit {i} out of range {}", self.len);
        self.words[i / 64] &= !(1 << (i % 64));
    }

    /// Bit `i`; `false` for `i >= len`.
    #[inline]
    pub fn get(&self, i: usize) -> bool {
        match self.words.get(i / 64) {
            Some(w) if i < self.len => (w >> (i % 64)) & 1 == 1,
            _ => false,
        }
    }

    /// Number of set bits.
    pub fn count_ones(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Number of set bits among the first `n` bits.
    pub fn count_ones_below(&self, n: usize) -> usize {
        let n = n.min(self.len);
        let full = n / 64;
        let mut c: usize = self.words[..full]
            .iter()
            .map(|w| w.count_ones() as usize)
            .sum();
        let rem = n % 64;
        if rem != 0 {
            c += (self.words[full] & ((1u64 << rem) - 1)).count_ones() as usize;
        }
        c
    }

    /// Iterates over the set bits in increasing order.
    pub fn iter_ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.iter_ones_from(0)
    }

    /// Iterates over the set bits `>= start` in increasing order, skipping the words
    /// below `start` (how a view of rows `start..` reads a filter over all rows).
    pub fn iter_ones_from(&self, start: usize) -> impl Iterator<Item = usize> + '_ {
        let first = (start / 64).min(self.words.len());
        self.words[first..]
            .iter()
            .enumerate()
            .flat_map(move |(wi, &w)| {
                let wi = first + wi;
                // Bits of the first word below `start` are masked off.
                let mut w = if wi == start / 64 {
                    w & (u64::MAX << (start % 64))
                } else {
                    w
                };
                std::iter::from_fn(move || {
                    if w == 0 {
                        return None;
                    }
                    let b = w.trailing_zeros() as usize;
                    w &= w - 1;
                    Some(wi * 64 + b)
                })
            })
    }

    /// In place `self &= other`.
    pub fn and(&mut self, other: &Bitset) {
        for (i, w) in self.words.iter_mut().enumerate() {
            *w &= other.words.get(i).copied().unwrap_or(0);
        }
    }

    /// In place `self &= !other`.
    pub fn andnot(&mut self, other: &Bitset) {
        for (w, o) in self.words.iter_mut().zip(&other.words) {
            *w &= !o;
        }
    }

    /// In place `self |= other` (bits of `other` past `self.len()` are dropped).
    pub fn or(&mut self, other: &Bitset) {
        for (w, o) in self.words.iter_mut().zip(&other.words) {
            *w |= o;
        }
        self.trim();
    }

    /// The raw words (bit `i` is bit `i % 64` of word `i / 64`).
    pub fn as_words(&self) -> &[u64] {
        &self.words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_ops() {
        let mut b = Bitset::new(130);
        assert_eq!(b.count_ones(), 0);
        b.set(0);
        b.set(64);
        b.set(129);
        assert!(b.get(0) && b.get(64) && b.get(129) && !b.get(1) && !b.get(500));
        assert_eq!(b.iter_ones().collect::<Vec<_>>(), vec![0, 64, 129]);
        b.clear(64);
        assert_eq!(b.count_ones(), 2);
        assert_eq!(b.count_ones_below(129), 1);
        let f = Bitset::full(130);
        assert_eq!(f.count_ones(), 130);
        assert_eq!(f.count_ones_below(70), 70);
        let mut g = f.clone();
        g.andnot(&b);
        assert_eq!(g.count_ones(), 128);
        g.or(&b);
        assert_eq!(g, f);
        g.and(&b);
        assert_eq!(g, b);
        let h = Bitset::from_fn(10, |i| i % 3 == 0);
        assert_eq!(h.iter_ones().collect::<Vec<_>>(), vec![0, 3, 6, 9]);
        assert_eq!(Bitset::from_ids(10, [3, 4, 40]).count_ones(), 2);
        assert!(Bitset::new(0).is_empty());
        let s = Bitset::from_ids(200, [3, 63, 64, 65, 130, 199]);
        for start in [0, 3, 4, 63, 64, 66, 131, 199, 200, 500] {
            let want: Vec<usize> = s.iter_ones().filter(|&i| i >= start).collect();
            assert_eq!(s.iter_ones_from(start).collect::<Vec<_>>(), want, "{start}");
        }
    }
}
