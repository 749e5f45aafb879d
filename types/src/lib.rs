//! The plain types several Quiver crates share, kept below all of them so that
//! none has to import another's internals to name a primary key, an id or a
//! point in time: the filter crate extracts primary keys from expressions, the
//! storage crate logs positions, the engine applies writes at timestamps, and
//! the server crate puts all of them on the wire.
//!
//! Everything here is plain data (`serde`-serialisable), so role requests that
//! carry these types can cross a network unchanged.
#![warn(missing_docs)]

use serde::{Deserialize, Serialize};

/// Collection ids are unique per server (allocated from the catalog's id counter).
pub type CollectionId = i64;
/// Partition ids are unique per server.
pub type PartitionId = i64;
/// Segment ids are unique per server.
pub type SegmentId = i64;
/// Position of a record in the write-ahead log (1-based, dense, increasing).
pub type Lsn = u64;

/// A Milvus hybrid timestamp: physical milliseconds since the Unix epoch in the
/// high bits, an 18-bit logical counter in the low bits. pymilvus hands these
/// back as `guarantee_timestamp` (Session consistency) and shows them to users,
/// so they must compare like Milvus's.
pub type Timestamp = u64;

/// Bits of a [`Timestamp`] that hold the logical counter.
pub const LOGICAL_BITS: u32 = 18;

/// The physical part (Unix milliseconds) of a hybrid timestamp.
pub fn physical_ms(ts: Timestamp) -> u64 {
    ts >> LOGICAL_BITS
}

/// The hybrid timestamp of `ms` Unix milliseconds with logical counter `logical`.
pub fn compose_ts(ms: u64, logical: u64) -> Timestamp {
    (ms << LOGICAL_BITS) | (logical & ((1 << LOGICAL_BITS) - 1))
}

/// A primary-key value: Milvus primary keys are INT64 or VARCHAR.
///
/// Ordered ints before strings, then by value: query results come back in this
/// order, whatever segments the rows live in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PkValue {
    /// An INT64 key.
    Int(i64),
    /// A VARCHAR key.
    Str(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hybrid_timestamps_round_trip_and_order_by_time_first() {
        let a = compose_ts(1_700_000_000_000, 5);
        let b = compose_ts(1_700_000_000_001, 0);
        assert_eq!(physical_ms(a), 1_700_000_000_000);
        assert_eq!(a & ((1 << LOGICAL_BITS) - 1), 5);
        assert!(a < b, "a later millisecond outranks any logical counter");
    }

    #[test]
    fn primary_keys_order_ints_before_strings() {
        let mut v = vec![PkValue::Str("a".into()), PkValue::Int(7), PkValue::Int(-1)];
        v.sort();
        assert_eq!(
            v,
            vec![PkValue::Int(-1), PkValue::Int(7), PkValue::Str("a".into())]
        );
    }
}
