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
//!
//! Files go away only whole, through [`Wal::truncate_before`]. A file also
//! rolls over when everything in it is checkpointed (the caller asks for a
//! truncation past the last record): otherwise an idle server would keep its
//! last, partly filled file — up to `segment_bytes` of dead records — forever.

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

mod format;

use format::{
    encode_record, file_name, file_path, list_files, scan_records, sync_dir, HEADER, MAX_RECORD,
};

/// A fully checkpointed active file at least this large is rolled over so it
/// can be deleted (smaller ones are not worth a file each).
pub const ROTATE_MIN_BYTES: u64 = 1 << 20;

// Log sequence number: strictly increasing, the first record gets 1.
pub use quiver_types::Lsn;

/// One replayed entry: its LSN and the opaque payload a caller logged (the
/// engine decodes it into its own `WalRecord`).
pub type WalEntry = (Lsn, Vec<u8>);

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
    /// Start a new file before writing anything more (see [`Wal::truncate_before`]).
    rotate: bool,
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
    pub fn open(dir: &Path, opts: WalOptions, after: Lsn) -> Result<(Wal, Vec<WalEntry>)> {
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
                rotate: false,
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
    /// file is never deleted; but when `lsn` is past every record handed out
    /// and the active file holds at least [`ROTATE_MIN_BYTES`] (or
    /// `segment_bytes`, if smaller), the writer is asked to start a new file,
    /// so that a later call can delete this one.
    pub fn truncate_before(&self, lsn: Lsn) -> Result<()> {
        let shared = &self.inner.shared;
        if lsn > self.last_lsn() {
            let mut q = shared.queue.lock();
            if q.next_lsn <= lsn && q.failed.is_none() && !q.closed {
                q.rotate = true;
                drop(q);
                shared.wake.notify_one();
            }
        }
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
    let rotate_min = ROTATE_MIN_BYTES.min(shared.opts.segment_bytes);
    loop {
        let (batch, rotate_at) = {
            let mut q = shared.queue.lock();
            while q.pending.is_empty() && !q.closed && !q.rotate {
                shared.wake.wait(&mut q);
            }
            // Everything before `next_lsn` was checkpointed when the rotation
            // was asked for, so whatever is pending belongs in the new file.
            let rotate_at = std::mem::take(&mut q.rotate)
                .then(|| q.pending.first().map_or(q.next_lsn, |p| p.lsn));
            if q.pending.is_empty() && q.closed {
                return;
            }
            (std::mem::take(&mut q.pending), rotate_at)
        };
        let rotated = match rotate_at {
            Some(first) if active.size >= rotate_min => rotate(&shared, &mut active, first),
            _ => Ok(()),
        };
        if batch.is_empty() {
            if let Err(e) = rotated {
                // Not fatal: nothing was lost; the file rolls over next time.
                tracing::warn!(dir = %shared.dir.display(), "wal rollover failed: {e}");
            }
            continue;
        }
        match rotated.and_then(|()| write_batch(&shared, &mut active, &batch)) {
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

/// Starts a new active file whose first record will be `first`.
fn rotate(shared: &Shared, active: &mut Active, first: Lsn) -> Result<()> {
    let file = create_file(&shared.dir, first).inspect_err(|_| {
        // A stray file named for an LSN the old file goes on to hold would
        // read as an overlap at the next open.
        let _ = fs::remove_file(file_path(&shared.dir, first));
    })?;
    shared.files.lock().push(first);
    *active = Active { file, size: 0 };
    Ok(())
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
mod tests;
