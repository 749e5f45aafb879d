//! How an HNSW index stores its own copy of the vectors (used for exact re-ranking,
//! neighbour selection and filtered exact scans).

use std::borrow::Cow;

use rayon::prelude::*;

use crate::kernels::KernelTable;
use crate::Metric;

/// Precision of the vectors an [`crate::Hnsw`] keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum VectorStorage {
    /// Exact `f32` copy (4 bytes per component): returned distances are exact.
    #[default]
    F32,
    /// IEEE half precision (2 bytes per component): about 40 % less memory at 1536
    /// dimensions; re-ranking distances carry a relative error around 1e-4.
    F16,
}

impl VectorStorage {
    pub(crate) fn code(self) -> u32 {
        match self {
            VectorStorage::F32 => 0,
            VectorStorage::F16 => 1,
        }
    }

    pub(crate) fn from_code(c: u32) -> Option<Self> {
        match c {
            0 => Some(VectorStorage::F32),
            1 => Some(VectorStorage::F16),
            _ => None,
        }
    }
}

/// Row-major vectors in one of the storage precisions.
pub(crate) enum Rows {
    F32(Vec<f32>),
    F16(Vec<u16>),
}

impl Rows {
    /// Converts `data` (already normalised where needed) to `storage`.
    pub fn new(data: Vec<f32>, storage: VectorStorage) -> Rows {
        match storage {
            VectorStorage::F32 => Rows::F32(data),
            VectorStorage::F16 => Rows::F16(
                data.par_iter()
                    .map(|&x| half::f16::from_f32(x).to_bits())
                    .collect(),
            ),
        }
    }

    pub fn storage(&self) -> VectorStorage {
        match self {
            Rows::F32(_) => VectorStorage::F32,
            Rows::F16(_) => VectorStorage::F16,
        }
    }

    pub fn memory_bytes(&self) -> usize {
        match self {
            Rows::F32(v) => v.len() * 4,
            Rows::F16(v) => v.len() * 2,
        }
    }

    /// Row `id` as `f32` (borrowed for `F32`, decoded for `F16`).
    #[inline]
    pub fn row(&self, id: u32, dim: usize) -> Cow<'_, [f32]> {
        let i = id as usize * dim;
        match self {
            Rows::F32(v) => Cow::Borrowed(&v[i..i + dim]),
            Rows::F16(v) => Cow::Owned(
                v[i..i + dim]
                    .iter()
                    .map(|&b| half::f16::from_bits(b).to_f32())
                    .collect(),
            ),
        }
    }

    /// All rows decoded to `f32` (for re-quantization after loading).
    pub fn to_f32(&self) -> Cow<'_, [f32]> {
        match self {
            Rows::F32(v) => Cow::Borrowed(v),
            Rows::F16(v) => Cow::Owned(
                v.par_iter()
                    .map(|&b| half::f16::from_bits(b).to_f32())
                    .collect(),
            ),
        }
    }

    /// A 64-bit hash of the raw bits of row `id` (groups bit-identical rows).
    pub fn row_hash(&self, id: u32, dim: usize) -> u64 {
        let i = id as usize * dim;
        let mix = |h: u64, w: u64| (h.rotate_left(5) ^ w).wrapping_mul(0x517C_C1B7_2722_0A95);
        match self {
            Rows::F32(v) => v[i..i + dim]
                .iter()
                .fold(dim as u64, |h, x| mix(h, x.to_bits() as u64)),
            Rows::F16(v) => v[i..i + dim]
                .iter()
                .fold(dim as u64, |h, &x| mix(h, x as u64)),
        }
    }

    /// True when rows `a` and `b` are bit-identical (so every distance to them is equal).
    pub fn same_bits(&self, a: u32, b: u32, dim: usize) -> bool {
        let (a, b) = (a as usize * dim, b as usize * dim);
        match self {
            Rows::F32(v) => v[a..a + dim]
                .iter()
                .zip(&v[b..b + dim])
                .all(|(x, y)| x.to_bits() == y.to_bits()),
            Rows::F16(v) => v[a..a + dim] == v[b..b + dim],
        }
    }

    /// Exact internal distance between a prepared `f32` query and row `id`.
    #[inline]
    pub fn dist(&self, kt: &KernelTable, metric: Metric, dim: usize, q: &[f32], id: u32) -> f32 {
        let i = id as usize * dim;
        let d = match (self, metric) {
            (Rows::F32(v), Metric::L2) => (kt.l2_sq)(q, &v[i..i + dim]),
            (Rows::F32(v), Metric::Ip) => -(kt.dot)(q, &v[i..i + dim]),
            (Rows::F32(v), Metric::Cosine) => 1.0 - (kt.dot)(q, &v[i..i + dim]),
            (Rows::F16(v), Metric::L2) => (kt.l2_f16)(q, &v[i..i + dim]),
            (Rows::F16(v), Metric::Ip) => -(kt.dot_f16)(q, &v[i..i + dim]),
            (Rows::F16(v), Metric::Cosine) => 1.0 - (kt.dot_f16)(q, &v[i..i + dim]),
        };
        crate::metric::ordered(d)
    }
}
