//! ANN benchmark of the quiver HNSW on the shared dataset (`gen_dataset.py` output).
//!
//! ```sh
//! cargo run --release -p quiver-index --example bench_ann -- DATA_DIR [--threads T]
//!     [--m 16] [--efc 256] [--efs 16,32,64,128,256] [--filter-ef 64] [--build-threads 1,2]
//!     [--hnsw-rs] [--storage f16[,i16,f32]] [--rerank own[,rescore,exact]]
//! ```
//! `--rerank` chooses where final distances come from, each mode measured on the same
//! index, interleaved per ef point so machine load hits every mode alike: `own` (the
//! index's own copy, `Hnsw::search`), `rescore` (own copy, then the k hits rescored from
//! the f32 base with `RawScorer` and sorted again: the query node's former path), `exact`
//! (`HnswView` with the f32 base: the `ef` candidates re-ranked once from f32). Modes after
//! the first report as `<engine>_<mode>`.
//! `--storage` defaults to `f16`, the mode the server builds (src/indexnode.rs), so the
//! `quiver` engine's `bytes_per_vector` is what a served index holds. A list builds one
//! index per mode in the same run: the first reports as `quiver`, the others as
//! `quiver_<mode>` (e.g. `quiver_i16`).
//! When DATA_DIR holds `gt_kth.f32` / `gt_tenant_kth.f32` (duplicate-row variants written by
//! `scripts/bench_ann_dups.py`), recall is scored by distance: a hit counts when its cosine
//! distance is within 1e-6 of the 10th true neighbour's (tied copies make ids ambiguous).
//!
//! Prints a human-readable report and, as the last line, one JSON object
//! `{"threads":…, "n":…, "dim":…, "engines": {"quiver": {…}}}` (plus `"hnsw_rs"` with `--hnsw-rs`).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::time::Instant;

use quiver_index::{
    Bitset, FlatIndex, Hnsw, HnswParams, HnswView, Metric, Neighbor, RawScorer, SearchRequest,
    VectorIndex, VectorStorage,
};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

struct Data {
    dim: usize,
    base: Vec<f32>,
    queries: Vec<f32>,
    gt: Vec<Vec<u32>>,
    gt_tenant: Vec<Vec<u32>>,
    tenant_base: Vec<u32>,
    tenant_query: Vec<u32>,
    /// Cosine distance of each query's 10th true neighbour (unfiltered, per tenant).
    kth: Option<(Vec<f32>, Vec<f32>)>,
}

impl Data {
    /// Recall@10 of query `qi` against `gt` (per-tenant with `tenant`): by id, or by
    /// distance when the dataset has `gt_kth.f32`.
    fn recall(&self, qi: usize, got: &[u32], gt: &[u32], tenant: bool) -> f64 {
        let Some((all, per_tenant)) = &self.kth else {
            return recall10(got, gt);
        };
        let kth = if tenant { per_tenant[qi] } else { all[qi] } as f64 + 1e-6;
        let q = &self.queries[qi * self.dim..(qi + 1) * self.dim];
        let ok = got
            .iter()
            .take(10)
            .filter(|&&id| {
                let r = &self.base[id as usize * self.dim..(id as usize + 1) * self.dim];
                cosine_dist(q, r) <= kth
            })
            .count();
        ok as f64 / 10.0
    }
}

fn cosine_dist(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    1.0 - ab / (aa * bb).sqrt().max(1e-300)
}

fn read_f32(path: &Path) -> Res<Vec<f32>> {
    let b = fs::read(path)?;
    Ok(b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn read_vecs(path: &Path) -> Res<(usize, Vec<[u8; 4]>)> {
    let bytes = fs::read(path)?;
    if bytes.len() < 4 {
        return Err(format!("{}: empty", path.display()).into());
    }
    let d = i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let row = 4 * (d + 1);
    if !bytes.len().is_multiple_of(row) {
        return Err(format!("{}: bad length", path.display()).into());
    }
    let mut out = Vec::with_capacity(bytes.len() / row * d);
    for r in bytes.chunks_exact(row) {
        for c in r[4..].chunks_exact(4) {
            out.push([c[0], c[1], c[2], c[3]]);
        }
    }
    Ok((d, out))
}

fn read_fvecs(path: &Path) -> Res<(usize, Vec<f32>)> {
    let (d, raw) = read_vecs(path)?;
    Ok((d, raw.into_iter().map(f32::from_le_bytes).collect()))
}

fn read_ivecs(path: &Path) -> Res<Vec<Vec<u32>>> {
    let (d, raw) = read_vecs(path)?;
    let ids: Vec<i32> = raw.into_iter().map(i32::from_le_bytes).collect();
    Ok(ids
        .chunks_exact(d.max(1))
        .map(|r| r.iter().filter(|&&x| x >= 0).map(|&x| x as u32).collect())
        .collect())
}

fn read_u32(path: &Path) -> Res<Vec<u32>> {
    let b = fs::read(path)?;
    Ok(b.chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn load(dir: &Path) -> Res<Data> {
    let (dim, base) = read_fvecs(&dir.join("base.fvecs"))?;
    let (qd, queries) = read_fvecs(&dir.join("query.fvecs"))?;
    if qd != dim {
        return Err("query and base dimensions differ".into());
    }
    Ok(Data {
        dim,
        base,
        queries,
        gt: read_ivecs(&dir.join("gt.ivecs"))?,
        gt_tenant: read_ivecs(&dir.join("gt_tenant.ivecs"))?,
        tenant_base: read_u32(&dir.join("tenant_base.u32"))?,
        tenant_query: read_u32(&dir.join("tenant_query.u32"))?,
        kth: match (
            read_f32(&dir.join("gt_kth.f32")),
            read_f32(&dir.join("gt_tenant_kth.f32")),
        ) {
            (Ok(a), Ok(t)) => Some((a, t)),
            _ => None,
        },
    })
}

fn recall10(got: &[u32], gt: &[u32]) -> f64 {
    let g = &gt[..gt.len().min(10)];
    if g.is_empty() {
        return 1.0;
    }
    let hits = got.iter().take(10).filter(|id| g.contains(id)).count();
    hits as f64 / g.len() as f64
}

fn rss_bytes() -> usize {
    let s = fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

struct Opts {
    dir: String,
    threads: usize,
    m: usize,
    efc: usize,
    efs: Vec<usize>,
    filter_ef: usize,
    build_threads: Vec<usize>,
    hnsw_rs: bool,
    storage: Vec<VectorStorage>,
    rerank: Vec<Rerank>,
}

/// Where final distances come from (see the module doc, `--rerank`).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Rerank {
    Own,
    Rescore,
    Exact,
}

impl Rerank {
    fn name(self) -> &'static str {
        match self {
            Rerank::Own => "own",
            Rerank::Rescore => "rescore",
            Rerank::Exact => "exact",
        }
    }

    /// Top-10 under this mode (`base` = the f32 rows the index was built from).
    fn search(
        self,
        h: &Hnsw,
        base: &[f32],
        q: &[f32],
        ef: usize,
        allow: Option<&Bitset>,
    ) -> Vec<Neighbor> {
        match self {
            Rerank::Own => h.search(q, 10, ef, allow),
            Rerank::Rescore => {
                let dim = h.dim();
                let scorer = RawScorer::new(h.metric(), q);
                let mut out: Vec<Neighbor> = h
                    .search(q, 10, ef, allow)
                    .into_iter()
                    .map(|n| {
                        let r = n.id as usize;
                        let dist = base
                            .get(r * dim..(r + 1) * dim)
                            .map_or(n.dist, |v| scorer.dist(v));
                        Neighbor { id: n.id, dist }
                    })
                    .collect();
                out.sort_by(|a, b| a.dist.total_cmp(&b.dist));
                out
            }
            Rerank::Exact => match HnswView::new(h, Some(base)) {
                Ok(v) => v.search(&SearchRequest {
                    query: q,
                    k: 10,
                    ef,
                    allow,
                }),
                Err(_) => Vec::new(),
            },
        }
    }
}

fn parse_list(s: &str) -> Vec<usize> {
    s.split(',').filter_map(|x| x.trim().parse().ok()).collect()
}

fn opts() -> Res<Opts> {
    let mut o = Opts {
        dir: String::new(),
        threads: 1,
        m: 16,
        efc: 256,
        efs: vec![16, 32, 64, 128, 256],
        filter_ef: 64,
        build_threads: Vec::new(),
        hnsw_rs: false,
        storage: vec![VectorStorage::F16],
        rerank: vec![Rerank::Own],
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--threads" => o.threads = val()?.parse()?,
            "--m" => o.m = val()?.parse()?,
            "--efc" => o.efc = val()?.parse()?,
            "--efs" => o.efs = parse_list(&val()?),
            "--filter-ef" => o.filter_ef = val()?.parse()?,
            "--build-threads" => o.build_threads = parse_list(&val()?),
            "--hnsw-rs" => o.hnsw_rs = true,
            "--storage" => {
                o.storage = val()?
                    .split(',')
                    .map(|m| match m.trim() {
                        "f32" => Ok(VectorStorage::F32),
                        "f16" => Ok(VectorStorage::F16),
                        "i16" => Ok(VectorStorage::I16),
                        s => Err(format!("--storage f32|f16|i16[,...], got {s}")),
                    })
                    .collect::<Result<_, _>>()?
            }
            "--rerank" => {
                o.rerank = val()?
                    .split(',')
                    .map(|m| match m.trim() {
                        "own" => Ok(Rerank::Own),
                        "rescore" => Ok(Rerank::Rescore),
                        "exact" => Ok(Rerank::Exact),
                        s => Err(format!("--rerank own|rescore|exact[,...], got {s}")),
                    })
                    .collect::<Result<_, _>>()?
            }
            _ if o.dir.is_empty() => o.dir = a,
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    if o.dir.is_empty() {
        return Err("usage: bench_ann DATA_DIR [--threads T] [--m M] [--efc EF] [--efs 16,32] [--filter-ef EF] [--build-threads 1,2] [--hnsw-rs] [--storage f16[,i16,f32]] [--rerank own[,rescore,exact]]".into());
    }
    if o.build_threads.is_empty() {
        o.build_threads = vec![o.threads];
    }
    Ok(o)
}

/// Runs `search(query_index)` for every query, split over `threads` threads; returns
/// (results, wall seconds, per-query latencies in µs).
fn run_queries<F>(nq: usize, threads: usize, search: F) -> (Vec<Vec<u32>>, f64, Vec<f64>)
where
    F: Fn(usize) -> Vec<u32> + Sync,
{
    let t0 = Instant::now();
    let mut per_thread: Vec<Vec<(usize, Vec<u32>, f64)>> = Vec::new();
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let search = &search;
                s.spawn(move || {
                    (t..nq)
                        .step_by(threads)
                        .map(|i| {
                            let q0 = Instant::now();
                            let r = search(i);
                            (i, r, q0.elapsed().as_secs_f64() * 1e6)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in hs {
            per_thread.push(h.join().unwrap_or_default());
        }
    });
    let wall = t0.elapsed().as_secs_f64();
    let mut results = vec![Vec::new(); nq];
    let mut lat = Vec::with_capacity(nq);
    for (i, r, l) in per_thread.into_iter().flatten() {
        results[i] = r;
        lat.push(l);
    }
    lat.sort_by(f64::total_cmp);
    (results, wall, lat)
}

struct CurvePoint {
    ef: usize,
    recall: f64,
    qps: f64,
    qps_1t: f64,
    p50: f64,
    p99: f64,
}

fn curve<F>(d: &Data, o: &Opts, search: F) -> Vec<CurvePoint>
where
    F: Fn(&[f32], usize) -> Vec<u32> + Sync,
{
    curve_at(d, o, &o.efs, search)
}

fn curve_at<F>(d: &Data, o: &Opts, efs: &[usize], search: F) -> Vec<CurvePoint>
where
    F: Fn(&[f32], usize) -> Vec<u32> + Sync,
{
    let nq = d.queries.len() / d.dim;
    let q = |i: usize| &d.queries[i * d.dim..(i + 1) * d.dim];
    let mut out = Vec::new();
    for &ef in efs {
        // Warm-up pass, then single-thread latency pass, then THREADS throughput pass.
        let _ = run_queries(nq.min(100), 1, |i| search(q(i), ef));
        let (res, wall1, lat) = run_queries(nq, 1, |i| search(q(i), ef));
        let (_, wall, _) = if o.threads > 1 {
            run_queries(nq, o.threads, |i| search(q(i), ef))
        } else {
            (Vec::new(), wall1, Vec::new())
        };
        let recall = res
            .iter()
            .zip(&d.gt)
            .enumerate()
            .map(|(i, (r, g))| d.recall(i, r, g, false))
            .sum::<f64>()
            / nq as f64;
        let p = CurvePoint {
            ef,
            recall,
            qps: nq as f64 / wall,
            qps_1t: nq as f64 / wall1,
            p50: percentile(&lat, 0.5),
            p99: percentile(&lat, 0.99),
        };
        println!(
            "  ef={:<4} recall@10={:.4}  qps({}t)={:>9.1}  qps(1t)={:>9.1}  p50={:>7.1}us  p99={:>7.1}us",
            p.ef, p.recall, o.threads, p.qps, p.qps_1t, p.p50, p.p99
        );
        out.push(p);
    }
    out
}

fn curve_json(c: &[CurvePoint]) -> String {
    let pts: Vec<String> = c
        .iter()
        .map(|p| {
            format!(
                "{{\"ef\": {}, \"recall\": {:.4}, \"qps\": {:.1}, \"qps_1t\": {:.1}, \"p50_us\": {:.1}, \"p99_us\": {:.1}}}",
                p.ef, p.recall, p.qps, p.qps_1t, p.p50, p.p99
            )
        })
        .collect();
    format!("[{}]", pts.join(", "))
}

fn build_quiver(d: &Data, o: &Opts, storage: VectorStorage, threads: usize) -> Res<(Hnsw, f64)> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let params = HnswParams {
        m: o.m,
        ef_construction: o.efc,
    };
    let t0 = Instant::now();
    let h = pool.install(|| {
        Hnsw::build_with_storage(
            &d.base,
            d.dim,
            Metric::Cosine,
            &params,
            storage,
            &AtomicUsize::new(0),
            &AtomicBool::new(false),
        )
    })?;
    Ok((h, t0.elapsed().as_secs_f64()))
}

/// Per-tenant filtered recall and QPS; returns the minimum recall.
fn filtered(d: &Data, h: &Hnsw, ef: usize, mode: Rerank) -> f64 {
    let n = d.base.len() / d.dim;
    let mut tenants: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, &t) in d.tenant_query.iter().enumerate() {
        tenants.entry(t).or_default().push(i);
    }
    let mut min_recall = 1.0f64;
    // bucket label -> (queries, recall sum, seconds)
    let mut buckets: BTreeMap<&str, (usize, f64, f64)> = BTreeMap::new();
    println!(
        "filtered search (ef={ef}, 1 thread, rerank {}):",
        mode.name()
    );
    for (t, qs) in tenants {
        let allow = Bitset::from_fn(n, |i| d.tenant_base[i] == t);
        let frac = allow.count_ones() as f64 / n as f64;
        let plan = if h.plans_exact(allow.count_ones(), ef) {
            "exact"
        } else {
            "graph"
        };
        let t0 = Instant::now();
        let mut rec = 0.0;
        for &qi in &qs {
            let q = &d.queries[qi * d.dim..(qi + 1) * d.dim];
            let r: Vec<u32> = mode
                .search(h, &d.base, q, ef, Some(&allow))
                .iter()
                .map(|x| x.id)
                .collect();
            rec += d.recall(qi, &r, &d.gt_tenant[qi], true);
        }
        let secs = t0.elapsed().as_secs_f64();
        let bucket = match frac {
            f if f < 0.01 => "a: <1%",
            f if f < 0.05 => "b: 1-5%",
            f if f < 0.2 => "c: 5-20%",
            _ => "d: >=20%",
        };
        let e = buckets.entry(bucket).or_default();
        e.0 += qs.len();
        e.1 += rec;
        e.2 += secs;
        let rec = rec / qs.len().max(1) as f64;
        min_recall = min_recall.min(rec);
        println!(
            "  tenant {t:>3}: {:>5.2}% of rows  plan={plan}  recall@10={rec:.4}  qps={:.1}",
            frac * 100.0,
            qs.len() as f64 / secs
        );
    }
    for (b, (nq, rec, secs)) in buckets {
        println!(
            "  bucket {}: {nq} queries  recall@10={:.4}  qps={:.1}",
            &b[3..],
            rec / nq.max(1) as f64,
            nq as f64 / secs
        );
    }
    min_recall
}

/// Streaming-read bandwidth over the base vectors (the limit for an exact scan).
fn read_bandwidth(d: &Data, threads: usize) -> f64 {
    let rows = d.base.len();
    let t0 = Instant::now();
    let passes = 3;
    let mut sink = 0u32;
    for _ in 0..passes {
        std::thread::scope(|s| {
            let chunk = rows.div_ceil(threads);
            let hs: Vec<_> = d
                .base
                .chunks(chunk)
                .map(|c| s.spawn(move || c.iter().fold(0u32, |a, x| a ^ x.to_bits())))
                .collect();
            for h in hs {
                sink ^= h.join().unwrap_or(0);
            }
        });
    }
    std::hint::black_box(sink);
    (passes * rows * 4) as f64 / 1e9 / t0.elapsed().as_secs_f64()
}

fn flat_scan(d: &Data) {
    let n = d.base.len() / d.dim;
    let nq = 20.min(d.queries.len() / d.dim);
    let t0 = Instant::now();
    for q in d.queries.chunks_exact(d.dim).take(nq) {
        std::hint::black_box(FlatIndex::search(
            &d.base,
            d.dim,
            Metric::Cosine,
            q,
            10,
            None,
        ));
    }
    let s = t0.elapsed().as_secs_f64();
    let gb = (nq * n * d.dim * 4) as f64 / 1e9;
    println!(
        "flat exact scan: {:.1} queries/s, {:.2} GB/s (1 thread); streaming read of the same \
         vectors: {:.2} GB/s (1 thread), {:.2} GB/s ({} threads)",
        nq as f64 / s,
        gb / s,
        read_bandwidth(d, 1),
        read_bandwidth(d, cores()),
        cores()
    );
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn main() -> Res<()> {
    let o = opts()?;
    let d = load(Path::new(&o.dir))?;
    let n = d.base.len() / d.dim;
    println!(
        "dataset {}: n={n} dim={} queries={} kernels={} recall by {}",
        o.dir,
        d.dim,
        d.queries.len() / d.dim,
        quiver_index::kernels::selected(),
        if d.kth.is_some() { "distance" } else { "id" }
    );
    let mut engines = Vec::new();
    for (i, &storage) in o.storage.iter().enumerate() {
        let name = if i == 0 {
            "quiver".to_string()
        } else {
            format!("quiver_{}", format!("{storage:?}").to_lowercase())
        };
        engines.push(bench_quiver(&d, &o, storage, &name, i == 0)?);
    }
    flat_scan(&d);

    if o.hnsw_rs {
        engines.push(hnsw_rs_baseline(&d, &o)?);
    }
    println!(
        "{{\"threads\": {}, \"n\": {n}, \"dim\": {}, \"engines\": {{{}}}}}",
        o.threads,
        d.dim,
        engines.join(", ")
    );
    Ok(())
}

/// Builds, reports memory and (de)serialization, and measures one storage mode; the
/// filtered pass runs for the first mode only. Returns the engine's JSON member.
fn bench_quiver(d: &Data, o: &Opts, storage: VectorStorage, name: &str, filt: bool) -> Res<String> {
    let n = d.base.len() / d.dim;
    let rss0 = rss_bytes();
    let mut built = None;
    let mut build_s = 0.0;
    for &t in &o.build_threads {
        let (h, s) = build_quiver(d, o, storage, t)?;
        println!(
            "{name} build (storage {storage:?}, M={}, efC={}, {t} threads): {s:.2} s",
            o.m, o.efc
        );
        if t == o.threads || built.is_none() {
            build_s = s;
        }
        built = Some(h);
    }
    let h = built.ok_or("no build")?;
    let rss = rss_bytes().saturating_sub(rss0);
    let bpv = h.memory_bytes() as f64 / n as f64;
    println!(
        "{name} duplicate rows kept out of the graph: {}",
        h.duplicate_rows()
    );
    println!(
        "{name} memory: {:.1} MB index ({bpv:.0} bytes/vector), RSS growth {:.1} MB",
        h.memory_bytes() as f64 / 1e6,
        rss as f64 / 1e6
    );
    let t0 = Instant::now();
    let bytes = h.to_bytes();
    let ser = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let h2 = Hnsw::from_bytes(&bytes)?;
    println!(
        "{name} serialize {:.1} MB in {ser:.2} s, load in {:.2} s",
        bytes.len() as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    drop((h2, bytes));
    // One curve per --rerank mode, interleaved per ef point (same load for every mode).
    let mut curves: Vec<Vec<CurvePoint>> = o.rerank.iter().map(|_| Vec::new()).collect();
    for &ef in &o.efs {
        for (mi, &mode) in o.rerank.iter().enumerate() {
            println!(
                "{name} search (storage {storage:?}, rerank {}, single-query loop):",
                mode.name()
            );
            curves[mi].extend(curve_at(d, o, &[ef], |q, ef| {
                mode.search(&h, &d.base, q, ef, None)
                    .iter()
                    .map(|x| x.id)
                    .collect()
            }));
        }
    }
    let mut members = Vec::new();
    for (mi, (&mode, c)) in o.rerank.iter().zip(&curves).enumerate() {
        let fmin = if filt {
            format!("{:.4}", filtered(d, &h, o.filter_ef, mode))
        } else {
            "null".to_string()
        };
        let engine = if mi == 0 {
            name.to_string()
        } else {
            format!("{name}_{}", mode.name())
        };
        members.push(format!(
            "\"{engine}\": {{\"build_s\": {build_s:.3}, \"bytes_per_vector\": {bpv:.1}, \"filtered_recall_min\": {fmin}, \"curve\": {}}}",
            curve_json(c)
        ));
    }
    Ok(members.join(", "))
}

fn hnsw_rs_baseline(d: &Data, o: &Opts) -> Res<String> {
    use hnsw_rs::prelude::{DistCosine, Hnsw as RsHnsw};
    let n = d.base.len() / d.dim;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(o.threads)
        .build()?;
    let t0 = Instant::now();
    let rs: RsHnsw<f32, DistCosine> = RsHnsw::new(o.m, n, 16, o.efc, DistCosine {});
    let owned: Vec<Vec<f32>> = d.base.chunks_exact(d.dim).map(|r| r.to_vec()).collect();
    let refs: Vec<(&Vec<f32>, usize)> = owned.iter().enumerate().map(|(i, v)| (v, i)).collect();
    pool.install(|| rs.parallel_insert(&refs));
    let build_s = t0.elapsed().as_secs_f64();
    println!("hnsw_rs build ({} threads): {build_s:.2} s", o.threads);
    println!("hnsw_rs search (single-query loop):");
    let c = curve(d, o, |q, ef| {
        rs.search(q, 10, ef).iter().map(|x| x.d_id as u32).collect()
    });
    Ok(format!(
        "\"hnsw_rs\": {{\"build_s\": {build_s:.3}, \"bytes_per_vector\": null, \"filtered_recall_min\": null, \"curve\": {}}}",
        curve_json(&c)
    ))
}
