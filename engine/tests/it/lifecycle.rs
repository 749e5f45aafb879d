//! One collection through its whole life on the real engine: WAL replay,
//! seals, deletes and upserts across segments, compaction, index builds that
//! read the sealed file from object storage, and recovery after a restart —
//! on local files and on `memory://`.

use quiver_engine::catalog::{CollectionChange, IndexKind, IndexMeta};
use quiver_engine::roles::{DataService, IndexService, OutputSpec, QueryRequest, QueryService};
use quiver_index::Metric;

use crate::fixture::{int, ok, rows, vector, Env, Node, TAG_FIELD, VEC_FIELD};

/// An L2 HNSW index on the vector field.
fn hnsw(node: &Node, m: usize, ef_construction: usize) -> IndexMeta {
    IndexMeta {
        id: node.coord.next_id(),
        name: "v".into(),
        field_id: VEC_FIELD,
        field_name: "v".into(),
        params: vec![],
        kind: IndexKind::Hnsw,
        index_type: "HNSW".into(),
        metric: Some(Metric::L2),
        m,
        ef_construction,
        created_ts: node.coord.tso(),
        fail_reason: None,
        json_path: None,
    }
}

/// (id, tag) of every live row, in key order.
async fn tags(node: &Node, meta: &quiver_engine::catalog::CollectionMeta) -> Vec<(i64, i64)> {
    let out = ok(node
        .query
        .query(QueryRequest {
            collection_id: meta.id,
            partitions: None,
            filter: None,
            pks: None,
            limit: Some(16_384),
            offset: 0,
            count_only: false,
            ignore_growing: false,
            output: vec![OutputSpec::Field(TAG_FIELD)],
            guarantee_ts: node.coord.tso(),
            deadline: None,
        })
        .await);
    let tag = out.columns[0]
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .unwrap_or_else(|| panic!("tag column type"));
    out.ids
        .iter()
        .map(int)
        .zip(tag.values().iter().copied())
        .collect()
}

async fn whole_life(env: Env) {
    let node = Node::open(&env, 1 << 30).await;
    let meta = node.create("life").await;
    let part = meta.partitions[0].id;
    let mut last_ts = 0;
    // Three sealed segments of 100 rows, then a growing one.
    for s in 0..4i64 {
        let ids: Vec<i64> = (s * 100..s * 100 + 100).collect();
        let ts = ok(node
            .local
            .insert(meta.id, vec![(part, rows(&ids, 0))])
            .await);
        assert!(
            ts > last_ts,
            "write timestamps increase: {ts} after {last_ts}"
        );
        last_ts = ts;
        if s < 3 {
            ok(node.local.flush(meta.id).await);
        }
    }
    // Deletes and upserts that land in sealed and growing segments alike.
    let doomed: Vec<quiver_types::PkValue> = [5i64, 150, 250, 350]
        .iter()
        .map(|&i| quiver_types::PkValue::Int(i))
        .collect();
    let (n, _) = ok(node.local.delete(meta.id, doomed).await);
    assert_eq!(n, 4);
    let up: Vec<i64> = vec![7, 107, 207, 307];
    ok(node.local.insert(meta.id, vec![(part, rows(&up, 1))]).await);
    let expect = |t: &[(i64, i64)]| {
        assert_eq!(t.len(), 396, "400 rows - 4 deleted, upserts replace");
        assert!(t.windows(2).all(|w| w[0].0 < w[1].0), "one row per key");
        for (id, tag) in t {
            assert!(![5, 150, 250, 350].contains(id), "{id} was deleted");
            assert_eq!(
                *tag,
                i64::from(up.contains(id)),
                "row {id} has the last write's tag"
            );
        }
    };
    expect(&tags(&node, &meta).await);

    // Compaction rewrites the small sealed segments without their dead rows.
    ok(node.local.flush(meta.id).await);
    let before = ok(node.local.segments(meta.id).await).len();
    node.compact(meta.id, Default::default()).await;
    let after = ok(node.local.segments(meta.id).await);
    assert!(
        after.len() < before,
        "{} segments before, {} after",
        before,
        after.len()
    );
    assert_eq!(after.iter().map(|s| s.live_rows).sum::<usize>(), 396);
    expect(&tags(&node, &meta).await);

    // An HNSW index is built from the sealed files in object storage.
    let index = hnsw(&node, 8, 64);
    let meta = ok(node
        .coord
        .alter_collection(meta.id, CollectionChange::AddIndex(index.clone()))
        .await);
    ok(node.local.ensure_indexes(&meta).await);
    // (A compaction the last flush started may still swap segments, so wait
    // for the graph of the final layout.)
    let mut done = false;
    for _ in 0..400 {
        let p = ok(node.local.progress(meta.id, VEC_FIELD).await);
        let keys = ok(env.store.list("").await);
        if p.pending_rows == 0
            && p.indexed_rows == p.total_rows
            && keys.iter().any(|k| k.contains("/index-"))
        {
            done = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(done, "no index built and written to object storage");
    // Each stored vector finds itself first, at distance 0, through the graph.
    for id in [0i64, 99, 107, 399] {
        let version = i64::from(up.contains(&id));
        let (ids, dists) = node.search(&meta, vector(id, version), 3).await;
        assert_eq!(ids.first(), Some(&id), "{ids:?}");
        assert_eq!(dists.first(), Some(&0.0));
    }
    node.close().await;

    // After a restart: the same rows, versions and answers.
    let node = Node::open(&env, 1 << 30).await;
    expect(&tags(&node, &meta).await);
    let (ids, _) = node.search(&meta, vector(207, 1), 1).await;
    assert_eq!(ids, vec![207]);
    node.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_life_on_local_files() {
    whole_life(Env::local()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_life_on_memory_store() {
    whole_life(Env::memory()).await;
}

/// Rows acknowledged but never sealed come back from the WAL, with a
/// visibility watermark that lets a Strong read through at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsealed_rows_are_replayed_after_restart() {
    let env = Env::local();
    let node = Node::open(&env, 1 << 30).await;
    let meta = node.create("replay").await;
    let part = meta.partitions[0].id;
    let ids: Vec<i64> = (0..250).collect();
    ok(node
        .local
        .insert(meta.id, vec![(part, rows(&ids, 3))])
        .await);
    node.close().await;
    let node = Node::open(&env, 1 << 30).await;
    assert_eq!(node.all_ids(&meta).await, ids);
    assert!(tags(&node, &meta).await.iter().all(|(_, t)| *t == 3));
    node.close().await;
}

/// Shutdown stops a build in flight and every task that held the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_background_work() {
    let env = Env::local();
    let node = Node::open(&env, 1 << 30).await;
    let meta = node.create("stop").await;
    let add = CollectionChange::AddIndex(hnsw(&node, 32, 400));
    let meta = ok(node.coord.alter_collection(meta.id, add).await);
    let ids: Vec<i64> = (0..20_000).collect();
    let part = meta.partitions[0].id;
    ok(node
        .local
        .insert(meta.id, vec![(part, rows(&ids, 0))])
        .await);
    // The flush starts a build and a compaction in the background.
    ok(node.local.flush(meta.id).await);
    ok(node.local.ensure_indexes(&meta).await);
    let t0 = std::time::Instant::now();
    assert!(node.data.shutdown(std::time::Duration::from_secs(30)).await);
    assert!(t0.elapsed() < std::time::Duration::from_secs(30));
    // Only the test's own handles (node.data, local, the query node's) remain.
    assert_eq!(std::sync::Arc::strong_count(&node.data), 3);
}
