//! On-disk framing of the write-ahead log: file names, records, scanning.
//!
//! Kept apart from the writer so the format (and what counts as a torn tail)
//! can be read, and tested, on its own:
//!
//! ```text
//! [u32 LE payload len][u32 LE crc32(lsn LE bytes || payload)][u64 LE lsn][payload]
//! ```

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use super::{Lsn, WalEntry};
use crate::error::Result;

/// Size of a record header: length, checksum, lsn.
pub(super) const HEADER: usize = 16;
/// Records larger than this are treated as garbage when scanning.
pub(super) const MAX_RECORD: usize = 1 << 31;

/// File name of the log file whose first record is `first`.
pub(super) fn file_name(first: Lsn) -> String {
    format!("wal-{first:020}.log")
}

pub(super) fn file_path(dir: &Path, first: Lsn) -> PathBuf {
    dir.join(file_name(first))
}

/// Parses `wal-<20 digits>.log`.
pub(super) fn parse_file_name(name: &str) -> Option<Lsn> {
    let digits = name.strip_prefix("wal-")?.strip_suffix(".log")?;
    if digits.len() != 20 {
        return None;
    }
    // LSNs start at 1; a file claiming 0 is not ours.
    digits.parse().ok().filter(|&lsn| lsn > 0)
}

pub(super) fn checksum(lsn: Lsn, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&lsn.to_le_bytes());
    h.update(payload);
    h.finalize()
}

pub(super) fn encode_record(buf: &mut Vec<u8>, lsn: Lsn, payload: &[u8]) {
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&checksum(lsn, payload).to_le_bytes());
    buf.extend_from_slice(&lsn.to_le_bytes());
    buf.extend_from_slice(payload);
}

pub(super) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Outcome of scanning one file.
pub(super) struct Scan {
    /// Byte length of the intact prefix.
    pub(super) good_len: u64,
    /// Last intact LSN in the file, if any record is intact.
    pub(super) last: Option<Lsn>,
    /// Why the scan stopped early, if it did.
    pub(super) problem: Option<String>,
}

/// Reads the intact records of `data`, expecting LSNs to continue from `expect`.
pub(super) fn scan_records(
    data: &[u8],
    mut expect: Lsn,
    after: Lsn,
    out: &mut Vec<WalEntry>,
) -> Scan {
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
pub(super) fn list_files(dir: &Path) -> Result<Vec<Lsn>> {
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
