//! Unit tests of the WAL: replay, torn tails, rollover, failures.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use super::format::{file_name, file_path, list_files, parse_file_name, HEADER};
use super::*;

fn opts() -> WalOptions {
    WalOptions::default()
}

fn open(dir: &Path, o: WalOptions, after: Lsn) -> (Wal, Vec<WalEntry>) {
    Wal::open(dir, o, after).unwrap_or_else(|e| panic!("open: {e}"))
}

fn append(wal: &Wal, payload: &[u8]) -> Lsn {
    let (lsn, ack) = wal
        .submit(payload.to_vec())
        .unwrap_or_else(|e| panic!("{e}"));
    ack.wait_blocking().unwrap_or_else(|e| panic!("ack: {e}"));
    lsn
}

fn only_file(dir: &Path) -> PathBuf {
    let files = list_files(dir).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(files.len(), 1);
    file_path(dir, files[0])
}

#[test]
fn append_and_replay_round_trip() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    {
        let (wal, recs) = open(tmp.path(), opts(), 0);
        assert!(recs.is_empty());
        assert_eq!(wal.last_lsn(), 0);
        for i in 0..10u8 {
            assert_eq!(append(&wal, &[i; 5]), i as u64 + 1);
        }
        assert_eq!(append(&wal, &[]), 11);
        assert_eq!(wal.durable_lsn(), 11);
    }
    let (wal, recs) = open(tmp.path(), opts(), 0);
    assert_eq!(recs.len(), 11);
    for (i, (lsn, p)) in recs.iter().take(10).enumerate() {
        assert_eq!(*lsn, i as u64 + 1);
        assert_eq!(p, &vec![i as u8; 5]);
    }
    assert!(recs[10].1.is_empty());
    assert_eq!(wal.last_lsn(), 11);
    assert_eq!(append(&wal, b"next"), 12);
}

#[test]
fn replay_after_skips_checkpointed_records() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    {
        let (wal, _) = open(tmp.path(), opts(), 0);
        for i in 0..6u8 {
            append(&wal, &[i]);
        }
    }
    let (wal, recs) = open(tmp.path(), opts(), 4);
    let lsns: Vec<Lsn> = recs.iter().map(|r| r.0).collect();
    assert_eq!(lsns, vec![5, 6]);
    assert_eq!(append(&wal, b"x"), 7);
    drop(wal);
    // `after` beyond the log: new LSNs continue after it.
    let (wal, recs) = open(tmp.path(), opts(), 100);
    assert!(recs.is_empty());
    assert_eq!(append(&wal, b"y"), 101);
    drop(wal);
    let (_, recs) = open(tmp.path(), opts(), 0);
    let lsns: Vec<Lsn> = recs.iter().map(|r| r.0).collect();
    assert_eq!(lsns, vec![1, 2, 3, 4, 5, 6, 7, 101]);
}

#[test]
fn torn_tail_is_truncated() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    {
        let (wal, _) = open(tmp.path(), opts(), 0);
        for i in 0..5u8 {
            append(&wal, &[i; 100]);
        }
    }
    let path = only_file(tmp.path());
    let full = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let f = OpenOptions::new().write(true).open(&path);
    let f = f.unwrap_or_else(|e| panic!("{e}"));
    f.set_len(full - 30).unwrap_or_else(|e| panic!("{e}"));
    drop(f);
    {
        let (wal, recs) = open(tmp.path(), opts(), 0);
        assert_eq!(recs.len(), 4);
        assert_eq!(recs[3].0, 4);
        let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert_eq!(len, 4 * (HEADER as u64 + 100));
        assert_eq!(append(&wal, b"after-tear"), 5);
    }
    let (_, recs) = open(tmp.path(), opts(), 0);
    assert_eq!(recs.len(), 5);
    assert_eq!(recs[4], (5, b"after-tear".to_vec()));
}

#[test]
fn flipped_byte_in_last_record_is_truncated() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    {
        let (wal, _) = open(tmp.path(), opts(), 0);
        for i in 0..3u8 {
            append(&wal, &[i; 10]);
        }
    }
    let path = only_file(tmp.path());
    let mut data = fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
    let n = data.len();
    data[n - 3] ^= 0x40;
    fs::write(&path, &data).unwrap_or_else(|e| panic!("{e}"));
    {
        let (wal, recs) = open(tmp.path(), opts(), 0);
        assert_eq!(recs.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(append(&wal, b"z"), 3);
    }
    let (_, recs) = open(tmp.path(), opts(), 0);
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[2], (3, b"z".to_vec()));
}

#[test]
fn rollover_and_truncate_before() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let small = WalOptions {
        segment_bytes: 3 * (HEADER as u64 + 10),
        sync: true,
    };
    {
        let (wal, _) = open(tmp.path(), small.clone(), 0);
        for i in 0..10u8 {
            append(&wal, &[i; 10]);
        }
        // 3 records per file: [1..3] [4..6] [7..9] [10]
        assert_eq!(list_files(tmp.path()).ok(), Some(vec![1, 4, 7, 10]));
        assert_eq!(wal.file_count(), 4);
        wal.truncate_before(6).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(list_files(tmp.path()).ok(), Some(vec![4, 7, 10]));
        wal.truncate_before(7).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(list_files(tmp.path()).ok(), Some(vec![7, 10]));
        // The active file is never removed.
        wal.truncate_before(1000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(list_files(tmp.path()).ok(), Some(vec![10]));
        append(&wal, b"k");
    }
    let (_, recs) = open(tmp.path(), small, 0);
    assert_eq!(recs.iter().map(|r| r.0).collect::<Vec<_>>(), vec![10, 11]);
}

/// Polls `f` for up to five seconds (the writer rotates on its own thread).
fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    f()
}

#[test]
fn checkpointed_active_file_rolls_over_and_goes() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let small = WalOptions {
        segment_bytes: 4 * (HEADER as u64 + 10),
        sync: true,
    };
    {
        let (wal, _) = open(tmp.path(), small.clone(), 0);
        for i in 0..4u8 {
            append(&wal, &[i; 10]);
        }
        assert_eq!(list_files(tmp.path()).ok(), Some(vec![1]));
        // Not everything is checkpointed: the active file stays as it is.
        wal.truncate_before(4).unwrap_or_else(|e| panic!("{e}"));
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert_eq!(wal.file_count(), 1);
        // Everything is: the writer starts file 5, and the next call drops file 1.
        wal.truncate_before(5).unwrap_or_else(|e| panic!("{e}"));
        assert!(eventually(|| wal.file_count() == 2));
        wal.truncate_before(5).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(list_files(tmp.path()).ok(), Some(vec![5]));
    }
    // A restart on the empty file continues the LSNs, never reuses them.
    {
        let (wal, recs) = open(tmp.path(), small.clone(), 4);
        assert!(recs.is_empty());
        assert_eq!(append(&wal, b"after"), 5);
    }
    let (_, recs) = open(tmp.path(), small, 0);
    assert_eq!(recs, vec![(5, b"after".to_vec())]);
}

#[test]
fn corrupt_middle_file_is_an_error() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let small = WalOptions {
        segment_bytes: 2 * (HEADER as u64 + 4),
        sync: false,
    };
    {
        let (wal, _) = open(tmp.path(), small.clone(), 0);
        for i in 0..5u8 {
            append(&wal, &[i; 4]);
        }
    }
    let first = file_path(tmp.path(), 1);
    let mut data = fs::read(&first).unwrap_or_else(|e| panic!("{e}"));
    data[HEADER] ^= 1;
    fs::write(&first, &data).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        Wal::open(tmp.path(), small, 0),
        Err(StorageError::Corrupt(_))
    ));
}

#[test]
fn io_error_fails_acks_and_later_submits() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path().join("wal");
    // Every record rolls to a new file, so removing the directory makes
    // the next write fail.
    let tiny = WalOptions {
        segment_bytes: 1,
        sync: true,
    };
    let (wal, _) = open(&dir, tiny, 0);
    append(&wal, b"a");
    fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let (_, ack) = wal.submit(b"b".to_vec()).unwrap_or_else(|e| panic!("{e}"));
    assert!(ack.wait_blocking().is_err());
    assert!(wal.submit(b"c".to_vec()).is_err());
    assert_eq!(wal.durable_lsn(), 1);
}

#[test]
fn file_names_parse() {
    assert_eq!(parse_file_name(&file_name(42)), Some(42));
    assert_eq!(parse_file_name("wal-1.log"), None);
    assert_eq!(parse_file_name(&file_name(0)), None);
    assert_eq!(parse_file_name("other"), None);
}
