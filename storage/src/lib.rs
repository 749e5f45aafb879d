//! Quiver's storage layer: the schema model, the write-ahead log, Arrow/Parquet
//! segment files on object storage, and the metadata store.
//!
//! Nothing here knows the wire protocol; the server crate converts requests
//! into these types once, at the gRPC edge.

pub mod codec;
pub mod error;
mod evolve;
pub mod faulty;
pub mod meta;
pub mod object;
pub mod schema;
pub mod wal;

pub use codec::{
    batch_to_ipc, batch_to_parquet, decode_bitmap, encode_bitmap, ipc_to_batch,
    parquet_column_position, parquet_to_batch,
};
pub use error::{Result, StorageError};
pub use faulty::{Fault, FaultyStore};
pub use meta::{
    get_json, json_op, put_json, scan_json, MemoryMetaStore, MetaOp, MetaStore, SledMetaStore,
    META_FORMAT_VERSION, META_VERSION_KEY,
};
pub use object::{ObjectStorage, RetryPolicy, MULTIPART_THRESHOLD};
pub use schema::{CollectionSchema, DataType, FieldSchema, ScalarValue, META_FIELD};
pub use wal::{Lsn, Wal, WalAck, WalEntry, WalOptions};
