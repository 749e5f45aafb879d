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
    /// 16-bit integers with one `f32` scale per row (`x = scale * code`, `scale =
    /// max|x| / 32767`): the memory of `F16` (plus 4 bytes a row) with about 5x less
    /// rounding error on the components of unit-length embeddings (an absolute step of
    /// `max|x| / 32767` instead of f16's relative 2^-11), which keeps the exact re-rank
    /// from swapping near-tied 10th/11th neighbours (index/README.md, "Recall at equal ef").
    I16,
}

impl VectorStorage {
    pub(crate) fn code(self) -> u32 {
        match self {
            VectorStorage::F32 => 0,
            VectorStorage::F16 => 1,
            VectorStorage::I16 => 2,
        }
    }

    pub(crate) fn from_code(c: u32) -> Option<Self> {
        match c {
            0 => Some(VectorStorage::F32),
            1 => Some(VectorStorage::F16),
            2 => Some(VectorStorage::I16),
            _ => None,
        }
    }
}

/// Row-major vectors in one of the storage precisions.
pub(crate) enum Rows {
    F32(Vec<f32>),
    F16(Vec<u16>),
    /// Codes (row-major) and one scale per row.
    I16(Vec<i16>, Vec<f32>),
}

/// Encodes one row as `i16` codes; returns the scale (`0.0` for zero or non-finite rows,
/// whose codes are then all zero).
fn encode_i16(v: &[f32], out: &mut [i16]) -> f32 {
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if !(max > 0.0 && max.is_finite()) {
        out.fill(0);
        return 0.0;
    }
    let inv = 32767.0 / max;
    for (o, x) in out.iter_mut().zip(v) {
        *o = (x * inv).round().clamp(-32767.0, 32767.0) as i16;
    }
    max / 32767.0
}

impl Rows {
    /// Converts `data` (already normalised where needed) to `storage`.
    pub fn new(data: Vec<f32>, dim: usize, storage: VectorStorage) -> Rows {
        match storage {
            VectorStorage::F32 => Rows::F32(data),
            VectorStorage::F16 => Rows::F16(
                data.par_iter()
                    .map(|&x| half::f16::from_f32(x).to_bits())
                    .collect(),
            ),
            VectorStorage::I16 => {
                let dim = dim.max(1);
                let mut codes = vec![0i16; data.len()];
                let mut scale = vec![0.0f32; data.len() / dim];
                codes
                    .par_chunks_mut(dim)
                    .zip(scale.par_iter_mut())
                    .zip(data.par_chunks(dim))
                    .for_each(|((c, s), v)| *s = encode_i16(v, c));
                Rows::I16(codes, scale)
            }
        }
    }

    pub fn storage(&self) -> VectorStorage {
        match self {
            Rows::F32(_) => VectorStorage::F32,
            Rows::F16(_) => VectorStorage::F16,
            Rows::I16(..) => VectorStorage::I16,
        }
    }

    pub fn memory_bytes(&self) -> usize {
        match self {
            Rows::F32(v) => v.len() * 4,
            Rows::F16(v) => v.len() * 2,
            Rows::I16(c, s) => c.len() * 2 + s.len() * 4,
        }
    }

    /// Row `id` as `f32` (borrowed for `F32`, decoded otherwise).
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
            Rows::I16(c, s) => {
                let sc = s[id as usize];
                Cow::Owned(c[i..i + dim].iter().map(|&x| sc * x as f32).collect())
            }
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
            Rows::I16(c, s) => {
                let dim = c.len().checked_div(s.len()).unwrap_or(1).max(1);
                Cow::Owned(
                    c.par_chunks(dim)
                        .zip(s.par_iter())
                        .flat_map_iter(|(row, &sc)| row.iter().map(move |&x| sc * x as f32))
                        .collect(),
                )
            }
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
            Rows::I16(c, s) => c[i..i + dim]
                .iter()
                .fold(mix(dim as u64, s[id as usize].to_bits() as u64), |h, &x| {
                    mix(h, x as u16 as u64)
                }),
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
            Rows::I16(c, s) => {
                s[a / dim.max(1)].to_bits() == s[b / dim.max(1)].to_bits()
                    && c[a..a + dim] == c[b..b + dim]
            }
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
            (Rows::I16(c, s), Metric::L2) => (kt.l2_i16)(q, &c[i..i + dim], s[id as usize]),
            (Rows::I16(c, s), Metric::Ip) => -(kt.dot_i16)(q, &c[i..i + dim], s[id as usize]),
            (Rows::I16(c, s), Metric::Cosine) => {
                1.0 - (kt.dot_i16)(q, &c[i..i + dim], s[id as usize])
            }
        };
        crate::metric::ordered(d)
    }
}
