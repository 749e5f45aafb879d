//! The coordinator: the catalog, id and timestamp allocation, and the table of
//! index builds in flight (Milvus's root and data coordinators in one role).
//!
//! The proxy and the data node reach metadata only through this trait, with
//! plain-data arguments: every DDL is a named operation (a
//! [`CollectionChange`] rather than a closure over the record), so an
//! implementation can sit behind a network and log what it applied.
//!
//! Reads and allocation are synchronous on purpose. Every request resolves
//! its collection several times, so they must be as cheap as a map look-up:
//! an implementation answers them from the view of the catalog it holds (the
//! standalone one *is* the catalog; a remote one keeps a copy current by
//! watching the metadata store, as Milvus's proxy meta cache does) and hands
//! out ids and timestamps from a block it reserved ahead, as Milvus's
//! allocators do. Writes and the task table are asynchronous: they are where
//! a remote implementation goes to the store.

use std::sync::Arc;

use async_trait::async_trait;
use quiver_types::{CollectionId, PartitionId, SegmentId, Timestamp};

use super::{ResourceGroupInfo, RgConfig};
pub use crate::catalog::CollectionChange;
use crate::catalog::{CollectionMeta, DatabaseMeta, PartitionMeta};
use crate::error::Result;

/// One index build's identity: (collection, segment, field id).
pub type BuildKey = (CollectionId, SegmentId, i64);

/// Catalog, allocation and index-task coordination.
#[async_trait]
pub trait Coordinator: Send + Sync {
    /// A fresh hybrid timestamp, later than every one handed out before.
    fn tso(&self) -> Timestamp;
    /// A fresh unique id (collections, partitions, indexes, segments, rows).
    fn next_id(&self) -> i64;

    /// The database called `name`.
    fn database(&self, name: &str) -> Result<DatabaseMeta>;
    /// All databases, by name.
    fn list_databases(&self) -> Vec<DatabaseMeta>;
    /// A collection by name or alias.
    fn collection(&self, db: &str, name: &str) -> Result<Arc<CollectionMeta>>;
    /// A collection by id (None once dropped).
    fn collection_by_id(&self, id: CollectionId) -> Option<Arc<CollectionMeta>>;
    /// The collections of `db`, oldest first.
    fn list_collections(&self, db: &str) -> Result<Vec<Arc<CollectionMeta>>>;
    /// Every collection of every database.
    fn all_collections(&self) -> Vec<Arc<CollectionMeta>>;
    /// The collection name an alias points at.
    fn describe_alias(&self, db: &str, alias: &str) -> Result<String>;
    /// Aliases in `db`, optionally only those of one collection.
    fn aliases(&self, db: &str, collection: Option<CollectionId>) -> Vec<String>;

    /// Creates a database.
    async fn create_database(&self, name: &str, properties: Vec<(String, String)>) -> Result<()>;
    /// Drops an empty database other than `default` (absent is fine).
    async fn drop_database(&self, name: &str) -> Result<()>;
    /// Sets and deletes database properties.
    async fn alter_database(
        &self,
        name: &str,
        set: Vec<(String, String)>,
        delete: Vec<String>,
    ) -> Result<()>;
    /// Registers a collection; `Ok(false)` when one of that name with the same
    /// schema and partition count exists (Milvus treats that as a no-op).
    async fn create_collection(&self, meta: CollectionMeta) -> Result<bool>;
    /// Removes a collection and its aliases; its id, or None if absent.
    async fn drop_collection(&self, db: &str, name: &str) -> Result<Option<CollectionId>>;
    /// Applies one change to a collection's record; the record as changed.
    async fn alter_collection(
        &self,
        id: CollectionId,
        change: CollectionChange,
    ) -> Result<Arc<CollectionMeta>>;
    /// Adds a partition unless one of that name exists; refuses past `max`.
    async fn add_partition(&self, id: CollectionId, part: PartitionMeta, max: usize) -> Result<()>;
    /// Removes a partition (absent is fine) and its load state.
    async fn remove_partition(&self, id: CollectionId, part: PartitionId) -> Result<()>;
    /// Points `alias` at a collection; `replace` re-points an existing one.
    async fn set_alias(&self, db: &str, alias: &str, collection: &str, replace: bool)
        -> Result<()>;
    /// Removes an alias (absent is fine).
    async fn drop_alias(&self, db: &str, alias: &str) -> Result<()>;

    /// Resource group names.
    async fn list_resource_groups(&self) -> Vec<String>;
    /// One group's config, nodes and the replicas placed in it.
    async fn describe_resource_group(&self, name: &str) -> Result<ResourceGroupInfo>;
    /// Creates a group (None: requests and limits 0); the same config again is a no-op.
    async fn create_resource_group(&self, name: &str, config: Option<RgConfig>) -> Result<()>;
    /// Drops an unused group with limits 0 (absent is fine).
    async fn drop_resource_group(&self, name: &str) -> Result<()>;
    /// Replaces the configs of existing groups, all or none.
    async fn update_resource_groups(&self, configs: Vec<(String, RgConfig)>) -> Result<()>;
    /// Moves `num_node` nodes' worth of requests from `src` to `dst`.
    async fn transfer_node(&self, src: &str, dst: &str, num_node: i32) -> Result<()>;
    /// Moves a loaded collection's replica from `src` to `dst`.
    async fn transfer_replica(
        &self,
        src: &str,
        dst: &str,
        id: CollectionId,
        num_replica: i64,
    ) -> Result<()>;
    /// Checks a load's `resource_groups` and `replica_number` as Milvus does
    /// and places the collection's replica (before it is marked loaded);
    /// `check_nodes` is false for an already loaded collection.
    async fn place_replica(
        &self,
        id: CollectionId,
        groups: Vec<String>,
        replicas: i64,
        check_nodes: bool,
    ) -> Result<()>;

    /// Records a build as in flight; false if it already is (the caller must
    /// not start a second one).
    async fn claim_build(&self, key: BuildKey) -> bool;
    /// Records a build's progress; false once it was cancelled, so the
    /// builder stops.
    async fn report_build(&self, key: BuildKey, indexed_rows: usize) -> bool;
    /// Removes a build from the table; true if it had been cancelled (its
    /// graph must then not be attached).
    async fn end_build(&self, key: BuildKey) -> bool;
    /// Cancels the builds of a collection, or of one of its fields.
    async fn cancel_builds(&self, id: CollectionId, field_id: Option<i64>);
    /// Segments of the field's index being built, with rows indexed so far.
    async fn builds_in_flight(&self, id: CollectionId, field_id: i64) -> Vec<(SegmentId, usize)>;
}
