//! Integration tests of the engine through its public interfaces: the real
//! data node (WAL, seal, compaction, recovery) and query node behind the role
//! traits, on local and in-memory object stores.

mod compaction;
mod concurrency;
mod fixture;
mod lifecycle;
