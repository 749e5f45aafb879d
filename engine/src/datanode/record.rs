//! What the data role writes to the write-ahead log, and how it is encoded.
//!
//! An insert carries its rows as an Arrow IPC stream, the same columnar form the
//! growing segment keeps, so replay is a decode and an append. Deletes carry the
//! primary keys they removed, resolved at the time of the request, which makes
//! replay independent of how a delete's filter would evaluate later.

use arrow::array::RecordBatch;
use quiver_filter::PkValue;
use quiver_storage::{batch_to_ipc, ipc_to_batch};

use crate::error::{QuiverError, Result};
use crate::segment::PartitionId;

const TAG_INSERT: u8 = 1;
const TAG_DELETE: u8 = 2;

/// One logged mutation.
#[derive(Debug)]
pub enum WalRecord {
    /// Rows for one partition; rows whose primary key already exists replace it.
    Insert {
        collection: i64,
        partition: PartitionId,
        batch: RecordBatch,
    },
    /// Primary keys deleted.
    Delete { collection: i64, pks: Vec<PkValue> },
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

    /// Encodes the record: tag, collection id, then the body.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        match self {
            WalRecord::Insert {
                collection,
                partition,
                batch,
            } => {
                out.push(TAG_INSERT);
                out.extend_from_slice(&collection.to_le_bytes());
                out.extend_from_slice(&partition.to_le_bytes());
                out.extend_from_slice(&batch_to_ipc(batch)?);
            }
            WalRecord::Delete { collection, pks } => {
                out.push(TAG_DELETE);
                out.extend_from_slice(&collection.to_le_bytes());
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
        match tag {
            TAG_INSERT => {
                let partition = read_i64(rest, 8).ok_or_else(corrupt)?;
                let batch = ipc_to_batch(&rest[16..])?;
                Ok(WalRecord::Insert {
                    collection,
                    partition,
                    batch,
                })
            }
            TAG_DELETE => {
                let mut pks = Vec::new();
                let mut pos = 8;
                while pos < rest.len() {
                    let kind = rest[pos];
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
                Ok(WalRecord::Delete { collection, pks })
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
            partition: 9,
            batch: batch.clone(),
        };
        match WalRecord::decode(&rec.encode().expect("enc")).expect("dec") {
            WalRecord::Insert {
                collection,
                partition,
                batch: b,
            } => {
                assert_eq!((collection, partition), (7, 9));
                assert_eq!(b, batch);
            }
            other => panic!("unexpected {other:?}"),
        }
        let del = WalRecord::Delete {
            collection: 3,
            pks: vec![PkValue::Int(-4), PkValue::Str("héllo".into())],
        };
        match WalRecord::decode(&del.encode().expect("enc")).expect("dec") {
            WalRecord::Delete { collection, pks } => {
                assert_eq!(collection, 3);
                assert_eq!(pks, vec![PkValue::Int(-4), PkValue::Str("héllo".into())]);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(WalRecord::decode(&[9, 1]).is_err());
    }
}
