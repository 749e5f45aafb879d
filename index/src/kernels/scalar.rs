//! Portable scalar reference kernels: the ground truth every SIMD path is tested against,
//! and the fallback on CPUs without a supported SIMD extension.

use super::KernelTable;

/// The scalar kernel table.
pub const TABLE: KernelTable = KernelTable {
    name: "scalar",
    dot,
    l2_sq,
    dot_i8,
    dot_norm,
    dot_f16,
    l2_f16,
    dot_i16,
    l2_i16,
};

/// Dot product over `min(a.len(), b.len())` components.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Squared euclidean distance over `min(a.len(), b.len())` components.
pub fn l2_sq(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = x - y;
            d * d
        })
        .sum()
}

/// Euclidean norm.
pub fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

/// Cosine distance `1 - cos(a, b)`; `1.0` when either vector is zero.
pub fn cosine_distance(a: &[f32], b: &[f32]) -> f32 {
    super::cosine_from(dot(a, b), dot(a, a), dot(b, b))
}

/// Scales `a` to unit length; zero vectors are left unchanged.
pub fn normalize(a: &mut [f32]) {
    super::normalize_with(a, norm(a));
}

/// Exact integer dot product of two `i8` slices.
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).map(|(&x, &y)| x as i32 * y as i32).sum()
}

/// `(dot(a, b), dot(b, b))`.
pub fn dot_norm(a: &[f32], b: &[f32]) -> (f32, f32) {
    (dot(a, b), dot(b, b))
}

/// Dot product of an `f32` query with an `f16` row (raw bits).
pub fn dot_f16(a: &[f32], b: &[u16]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, &y)| x * half::f16::from_bits(y).to_f32())
        .sum()
}

/// Squared euclidean distance between an `f32` query and an `f16` row (raw bits).
pub fn l2_f16(a: &[f32], b: &[u16]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, &y)| {
            let d = x - half::f16::from_bits(y).to_f32();
            d * d
        })
        .sum()
}

/// Dot product of an `f32` query with the row `scale * b`.
pub fn dot_i16(a: &[f32], b: &[i16], scale: f32) -> f32 {
    a.iter().zip(b).map(|(x, &y)| x * (scale * y as f32)).sum()
}

/// Squared euclidean distance between an `f32` query and the row `scale * b`.
pub fn l2_i16(a: &[f32], b: &[i16], scale: f32) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, &y)| {
            let d = x - scale * y as f32;
            d * d
        })
        .sum()
}
