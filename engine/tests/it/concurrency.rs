//! Inserts, upserts, deletes, seals and compactions racing with queries and
//! searches: every read sees one consistent snapshot (no key twice), and when
//! the writers stop no acknowledged row is lost or duplicated.

use std::collections::BTreeSet;
use std::sync::Arc;

use parking_lot::Mutex;
use quiver_engine::roles::DataService;
use quiver_types::PkValue;

use crate::fixture::{ok, rows, vector, Env, Node};

const BATCHES: i64 = 24;
const BATCH: i64 = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_seals_and_compaction_race_with_reads() {
    let env = Env::local();
    // Small segments: inserts seal on their own, compaction has work.
    let node = Arc::new(Node::open(&env, 64 * 1024).await);
    let meta = node.create("race").await;
    let part = meta.partitions[0].id;
    let acked: Arc<Mutex<BTreeSet<i64>>> = Arc::default();
    let deleted: Arc<Mutex<BTreeSet<i64>>> = Arc::default();

    let writer = {
        let (node, acked) = (node.clone(), acked.clone());
        tokio::spawn(async move {
            for b in 0..BATCHES {
                let ids: Vec<i64> = (b * BATCH..(b + 1) * BATCH).collect();
                ok(node
                    .local
                    .insert(meta.id, vec![(part, rows(&ids, 0))])
                    .await);
                acked.lock().extend(ids);
            }
        })
    };
    // Upserts touch keys not ending in 0; deletes only keys ending in 0, so
    // the final state does not depend on how the two interleave.
    let upserter = {
        let (node, acked) = (node.clone(), acked.clone());
        tokio::spawn(async move {
            for round in 1..=30i64 {
                let ids: Vec<i64> = acked
                    .lock()
                    .iter()
                    .copied()
                    .filter(|i| i % 10 != 0 && i % 7 == round % 7)
                    .take(40)
                    .collect();
                if !ids.is_empty() {
                    ok(node
                        .local
                        .insert(meta.id, vec![(part, rows(&ids, round))])
                        .await);
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let deleter = {
        let (node, acked, deleted) = (node.clone(), acked.clone(), deleted.clone());
        tokio::spawn(async move {
            for _ in 0..30 {
                let ids: Vec<i64> = acked
                    .lock()
                    .iter()
                    .copied()
                    .filter(|i| i % 10 == 0)
                    .filter(|i| !deleted.lock().contains(i))
                    .take(15)
                    .collect();
                let pks = ids.iter().map(|&i| PkValue::Int(i)).collect();
                ok(node.local.delete(meta.id, pks).await);
                deleted.lock().extend(ids);
                tokio::task::yield_now().await;
            }
        })
    };
    let sealer = {
        let node = node.clone();
        tokio::spawn(async move {
            for _ in 0..8 {
                ok(node.local.flush(meta.id).await);
                node.compact(meta.id, Default::default()).await;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
    };
    // Readers: a snapshot never shows a key twice, and every row acknowledged
    // (and not deleted) before the read started is in it.
    let mut reads = 0;
    while !(writer.is_finished()
        && upserter.is_finished()
        && deleter.is_finished()
        && sealer.is_finished())
    {
        // Keys ending in 0 may be deleted while this read runs; the rest may not vanish.
        let must_now: Vec<i64> = acked
            .lock()
            .iter()
            .copied()
            .filter(|i| i % 10 != 0)
            .collect();
        let seen = node.all_ids(&meta).await;
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "a key appeared twice in one snapshot"
        );
        let seen_set: BTreeSet<i64> = seen.iter().copied().collect();
        let missing: Vec<&i64> = must_now.iter().filter(|i| !seen_set.contains(i)).collect();
        assert!(missing.is_empty(), "acknowledged rows missing: {missing:?}");
        let (ids, _) = node.search(&meta, vector(3, 0), 20).await;
        let distinct: BTreeSet<i64> = ids.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            ids.len(),
            "a search returned a key twice: {ids:?}"
        );
        reads += 1;
    }
    for t in [writer, upserter, deleter, sealer] {
        ok(t.await);
    }
    assert!(reads > 0);
    let d = deleted.lock().clone();
    let expect: Vec<i64> = (0..BATCHES * BATCH).filter(|i| !d.contains(i)).collect();
    assert_eq!(node.all_ids(&meta).await, expect);
    ok(node.local.flush(meta.id).await);
    node.compact(meta.id, Default::default()).await;
    assert_eq!(node.all_ids(&meta).await, expect);
    let node = Arc::into_inner(node).unwrap_or_else(|| panic!("node still shared"));
    node.close().await;
    // And after a restart, from the manifests and the log.
    let node = Node::open(&env, 64 * 1024).await;
    assert_eq!(node.all_ids(&meta).await, expect);
    node.close().await;
}
