//! The storage crate's single error type.
//!
//! Every fallible storage call returns [`StorageError`]; the server maps it to a
//! Milvus status once, at the gRPC edge. All variants are system errors (the
//! client cannot cause them with a well-formed request) except `Config`, which
//! reports a bad storage URI or option given by the operator.

/// Errors raised by the WAL, metadata store, object store and segment codec.
#[derive(thiserror::Error, Debug)]
pub enum StorageError {
    /// A local file-system operation failed.
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
    /// Stored bytes failed a checksum or could not be decoded.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The object store (local, memory or S3) failed or the object is missing.
    #[error("object store: {0}")]
    ObjectStore(String),
    /// The metadata store failed or holds data of an unknown format.
    #[error("metadata store: {0}")]
    Meta(String),
    /// Arrow / Parquet encoding or decoding failed.
    #[error("arrow/parquet: {0}")]
    Arrow(String),
    /// A storage option or URI is invalid.
    #[error("storage configuration: {0}")]
    Config(String),
    /// The component was shut down, or failed earlier and refuses new work.
    #[error("storage closed")]
    Closed,
}

/// Result alias used throughout the storage crate.
pub type Result<T> = std::result::Result<T, StorageError>;

impl StorageError {
    /// True when the operator (not the system) is at fault.
    pub fn is_user_error(&self) -> bool {
        matches!(self, StorageError::Config(_))
    }
}

impl From<arrow::error::ArrowError> for StorageError {
    fn from(e: arrow::error::ArrowError) -> Self {
        StorageError::Arrow(e.to_string())
    }
}

impl From<parquet::errors::ParquetError> for StorageError {
    fn from(e: parquet::errors::ParquetError) -> Self {
        StorageError::Arrow(e.to_string())
    }
}

impl From<sled::Error> for StorageError {
    fn from(e: sled::Error) -> Self {
        StorageError::Meta(e.to_string())
    }
}

impl From<object_store::Error> for StorageError {
    fn from(e: object_store::Error) -> Self {
        StorageError::ObjectStore(e.to_string())
    }
}
