//! AVX-512F kernels: four 16-lane FMA accumulators, masked loads for the tail.

use std::arch::x86_64::*;

use super::{DotI8Fn, KernelTable};

/// The AVX-512 table, or `None` when the CPU lacks AVX-512F/BW/VL. The `i8` dot product
/// uses VNNI (`vpdpbusd`) when available.
pub fn table() -> Option<KernelTable> {
    if !(is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl"))
    {
        return None;
    }
    let vnni = is_x86_feature_detected!("avx512vnni");
    Some(KernelTable {
        name: "avx512",
        dot,
        l2_sq,
        dot_i8: if vnni { dot_i8_vnni } else { dot_i8_bw },
        dot_norm,
        dot_f16,
        l2_f16,
        dot_i16,
        l2_i16,
    })
}

// SAFETY (both wrappers): they are only reachable through `table()`, which returns them
// only after `is_x86_feature_detected!("avx512f")` succeeded.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    unsafe { dot_impl(a, b) }
}

fn l2_sq(a: &[f32], b: &[f32]) -> f32 {
    unsafe { l2_impl(a, b) }
}

// SAFETY (f16 wrappers): only reachable through `table()`, which checked avx512f/bw/vl.
fn dot_f16(a: &[f32], b: &[u16]) -> f32 {
    unsafe { f16_impl::<false>(a, b) }
}

fn l2_f16(a: &[f32], b: &[u16]) -> f32 {
    unsafe { f16_impl::<true>(a, b) }
}

// SAFETY (i16 wrappers): only reachable through `table()`, which checked avx512f/bw/vl.
fn dot_i16(a: &[f32], b: &[i16], s: f32) -> f32 {
    unsafe { i16_impl::<false>(a, b, s) }
}

fn l2_i16(a: &[f32], b: &[i16], s: f32) -> f32 {
    unsafe { i16_impl::<true>(a, b, s) }
}

/// Dot product (`L2 = false`) or squared distance (`L2 = true`) against `s * b`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn i16_impl<const L2: bool>(a: &[f32], b: &[i16], s: f32) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm512_setzero_ps(); 2];
    let vs = _mm512_set1_ps(s);
    let mut i = 0;
    // SAFETY: full loads read lanes below `n`; the tail uses masked loads.
    unsafe {
        while i + 32 <= n {
            for (j, acc) in acc.iter_mut().enumerate() {
                let x = _mm512_loadu_ps(pa.add(i + 16 * j));
                let c =
                    _mm512_cvtepi16_epi32(_mm256_loadu_si256(pb.add(i + 16 * j) as *const __m256i));
                let y = _mm512_mul_ps(_mm512_cvtepi32_ps(c), vs);
                *acc = if L2 {
                    let d = _mm512_sub_ps(x, y);
                    _mm512_fmadd_ps(d, d, *acc)
                } else {
                    _mm512_fmadd_ps(x, y, *acc)
                };
            }
            i += 32;
        }
        while i < n {
            let m = tail_mask((n - i).min(16));
            let x = _mm512_maskz_loadu_ps(m, pa.add(i));
            let c = _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(m, pb.add(i)));
            let y = _mm512_mul_ps(_mm512_cvtepi32_ps(c), vs);
            acc[0] = if L2 {
                let d = _mm512_sub_ps(x, y);
                _mm512_fmadd_ps(d, d, acc[0])
            } else {
                _mm512_fmadd_ps(x, y, acc[0])
            };
            i += 16;
        }
    }
    _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]))
}

/// Dot product (`L2 = false`) or squared distance (`L2 = true`) against an f16 row.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn f16_impl<const L2: bool>(a: &[f32], b: &[u16]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm512_setzero_ps(); 2];
    let mut i = 0;
    // SAFETY: full loads read lanes below `n`; the tail uses masked loads.
    unsafe {
        while i + 32 <= n {
            for (j, acc) in acc.iter_mut().enumerate() {
                let x = _mm512_loadu_ps(pa.add(i + 16 * j));
                let y = _mm512_cvtph_ps(_mm256_loadu_si256(pb.add(i + 16 * j) as *const __m256i));
                *acc = if L2 {
                    let d = _mm512_sub_ps(x, y);
                    _mm512_fmadd_ps(d, d, *acc)
                } else {
                    _mm512_fmadd_ps(x, y, *acc)
                };
            }
            i += 32;
        }
        while i < n {
            let m = tail_mask((n - i).min(16));
            let x = _mm512_maskz_loadu_ps(m, pa.add(i));
            let y = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, pb.add(i) as *const i16));
            acc[0] = if L2 {
                let d = _mm512_sub_ps(x, y);
                _mm512_fmadd_ps(d, d, acc[0])
            } else {
                _mm512_fmadd_ps(x, y, acc[0])
            };
            i += 16;
        }
    }
    _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]))
}

// SAFETY: only reachable through `table()`, which checked avx512f.
fn dot_norm(a: &[f32], b: &[f32]) -> (f32, f32) {
    unsafe { dot_norm_impl(a, b) }
}

#[target_feature(enable = "avx512f")]
unsafe fn dot_norm_impl(a: &[f32], b: &[f32]) -> (f32, f32) {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut ab = [_mm512_setzero_ps(); 2];
    let mut bb = [_mm512_setzero_ps(); 2];
    let mut i = 0;
    // SAFETY: full loads read lanes below `n`; the tail uses masked loads.
    unsafe {
        while i + 32 <= n {
            for j in 0..2 {
                let x = _mm512_loadu_ps(pa.add(i + 16 * j));
                let y = _mm512_loadu_ps(pb.add(i + 16 * j));
                ab[j] = _mm512_fmadd_ps(x, y, ab[j]);
                bb[j] = _mm512_fmadd_ps(y, y, bb[j]);
            }
            i += 32;
        }
        while i < n {
            let m = tail_mask((n - i).min(16));
            let x = _mm512_maskz_loadu_ps(m, pa.add(i));
            let y = _mm512_maskz_loadu_ps(m, pb.add(i));
            ab[0] = _mm512_fmadd_ps(x, y, ab[0]);
            bb[0] = _mm512_fmadd_ps(y, y, bb[0]);
            i += 16;
        }
    }
    (
        _mm512_reduce_add_ps(_mm512_add_ps(ab[0], ab[1])),
        _mm512_reduce_add_ps(_mm512_add_ps(bb[0], bb[1])),
    )
}

// SAFETY: only reachable through `table()`, which checked avx512f, avx512bw and avx512vnni.
fn dot_i8_vnni(a: &[i8], b: &[i8]) -> i32 {
    unsafe { dot_i8_vnni_impl(a, b) }
}

// SAFETY: only reachable through `table()`, which checked avx512f and avx512bw.
fn dot_i8_bw(a: &[i8], b: &[i8]) -> i32 {
    unsafe { dot_i8_bw_impl(a, b) }
}

#[inline]
fn tail_mask(rem: usize) -> __mmask16 {
    ((1u32 << rem) - 1) as __mmask16
}

#[target_feature(enable = "avx512f")]
unsafe fn dot_impl(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm512_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY: every load reads lanes below `n`, within both slices.
    unsafe {
        while i + 64 <= n {
            for (j, acc) in acc.iter_mut().enumerate() {
                let x = _mm512_loadu_ps(pa.add(i + 16 * j));
                let y = _mm512_loadu_ps(pb.add(i + 16 * j));
                *acc = _mm512_fmadd_ps(x, y, *acc);
            }
            i += 64;
        }
        while i + 16 <= n {
            let x = _mm512_loadu_ps(pa.add(i));
            let y = _mm512_loadu_ps(pb.add(i));
            acc[0] = _mm512_fmadd_ps(x, y, acc[0]);
            i += 16;
        }
        if i < n {
            let m = tail_mask(n - i);
            let x = _mm512_maskz_loadu_ps(m, pa.add(i));
            let y = _mm512_maskz_loadu_ps(m, pb.add(i));
            acc[1] = _mm512_fmadd_ps(x, y, acc[1]);
        }
    }
    let s = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    _mm512_reduce_add_ps(s)
}

#[target_feature(enable = "avx512f")]
unsafe fn l2_impl(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm512_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY: every load reads lanes below `n`, within both slices.
    unsafe {
        while i + 64 <= n {
            for (j, acc) in acc.iter_mut().enumerate() {
                let x = _mm512_loadu_ps(pa.add(i + 16 * j));
                let y = _mm512_loadu_ps(pb.add(i + 16 * j));
                let d = _mm512_sub_ps(x, y);
                *acc = _mm512_fmadd_ps(d, d, *acc);
            }
            i += 64;
        }
        while i + 16 <= n {
            let d = _mm512_sub_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)));
            acc[0] = _mm512_fmadd_ps(d, d, acc[0]);
            i += 16;
        }
        if i < n {
            let m = tail_mask(n - i);
            let d = _mm512_sub_ps(
                _mm512_maskz_loadu_ps(m, pa.add(i)),
                _mm512_maskz_loadu_ps(m, pb.add(i)),
            );
            acc[1] = _mm512_fmadd_ps(d, d, acc[1]);
        }
    }
    let s = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    _mm512_reduce_add_ps(s)
}

#[inline]
fn tail_mask64(rem: usize) -> __mmask64 {
    if rem >= 64 {
        u64::MAX
    } else {
        (1u64 << rem) - 1
    }
}

/// `vpdpbusd` multiplies unsigned by signed bytes, so `a` is biased to `a + 128` (xor 0x80)
/// and `128 * sum(b)` (also from `vpdpbusd`, against all-ones) is subtracted at the end.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn dot_i8_vnni_impl(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let bias = _mm512_set1_epi8(-128);
    let ones = _mm512_set1_epi8(1);
    let mut acc = [_mm512_setzero_si512(); 2];
    let mut sum_b = [_mm512_setzero_si512(); 2];
    let mut i = 0;
    // SAFETY: full loads read bytes below `n`; the tail uses a masked load.
    unsafe {
        while i + 128 <= n {
            for j in 0..2 {
                let x = _mm512_loadu_si512(pa.add(i + 64 * j) as *const __m512i);
                let y = _mm512_loadu_si512(pb.add(i + 64 * j) as *const __m512i);
                acc[j] = _mm512_dpbusd_epi32(acc[j], _mm512_xor_si512(x, bias), y);
                sum_b[j] = _mm512_dpbusd_epi32(sum_b[j], ones, y);
            }
            i += 128;
        }
        while i < n {
            let m = tail_mask64(n - i);
            let x = _mm512_maskz_loadu_epi8(m, pa.add(i));
            let y = _mm512_maskz_loadu_epi8(m, pb.add(i));
            // Masked-off lanes: y = 0, so they add nothing to either sum.
            acc[0] = _mm512_dpbusd_epi32(acc[0], _mm512_xor_si512(x, bias), y);
            sum_b[0] = _mm512_dpbusd_epi32(sum_b[0], ones, y);
            i += 64;
        }
    }
    let dot = _mm512_reduce_add_epi32(_mm512_add_epi32(acc[0], acc[1]));
    let sb = _mm512_reduce_add_epi32(_mm512_add_epi32(sum_b[0], sum_b[1]));
    dot.wrapping_sub(sb.wrapping_mul(128))
}

#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn dot_i8_bw_impl(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = _mm512_setzero_si512();
    let mut i = 0;
    // SAFETY: masked loads never read past `n`.
    unsafe {
        while i < n {
            let m = tail_mask64(n - i) as __mmask32;
            let x = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, pa.add(i)));
            let y = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, pb.add(i)));
            acc = _mm512_add_epi32(acc, _mm512_madd_epi16(x, y));
            i += 32;
        }
    }
    _mm512_reduce_add_epi32(acc)
}

/// Every `i8` dot-product variant this CPU can run (for tests and benches).
pub fn dot_i8_variants() -> Vec<(&'static str, DotI8Fn)> {
    let mut v: Vec<(&'static str, DotI8Fn)> = Vec::new();
    if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw") {
        v.push(("avx512bw", dot_i8_bw));
        if is_x86_feature_detected!("avx512vnni") {
            v.push(("avx512vnni", dot_i8_vnni));
        }
    }
    v
}
