//! The write-ahead log: nothing is acknowledged before it is on disk.
//!
//! Every insert, upsert and delete is appended here and fsync'd before the
//! client hears "ok"; on start-up the log is replayed into growing segments.
//! The log is a directory of files `wal-<first lsn, 20 digits>.log`, each a
//! sequence of records framed as
//!
//! ```text
//! [u32 LE payload len][u32 LE crc32(lsn LE bytes || payload)][u64 LE lsn][payload]
//! ```
//!
//! LSNs are assigned at [`Wal::submit`] time under one lock, so submit order,
//! LSN order and file order agree. A dedicated writer thread takes everything
//! pending, writes it with one `write` and one `fdatasync` (group commit), and
//! then resolves each record's [`WalAck`]. A torn or corrupt tail of the last
//! file (short record, bad checksum, LSN out of sequence) is truncated at open,
//! never replayed. After an I/O error the writer fails every pending ack and
//! the log refuses further submits: nothing is acknowledged that is not durable.

use std::fs::{self, File, OpenOptions};
use std::future::Future;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex};
use tokio::sync::oneshot;

use crate::error::{Result, StorageError};

/// Log sequence number: strictly increasing, the first record gets 1.
pub type Lsn = u64;

/// One replayed record: its LSN and payload.
pub type WalRecord = (Lsn, Vec<u8>);

/// Size of a record header: length, checksum, lsn.
const HEADER: usize = 16;
/// Records larger than this are treated as garbage when scanning.
const MAX_RECORD: usize = 1 << 31;

/// How the log is laid out and synced.
#[derive(Debug, Clone)]
pub struct WalOptions {
    /// A file is closed and a new one started once it would exceed this size
    /// (a single record larger than this still gets a file of its own).
    pub segment_bytes: u64,
    /// `fdatasync` before acknowledging. Only tests and benchmarks turn it off.
    pub sync: bool,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_bytes: 64 << 20,
            sync: true,
        }
    }
}

/// Resolves once a submitted record, and every record before it, is durable.
///
/// Await it inside async code, or call [`WalAck::wait_blocking`] from a plain
/// thread (never from inside a tokio runtime worker).
#[derive(Debug)]
pub struct WalAck(oneshot::Receiver<Result<()>>);

impl WalAck {
    /// Blocks the current (non-async) thread until the record is durable.
    pub fn wait_blocking(self) -> Result<()> {
        self.0.blocking_recv().unwrap_or(Err(StorageError::Closed))
    }
}

impl Future for WalAck {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(StorageError::Closed)))
    }
}

/// A record waiting for the writer thread.
struct Pending {
    lsn: Lsn,
    payload: Vec<u8>,
    ack: oneshot::Sender<Result<()>>,
}

/// State shared by submitters and the writer, under one lock.
struct Queue {
    next_lsn: Lsn,
    pending: Vec<Pending>,
    /// Set once the writer hit an I/O error; the log is dead from then on.
    failed: Option<String>,
    closed: bool,
}

struct Shared {
    dir: PathBuf,
    opts: WalOptions,
    queue: Mutex<Queue>,
    wake: Condvar,
    /// Last LSN handed out by `submit`.
    last_lsn: AtomicU64,
    /// Last LSN known to be durable.
    durable_lsn: AtomicU64,
    /// Number of write+sync rounds so far (group-commit effectiveness).
    flushes: AtomicU64,
    /// First LSN of every log file, ascending; the last entry is the active file.
    files: Mutex<Vec<Lsn>>,
}

struct Inner {
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.queue.lock().closed = true;
        self.shared.wake.notify_all();
        if let Some(handle) = self.writer.lock().take() {
            let _ = handle.join();
        }
    }
}

/// Handle to a write-ahead log; cheap to clone, `Send + Sync`.
///
/// When the last handle is dropped, the writer flushes what is pending and stops.
#[derive(Clone)]
pub struct Wal {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.inner.shared.dir)
            .field("last_lsn", &self.last_lsn())
            .finish()
    }
}

/// File name of the log file whose first record is `first`.
fn file_name(first: Lsn) -> String {
    format!("wal-{first:020}.log")
}

fn file_path(dir: &Path, first: Lsn) -> PathBuf {
    dir.join(file_name(first))
}

/// Parses `wal-<20 digits>.log`.
fn parse_file_name(name: &str) -> Option<Lsn> {
    let digits = name.strip_prefix("wal-")?.strip_suffix(".log")?;
    if digits.len() != 20 {
        return None;
    }
    // LSNs start at 1; a file claiming 0 is not ours.
    digits.parse().ok().filter(|&lsn| lsn > 0)
}

fn checksum(lsn: Lsn, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&lsn.to_le_bytes());
    h.update(payload);
    h.finalize()
}

fn encode_record(buf: &mut Vec<u8>, lsn: Lsn, payload: &[u8]) {
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&checksum(lsn, payload).to_le_bytes());
    buf.extend_from_slice(&lsn.to_le_bytes());
    buf.extend_from_slice(payload);
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Outcome of scanning one file.
struct Scan {
    /// Byte length of the intact prefix.
    good_len: u64,
    /// Last intact LSN in the file, if any record is intact.
    last: Option<Lsn>,
    /// Why the scan stopped early, if it did.
    problem: Option<String>,
}

/// Reads the intact records of `data`, expecting LSNs to continue from `expect`.
fn scan_records(data: &[u8], mut expect: Lsn, after: Lsn, out: &mut Vec<WalRecord>) -> Scan {
    let mut pos = 0usize;
    let mut last = None;
    let problem = loop {
        if pos == data.len() {
            break None;
        }
        if data.len() - pos < HEADER {
            break Some(format!("short header at byte {pos}"));
        }
        let word = |at: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&data[at..at + 4]);
            u32::from_le_bytes(b)
        };
        let len = word(pos) as usize;
        let crc = word(pos + 4);
        let mut lb = [0u8; 8];
        lb.copy_from_slice(&data[pos + 8..pos + 16]);
        let lsn = u64::from_le_bytes(lb);
        if len > MAX_RECORD || data.len() - pos - HEADER < len {
            break Some(format!("short record at byte {pos}"));
        }
        let payload = &data[pos + HEADER..pos + HEADER + len];
        if checksum(lsn, payload) != crc {
            break Some(format!("checksum mismatch at byte {pos} (lsn {lsn})"));
        }
        if lsn != expect {
            break Some(format!(
                "lsn {lsn} out of sequence at byte {pos}, expected {expect}"
            ));
        }
        if lsn > after {
            out.push((lsn, payload.to_vec()));
        }
        last = Some(lsn);
        expect += 1;
        pos += HEADER + len;
    };
    Scan {
        good_len: pos as u64,
        last,
        problem,
    }
}

/// Lists the log files in `dir`, ascending by first LSN.
fn list_files(dir: &Path) -> Result<Vec<Lsn>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(first) = entry.file_name().to_str().and_then(parse_file_name) {
            files.push(first);
        }
    }
    files.sort_unstable();
    Ok(files)
}

/// The file the writer appends to.
struct Active {
    file: File,
    size: u64,
}

impl Wal {
    /// Opens (creating) the log in `dir`, scans it, truncates a torn or corrupt
    /// tail of the last file, and returns the handle plus every intact record
    /// with `lsn > after`, in order.
    ///
    /// Corruption in any file but the last is not a torn write and is reported
    /// as [`StorageError::Corrupt`]. New LSNs continue after the larger of the
    /// last intact record and `after`.
    pub fn open(dir: &Path, opts: WalOptions, after: Lsn) -> Result<(Wal, Vec<WalRecord>)> {
        if opts.segment_bytes == 0 {
            return Err(StorageError::Config("wal segment_bytes must be > 0".into()));
        }
        fs::create_dir_all(dir)?;
        let mut files = list_files(dir)?;
        let mut records = Vec::new();
        let mut last_lsn: Lsn = 0;
        let mut active_size = 0u64;
        for (i, &first) in files.iter().enumerate() {
            let is_last = i + 1 == files.len();
            // Files may skip LSNs (when `after` jumped past the log) but never
            // overlap.
            if i > 0 && first <= last_lsn {
                return Err(StorageError::Corrupt(format!(
                    "wal file {} overlaps lsn {last_lsn}",
                    file_name(first)
                )));
            }
            let path = file_path(dir, first);
            let mut data = Vec::new();
            File::open(&path)?.read_to_end(&mut data)?;
            let scan = scan_records(&data, first, after, &mut records);
            if let Some(problem) = &scan.problem {
                if !is_last {
                    return Err(StorageError::Corrupt(format!(
                        "wal file {}: {problem}",
                        path.display()
                    )));
                }
                tracing::warn!(
                    file = %path.display(),
                    kept_bytes = scan.good_len,
                    dropped_bytes = data.len() as u64 - scan.good_len,
                    "truncating torn wal tail: {problem}"
                );
                let f = OpenOptions::new().write(true).open(&path)?;
                f.set_len(scan.good_len)?;
                f.sync_all()?;
            }
            last_lsn = scan.last.unwrap_or(first - 1);
            if is_last {
                active_size = scan.good_len;
            }
        }
        // Records at or below `after` are already checkpointed elsewhere.
        let next_lsn = last_lsn.max(after) + 1;
        let active = match files.last().copied() {
            Some(first) if active_size > 0 && last_lsn + 1 == next_lsn => {
                let mut file = OpenOptions::new()
                    .append(true)
                    .open(file_path(dir, first))?;
                file.seek(SeekFrom::End(0))?;
                Active {
                    file,
                    size: active_size,
                }
            }
            Some(first) if active_size == 0 && first == next_lsn => Active {
                file: OpenOptions::new()
                    .append(true)
                    .open(file_path(dir, first))?,
                size: 0,
            },
            last => {
                // No file yet, an empty file named for another LSN, or `after`
                // jumped past the log: start a file named for the next LSN.
                if let (Some(first), 0) = (last, active_size) {
                    fs::remove_file(file_path(dir, first))?;
                    files.pop();
                }
                let file = create_file(dir, next_lsn)?;
                files.push(next_lsn);
                Active { file, size: 0 }
            }
        };
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            opts,
            queue: Mutex::new(Queue {
                next_lsn,
                pending: Vec::new(),
                failed: None,
                closed: false,
            }),
            wake: Condvar::new(),
            last_lsn: AtomicU64::new(next_lsn - 1),
            durable_lsn: AtomicU64::new(next_lsn - 1),
            flushes: AtomicU64::new(0),
            files: Mutex::new(files),
        });
        let writer_shared = shared.clone();
        let handle = std::thread::Builder::new()
            .name("quiver-wal".into())
            .spawn(move || writer_loop(writer_shared, active))?;
        let wal = Wal {
            inner: Arc::new(Inner {
                shared,
                writer: Mutex::new(Some(handle)),
            }),
        };
        Ok((wal, records))
    }

    /// Enqueues a record and returns its LSN plus an ack that resolves once the
    /// record (and all before it) is durable. Never blocks on I/O, so it may be
    /// called from async code and plain threads alike.
    pub fn submit(&self, payload: Vec<u8>) -> Result<(Lsn, WalAck)> {
        if payload.len() > MAX_RECORD {
            return Err(StorageError::Config(format!(
                "wal record of {} bytes exceeds the {MAX_RECORD}-byte limit",
                payload.len()
            )));
        }
        let shared = &self.inner.shared;
        let (tx, rx) = oneshot::channel();
        let lsn = {
            let mut q = shared.queue.lock();
            if let Some(msg) = &q.failed {
                return Err(StorageError::Io(std::io::Error::other(format!(
                    "wal failed earlier: {msg}"
                ))));
            }
            if q.closed {
                return Err(StorageError::Closed);
            }
            let lsn = q.next_lsn;
            q.next_lsn += 1;
            q.pending.push(Pending {
                lsn,
                payload,
                ack: tx,
            });
            shared.last_lsn.store(lsn, Ordering::Release);
            lsn
        };
        shared.wake.notify_one();
        Ok((lsn, WalAck(rx)))
    }

    /// The last LSN handed out (0 if none yet).
    pub fn last_lsn(&self) -> Lsn {
        self.inner.shared.last_lsn.load(Ordering::Acquire)
    }

    /// The last LSN known to be durable.
    pub fn durable_lsn(&self) -> Lsn {
        self.inner.shared.durable_lsn.load(Ordering::Acquire)
    }

    /// How many group commits (one write + one sync each) have completed;
    /// compared with [`Wal::last_lsn`] it shows how well commits batch.
    pub fn flush_count(&self) -> u64 {
        self.inner.shared.flushes.load(Ordering::Relaxed)
    }

    /// The directory holding the log files.
    pub fn dir(&self) -> &Path {
        &self.inner.shared.dir
    }

    /// Number of log files currently on disk (the active one included).
    pub fn file_count(&self) -> usize {
        self.inner.shared.files.lock().len()
    }

    /// Deletes whole log files all of whose records have `lsn < lsn` (call
    /// after a checkpoint made those records durable elsewhere). The active
    /// file is never deleted.
    pub fn truncate_before(&self, lsn: Lsn) -> Result<()> {
        let shared = &self.inner.shared;
        let mut files = shared.files.lock();
        // File i holds lsns [files[i], files[i+1] - 1]; it can go when
        // files[i+1] - 1 < lsn, i.e. files[i+1] <= lsn.
        let removable = files.windows(2).take_while(|w| w[1] <= lsn).count();
        if removable == 0 {
            return Ok(());
        }
        for &first in &files[..removable] {
            match fs::remove_file(file_path(&shared.dir, first)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        files.drain(..removable);
        sync_dir(&shared.dir)?;
        Ok(())
    }
}

fn create_file(dir: &Path, first: Lsn) -> Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(file_path(dir, first))?;
    sync_dir(dir)?;
    Ok(file)
}

/// The writer thread: takes everything pending, writes and syncs it, acks it.
fn writer_loop(shared: Arc<Shared>, mut active: Active) {
    loop {
        let batch = {
            let mut q = shared.queue.lock();
            while q.pending.is_empty() && !q.closed {
                shared.wake.wait(&mut q);
            }
            if q.pending.is_empty() {
                return;
            }
            std::mem::take(&mut q.pending)
        };
        match write_batch(&shared, &mut active, &batch) {
            Ok(()) => {
                if let Some(last) = batch.last() {
                    shared.durable_lsn.store(last.lsn, Ordering::Release);
                }
                shared.flushes.fetch_add(1, Ordering::Relaxed);
                for p in batch {
                    let _ = p.ack.send(Ok(()));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                tracing::error!(dir = %shared.dir.display(), "wal write failed: {msg}");
                let rest = {
                    let mut q = shared.queue.lock();
                    q.failed = Some(msg.clone());
                    std::mem::take(&mut q.pending)
                };
                for p in batch.into_iter().chain(rest) {
                    let err = std::io::Error::other(format!("wal write failed: {msg}"));
                    let _ = p.ack.send(Err(StorageError::Io(err)));
                }
                return;
            }
        }
    }
}

/// Appends `batch` to the log, rolling to new files at `segment_bytes`, and
/// syncs before returning.
fn write_batch(shared: &Shared, active: &mut Active, batch: &[Pending]) -> Result<()> {
    let limit = shared.opts.segment_bytes;
    let mut buf = Vec::with_capacity(batch.iter().map(|p| HEADER + p.payload.len()).sum());
    for p in batch {
        let rec = (HEADER + p.payload.len()) as u64;
        let used = active.size + buf.len() as u64;
        if used > 0 && used + rec > limit {
            active.file.write_all(&buf)?;
            active.size += buf.len() as u64;
            buf.clear();
            if shared.opts.sync {
                active.file.sync_data()?;
            }
            let file = create_file(&shared.dir, p.lsn)?;
            shared.files.lock().push(p.lsn);
            *active = Active { file, size: 0 };
        }
        encode_record(&mut buf, p.lsn, &p.payload);
    }
    active.file.write_all(&buf)?;
    active.size += buf.len() as u64;
    if shared.opts.sync {
        active.file.sync_data()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> WalOptions {
        WalOptions::default()
    }

    fn open(dir: &Path, o: WalOptions, after: Lsn) -> (Wal, Vec<WalRecord>) {
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
}
