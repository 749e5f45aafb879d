//! The one error type of the index crate.

/// Errors returned by index construction and (de)serialization.
///
/// `DimensionMismatch` and `InvalidParam` are user errors; `Corrupt` is a system
/// error (bad bytes on disk); `Cancelled` is neither — the caller asked for it.
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum IndexError {
    /// The build was cancelled through its cancel flag.
    #[error("index build cancelled")]
    Cancelled,
    /// A vector or query had the wrong number of components.
    #[error("dimension mismatch: expected {expected}, got {got}")]
    DimensionMismatch {
        /// Dimension of the index.
        expected: usize,
        /// Dimension that was supplied.
        got: usize,
    },
    /// Serialized bytes failed validation.
    #[error("corrupt index data: {0}")]
    Corrupt(String),
    /// A parameter was out of range.
    #[error("invalid parameter: {0}")]
    InvalidParam(String),
}

/// Checks that `vectors` is a whole number of rows of `dim > 0` components.
pub(crate) fn check_slab(vectors: &[f32], dim: usize) -> Result<(), IndexError> {
    if dim == 0 {
        return Err(IndexError::InvalidParam("dim must be > 0".into()));
    }
    if !vectors.len().is_multiple_of(dim) {
        return Err(IndexError::DimensionMismatch {
            expected: dim,
            got: vectors.len() % dim,
        });
    }
    Ok(())
}

impl IndexError {
    /// True when the error was caused by the caller's input (as opposed to the system).
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            IndexError::DimensionMismatch { .. } | IndexError::InvalidParam(_)
        )
    }
}
