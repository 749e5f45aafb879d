//! AVX2 + FMA kernels: four 8-lane FMA accumulators, scalar tail.

use std::arch::x86_64::*;

use super::KernelTable;

/// The AVX2 table, or `None` when the CPU lacks AVX2, FMA or F16C.
pub fn table() -> Option<KernelTable> {
    if is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
    {
        Some(KernelTable {
            name: "avx2",
            dot,
            l2_sq,
            dot_i8,
            dot_norm,
            dot_f16,
            l2_f16,
            dot_i16,
            l2_i16,
        })
    } else {
        None
    }
}

// SAFETY (all wrappers): only reachable through `table()`, which checked avx2, fma, f16c.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    unsafe { dot_impl(a, b) }
}

fn l2_sq(a: &[f32], b: &[f32]) -> f32 {
    unsafe { l2_impl(a, b) }
}

fn dot_f16(a: &[f32], b: &[u16]) -> f32 {
    unsafe { f16_impl::<false>(a, b) }
}

fn l2_f16(a: &[f32], b: &[u16]) -> f32 {
    unsafe { f16_impl::<true>(a, b) }
}

fn dot_i16(a: &[f32], b: &[i16], s: f32) -> f32 {
    unsafe { i16_impl::<false>(a, b, s) }
}

fn l2_i16(a: &[f32], b: &[i16], s: f32) -> f32 {
    unsafe { i16_impl::<true>(a, b, s) }
}

/// Dot product (`L2 = false`) or squared distance (`L2 = true`) against `s * b`.
#[target_feature(enable = "avx2,fma")]
unsafe fn i16_impl<const L2: bool>(a: &[f32], b: &[i16], s: f32) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 2];
    let vs = _mm256_set1_ps(s);
    let mut i = 0;
    // SAFETY: every load reads elements below `n`, within both slices.
    unsafe {
        while i + 16 <= n {
            for (j, acc) in acc.iter_mut().enumerate() {
                let x = _mm256_loadu_ps(pa.add(i + 8 * j));
                let c = _mm256_cvtepi16_epi32(_mm_loadu_si128(pb.add(i + 8 * j) as *const __m128i));
                let y = _mm256_mul_ps(_mm256_cvtepi32_ps(c), vs);
                *acc = if L2 {
                    let d = _mm256_sub_ps(x, y);
                    _mm256_fmadd_ps(d, d, *acc)
                } else {
                    _mm256_fmadd_ps(x, y, *acc)
                };
            }
            i += 16;
        }
    }
    let mut r = hsum(_mm256_add_ps(acc[0], acc[1]));
    for k in i..n {
        let y = s * b[k] as f32;
        r += if L2 {
            (a[k] - y) * (a[k] - y)
        } else {
            a[k] * y
        };
    }
    r
}

/// Dot product (`L2 = false`) or squared distance (`L2 = true`) against an f16 row.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn f16_impl<const L2: bool>(a: &[f32], b: &[u16]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 2];
    let mut i = 0;
    // SAFETY: every load reads elements below `n`, within both slices.
    unsafe {
        while i + 16 <= n {
            for (j, acc) in acc.iter_mut().enumerate() {
                let x = _mm256_loadu_ps(pa.add(i + 8 * j));
                let y = _mm256_cvtph_ps(_mm_loadu_si128(pb.add(i + 8 * j) as *const __m128i));
                *acc = if L2 {
                    let d = _mm256_sub_ps(x, y);
                    _mm256_fmadd_ps(d, d, *acc)
                } else {
                    _mm256_fmadd_ps(x, y, *acc)
                };
            }
            i += 16;
        }
    }
    let mut r = hsum(_mm256_add_ps(acc[0], acc[1]));
    for k in i..n {
        let y = half::f16::from_bits(b[k]).to_f32();
        r += if L2 {
            (a[k] - y) * (a[k] - y)
        } else {
            a[k] * y
        };
    }
    r
}

fn dot_norm(a: &[f32], b: &[f32]) -> (f32, f32) {
    unsafe { dot_norm_impl(a, b) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn dot_norm_impl(a: &[f32], b: &[f32]) -> (f32, f32) {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut ab = [_mm256_setzero_ps(); 2];
    let mut bb = [_mm256_setzero_ps(); 2];
    let mut i = 0;
    // SAFETY: every load reads elements below `n`, within both slices.
    unsafe {
        while i + 16 <= n {
            for j in 0..2 {
                let x = _mm256_loadu_ps(pa.add(i + 8 * j));
                let y = _mm256_loadu_ps(pb.add(i + 8 * j));
                ab[j] = _mm256_fmadd_ps(x, y, ab[j]);
                bb[j] = _mm256_fmadd_ps(y, y, bb[j]);
            }
            i += 16;
        }
    }
    let mut d = hsum(_mm256_add_ps(ab[0], ab[1]));
    let mut nb = hsum(_mm256_add_ps(bb[0], bb[1]));
    for k in i..n {
        d += a[k] * b[k];
        nb += b[k] * b[k];
    }
    (d, nb)
}

fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    unsafe { dot_i8_impl(a, b) }
}

/// Sign-extends 16 bytes at a time to i16 and multiply-adds pairs into i32 lanes.
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_i8_impl(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = _mm256_setzero_si256();
    let mut acc1 = _mm256_setzero_si256();
    let mut i = 0;
    // SAFETY: every load reads bytes below `n`, within both slices.
    unsafe {
        while i + 32 <= n {
            let x0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pa.add(i) as *const __m128i));
            let y0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pb.add(i) as *const __m128i));
            let x1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pa.add(i + 16) as *const __m128i));
            let y1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pb.add(i + 16) as *const __m128i));
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(x0, y0));
            acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(x1, y1));
            i += 32;
        }
    }
    let acc = _mm256_add_epi32(acc0, acc1);
    let s = _mm_add_epi32(
        _mm256_castsi256_si128(acc),
        _mm256_extracti128_si256::<1>(acc),
    );
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    let mut r = _mm_cvtsi128_si32(s);
    for k in i..n {
        r += a[k] as i32 * b[k] as i32;
    }
    r
}

#[target_feature(enable = "avx2,fma")]
fn hsum(v: __m256) -> f32 {
    let lo = _mm256_castps256_ps128(v);
    let hi = _mm256_extractf128_ps::<1>(v);
    let s = _mm_add_ps(lo, hi);
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

#[target_feature(enable = "avx2,fma")]
unsafe fn dot_impl(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY: every load reads elements below `n`, within both slices.
    unsafe {
        while i + 32 <= n {
            for (j, acc) in acc.iter_mut().enumerate() {
                let x = _mm256_loadu_ps(pa.add(i + 8 * j));
                let y = _mm256_loadu_ps(pb.add(i + 8 * j));
                *acc = _mm256_fmadd_ps(x, y, *acc);
            }
            i += 32;
        }
        while i + 8 <= n {
            let x = _mm256_loadu_ps(pa.add(i));
            let y = _mm256_loadu_ps(pb.add(i));
            acc[0] = _mm256_fmadd_ps(x, y, acc[0]);
            i += 8;
        }
    }
    let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut r = hsum(s);
    for k in i..n {
        r += a[k] * b[k];
    }
    r
}

#[target_feature(enable = "avx2,fma")]
unsafe fn l2_impl(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY: every load reads elements below `n`, within both slices.
    unsafe {
        while i + 32 <= n {
            for (j, acc) in acc.iter_mut().enumerate() {
                let x = _mm256_loadu_ps(pa.add(i + 8 * j));
                let y = _mm256_loadu_ps(pb.add(i + 8 * j));
                let d = _mm256_sub_ps(x, y);
                *acc = _mm256_fmadd_ps(d, d, *acc);
            }
            i += 32;
        }
        while i + 8 <= n {
            let d = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
            acc[0] = _mm256_fmadd_ps(d, d, acc[0]);
            i += 8;
        }
    }
    let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut r = hsum(s);
    for k in i..n {
        let d = a[k] - b[k];
        r += d * d;
    }
    r
}
