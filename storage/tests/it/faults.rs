//! Object storage over a misbehaving backend: retries, then clean failures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use object_store::memory::InMemory;
use quiver_storage::{Fault, FaultyStore, ObjectStorage, RetryPolicy, StorageError};

use crate::ok;

fn storage(faulty: &Arc<FaultyStore>, timeout: Duration) -> ObjectStorage {
    ObjectStorage::from_store(faulty.clone(), "faulty", "faulty://").with_retry_policy(
        RetryPolicy {
            attempts: 3,
            backoff: Duration::from_millis(5),
            attempt_timeout: timeout,
        },
    )
}

#[tokio::test]
async fn transient_failures_are_retried() {
    let faulty = Arc::new(FaultyStore::new(Arc::new(InMemory::new()), 2, Fault::Fail));
    let s = storage(&faulty, Duration::from_secs(5));
    for i in 0..10 {
        ok(s.put(&format!("k{i}"), Bytes::from(vec![i as u8; 10]))
            .await);
    }
    for i in 0..10 {
        assert_eq!(
            ok(s.get(&format!("k{i}")).await),
            Bytes::from(vec![i as u8; 10])
        );
    }
    assert_eq!(ok(s.list("k").await).len(), 10);
    ok(s.delete("k3").await);
    assert!(faulty.injected() >= 10, "injected {}", faulty.injected());
}

#[tokio::test]
async fn persistent_failures_fail_cleanly() {
    let faulty = Arc::new(FaultyStore::new(Arc::new(InMemory::new()), 1, Fault::Fail));
    let s = storage(&faulty, Duration::from_secs(5));
    match s.put("seg/1", Bytes::from_static(b"data")).await {
        Err(StorageError::ObjectStore(m)) => assert!(m.contains("after 3 attempts"), "{m}"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(faulty.requests(), 3);
    assert!(s.get("seg/1").await.is_err());
    assert!(s.list("").await.is_err());
    // Once the store recovers, nothing half-written is visible and writes work.
    faulty.set_enabled(false);
    assert!(
        matches!(s.get("seg/1").await, Err(StorageError::ObjectStore(m)) if m.starts_with("not found"))
    );
    ok(s.put("seg/1", Bytes::from_static(b"data")).await);
    assert_eq!(&ok(s.get("seg/1").await)[..], b"data");
}

#[tokio::test]
async fn slow_requests_time_out_and_retry() {
    let faulty = Arc::new(FaultyStore::new(
        Arc::new(InMemory::new()),
        2,
        Fault::Delay(Duration::from_secs(30)),
    ));
    let s = storage(&faulty, Duration::from_millis(100));
    let t = Instant::now();
    ok(s.put("a", Bytes::from_static(b"1")).await);
    ok(s.put("b", Bytes::from_static(b"2")).await); // 2nd request stalls, retried
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(faulty.injected(), 1);
    assert_eq!(ok(s.list("").await), vec!["a", "b"]);

    faulty.set_every_nth(1);
    let t = Instant::now();
    match s.put("c", Bytes::from_static(b"3")).await {
        Err(StorageError::ObjectStore(m)) => assert!(m.contains("timed out"), "{m}"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(t.elapsed() < Duration::from_secs(5));
}
