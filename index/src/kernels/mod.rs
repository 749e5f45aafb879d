//! Distance kernels for `f32` vectors, dispatched once at start-up to the best
//! instruction set the CPU has (AVX-512 → AVX2+FMA → NEON → scalar).
//!
//! Each instruction set lives in its own file and exposes `table()`, which returns
//! `Some` only when the running CPU supports it; [`table`] picks the first available
//! one and caches it in a `OnceLock`. Cosine is computed as a dot product of
//! normalised vectors wherever the caller can normalise ahead of time.
//!
//! Setting `QUIVER_SIMD=scalar|avx2|avx512|neon` before the first call forces a path
//! (if the CPU supports it), which the benches use to compare implementations.

#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;
#[cfg(target_arch = "aarch64")]
pub mod neon;
pub mod scalar;

use std::sync::OnceLock;

/// Signature of a binary distance kernel.
pub type DistFn = fn(&[f32], &[f32]) -> f32;

/// Signature of a fused kernel returning `(dot(a, b), dot(b, b))` in one pass.
pub type DotNormFn = fn(&[f32], &[f32]) -> (f32, f32);

/// Signature of a kernel between an `f32` query and an IEEE half-precision row (raw bits).
pub type F16Fn = fn(&[f32], &[u16]) -> f32;

/// Signature of a kernel between an `f32` query and a row of `i16` codes with one scale
/// per row (the row is `scale * code`).
pub type I16Fn = fn(&[f32], &[i16], f32) -> f32;

/// Signature of the integer dot product of two `i8` code vectors.
pub type DotI8Fn = fn(&[i8], &[i8]) -> i32;

/// A set of kernels for one instruction set.
#[derive(Clone, Copy, Debug)]
pub struct KernelTable {
    /// Instruction-set name: `"avx512"`, `"avx2"`, `"neon"` or `"scalar"`.
    pub name: &'static str,
    /// Dot product over `min(a.len(), b.len())` components.
    pub dot: DistFn,
    /// Squared euclidean distance over `min(a.len(), b.len())` components.
    pub l2_sq: DistFn,
    /// Exact integer dot product of two `i8` slices over `min(a.len(), b.len())` components.
    pub dot_i8: DotI8Fn,
    /// `(dot(a, b), dot(b, b))` in one pass over `b` (cosine against unnormalised rows).
    pub dot_norm: DotNormFn,
    /// Dot product of an `f32` query with an `f16` row.
    pub dot_f16: F16Fn,
    /// Squared euclidean distance between an `f32` query and an `f16` row.
    pub l2_f16: F16Fn,
    /// Dot product of an `f32` query with the `i16` row `scale * code`.
    pub dot_i16: I16Fn,
    /// Squared euclidean distance between an `f32` query and the `i16` row `scale * code`.
    pub l2_i16: I16Fn,
}

static TABLE: OnceLock<KernelTable> = OnceLock::new();

/// All kernel tables the running CPU supports, best first (the last is always scalar).
pub fn available() -> Vec<KernelTable> {
    let mut v = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        v.extend(avx512::table());
        v.extend(avx2::table());
    }
    #[cfg(target_arch = "aarch64")]
    {
        v.extend(neon::table());
    }
    v.push(scalar::TABLE);
    v
}

fn detect() -> KernelTable {
    let avail = available();
    if let Ok(want) = std::env::var("QUIVER_SIMD") {
        if let Some(t) = avail.iter().find(|t| t.name == want) {
            return *t;
        }
    }
    avail[0]
}

/// The kernel table selected for this process.
#[inline]
pub fn table() -> &'static KernelTable {
    TABLE.get_or_init(detect)
}

/// Name of the selected instruction set: `"avx512"`, `"avx2"`, `"neon"` or `"scalar"`.
pub fn selected() -> &'static str {
    table().name
}

/// Dot product.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    (table().dot)(a, b)
}

/// Squared euclidean distance.
#[inline]
pub fn l2_sq(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    (table().l2_sq)(a, b)
}

/// Exact dot product of two `i8` code vectors (used for quantized traversal).
#[inline]
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    debug_assert_eq!(a.len(), b.len());
    (table().dot_i8)(a, b)
}

/// Euclidean norm.
#[inline]
pub fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

/// Cosine distance `1 - cos(a, b)` in `[0, 2]`; `1.0` when either vector is zero (never NaN).
#[inline]
pub fn cosine_distance(a: &[f32], b: &[f32]) -> f32 {
    cosine_from(dot(a, b), dot(a, a), dot(b, b))
}

/// Scales `a` to unit length; zero (or non-finite) vectors are left unchanged.
pub fn normalize(a: &mut [f32]) {
    normalize_with(a, norm(a));
}

pub(crate) fn cosine_from(ab: f32, aa: f32, bb: f32) -> f32 {
    let denom = (aa as f64 * bb as f64).sqrt();
    if denom > 0.0 && denom.is_finite() {
        (1.0 - (ab as f64 / denom)).clamp(0.0, 2.0) as f32
    } else {
        1.0
    }
}

pub(crate) fn normalize_with(a: &mut [f32], n: f32) {
    if n > 0.0 && n.is_finite() {
        let inv = 1.0 / n;
        for x in a.iter_mut() {
            *x *= inv;
        }
    }
}

#[cfg(test)]
mod tests;
