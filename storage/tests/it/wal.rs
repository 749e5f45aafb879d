//! WAL behaviour seen from async callers: group commit and ordering.

use std::collections::HashSet;

use quiver_storage::{Lsn, Wal, WalOptions};

use crate::{ok, tempdir};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_commit_from_concurrent_tasks() {
    let dir = tempdir();
    let (wal, _) = ok(Wal::open(dir.path(), WalOptions::default(), 0));
    let per_task = 50usize;
    let mut tasks = Vec::new();
    for t in 0..8u8 {
        let wal = wal.clone();
        tasks.push(tokio::spawn(async move {
            let mut lsns = Vec::new();
            for i in 0..per_task {
                let payload = format!("task{t}-rec{i}").into_bytes();
                let (lsn, ack) = ok(wal.submit(payload));
                ok(ack.await);
                lsns.push(lsn);
            }
            lsns
        }));
    }
    let mut all: Vec<Lsn> = Vec::new();
    for t in tasks {
        let lsns = t.await.unwrap_or_else(|e| panic!("{e}"));
        // Each task's LSNs increase in its own submit order.
        assert!(lsns.windows(2).all(|w| w[0] < w[1]));
        all.extend(lsns);
    }
    let total = 8 * per_task;
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), total);
    assert_eq!(wal.durable_lsn(), total as Lsn);
    let flushes = wal.flush_count();
    assert!(
        flushes <= total as u64,
        "{flushes} flushes for {total} records"
    );
    drop(wal);

    let (_, recs) = ok(Wal::open(dir.path(), WalOptions::default(), 0));
    assert_eq!(recs.len(), total);
    for (i, (lsn, _)) in recs.iter().enumerate() {
        assert_eq!(*lsn, i as Lsn + 1, "file order == lsn order");
    }
    // Per task, file order matches that task's record order.
    for t in 0..8 {
        let prefix = format!("task{t}-");
        let mine: Vec<String> = recs
            .iter()
            .map(|(_, p)| String::from_utf8_lossy(p).into_owned())
            .filter(|s| s.starts_with(&prefix))
            .collect();
        let expect: Vec<String> = (0..per_task).map(|i| format!("task{t}-rec{i}")).collect();
        assert_eq!(mine, expect);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_pending_submits_batch_into_few_flushes() {
    let dir = tempdir();
    let (wal, _) = ok(Wal::open(dir.path(), WalOptions::default(), 0));
    let acks: Vec<_> = (0..1000u32)
        .map(|i| ok(wal.submit(i.to_le_bytes().to_vec())).1)
        .collect();
    for a in acks {
        ok(a.await);
    }
    assert!(wal.flush_count() < 1000, "flushes: {}", wal.flush_count());
}

#[test]
fn plain_threads_and_rollover() {
    let dir = tempdir();
    let opts = WalOptions {
        segment_bytes: 4096,
        sync: true,
    };
    let (wal, _) = ok(Wal::open(dir.path(), opts.clone(), 0));
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let wal = wal.clone();
            std::thread::spawn(move || {
                for i in 0..100u32 {
                    let (_, ack) = ok(wal.submit(vec![t as u8; 64 + i as usize % 7]));
                    ok(ack.wait_blocking());
                }
            })
        })
        .collect();
    for h in handles {
        h.join()
            .unwrap_or_else(|_| panic!("writer thread panicked"));
    }
    assert!(wal.file_count() > 5);
    ok(wal.truncate_before(200));
    let remaining = wal.file_count();
    drop(wal);
    let (_, recs) = ok(Wal::open(dir.path(), opts, 0));
    // Everything at or after lsn 200 is still there, in order.
    assert!(recs.first().map(|r| r.0).unwrap_or(0) <= 200);
    assert_eq!(recs.last().map(|r| r.0), Some(400));
    assert!(recs.windows(2).all(|w| w[1].0 == w[0].0 + 1));
    assert!(remaining >= 1);
}

/// Throughput with insert-sized records (1,000 rows x 1536 floats ≈ 6 MB);
/// run with `--ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn wal_throughput_6mb_records() {
    let dir = tempdir();
    let (wal, _) = ok(Wal::open(dir.path(), WalOptions::default(), 0));
    let record = vec![7u8; 1000 * 1536 * 4];
    let n = 100;
    let t = std::time::Instant::now();
    for _ in 0..n {
        let (_, ack) = ok(wal.submit(record.clone()));
        ok(ack.await);
    }
    let serial = t.elapsed();
    let t = std::time::Instant::now();
    let acks: Vec<_> = (0..n).map(|_| ok(wal.submit(record.clone())).1).collect();
    for a in acks {
        ok(a.await);
    }
    let pipelined = t.elapsed();
    let mb = (n * record.len()) as f64 / 1e6;
    println!(
        "wal 6 MB records: serial {:.0} MB/s ({:?}/record), pipelined {:.0} MB/s, {} flushes",
        mb / serial.as_secs_f64(),
        serial / n as u32,
        mb / pipelined.as_secs_f64(),
        wal.flush_count()
    );
    let t = std::time::Instant::now();
    for _ in 0..200 {
        let (_, ack) = ok(wal.submit(vec![1u8; 100]));
        ok(ack.await);
    }
    println!("wal small record fsync latency: {:?}", t.elapsed() / 200);
}
