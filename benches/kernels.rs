//! Distance kernels at 1536 dimensions: every instruction set this CPU supports,
//! plus simsimd for comparison. Reports ns per distance and GB/s (both vectors read).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use quiver_index::{kernels, FlatIndex, Metric};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use simsimd::SpatialSimilarity;

const DIM: usize = 1536;

fn vecs(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n * DIM)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect()
}

fn distance(c: &mut Criterion) {
    let a = vecs(1, 1);
    let b = vecs(1, 2);
    let mut g = c.benchmark_group("distance_1536");
    g.throughput(Throughput::Bytes((2 * DIM * 4) as u64));
    for t in kernels::available() {
        g.bench_function(format!("dot/{}", t.name), |bn| {
            bn.iter(|| (t.dot)(black_box(&a), black_box(&b)))
        });
        g.bench_function(format!("l2_sq/{}", t.name), |bn| {
            bn.iter(|| (t.l2_sq)(black_box(&a), black_box(&b)))
        });
    }
    g.finish();

    // Compact rows: bytes are those of the stored row plus the query.
    let a8: Vec<i8> = a.iter().map(|x| (x * 127.0) as i8).collect();
    let b8: Vec<i8> = b.iter().map(|x| (x * 127.0) as i8).collect();
    let b16: Vec<u16> = b
        .iter()
        .map(|&x| half::f16::from_f32(x).to_bits())
        .collect();
    let mut g = c.benchmark_group("distance_1536_i8");
    g.throughput(Throughput::Bytes((2 * DIM) as u64));
    for t in kernels::available() {
        g.bench_function(format!("dot_i8/{}", t.name), |bn| {
            bn.iter(|| (t.dot_i8)(black_box(&a8), black_box(&b8)))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("distance_1536_f16");
    g.throughput(Throughput::Bytes((DIM * 4 + DIM * 2) as u64));
    for t in kernels::available() {
        g.bench_function(format!("dot_f16/{}", t.name), |bn| {
            bn.iter(|| (t.dot_f16)(black_box(&a), black_box(&b16)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("distance_1536");
    g.throughput(Throughput::Bytes((2 * DIM * 4) as u64));
    g.bench_function("cosine_distance/selected", |bn| {
        bn.iter(|| kernels::cosine_distance(black_box(&a), black_box(&b)))
    });
    g.bench_function("dot/simsimd", |bn| {
        bn.iter(|| <f32 as SpatialSimilarity>::dot(black_box(&a), black_box(&b)))
    });
    g.bench_function("l2_sq/simsimd", |bn| {
        bn.iter(|| <f32 as SpatialSimilarity>::sqeuclidean(black_box(&a), black_box(&b)))
    });
    g.finish();
}

/// Exact scan of 20k x 1536 (123 MB, larger than any cache): memory-bandwidth bound.
fn flat_scan(c: &mut Criterion) {
    let n = 20_000;
    let base = vecs(n, 3);
    let q = vecs(1, 4);
    let mut g = c.benchmark_group("flat_scan_20k_1536");
    g.sample_size(10);
    g.throughput(Throughput::Bytes((n * DIM * 4) as u64));
    for m in [Metric::L2, Metric::Ip, Metric::Cosine] {
        g.bench_function(m.as_str(), |bn| {
            bn.iter(|| FlatIndex::search(black_box(&base), DIM, m, black_box(&q), 10, None))
        });
    }
    g.finish();
}

criterion_group!(benches, distance, flat_scan);
criterion_main!(benches);
