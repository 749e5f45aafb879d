//! What the data role writes to the write-ahead log, and how it is encoded.
//!
//! An insert carries its rows as an Arrow IPC stream, the same columnar form the
//! growing segment keeps, so replay is a decode and an append. Deletes carry the
//! primary keys they removed, resolved at the time of the request, which makes
//! replay independent of how a delete's filter would evaluate later.
//!
//! Every record carries the hybrid timestamp it was acknowledged with: that is
//! the timestamp a client gets back and may later name as its
//! `guarantee_timestamp`, so replay restores the same visibility watermark.
//! Records from before timestamps were logged (tags 1 and 2) read as ts 0.

use arrow::array::RecordBatch;
use quiver_filter::PkValue;
use quiver_storage::{batch_to_ipc, ipc_to_batch};
use quiver_types::Timestamp;

use crate::error::{QuiverError, Result};
use crate::segment::PartitionId;

const TAG_INSERT_V1: u8 = 1;
const TAG_DELETE_V1: u8 = 2;
const TAG_INSERT: u8 = 3;
const TAG_DELETE: u8 = 4;

/// One logged mutation.
#[derive(Debug)]
pub enum WalRecord {
    /// Rows for one partition; rows whose primary key already exists replace it.
    Insert {
        collection: i64,
        ts: Timestamp,
        partition: PartitionId,
        batch: RecordBatch,
    },
    /// Primary keys deleted.
    Delete {
        collection: i64,
        ts: Timestamp,
        pks: Vec<PkValue>,
    },
}

impl WalRecord {
    /// The collection the record belongs to.
    pub fn collection(&self) -> i64 {
        match self {
            WalRecord::Insert { collection, .. } | WalRecord::Delete { collection, .. } => {
                *collection
            }
        }
    }

    /// The timestamp the write was acknowledged with.
    pub fn ts(&self) -> Timestamp {
        match self {
            WalRecord::Insert { ts, .. } | WalRecord::Delete { ts, .. } => *ts,
        }
    }

    /// Encodes the record: tag, collection id, timestamp, then the body.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        match self {
            WalRecord::Insert {
                collection,
                ts,
                partition,
                batch,
            } => {
                out.push(TAG_INSERT);
                out.extend_from_slice(&collection.to_le_bytes());
                out.extend_from_slice(&ts.to_le_bytes());
                out.extend_from_slice(&partition.to_le_bytes());
                out.extend_from_slice(&batch_to_ipc(batch)?);
            }
            WalRecord::Delete {
                collection,
                ts,
                pks,
            } => {
                out.push(TAG_DELETE);
                out.extend_from_slice(&collection.to_le_bytes());
                out.extend_from_slice(&ts.to_le_bytes());
                for pk in pks {
                    match pk {
                        PkValue::Int(v) => {
                            out.push(0);
                            out.extend_from_slice(&v.to_le_bytes());
                        }
                        PkValue::Str(s) => {
                            out.push(1);
                            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                            out.extend_from_slice(s.as_bytes());
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Decodes a record written by [`WalRecord::encode`].
    pub fn decode(bytes: &[u8]) -> Result<WalRecord> {
        let corrupt = || QuiverError::Internal("corrupt WAL record".into());
        let (&tag, rest) = bytes.split_first().ok_or_else(corrupt)?;
        let collection = read_i64(rest, 0).ok_or_else(corrupt)?;
        // Version-1 records have no timestamp after the collection id.
        let (ts, body) = match tag {
            TAG_INSERT | TAG_DELETE => (read_i64(rest, 8).ok_or_else(corrupt)? as u64, 16),
            _ => (0, 8),
        };
        match tag {
            TAG_INSERT | TAG_INSERT_V1 => {
                let partition = read_i64(rest, body).ok_or_else(corrupt)?;
                let batch = ipc_to_batch(rest.get(body + 8..).ok_or_else(corrupt)?)?;
                Ok(WalRecord::Insert {
                    collection,
                    ts,
                    partition,
                    batch,
                })
            }
            TAG_DELETE | TAG_DELETE_V1 => {
                let mut pks = Vec::new();
                let mut pos = body;
                while pos < rest.len() {
                    let kind = rest[pos]; // in bounds: pos < len
                    pos += 1;
                    if kind == 0 {
                        pks.push(PkValue::Int(read_i64(rest, pos).ok_or_else(corrupt)?));
                        pos += 8;
                    } else {
                        let len = rest
                            .get(pos..pos + 4)
                            .and_then(|b| b.try_into().ok())
                            .map(u32::from_le_bytes)
                            .ok_or_else(corrupt)? as usize;
                        pos += 4;
                        let s = rest.get(pos..pos + len).ok_or_else(corrupt)?;
                        pks.push(PkValue::Str(
                            String::from_utf8(s.to_vec()).map_err(|_| corrupt())?,
                        ));
                        pos += len;
                    }
                }
                Ok(WalRecord::Delete {
                    collection,
                    ts,
                    pks,
                })
            }
            _ => Err(corrupt()),
        }
    }
}

fn read_i64(b: &[u8], at: usize) -> Option<i64> {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map(i64::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn round_trips() {
        let batch = RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(vec![1, 2])) as _),
            ("s", Arc::new(StringArray::from(vec!["a", "b"])) as _),
        ])
        .expect("batch");
        let rec = WalRecord::Insert {
            collection: 7,
            ts: 1 << 40,
            partition: 9,
            batch: batch.clone(),
        };
        match WalRecord::decode(&rec.encode().expect("enc")).expect("dec") {
            WalRecord::Insert {
                collection,
                ts,
                partition,
                batch: b,
            } => {
                assert_eq!((collection, ts, partition), (7, 1 << 40, 9));
                assert_eq!(b, batch);
            }
            other => panic!("unexpected {other:?}"),
        }
        let del = WalRecord::Delete {
            collection: 3,
            ts: 5,
            pks: vec![PkValue::Int(-4), PkValue::Str("héllo".into())],
        };
        match WalRecord::decode(&del.encode().expect("enc")).expect("dec") {
            WalRecord::Delete {
                collection,
                ts,
                pks,
            } => {
                assert_eq!((collection, ts), (3, 5));
                assert_eq!(pks, vec![PkValue::Int(-4), PkValue::Str("héllo".into())]);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(WalRecord::decode(&[9, 1]).is_err());
    }

    #[test]
    fn version_one_records_read_with_timestamp_zero() {
        // Tag 2 (delete, no timestamp), collection 3, one int key 8.
        let mut v1 = vec![TAG_DELETE_V1];
        v1.extend_from_slice(&3i64.to_le_bytes());
        v1.push(0);
        v1.extend_from_slice(&8i64.to_le_bytes());
        match WalRecord::decode(&v1).expect("dec") {
            WalRecord::Delete {
                collection,
                ts,
                pks,
            } => assert_eq!((collection, ts, pks), (3, 0, vec![PkValue::Int(8)])),
            other => panic!("unexpected {other:?}"),
        }
        // A truncated insert is an error, not a panic.
        assert!(WalRecord::decode(&[TAG_INSERT, 1, 0, 0, 0, 0, 0, 0, 0]).is_err());
    }
}
