//! Manual compactions through `DataService`: force merges whose plans cover
//! every sealed segment (what `MilvusClient.optimize` and VectorDBBench
//! check), their job state, and the `compacted_from` lineage across restarts.

use quiver_engine::roles::{CompactRequest, DataService};

use crate::fixture::{ok, rows, Env, Node};

async fn sealed_ids(node: &Node, coll: i64) -> Vec<i64> {
    let mut ids: Vec<i64> = ok(node.local.segments(coll).await)
        .iter()
        .filter(|s| s.sealed)
        .map(|s| s.id)
        .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_merge_covers_every_segment_and_records_its_sources() {
    let env = Env::local();
    // Small segments: 100-row inserts are full segments, so the automatic
    // compaction after each flush leaves them alone.
    let node = Node::open(&env, 4096).await;
    let meta = node.create("merge").await;
    let part = meta.partitions[0].id;
    for s in 0..3i64 {
        let ids: Vec<i64> = (s * 100..s * 100 + 100).collect();
        ok(node
            .local
            .insert(meta.id, vec![(part, rows(&ids, 0))])
            .await);
        ok(node.local.flush(meta.id).await);
    }
    let before = sealed_ids(&node, meta.id).await;
    assert!(before.len() >= 3, "{before:?}");

    let force = CompactRequest {
        target_bytes: Some(u64::MAX),
    };
    let job = node.compact(meta.id, force).await;
    assert_eq!(job.plans.len(), 1, "one partition, one merged segment");
    assert_eq!(job.plans[0].sources, before);
    let target = job.plans[0].target;
    assert!(!before.contains(&target));
    assert_eq!(job.plans[0].failure, None);

    let after = ok(node.local.segments(meta.id).await);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].id, target);
    assert_eq!(after[0].compacted_from, before);
    assert_eq!(after[0].live_rows, 300);
    assert_eq!(node.all_ids(&meta).await, (0..300).collect::<Vec<_>>());

    // Forcing again: the one clean segment is already the result.
    let again = ok(node.local.compact(meta.id, force).await);
    assert_eq!(again.plans.len(), 1);
    assert_eq!(again.plans[0].sources, vec![target]);
    assert_eq!(again.plans[0].target, target);
    assert!(again.done(), "nothing to rewrite");
    // A normal compaction finds nothing to do.
    let none = ok(node.local.compact(meta.id, CompactRequest::default()).await);
    assert!(none.plans.is_empty());
    assert_eq!(ok(node.local.compaction(-1).await), None);
    node.close().await;

    // The lineage is part of the manifest.
    let node = Node::open(&env, 4096).await;
    let seg = ok(node.local.segments(meta.id).await);
    assert_eq!(seg.len(), 1);
    assert_eq!(seg[0].compacted_from, before);
    assert_eq!(node.all_ids(&meta).await, (0..300).collect::<Vec<_>>());
    node.close().await;
}
