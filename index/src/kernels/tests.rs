//! Every available SIMD path against the scalar reference.

use super::*;

/// Small deterministic generator so kernel tests need no dev-dependency state.
struct Lcg(u64);
impl Lcg {
    fn next_f32(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.next_f32() * scale).collect()
    }
}

fn f64_dot(a: &[f32], b: &[f32]) -> (f64, f64) {
    let exact: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let mag: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 * *y as f64).abs())
        .sum();
    (exact, mag)
}

fn f64_l2(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
        .sum()
}

fn dims() -> Vec<usize> {
    let mut d: Vec<usize> = (0..=40).collect();
    d.extend([63, 64, 65, 127, 128, 129, 255, 768, 1536, 1537]);
    d
}

#[test]
fn every_path_matches_scalar() {
    let mut rng = Lcg(7);
    for t in available() {
        for &n in &dims() {
            for scale in [1.0f32, 1e-3, 100.0] {
                let a = rng.vec(n, scale);
                let b = rng.vec(n, scale);
                let (exact, mag) = f64_dot(&a, &b);
                let tol = 1e-5 * mag + 1e-30;
                let got = (t.dot)(&a, &b) as f64;
                let reference = scalar::dot(&a, &b) as f64;
                assert!(
                    (got - exact).abs() <= tol,
                    "{} dot n={n}: {got} vs {exact}",
                    t.name
                );
                assert!((reference - exact).abs() <= tol, "scalar dot n={n}");
                let l2 = f64_l2(&a, &b);
                let got = (t.l2_sq)(&a, &b) as f64;
                assert!(
                    (got - l2).abs() <= 1e-5 * l2 + 1e-30,
                    "{} l2 n={n}: {got} vs {l2}",
                    t.name
                );
                let (d, nb) = (t.dot_norm)(&a, &b);
                let (_, bmag) = f64_dot(&b, &b);
                assert!((d as f64 - exact).abs() <= tol, "{} dot_norm n={n}", t.name);
                assert!(
                    (nb as f64 - bmag).abs() <= 1e-5 * bmag + 1e-30,
                    "{} norm n={n}",
                    t.name
                );
                let sref = scalar::l2_sq(&a, &b) as f64;
                assert!((sref - l2).abs() <= 1e-5 * l2 + 1e-30, "scalar l2 n={n}");
            }
        }
    }
}

#[test]
fn random_property_many_lengths() {
    let mut rng = Lcg(99);
    for _ in 0..500 {
        let n = (rng.next_f32().abs() * 300.0) as usize;
        let a = rng.vec(n, 3.0);
        let b = rng.vec(n, 3.0);
        let (_, mag) = f64_dot(&a, &b);
        for t in available() {
            let d = ((t.dot)(&a, &b) - scalar::dot(&a, &b)).abs() as f64;
            assert!(d <= 2e-5 * mag + 1e-6, "{} n={n}", t.name);
            let l_ref = scalar::l2_sq(&a, &b) as f64;
            let l = ((t.l2_sq)(&a, &b) as f64 - l_ref).abs();
            assert!(l <= 2e-5 * l_ref + 1e-6, "{} n={n}", t.name);
        }
    }
}

#[test]
fn unaligned_slices() {
    let mut rng = Lcg(3);
    let a = rng.vec(1600, 1.0);
    let b = rng.vec(1600, 1.0);
    for t in available() {
        for off in 0..17 {
            let (x, y) = (&a[off..off + 1536], &b[off + 1..off + 1537]);
            let d = ((t.dot)(x, y) - scalar::dot(x, y)).abs();
            assert!(d < 1e-3, "{} off={off}", t.name);
        }
    }
}

#[test]
fn cosine_and_normalize() {
    assert_eq!(cosine_distance(&[0.0; 8], &[1.0; 8]), 1.0);
    assert_eq!(scalar::cosine_distance(&[0.0; 3], &[0.0; 3]), 1.0);
    let a = [1.0, 2.0, 3.0];
    assert!(cosine_distance(&a, &a).abs() < 1e-6);
    let neg = [-1.0, -2.0, -3.0];
    assert!((cosine_distance(&a, &neg) - 2.0).abs() < 1e-6);
    let mut v = vec![3.0, 4.0];
    normalize(&mut v);
    assert!((norm(&v) - 1.0).abs() < 1e-6);
    let mut z = vec![0.0; 5];
    normalize(&mut z);
    assert!(z.iter().all(|x| *x == 0.0));
    let mut s = vec![3.0, 4.0];
    scalar::normalize(&mut s);
    assert!((scalar::norm(&s) - 1.0).abs() < 1e-6);
    let mut rng = Lcg(5);
    for n in [1, 7, 33, 1536] {
        let a = rng.vec(n, 1.0);
        let b = rng.vec(n, 1.0);
        let d = (cosine_distance(&a, &b) - scalar::cosine_distance(&a, &b)).abs();
        assert!(d < 1e-5);
    }
}

#[test]
fn selected_is_known() {
    assert!(["avx512", "avx2", "neon", "scalar"].contains(&selected()));
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512f") && std::env::var("QUIVER_SIMD").is_err() {
        assert_eq!(selected(), "avx512");
    }
}

#[cfg(target_arch = "x86_64")]
fn extra_i8_variants() -> Vec<(&'static str, DotI8Fn)> {
    avx512::dot_i8_variants()
}

#[cfg(not(target_arch = "x86_64"))]
fn extra_i8_variants() -> Vec<(&'static str, DotI8Fn)> {
    Vec::new()
}

#[test]
fn i8_dot_matches_scalar() {
    let variants: Vec<(&str, DotI8Fn)> = available()
        .iter()
        .map(|t| (t.name, t.dot_i8))
        .chain(extra_i8_variants())
        .collect();
    let mut rng = Lcg(11);
    let mut byte = || (rng.next_f32() * 128.0).clamp(-128.0, 127.0) as i8;
    let mut lens = dims();
    lens.extend([200, 1000, 4096 + 3]);
    for n in lens {
        let a: Vec<i8> = (0..n).map(|_| byte()).collect();
        let b: Vec<i8> = (0..n).map(|_| byte()).collect();
        let want = scalar::dot_i8(&a, &b);
        for (name, f) in &variants {
            assert_eq!(f(&a, &b), want, "{name} n={n}");
        }
        // Extremes: -128 * -128 sums must not saturate.
        let x = vec![-128i8; n];
        let y = vec![127i8; n];
        for (name, f) in &variants {
            assert_eq!(f(&x, &x), scalar::dot_i8(&x, &x), "{name} n={n}");
            assert_eq!(f(&x, &y), scalar::dot_i8(&x, &y), "{name} n={n}");
        }
    }
}

#[test]
fn f16_kernels_match_scalar() {
    let mut rng = Lcg(21);
    for t in available() {
        for &n in &dims() {
            let a = rng.vec(n, 1.0);
            let b: Vec<u16> = rng
                .vec(n, 1.0)
                .iter()
                .map(|&x| half::f16::from_f32(x).to_bits())
                .collect();
            let bf: Vec<f32> = b
                .iter()
                .map(|&x| half::f16::from_bits(x).to_f32())
                .collect();
            let (exact, mag) = f64_dot(&a, &bf);
            let got = (t.dot_f16)(&a, &b) as f64;
            assert!(
                (got - exact).abs() <= 1e-5 * mag + 1e-30,
                "{} dot_f16 n={n}",
                t.name
            );
            let l2 = f64_l2(&a, &bf);
            let got = (t.l2_f16)(&a, &b) as f64;
            assert!(
                (got - l2).abs() <= 1e-5 * l2 + 1e-30,
                "{} l2_f16 n={n}",
                t.name
            );
            let s = scalar::dot_f16(&a, &b) as f64;
            assert!(
                (s - exact).abs() <= 1e-5 * mag + 1e-30,
                "scalar dot_f16 n={n}"
            );
        }
    }
}

#[test]
fn i16_kernels_match_scalar() {
    let mut rng = Lcg(33);
    for t in available() {
        for &n in &dims() {
            let a = rng.vec(n, 1.0);
            let scale = 1.0 / 32767.0 * (1.0 + rng.next_f32().abs());
            let b: Vec<i16> = rng
                .vec(n, 32000.0)
                .iter()
                .map(|&x| x.round() as i16)
                .collect();
            let bf: Vec<f32> = b.iter().map(|&c| scale * c as f32).collect();
            let (exact, mag) = f64_dot(&a, &bf);
            let got = (t.dot_i16)(&a, &b, scale) as f64;
            assert!(
                (got - exact).abs() <= 1e-5 * mag + 1e-30,
                "{} dot_i16 n={n}",
                t.name
            );
            let l2 = f64_l2(&a, &bf);
            let got = (t.l2_i16)(&a, &b, scale) as f64;
            assert!(
                (got - l2).abs() <= 1e-5 * l2 + 1e-30,
                "{} l2_i16 n={n}",
                t.name
            );
        }
    }
}
