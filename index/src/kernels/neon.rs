//! NEON kernels for aarch64: four 4-lane FMA accumulators, scalar tail.

use std::arch::aarch64::*;

use super::KernelTable;

/// The NEON table, or `None` when the CPU lacks NEON.
pub fn table() -> Option<KernelTable> {
    if std::arch::is_aarch64_feature_detected!("neon") {
        Some(KernelTable {
            name: "neon",
            dot,
            l2_sq,
            dot_i8: super::scalar::dot_i8,
            dot_norm,
            dot_f16: super::scalar::dot_f16,
            l2_f16: super::scalar::l2_f16,
            dot_i16: super::scalar::dot_i16,
            l2_i16: super::scalar::l2_i16,
        })
    } else {
        None
    }
}

// SAFETY (both wrappers): only reachable through `table()`, which checked for NEON.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    unsafe { dot_impl(a, b) }
}

fn l2_sq(a: &[f32], b: &[f32]) -> f32 {
    unsafe { l2_impl(a, b) }
}

fn dot_norm(a: &[f32], b: &[f32]) -> (f32, f32) {
    (dot(a, b), dot(b, b))
}

#[target_feature(enable = "neon")]
unsafe fn dot_impl(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [vdupq_n_f32(0.0); 4];
    let mut i = 0;
    // SAFETY: every load reads elements below `n`, within both slices.
    unsafe {
        while i + 16 <= n {
            for (j, acc) in acc.iter_mut().enumerate() {
                let x = vld1q_f32(pa.add(i + 4 * j));
                let y = vld1q_f32(pb.add(i + 4 * j));
                *acc = vfmaq_f32(*acc, x, y);
            }
            i += 16;
        }
        while i + 4 <= n {
            acc[0] = vfmaq_f32(acc[0], vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i)));
            i += 4;
        }
    }
    let s = vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3]));
    let mut r = vaddvq_f32(s);
    for k in i..n {
        r += a[k] * b[k];
    }
    r
}

#[target_feature(enable = "neon")]
unsafe fn l2_impl(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [vdupq_n_f32(0.0); 4];
    let mut i = 0;
    // SAFETY: every load reads elements below `n`, within both slices.
    unsafe {
        while i + 16 <= n {
            for (j, acc) in acc.iter_mut().enumerate() {
                let d = vsubq_f32(vld1q_f32(pa.add(i + 4 * j)), vld1q_f32(pb.add(i + 4 * j)));
                *acc = vfmaq_f32(*acc, d, d);
            }
            i += 16;
        }
        while i + 4 <= n {
            let d = vsubq_f32(vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i)));
            acc[0] = vfmaq_f32(acc[0], d, d);
            i += 4;
        }
    }
    let s = vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3]));
    let mut r = vaddvq_f32(s);
    for k in i..n {
        let d = a[k] - b[k];
        r += d * d;
    }
    r
}
