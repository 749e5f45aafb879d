//! A small HNSW (5k x 128, cosine, fixed seed): build, search, filtered search.

use std::sync::atomic::{AtomicBool, AtomicUsize};

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use quiver_index::{Bitset, Hnsw, HnswParams, Metric};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DIM: usize = 128;
const N: usize = 5_000;

fn data(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let centres: Vec<f32> = (0..32 * DIM)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let mut v = Vec::with_capacity(n * DIM);
    for _ in 0..n {
        let c = rng.random_range(0..32) * DIM;
        v.extend((0..DIM).map(|j| centres[c + j] + rng.random_range(-0.4f32..0.4)));
    }
    v
}

fn build(v: &[f32]) -> Hnsw {
    let p = HnswParams {
        m: 16,
        ef_construction: 128,
    };
    Hnsw::build(
        v,
        DIM,
        Metric::Cosine,
        &p,
        &AtomicUsize::new(0),
        &AtomicBool::new(false),
    )
    .unwrap_or_else(|e| panic!("build failed: {e}"))
}

fn benches(c: &mut Criterion) {
    let base = data(N, 1);
    let queries = data(100, 2);
    let mut g = c.benchmark_group("hnsw_5k_128");
    g.sample_size(10);
    g.bench_function("build", |b| b.iter(|| build(black_box(&base))));
    let h = build(&base);
    for ef in [16, 64] {
        g.bench_function(format!("search_ef{ef}"), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % 100;
                h.search(&queries[i * DIM..(i + 1) * DIM], 10, ef, None)
            })
        });
    }
    for frac in [0.8, 0.1, 0.01] {
        let allow = Bitset::from_fn(N, |i| (i * 7919 % 1000) < (frac * 1000.0) as usize);
        g.bench_function(format!("filtered_{frac}_ef64"), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % 100;
                h.search(&queries[i * DIM..(i + 1) * DIM], 10, 64, Some(&allow))
            })
        });
    }
    g.finish();
}

criterion_group!(hnsw, benches);
criterion_main!(hnsw);
