//! The `VectorIndex` interface (issue 8, item 7): flat views and graphs answer the same
//! request the same way, and a graph given its exact `f32` rows returns the flat scan's
//! distances bit for bit, through filters and duplicate rows.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize};

use quiver_index::{
    Bitset, FlatIndex, FlatView, Hnsw, HnswParams, HnswView, Metric, Neighbor, SearchRequest,
    VectorIndex, VectorStorage,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::clustered;

const METRICS: [Metric; 3] = [Metric::L2, Metric::Ip, Metric::Cosine];

fn build(v: &[f32], dim: usize, metric: Metric, storage: VectorStorage) -> Hnsw {
    let p = HnswParams {
        m: 12,
        ef_construction: 64,
    };
    Hnsw::build_with_storage(
        v,
        dim,
        metric,
        &p,
        storage,
        &AtomicUsize::new(0),
        &AtomicBool::new(false),
    )
    .expect("build")
}

fn req<'a>(q: &'a [f32], k: usize, ef: usize, allow: Option<&'a Bitset>) -> SearchRequest<'a> {
    SearchRequest {
        query: q,
        k,
        ef,
        allow,
    }
}

/// Every row's flat-scan distance to `q`, by id.
fn flat_dists(base: &[f32], dim: usize, metric: Metric, q: &[f32]) -> HashMap<u32, u32> {
    let n = base.len() / dim;
    FlatIndex::search(base, dim, metric, q, n, None)
        .into_iter()
        .map(|x| (x.id, x.dist.to_bits()))
        .collect()
}

fn assert_flat_bits(got: &[Neighbor], want: &HashMap<u32, u32>, what: &str) {
    for g in got {
        assert_eq!(
            Some(&g.dist.to_bits()),
            want.get(&g.id),
            "{what}: id {} distance {} is not the flat scan's",
            g.id,
            g.dist
        );
    }
    assert!(got.windows(2).all(|w| w[0].dist <= w[1].dist), "{what}");
}

/// Small exact case: with `ef` = rows the graph search is exhaustive, so the flat view
/// and the graph view (with rows) must give the same ids and the same distances.
#[test]
fn flat_and_graph_give_the_same_top_k() {
    let (n, dim) = (400, 16);
    let base = clustered(n, dim, 71);
    let queries = clustered(10, dim, 72);
    for metric in METRICS {
        let h = build(&base, dim, metric, VectorStorage::F16);
        let flat = FlatView::new(&base, dim, metric).expect("flat");
        let graph = HnswView::new(&h, Some(&base)).expect("view");
        let indexes: [&dyn VectorIndex; 2] = [&flat, &graph];
        assert!(indexes.iter().all(|i| i.exact_distances() && i.len() == n));
        for q in queries.chunks_exact(dim) {
            let r = req(q, 10, n, None);
            let (a, b) = (indexes[0].search(&r), indexes[1].search(&r));
            assert_eq!(a.len(), 10);
            assert_eq!(a, b, "{metric:?}");
            assert_eq!(a, FlatIndex::search(&base, dim, metric, q, 10, None));
        }
    }
}

/// At 320 dimensions the graph traverses int8 codes and keeps f16 / i16 rows; given the
/// f32 rows, its one re-rank returns exactly the flat scan's distances, where the own
/// copy's differ (f16 rounding, and cosine scored as `1 - dot` of normalised rows).
#[test]
fn exact_rows_make_graph_distances_bit_identical() {
    let (n, dim) = (600, 320);
    let base = clustered(n, dim, 73);
    let queries = clustered(8, dim, 74);
    for storage in [VectorStorage::F16, VectorStorage::I16, VectorStorage::F32] {
        for metric in METRICS {
            let h = build(&base, dim, metric, storage);
            let view = HnswView::new(&h, Some(&base)).expect("view");
            let mut own_differs = false;
            let mut recall = 0.0;
            for q in queries.chunks_exact(dim) {
                let want = flat_dists(&base, dim, metric, q);
                let got = view.search(&req(q, 10, 64, None));
                assert_eq!(got.len(), 10);
                assert_flat_bits(&got, &want, &format!("{storage:?} {metric:?}"));
                let own = h.search(q, 10, 64, None);
                own_differs |= own.iter().any(|o| want[&o.id] != o.dist.to_bits());
                let top = FlatIndex::search(&base, dim, metric, q, 10, None);
                recall += got
                    .iter()
                    .filter(|g| top.iter().any(|t| t.id == g.id))
                    .count() as f64;
            }
            assert!(
                recall / (10.0 * 8.0) >= 0.9,
                "{storage:?} {metric:?}: {recall}"
            );
            let exact_own = storage == VectorStorage::F32 && metric != Metric::Cosine;
            assert_eq!(VectorIndex::exact_distances(&h), exact_own);
            if !exact_own {
                assert!(
                    own_differs,
                    "{storage:?} {metric:?}: own copy already exact?"
                );
            }
        }
    }
}

/// Filters through the trait: every plan (exact scan at 1 %, traversal at 30 % and 90 %),
/// a flat segment split into chunks that share one segment-wide bitset, and the graph
/// with rows; all give allowed ids only, `min(k, allowed)` of them, flat distances.
#[test]
fn filters_are_respected_through_the_trait() {
    let (n, dim) = (3000, 24);
    let base = clustered(n, dim, 75);
    let queries = clustered(10, dim, 76);
    let mut rng = StdRng::seed_from_u64(77);
    for metric in METRICS {
        let h = build(&base, dim, metric, VectorStorage::F16);
        let graph = HnswView::new(&h, Some(&base)).expect("view");
        // Three chunks of 1000, 1500 and 500 rows, ids offset by each chunk's first row.
        let cuts = [0usize, 1000, 2500, 3000];
        let chunks: Vec<FlatView> = cuts
            .windows(2)
            .map(|w| {
                FlatView::with_first_id(&base[w[0] * dim..w[1] * dim], dim, metric, w[0] as u32)
                    .expect("chunk")
            })
            .collect();
        for frac in [0.01, 0.3, 0.9] {
            let allow = Bitset::from_fn(n, |_| rng.random_bool(frac));
            let allowed = allow.count_ones();
            for q in queries.chunks_exact(dim) {
                let want = flat_dists(&base, dim, metric, q);
                let r = req(q, 20, 64, Some(&allow));
                let g = graph.search(&r);
                let mut merged: Vec<Neighbor> = chunks.iter().flat_map(|c| c.search(&r)).collect();
                merged.sort_by(|a, b| a.dist.total_cmp(&b.dist).then(a.id.cmp(&b.id)));
                merged.truncate(20);
                let flat = FlatIndex::search(&base, dim, metric, q, 20, Some(&allow));
                assert_eq!(merged, flat, "{metric:?} {frac}: chunks vs one slab");
                for (what, got) in [("graph", &g), ("chunks", &merged)] {
                    assert_eq!(got.len(), 20.min(allowed), "{what} {metric:?} {frac}");
                    assert!(got.iter().all(|x| allow.get(x.id as usize)), "{what}");
                    assert_flat_bits(got, &want, what);
                }
            }
        }
    }
}

/// Duplicate rows through the trait. Rows `1..=150` are row 0 scaled by `1 + j·1e-7`:
/// distinct in f32, but (mostly) one group in the f16 copy the graph keeps, so copies
/// are handed out by the group. With the f32 rows each
/// copy still gets its own flat distance, and the hits stay sorted and distinct.
#[test]
fn duplicates_get_their_own_exact_distance() {
    let (n, dim) = (1500, 300);
    let mut base = clustered(n, dim, 78);
    // Row 0 exactly representable in f16, so scaling it by less than half an f16 step
    // leaves its f16 copy unchanged (cosine: normalisation may still split a few off).
    for x in &mut base[..dim] {
        *x = half::f16::from_f32(*x).to_f32();
    }
    let row0 = base[..dim].to_vec();
    for j in 1..=150usize {
        let s = 1.0 + j as f32 * 1e-7;
        for (x, &r) in base[j * dim..(j + 1) * dim].iter_mut().zip(&row0) {
            *x = r * s;
        }
    }
    let mut q = row0.clone();
    q[0] += 0.01;
    for metric in METRICS {
        let h = build(&base, dim, metric, VectorStorage::F16);
        assert!(
            h.copies_of(0).len() >= 100,
            "{metric:?}: {}",
            h.duplicate_rows()
        );
        let view = HnswView::new(&h, Some(&base)).expect("view");
        let want = flat_dists(&base, dim, metric, &q);
        let allow = Bitset::from_fn(n, |i| i % 3 != 1);
        for (k, allow) in [(10, None), (50, None), (200, Some(&allow)), (1000, None)] {
            let got = view.search(&req(&q, k, 64, allow));
            let rows = allow.map_or(n, |b| b.count_ones());
            assert_eq!(got.len(), k.min(rows), "{metric:?} k={k}");
            let mut ids: Vec<u32> = got.iter().map(|g| g.id).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), got.len(), "{metric:?}: duplicate ids");
            assert!(got
                .iter()
                .all(|g| allow.is_none_or(|b| b.get(g.id as usize))));
            assert_flat_bits(&got, &want, &format!("{metric:?} k={k}"));
        }
    }
}

#[test]
fn graph_view_checks_its_rows() {
    let (n, dim) = (300, 8);
    let base = clustered(n, dim, 79);
    let h = build(&base, dim, Metric::L2, VectorStorage::F32);
    assert!(HnswView::new(&h, Some(&base[..base.len() - dim])).is_err());
    let own = HnswView::new(&h, None).expect("no rows");
    let q = &base[..dim];
    assert_eq!(own.search(&req(q, 5, 32, None)), h.search(q, 5, 32, None));
    assert!(own.try_search(&req(&q[1..], 5, 32, None)).is_err());
    // A client-sized ef (as large as Milvus lets it be) is bounded by the row count.
    let all = own.search(&req(q, 5, i32::MAX as usize, None));
    assert_eq!(all, FlatIndex::search(&base, dim, Metric::L2, q, 5, None));
}
