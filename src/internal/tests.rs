//! Round trips through the internal codec and through a real loopback hop:
//! results must come back bit for bit, errors with their code and text.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, Float32Array, Int64Array, StringArray};
use async_trait::async_trait;
use quiver_engine::error::{QuiverError, Result};
use quiver_engine::roles::*;
use quiver_index::Metric;
use quiver_types::PkValue;

use super::codec::*;
use super::reads::*;
use super::Loopback;

fn result() -> SearchResult {
    let names: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None, Some("ç")]));
    let nums: ArrayRef = Arc::new(Int64Array::from(vec![7, -1, i64::MAX]));
    SearchResult {
        counts: vec![2, 1],
        ids: vec![PkValue::Int(3), PkValue::Int(-9), PkValue::Int(1 << 60)],
        dists: vec![0.1, f32::MIN_POSITIVE, -3.5e-7],
        columns: vec![names, nums],
        group_values: Some(Arc::new(Float32Array::from(vec![1.5, 2.5, 0.0]))),
    }
}

fn request() -> SearchRequest {
    let mut templates = HashMap::new();
    templates.insert("lo".to_string(), serde_json::json!(0.1_f64 + 0.2_f64));
    SearchRequest {
        collection_id: 42,
        partitions: Some(vec![1, 2]),
        field_id: 101,
        metric: Metric::Cosine,
        use_index: true,
        queries: Queries::Dense(vec![vec![0.25, -1.0 / 3.0], vec![f32::EPSILON, 7.0]]),
        limit: 10,
        ef: 64,
        filter: FilterExpr::new("score > {lo}", templates),
        range: Some(DistRange { lo: 0.0, hi: 0.5 }),
        group_by: Some(GroupBy {
            field_id: 7,
            group_size: 2,
        }),
        ignore_growing: true,
        output: vec![OutputSpec::Field(5), OutputSpec::Meta],
        guarantee_ts: 99,
        deadline: Some(Instant::now() + Duration::from_secs(30)),
    }
}

fn assert_same(a: &SearchResult, b: &SearchResult) {
    assert_eq!(a.counts, b.counts);
    assert_eq!(a.ids, b.ids);
    let bits = |d: &[f32]| d.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a.dists), bits(&b.dists));
    assert_eq!(a.columns.len(), b.columns.len());
    for (x, y) in a.columns.iter().zip(&b.columns) {
        assert_eq!(x.to_data(), y.to_data());
    }
    let g = |r: &SearchResult| r.group_values.as_ref().map(|c| c.to_data());
    assert_eq!(g(a), g(b));
}

#[test]
fn search_request_round_trips() {
    let req = request();
    let back = search_req_from_pb(search_req_to_pb(&req).expect("encode")).expect("decode");
    assert_eq!(back.collection_id, 42);
    assert_eq!(back.partitions, req.partitions);
    assert_eq!(back.metric, Metric::Cosine);
    assert_eq!(back.queries, req.queries);
    let sparse = SearchRequest {
        queries: Queries::Sparse(SparseQueries {
            rows: vec![vec![1, 0, 0, 0, 0, 0, 128, 63], Vec::new()],
            drop_ratio_search: 0.25,
            drop_ratio_build: 0.5,
        }),
        ..request()
    };
    let back = search_req_from_pb(search_req_to_pb(&sparse).expect("encode")).expect("decode");
    assert_eq!(back.queries, sparse.queries);
    assert_eq!(back.filter, req.filter, "template f64 keeps its bits");
    assert_eq!(back.range, req.range);
    assert_eq!(back.group_by, req.group_by);
    assert_eq!(back.output, req.output);
    assert!((back.ignore_growing, back.use_index) == (true, true));
    let left = back.deadline.expect("deadline") - Instant::now();
    assert!(left > Duration::from_secs(28) && left <= Duration::from_secs(30));
}

#[test]
fn search_result_with_columns_round_trips() {
    let r = result();
    let back = search_resp_from_pb(search_resp_to_pb(Ok(r.clone()))).expect("decode");
    assert_same(&r, &back);
}

#[test]
fn errors_keep_code_legacy_and_text() {
    let errors = || {
        [
            QuiverError::CollectionNotFound {
                db: "default".into(),
                name: "c".into(),
            },
            QuiverError::InvalidParameter("limit must be positive".into()),
            QuiverError::DeadlineExceeded("late".into()),
            QuiverError::Internal("disk".into()),
        ]
    };
    for (e, sent) in errors().into_iter().zip(errors()) {
        let back = search_resp_from_pb(search_resp_to_pb(Err(sent))).expect_err("error travels");
        assert_eq!(back.status_parts(), e.status_parts());
        assert_eq!(back.to_string(), e.to_string());
        assert_eq!(back.is_user_error(), e.is_user_error(), "{e}");
    }
}

#[test]
fn mixed_and_string_pks_round_trip() {
    let mixed = vec![
        PkValue::Str("x".into()),
        PkValue::Int(1),
        PkValue::Str(String::new()),
    ];
    assert_eq!(pks_from_pb(pks_to_pb(&mixed)).expect("mixed"), mixed);
    let strs = vec![PkValue::Str("a".into()), PkValue::Str("b".into())];
    let list = pks_to_pb(&strs);
    assert!(list.kinds.is_empty() && list.ints.is_empty());
    assert_eq!(pks_from_pb(list).expect("strs"), strs);
    let mut bad = pks_to_pb(&mixed);
    bad.kinds.pop();
    assert_eq!(pks_from_pb(bad).expect_err("bad").status_parts().0, 65535);
}

/// A query node that answers from fixed data, to drive the real hop.
struct Fixed;

#[async_trait]
impl QueryService for Fixed {
    async fn search(&self, req: SearchRequest) -> Result<SearchResult> {
        match req.collection_id {
            42 => Ok(result()),
            _ => Err(QuiverError::CollectionNotLoaded("c".into())),
        }
    }

    async fn query(&self, req: QueryRequest) -> Result<QueryResult> {
        let ids = req.pks.unwrap_or_default();
        let col: ArrayRef = Arc::new(Int64Array::from(vec![5; ids.len()]));
        Ok(QueryResult {
            count: ids.len(),
            ids,
            columns: vec![col],
        })
    }
}

#[tokio::test]
async fn loopback_hop_is_transparent() {
    let data = Arc::new(NoData);
    let hop = Loopback::start(Arc::new(Fixed), data.clone(), data)
        .await
        .expect("start");
    let got = hop.query.search(request()).await.expect("search");
    assert_same(&result(), &got);
    let mut missing = request();
    missing.collection_id = 1;
    let e = hop.query.search(missing).await.expect_err("not loaded");
    let want = QuiverError::CollectionNotLoaded("c".into());
    assert_eq!(e.status_parts(), want.status_parts());
    let q = hop
        .query
        .query(QueryRequest {
            collection_id: 42,
            partitions: None,
            filter: None,
            pks: Some(vec![PkValue::Int(4), PkValue::Int(8)]),
            limit: None,
            offset: 0,
            count_only: false,
            ignore_growing: false,
            output: vec![OutputSpec::Field(1)],
            guarantee_ts: 0,
            deadline: None,
        })
        .await
        .expect("query");
    assert_eq!((q.count, q.ids.len(), q.columns[0].len()), (2, 2, 2));
    let e = hop.data.flush(3).await.expect_err("no data");
    assert_eq!(e.status_parts().2, "server is shutting down");
    hop.shutdown().await;
}

/// Data and index roles that refuse everything (their errors must cross).
struct NoData;

#[async_trait]
impl DataService for NoData {
    async fn create_collection(&self, _: &quiver_engine::catalog::CollectionMeta) -> Result<()> {
        Err(QuiverError::ShuttingDown)
    }
    async fn evolve_schema(&self, _: &quiver_engine::catalog::CollectionMeta) -> Result<()> {
        Err(QuiverError::ShuttingDown)
    }
    async fn drop_collection(&self, _: i64) -> Result<()> {
        Err(QuiverError::ShuttingDown)
    }
    async fn drop_partition(&self, _: i64, _: i64) -> Result<()> {
        Err(QuiverError::ShuttingDown)
    }
    async fn insert(&self, _: i64, _: Vec<(i64, arrow::array::RecordBatch)>) -> Result<u64> {
        Err(QuiverError::ShuttingDown)
    }
    async fn delete(&self, _: i64, _: Vec<PkValue>) -> Result<(usize, u64)> {
        Err(QuiverError::ShuttingDown)
    }
    async fn truncate(&self, _: i64) -> Result<u64> {
        Err(QuiverError::ShuttingDown)
    }
    async fn flush(&self, _: i64) -> Result<()> {
        Err(QuiverError::ShuttingDown)
    }
    async fn compact(&self, _: i64, _: CompactRequest) -> Result<CompactionJob> {
        Err(QuiverError::ShuttingDown)
    }
    async fn compaction(&self, _: i64) -> Result<Option<CompactionJob>> {
        Err(QuiverError::ShuttingDown)
    }
    async fn compactions(&self, _: i64) -> Result<Vec<CompactionJob>> {
        Err(QuiverError::ShuttingDown)
    }
    async fn segments(&self, _: i64) -> Result<Vec<SegmentInfo>> {
        Err(QuiverError::ShuttingDown)
    }
}

#[async_trait]
impl IndexService for NoData {
    async fn ensure_indexes(&self, _: &quiver_engine::catalog::CollectionMeta) -> Result<()> {
        Err(QuiverError::ShuttingDown)
    }
    async fn progress(&self, _: i64, _: i64) -> Result<IndexProgress> {
        Err(QuiverError::ShuttingDown)
    }
    async fn drop_index(&self, _: i64, _: i64) -> Result<()> {
        Err(QuiverError::ShuttingDown)
    }
    async fn cancel_builds(&self, _: i64) -> Result<()> {
        Err(QuiverError::ShuttingDown)
    }
}
