//! Integration tests of the storage crate's public API: the WAL under
//! concurrent writers, segment encoding with every column type, and a
//! seal-shaped flow across codec, object storage and metadata.

mod codec;
mod crash;
mod faults;
mod s3;
mod wal;

/// Unwraps a storage result, panicking with the error's message.
pub fn ok<T>(r: quiver_storage::Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// A fresh temporary directory.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}
