//! The server's error type and its one mapping to Milvus status codes.
//!
//! pymilvus retries gRPC-level failures for minutes, so every application error
//! travels inside the response's `common.Status`. Each variant knows its new-style
//! `code` (Milvus `merr`) and the legacy `error_code` pymilvus still branches on;
//! [`QuiverError::status_parts`] is the only place that pairing is written.

use quiver_filter::FilterError;
use quiver_index::IndexError;
use quiver_storage::StorageError;

/// Everything a request can fail with.
#[derive(thiserror::Error, Debug)]
pub enum QuiverError {
    /// Milvus's `WrapErrCollectionNotFoundWithDB`, what every RPC but
    /// DescribeCollection answers.
    #[error("collection not found[database={db}][collection={name}]")]
    CollectionNotFound { db: String, name: String },
    /// DescribeCollection's own wording of the same miss (Milvus keeps the
    /// older text there; pymilvus calls describe before insert, upsert, query).
    #[error("can't find collection[database={db}][collection={name}]")]
    CollectionNotDescribed { db: String, name: String },
    #[error("collection not loaded[collection={0}]")]
    CollectionNotLoaded(String),
    /// Milvus's root coordinator's text (code 1100).
    #[error(
        "create duplicate collection with different parameters, collection: {0}: invalid parameter"
    )]
    CollectionExists(String),
    #[error("partition not found[partition={0}]")]
    PartitionNotFound(String),
    #[error("partition not loaded[partition={0}]")]
    PartitionNotLoaded(String),
    #[error("index not found[collection={0}]")]
    IndexNotFound(String),
    #[error("database not found[database={0}]")]
    DatabaseNotFound(String),
    #[error("invalid database: {0}")]
    DatabaseInvalid(String),
    #[error("invalid parameter[{0}]")]
    InvalidParameter(String),
    /// A refusal with Milvus's `merr` code and exact reason text, built by
    /// the module that makes it ([`crate::catalog::names`] for names,
    /// resource groups, ...): the texts vary case by case, as in Milvus.
    #[error("{reason}")]
    Milvus { code: i32, reason: String },
    #[error("field not found[field={0}]")]
    FieldNotFound(String),
    #[error("alias not found[database={db}][alias={alias}]")]
    AliasNotFound { db: String, alias: String },
    #[error("alias and collection name conflict[alias={0}]")]
    AliasNameConflict(String),
    #[error("alias already exists[alias={0}]")]
    AliasExists(String),
    #[error("{0} is not supported by Quiver")]
    Unsupported(String),
    #[error("server is shutting down")]
    ShuttingDown,
    #[error("resource group not found[rg={0}]")]
    ResourceGroupNotFound(String),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("rate limit exceeded[{0}]")]
    RateLimited(String),
    #[error("message too large[{0}]")]
    TooLarge(String),
    #[error("request deadline exceeded before the server finished[{0}]")]
    DeadlineExceeded(String),
    /// An error another role returned over the network: its status parts,
    /// kept exactly so clients see the same code and text as in process.
    #[error("{reason}")]
    Remote {
        code: i32,
        legacy: i32,
        reason: String,
    },
}

/// Legacy `common.ErrorCode` values pymilvus branches on.
pub mod legacy {
    pub const UNEXPECTED: i32 = 1;
    pub const COLLECTION_NOT_EXISTS: i32 = 4;
    pub const ILLEGAL_ARGUMENT: i32 = 5;
    pub const META_FAILED: i32 = 15;
    pub const INDEX_NOT_EXIST: i32 = 25;
    pub const NOT_READY: i32 = 56;
    pub const RATE_LIMIT: i32 = 49;
}

impl QuiverError {
    /// `(code, legacy error_code, reason)` for the response status.
    pub fn status_parts(&self) -> (i32, i32, String) {
        use QuiverError::*;
        let (code, legacy) = match self {
            CollectionNotFound { .. } | CollectionNotDescribed { .. } => {
                (100, legacy::COLLECTION_NOT_EXISTS)
            }
            CollectionNotLoaded(_) => (101, legacy::UNEXPECTED),
            CollectionExists(_) => (1100, legacy::ILLEGAL_ARGUMENT),
            PartitionNotFound(_) => (200, legacy::META_FAILED),
            PartitionNotLoaded(_) => (201, legacy::UNEXPECTED),
            IndexNotFound(_) => (700, legacy::INDEX_NOT_EXIST),
            DatabaseNotFound(_) => (800, legacy::UNEXPECTED),
            DatabaseInvalid(_) => (802, legacy::UNEXPECTED),
            InvalidParameter(_) => (1100, legacy::ILLEGAL_ARGUMENT),
            // Milvus derives the legacy code from the new one: only 1100 has its own.
            Milvus { code: 1100, .. } => (1100, legacy::ILLEGAL_ARGUMENT),
            Milvus { code, .. } => (*code, legacy::UNEXPECTED),
            FieldNotFound(_) => (1700, legacy::UNEXPECTED),
            AliasNotFound { .. } => (1600, legacy::UNEXPECTED),
            AliasNameConflict(_) => (1601, legacy::UNEXPECTED),
            AliasExists(_) => (1602, legacy::UNEXPECTED),
            Unsupported(_) => (1, legacy::UNEXPECTED),
            ShuttingDown => (1, legacy::NOT_READY),
            ResourceGroupNotFound(_) => (300, legacy::UNEXPECTED),
            Internal(_) => (65535, legacy::UNEXPECTED),
            // Milvus merr: ErrServiceRateLimit (pymilvus retries it),
            // ErrParameterTooLarge, and its TimeoutCode.
            RateLimited(_) => (8, legacy::RATE_LIMIT),
            TooLarge(_) => (1102, legacy::UNEXPECTED),
            DeadlineExceeded(_) => (10001, legacy::UNEXPECTED),
            Remote {
                code,
                legacy,
                reason,
            } => return (*code, *legacy, reason.clone()),
        };
        (code, legacy, self.to_string())
    }

    /// Whether the caller, rather than the server, is at fault.
    pub fn is_user_error(&self) -> bool {
        if let QuiverError::Remote { code, legacy, .. } = self {
            // The codes of the system errors above.
            return !(matches!(*code, 65535 | 8 | 10001) || *legacy == legacy::NOT_READY);
        }
        !matches!(
            self,
            QuiverError::Internal(_)
                | QuiverError::ShuttingDown
                | QuiverError::RateLimited(_)
                | QuiverError::DeadlineExceeded(_)
        )
    }
}

/// Milvus `merr` codes several kinds of refusal share.
pub mod merr {
    /// ErrParameterInvalid.
    pub const PARAMETER_INVALID: i32 = 1100;
    /// A plain (code-less) Go error.
    pub const UNEXPECTED: i32 = 65535;
    /// ErrParameterMissing.
    pub const PARAMETER_MISSING: i32 = 1101;
    /// ErrCollectionLoaded.
    pub const COLLECTION_LOADED: i32 = 104;
}

/// A refusal with Milvus's code and exact text.
pub fn refuse(code: i32, reason: String) -> QuiverError {
    QuiverError::Milvus { code, reason }
}

/// `merr.WrapErrParameterInvalidMsg`: the message, then the code's text.
pub fn parameter_invalid_msg(msg: impl std::fmt::Display) -> QuiverError {
    refuse(merr::PARAMETER_INVALID, format!("{msg}: invalid parameter"))
}

/// `merr.WrapErrParameterInvalid(expected, actual, msg)`: the message (when
/// there is one), then the code's text with both fields.
pub fn parameter_invalid(
    expected: impl std::fmt::Display,
    actual: impl std::fmt::Display,
    msg: impl std::fmt::Display,
) -> QuiverError {
    let fields = format!("invalid parameter[expected={expected}][actual={actual}]");
    let msg = msg.to_string();
    refuse(
        merr::PARAMETER_INVALID,
        if msg.is_empty() {
            fields
        } else {
            format!("{msg}: {fields}")
        },
    )
}

/// Shorthand for an invalid-parameter error.
pub fn invalid(msg: impl Into<String>) -> QuiverError {
    QuiverError::InvalidParameter(msg.into())
}

impl From<FilterError> for QuiverError {
    fn from(e: FilterError) -> Self {
        QuiverError::InvalidParameter(format!("failed to create query plan: {e}"))
    }
}

impl From<IndexError> for QuiverError {
    fn from(e: IndexError) -> Self {
        match e {
            IndexError::DimensionMismatch { .. } | IndexError::InvalidParam(_) => {
                QuiverError::InvalidParameter(e.to_string())
            }
            other => QuiverError::Internal(other.to_string()),
        }
    }
}

impl From<StorageError> for QuiverError {
    fn from(e: StorageError) -> Self {
        QuiverError::Internal(format!("storage: {e}"))
    }
}

impl From<arrow::error::ArrowError> for QuiverError {
    fn from(e: arrow::error::ArrowError) -> Self {
        QuiverError::Internal(format!("arrow: {e}"))
    }
}

/// A validated schema always has a primary key; its absence is a server bug.
pub fn no_primary_key() -> QuiverError {
    QuiverError::Internal("collection schema has no primary key".into())
}

/// Result alias used across the server.
pub type Result<T> = std::result::Result<T, QuiverError>;
