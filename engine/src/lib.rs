//! Quiver's engine: everything a node needs to hold and serve data, with no
//! knowledge of the wire protocol (no tonic, prost or generated types), so it
//! can be tested from `tests/`, embedded, and wired into one process or put
//! behind a network by the server crate.
//!
//! * [`segment`]: immutable segment snapshots (Arrow chunks, delete mask,
//!   graphs) and their [`segment::SegmentState`].
//! * [`datanode`]: WAL records and their application, growing segments, the
//!   primary-key index, seal, compaction, recovery, index-build scheduling.
//! * [`querynode`]: search and query execution over segment snapshots.
//! * [`indexnode`]: HNSW builds on their own pool, with progress and cancellation.
//! * [`catalog`]: databases, collections, partitions, indexes, aliases, users,
//!   and the timestamp oracle, persisted in the metadata store.
//! * [`coord`]: the standalone coordinator: the catalog and the table of index
//!   builds in flight behind [`roles::Coordinator`].
//! * [`error`]: the one error type, which knows its Milvus status code; the
//!   server maps it to `common.Status` at the gRPC edge.

pub mod catalog;
pub mod coord;
pub mod datanode;
pub mod error;
pub mod indexnode;
pub mod querynode;
pub mod roles;
pub mod segment;
