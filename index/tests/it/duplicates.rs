//! Duplicate and near-duplicate rows (issue 7, defect 3) and non-finite distances
//! (defect 6): HNSW must return exactly `min(limit, rows)` hits with recall on par with
//! the duplicate-free case, through filters and a serialization round trip.

use std::sync::atomic::{AtomicBool, AtomicUsize};

use quiver_index::{
    Bitset, FilterPlan, FlatIndex, Hnsw, HnswParams, Metric, Neighbor, VectorStorage,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::clustered;

const LIMITS: [usize; 4] = [10, 50, 100, 1000];

fn build_with(v: &[f32], dim: usize, metric: Metric, storage: VectorStorage) -> Hnsw {
    let p = HnswParams {
        m: 16,
        ef_construction: 100,
    };
    let (progress, cancel) = (AtomicUsize::new(0), AtomicBool::new(false));
    let h =
        Hnsw::build_with_storage(v, dim, metric, &p, storage, &progress, &cancel).expect("build");
    assert_eq!(
        progress.into_inner(),
        v.len() / dim,
        "progress counts copies too"
    );
    h
}

/// `base` with `frac` of its rows (chosen at random) overwritten by row 0, and `near` of
/// them by row 1 with the last mantissa bit of a few components flipped (near-duplicates:
/// not bit-identical, same int8 code).
fn with_dups(mut base: Vec<f32>, dim: usize, frac: f64, near: f64, seed: u64) -> Vec<f32> {
    let n = base.len() / dim;
    let mut rng = StdRng::seed_from_u64(seed);
    let (src, near_src) = (base[..dim].to_vec(), base[dim..2 * dim].to_vec());
    let mut ids: Vec<usize> = (2..n).collect();
    for i in 0..ids.len() {
        let j = rng.random_range(i..ids.len());
        ids.swap(i, j);
    }
    let copies = ((n as f64 * frac) as usize).min(n - 1);
    let nears = ((n as f64 * near) as usize).min(ids.len().saturating_sub(copies));
    for (k, &i) in ids.iter().take(copies + nears).enumerate() {
        let row = &mut base[i * dim..(i + 1) * dim];
        if k < copies {
            row.copy_from_slice(&src);
        } else {
            row.copy_from_slice(&near_src);
            for _ in 0..3 {
                let j = rng.random_range(0..dim);
                row[j] = f32::from_bits(row[j].to_bits() ^ 1);
            }
        }
    }
    if frac >= 1.0 {
        for row in base.chunks_exact_mut(dim) {
            row.copy_from_slice(&src);
        }
    }
    base
}

/// Distance-based recall: the share of the true top-`k` distances matched by hits at
/// least as close (duplicates make ids ambiguous; distances are not).
fn dist_recall(got: &[Neighbor], want: &[Neighbor]) -> f64 {
    let Some(kth) = want.last() else { return 1.0 };
    let tol = 1e-5 * (1.0 + kth.dist.abs());
    let ok = got.iter().filter(|g| g.dist <= kth.dist + tol).count();
    ok.min(want.len()) as f64 / want.len() as f64
}

/// Queries: random ones from the data's distribution plus some right at the duplicated
/// and near-duplicated rows (the hard case: the copies are their nearest neighbours).
fn queries(base: &[f32], dim: usize) -> Vec<f32> {
    let mut q = clustered(40, dim, 77);
    for i in 0..10 {
        let row = if i % 2 == 0 {
            &base[..dim]
        } else {
            &base[dim..2 * dim]
        };
        q.extend(row.iter().map(|x| x + 1e-3 * i as f32));
    }
    q
}

/// Checks every limit: exactly `min(limit, n)` distinct hits, best first, and returns the
/// worst mean recall over the limits.
fn check_limits(h: &Hnsw, base: &[f32], qs: &[f32], allow: Option<&Bitset>) -> f64 {
    let (dim, n) = (h.dim(), base.len() / h.dim());
    let rows = allow.map_or(n, |b| b.count_ones());
    let mut worst = 1.0f64;
    for limit in LIMITS {
        let mut total = 0.0;
        for q in qs.chunks_exact(dim) {
            let got = h.search(q, limit, 64, allow);
            assert_eq!(got.len(), limit.min(rows), "limit {limit}");
            assert!(got.windows(2).all(|w| w[0].dist <= w[1].dist));
            let mut ids: Vec<u32> = got.iter().map(|g| g.id).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), got.len(), "duplicate ids in results");
            assert!(allow.is_none_or(|b| ids.iter().all(|&i| b.get(i as usize))));
            let want = FlatIndex::search(base, dim, h.metric(), q, limit, allow);
            total += dist_recall(&got, &want);
        }
        worst = worst.min(total / (qs.len() / dim) as f64);
    }
    worst
}

#[test]
fn identical_rows_keep_limit_hits_and_recall() {
    let dim = 32;
    let n = 2500;
    let clean = clustered(n, dim, 31);
    let mut baseline = 0.0;
    for frac in [0.0, 0.05, 0.2, 0.5] {
        let base = with_dups(clean.clone(), dim, frac, 0.02, 5);
        let h = build_with(&base, dim, Metric::L2, VectorStorage::F32);
        let copies = (n as f64 * frac) as usize;
        // Near-duplicates that flipped the same bits are bit-identical among themselves.
        assert!(h.duplicate_rows() >= copies, "frac {frac}");
        assert_eq!(h.copies_of(0).len(), copies);
        let r = check_limits(&h, &base, &queries(&base, dim), None);
        if frac == 0.0 {
            baseline = r;
        }
        assert!(
            r >= 0.9 && r >= baseline - 0.03,
            "frac {frac}: recall {r} (0 %: {baseline})"
        );
    }
}

#[test]
fn all_rows_identical_every_metric() {
    let (dim, n) = (16, 3000);
    let base = with_dups(clustered(n, dim, 32), dim, 1.0, 0.0, 6);
    for metric in [Metric::L2, Metric::Ip, Metric::Cosine] {
        let h = build_with(&base, dim, metric, VectorStorage::F32);
        assert_eq!(h.duplicate_rows(), n - 1);
        for limit in [10, 100, 1000, 5000] {
            let got = h.search(&base[..dim], limit, 16, None);
            assert_eq!(got.len(), limit.min(n), "{metric:?} limit {limit}");
            assert!(got.iter().all(|g| g.dist == got[0].dist));
        }
        // Only some copies allowed, the representative (id 0) not among them.
        let allow = Bitset::from_fn(n, |i| i % 3 == 1);
        for plan in [FilterPlan::Graph, FilterPlan::Auto] {
            let mut h2 = Hnsw::from_bytes(&h.to_bytes()).expect("load");
            h2.set_filter_plan(plan);
            let got = h2.search(&base[..dim], 2000, 16, Some(&allow));
            assert_eq!(got.len(), 1000, "{metric:?} {plan:?}");
            assert!(got.iter().all(|g| allow.get(g.id as usize)));
        }
    }
}

#[test]
fn filter_allowing_some_copies() {
    let (dim, n) = (32, 3000);
    let base = with_dups(clustered(n, dim, 33), dim, 0.05, 0.02, 7);
    let mut h = build_with(&base, dim, Metric::L2, VectorStorage::F32);
    h.set_filter_plan(FilterPlan::Graph);
    let copies = h.copies_of(0).to_vec();
    assert_eq!(copies.len(), 150);
    // Not the representative, every third copy, half of the other rows.
    let some: Vec<u32> = copies.iter().copied().step_by(3).collect();
    let allow = Bitset::from_fn(n, |i| {
        i != 0 && (some.contains(&(i as u32)) || (!copies.contains(&(i as u32)) && i % 2 == 1))
    });
    let got = h.search(&base[..dim], 100, 64, Some(&allow));
    assert_eq!(got.len(), 100);
    assert!(got.iter().all(|g| allow.get(g.id as usize)));
    // The allowed copies come first, at distance 0.
    let zero: Vec<u32> = got.iter().filter(|g| g.dist == 0.0).map(|g| g.id).collect();
    assert_eq!(zero.len(), some.len());
    assert!(zero.iter().all(|id| some.contains(id)));
    let r = check_limits(&h, &base, &queries(&base, dim), Some(&allow));
    assert!(r >= 0.9, "filtered recall {r}");
}

#[test]
fn near_duplicates_on_int8_codes_and_f16_rows() {
    // 256 dimensions: traversal and construction run on int8 codes, where the
    // near-duplicates (last-bit flips) are indistinguishable; in f16 they are identical.
    let (dim, n) = (256, 1200);
    let clean = clustered(n, dim, 34);
    let mut qs = clustered(20, dim, 78);
    qs.extend_from_slice(&clean[dim..2 * dim]);
    for (frac, near) in [(0.0, 0.0), (0.05, 0.2), (0.0, 0.5)] {
        let base = with_dups(clean.clone(), dim, frac, near, 8);
        for storage in [VectorStorage::F32, VectorStorage::F16] {
            let h = build_with(&base, dim, Metric::Cosine, storage);
            let copies = (n as f64 * frac) as usize;
            // Cosine normalisation (and f16) can make near-duplicates bit-identical.
            assert_eq!(h.copies_of(0).len(), copies);
            assert!(h.duplicate_rows() >= copies);
            let mut total = 0.0;
            for q in qs.chunks_exact(dim) {
                for limit in [10, 100] {
                    let got = h.search(q, limit, 64, None);
                    assert_eq!(got.len(), limit);
                    let want = FlatIndex::search(&base, dim, Metric::Cosine, q, limit, None);
                    // f16 re-ranking is within ~1e-3 of exact.
                    let tol = if storage == VectorStorage::F16 {
                        2e-3
                    } else {
                        1e-5
                    };
                    let kth = want[limit - 1].dist + tol;
                    total += got.iter().filter(|g| g.dist <= kth).count() as f64 / limit as f64;
                }
            }
            let r = total / (2 * qs.len() / dim) as f64;
            assert!(r >= 0.9, "{frac} {near} {storage:?}: recall {r}");
        }
    }
}

#[test]
fn serialization_keeps_duplicate_groups() {
    let (dim, n) = (24, 1500);
    let base = with_dups(clustered(n, dim, 35), dim, 0.2, 0.0, 9);
    let h = build_with(&base, dim, Metric::Cosine, VectorStorage::F32);
    let bytes = h.to_bytes();
    let g = Hnsw::from_bytes(&bytes).expect("load");
    assert_eq!(g.duplicate_rows(), 300);
    for id in 0..n as u32 {
        assert_eq!(g.copies_of(id), h.copies_of(id));
    }
    assert_eq!(g.memory_bytes(), h.memory_bytes());
    for q in queries(&base, dim).chunks_exact(dim) {
        assert_eq!(g.search(q, 100, 64, None), h.search(q, 100, 64, None));
    }
    assert_eq!(g.to_bytes(), bytes);
}

#[test]
fn version_2_bytes_still_load() {
    // A version-3 file of duplicate-free data is the version-2 layout plus an empty
    // duplicate section (two zero u64s) before the checksum.
    let (dim, n) = (16, 500);
    let base = clustered(n, dim, 36);
    let h = build_with(&base, dim, Metric::L2, VectorStorage::F32);
    assert_eq!(h.duplicate_rows(), 0);
    let v3 = h.to_bytes();
    let body = &v3[..v3.len() - 4];
    assert!(body[body.len() - 16..].iter().all(|&b| b == 0));
    let mut v2 = body[..body.len() - 16].to_vec();
    v2[8..12].copy_from_slice(&2u32.to_le_bytes());
    let crc = crc32(&v2);
    v2.extend_from_slice(&crc.to_le_bytes());
    let g = Hnsw::from_bytes(&v2).expect("version 2 loads");
    let q = &clustered(1, dim, 37)[..];
    assert_eq!(g.search(q, 10, 32, None), h.search(q, 10, 32, None));
    v2[8..12].copy_from_slice(&1u32.to_le_bytes());
    assert!(Hnsw::from_bytes(&v2).is_err());
}

/// CRC-32 (IEEE), bitwise: the checksum the index format ends with.
fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn overflowing_query_returns_limit_hits() {
    let (dim, n) = (32, 2000);
    for base in [
        clustered(n, dim, 38),
        with_dups(clustered(n, dim, 38), dim, 0.05, 0.0, 10),
    ] {
        for metric in [Metric::L2, Metric::Ip, Metric::Cosine] {
            let h = build_with(&base, dim, metric, VectorStorage::F32);
            // L2: every distance is +inf. IP / COSINE: lanes of +inf and -inf give NaN.
            let big = vec![3e38f32; dim];
            let mixed: Vec<f32> = (0..dim)
                .map(|j| if j % 2 == 0 { 3e38 } else { -3e38 })
                .collect();
            for q in [&big, &mixed] {
                for limit in [10, 50, 100] {
                    let got = h.search(q, limit, 16, None);
                    assert_eq!(got.len(), limit, "{metric:?} limit {limit}");
                    let flat = FlatIndex::search(&base, dim, metric, q, limit, None);
                    assert_eq!(flat.len(), limit);
                    assert!(got.iter().all(|g| !g.dist.is_nan()));
                }
            }
        }
    }
}

#[test]
fn nan_distances_never_drop_candidates() {
    // A tenth of the rows hold +inf and -inf: their IP distance to the query is NaN
    // (inf - inf). They rank last; every other row ranks before them.
    let (dim, n) = (32, 2000);
    let mut base = clustered(n, dim, 39);
    for row in base.chunks_exact_mut(dim).skip(5).step_by(10) {
        row[0] = f32::INFINITY;
        row[1] = f32::NEG_INFINITY;
    }
    let h = build_with(&base, dim, Metric::Ip, VectorStorage::F32);
    let mut q = clustered(1, dim, 40);
    q[0] = 1.0;
    q[1] = 1.0;
    let q = &q[..];
    let got = h.search(q, n, 64, None);
    assert_eq!(got.len(), n);
    let finite = got.iter().take_while(|g| g.dist.is_finite()).count();
    assert_eq!(finite, n - n / 10);
    assert!(got.iter().all(|g| !g.dist.is_nan()));
    let ten = h.search(q, 10, 64, None);
    assert_eq!(ten.len(), 10);
    assert!(ten.iter().all(|g| g.dist.is_finite()));
}
