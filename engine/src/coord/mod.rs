//! The in-process coordinator of `quiver serve`: the catalog (persisted in the
//! metadata store) and the index build table, behind [`Coordinator`].
//!
//! Standalone holds exactly one, shared by the proxy and the data node; the
//! trait is the seam where cluster mode puts an etcd-backed one instead.

mod rg;
mod tasks;

use std::sync::Arc;

use async_trait::async_trait;
use quiver_types::{CollectionId, PartitionId, SegmentId, Timestamp};

pub use rg::{ResourceGroups, DEFAULT_CAPACITY, MAX_RESOURCE_GROUPS};
pub use tasks::BuildTable;

use crate::catalog::{Catalog, CollectionChange, CollectionMeta, DatabaseMeta, PartitionMeta};
use crate::error::{QuiverError, Result};
use crate::roles::{BuildKey, Coordinator, ReplicaPlacement, ResourceGroupInfo, RgConfig};

/// The id the one query node of a standalone server reports.
pub const QUERY_NODE_ID: i64 = 1;

/// The standalone coordinator.
pub struct LocalCoordinator {
    catalog: Arc<Catalog>,
    builds: BuildTable,
    groups: ResourceGroups,
}

impl LocalCoordinator {
    /// A coordinator over an opened catalog (and the resource groups
    /// persisted beside it), with no builds in flight.
    pub fn new(catalog: Arc<Catalog>) -> Result<Self> {
        let groups = ResourceGroups::open(catalog.meta_store(), QUERY_NODE_ID)?;
        Ok(LocalCoordinator {
            catalog,
            builds: BuildTable::default(),
            groups,
        })
    }

    /// A collection the caller resolved by name; gone only if dropped since.
    fn record(&self, id: CollectionId) -> Result<Arc<CollectionMeta>> {
        self.catalog
            .collection_by_id(id)
            .ok_or_else(|| QuiverError::Internal(format!("collection {id} vanished")))
    }

    /// Where every loaded collection's replica is.
    fn replicas(&self) -> Vec<ReplicaPlacement> {
        self.catalog
            .all_collections()
            .into_iter()
            .filter(|c| c.any_loaded())
            .map(|c| ReplicaPlacement {
                collection_id: c.id,
                collection: c.name.clone(),
                group: c.resource_group().to_string(),
            })
            .collect()
    }
}

#[async_trait]
impl Coordinator for LocalCoordinator {
    fn tso(&self) -> Timestamp {
        self.catalog.tso()
    }

    fn next_id(&self) -> i64 {
        self.catalog.next_id()
    }

    fn database(&self, name: &str) -> Result<DatabaseMeta> {
        self.catalog.database(name)
    }

    fn list_databases(&self) -> Vec<DatabaseMeta> {
        self.catalog.list_databases()
    }

    fn collection(&self, db: &str, name: &str) -> Result<Arc<CollectionMeta>> {
        self.catalog.collection(db, name)
    }

    fn collection_by_id(&self, id: CollectionId) -> Option<Arc<CollectionMeta>> {
        self.catalog.collection_by_id(id)
    }

    fn list_collections(&self, db: &str) -> Result<Vec<Arc<CollectionMeta>>> {
        self.catalog.list_collections(db)
    }

    fn all_collections(&self) -> Vec<Arc<CollectionMeta>> {
        self.catalog.all_collections()
    }

    fn describe_alias(&self, db: &str, alias: &str) -> Result<String> {
        self.catalog.describe_alias(db, alias)
    }

    fn aliases(&self, db: &str, collection: Option<CollectionId>) -> Vec<String> {
        self.catalog.aliases(db, collection)
    }

    async fn create_database(&self, name: &str, properties: Vec<(String, String)>) -> Result<()> {
        self.catalog.create_database(name, properties)
    }

    async fn drop_database(&self, name: &str) -> Result<()> {
        self.catalog.drop_database(name)
    }

    async fn alter_database(
        &self,
        name: &str,
        set: Vec<(String, String)>,
        delete: Vec<String>,
    ) -> Result<()> {
        self.catalog.alter_database(name, set, &delete)
    }

    async fn create_collection(&self, meta: CollectionMeta) -> Result<bool> {
        let (schema, partitions) = (meta.schema.clone(), meta.num_partitions);
        self.catalog.create_collection(meta, |old| {
            old.schema == schema && old.num_partitions == partitions
        })
    }

    async fn drop_collection(&self, db: &str, name: &str) -> Result<Option<CollectionId>> {
        self.catalog.drop_collection(db, name)
    }

    async fn alter_collection(
        &self,
        id: CollectionId,
        change: CollectionChange,
    ) -> Result<Arc<CollectionMeta>> {
        self.catalog.alter_collection(id, change)
    }

    async fn add_partition(&self, id: CollectionId, part: PartitionMeta, max: usize) -> Result<()> {
        self.catalog.add_partition(id, part, max)
    }

    async fn remove_partition(&self, id: CollectionId, part: PartitionId) -> Result<()> {
        self.catalog.remove_partition(id, part)
    }

    async fn set_alias(
        &self,
        db: &str,
        alias: &str,
        collection: &str,
        replace: bool,
    ) -> Result<()> {
        self.catalog.set_alias(db, alias, collection, replace)
    }

    async fn drop_alias(&self, db: &str, alias: &str) -> Result<()> {
        self.catalog.drop_alias(db, alias)
    }

    async fn list_resource_groups(&self) -> Vec<String> {
        self.groups.list()
    }

    async fn describe_resource_group(&self, name: &str) -> Result<ResourceGroupInfo> {
        self.groups.describe(name, &self.replicas())
    }

    async fn create_resource_group(&self, name: &str, config: Option<RgConfig>) -> Result<()> {
        self.groups.create(name, config)
    }

    async fn drop_resource_group(&self, name: &str) -> Result<()> {
        self.groups.drop_group(name, &self.replicas())
    }

    async fn update_resource_groups(&self, configs: Vec<(String, RgConfig)>) -> Result<()> {
        self.groups.update(configs)
    }

    async fn transfer_node(&self, src: &str, dst: &str, num_node: i32) -> Result<()> {
        self.groups.transfer_node(src, dst, num_node)
    }

    async fn transfer_replica(
        &self,
        src: &str,
        dst: &str,
        id: CollectionId,
        num_replica: i64,
    ) -> Result<()> {
        let c = self.record(id)?;
        let placed = c.any_loaded().then(|| c.resource_group());
        self.groups
            .check_transfer_replica(src, dst, &c.name, num_replica, placed)?;
        self.catalog
            .alter_collection(id, CollectionChange::PlaceReplica(dst.to_string()))?;
        Ok(())
    }

    async fn place_replica(
        &self,
        id: CollectionId,
        groups: Vec<String>,
        replicas: i64,
        check_nodes: bool,
    ) -> Result<()> {
        let c = self.record(id)?;
        let group = self.groups.assign(&groups, replicas, check_nodes)?;
        if c.resource_group() != group {
            self.catalog
                .alter_collection(id, CollectionChange::PlaceReplica(group))?;
        }
        Ok(())
    }

    async fn claim_build(&self, key: BuildKey) -> bool {
        self.builds.claim(key)
    }

    async fn report_build(&self, key: BuildKey, indexed_rows: usize) -> bool {
        self.builds.report(key, indexed_rows)
    }

    async fn end_build(&self, key: BuildKey) -> bool {
        self.builds.end(key)
    }

    async fn cancel_builds(&self, id: CollectionId, field_id: Option<i64>) {
        self.builds.cancel(id, field_id)
    }

    async fn builds_in_flight(&self, id: CollectionId, field_id: i64) -> Vec<(SegmentId, usize)> {
        self.builds.in_flight(id, field_id)
    }
}
