//! The proxy role: the Milvus gRPC front door.
//!
//! Each RPC is a plain async function `(proxy, ctx, request) -> Result<response>`
//! in the module for its group (collections, partitions, writes, indexes and
//! loading, search, query, aliases and databases). They validate, plan, hand the
//! work to the data/query/index roles and shape the answer. [`service`] wires
//! them into tonic and turns every error into an in-band Milvus status.

mod add_field;
mod alias_db;
pub mod auth;
pub mod backoff;
mod collection;
mod hybrid;
mod index;
mod json_path;
mod misc;
mod output;
mod partition;
mod plan;
mod query;
mod rerank;
mod resource_group;
mod schema;
mod search;
mod search_params;
pub mod service;
mod status;
mod write;

use std::sync::Arc;

use crate::proto::common::KeyValuePair;
use quiver_engine::catalog::users::Users;
use quiver_engine::catalog::{names, CollectionMeta, DEFAULT_DB};
use quiver_engine::error::{QuiverError, Result};
use quiver_engine::roles::{Coordinator, DataService, IndexService, QueryService};
use quiver_engine::segment::PartitionId;

pub use status::ok_status;

/// Largest `topk + offset` accepted by Search and Query.
pub const MAX_TOPK: usize = 16_384;

/// Server identity shown by GetVersion and Connect.
pub const VERSION: &str = concat!("v2.6.0-quiver-", env!("CARGO_PKG_VERSION"));

/// The proxy and the roles it talks to, each only through its service trait.
pub struct Proxy {
    /// The coordinator: catalog, ids, timestamps, index build table.
    pub coord: Arc<dyn Coordinator>,
    pub data: Arc<dyn DataService>,
    pub index: Arc<dyn IndexService>,
    pub query: Arc<dyn QueryService>,
    pub users: Arc<Users>,
    /// Caps on filter expressions (`[filter]` in the config file).
    pub filter_limits: quiver_filter::Limits,
    /// Large bound filters (shared with an in-process query node).
    pub filters: Arc<quiver_engine::querynode::FilterCache>,
    /// Most partitions one collection may have (`[limits] max_partitions`).
    pub max_partitions: usize,
}

/// Per-request context taken from the gRPC metadata.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The database from the `dbname` header ("" → default).
    pub header_db: String,
    /// When the client stops waiting (its `grpc-timeout`), if it said.
    pub deadline: Option<std::time::Instant>,
    /// Why this `Connect`'s credentials were refused (see [`auth::Gate::intercept`]).
    pub auth_failed: Option<String>,
}

impl Ctx {
    /// Fails once the client's deadline has passed: called before work that a
    /// departed client would only waste (the query node checks it again between
    /// segments once the search or query runs).
    pub fn check_deadline(&self) -> Result<()> {
        match self.deadline {
            Some(d) if std::time::Instant::now() >= d => Err(QuiverError::DeadlineExceeded(
                "the client's timeout passed before the search or query started".into(),
            )),
            _ => Ok(()),
        }
    }

    /// The database a request addresses: its own `db_name` field if set, then
    /// the `dbname` header, then `default`.
    pub fn db<'a>(&'a self, request_db: &'a str) -> &'a str {
        if !request_db.is_empty() {
            request_db
        } else if !self.header_db.is_empty() {
            &self.header_db
        } else {
            DEFAULT_DB
        }
    }
}

impl Proxy {
    /// Resolves a collection (name or alias) in the request's database, after
    /// checking the name's form: Milvus refuses a malformed name with the name
    /// error, not "collection not found", in almost every RPC.
    pub fn collection(&self, ctx: &Ctx, db: &str, name: &str) -> Result<Arc<CollectionMeta>> {
        names::collection(name)?;
        self.coord.collection(ctx.db(db), name)
    }

    /// Resolves a collection without checking the name's form, for the RPCs in
    /// which Milvus only looks the name up (search, hybrid search, create and
    /// drop index): a malformed name is then simply not found.
    pub fn lookup_collection(
        &self,
        ctx: &Ctx,
        db: &str,
        name: &str,
    ) -> Result<Arc<CollectionMeta>> {
        if name.is_empty() {
            return Err(QuiverError::InvalidParameter(
                "collection name should not be empty".into(),
            ));
        }
        self.coord.collection(ctx.db(db), name)
    }

    /// Partition ids for a list of names (empty list → None, meaning all).
    pub fn partition_ids(
        &self,
        coll: &CollectionMeta,
        names: &[String],
    ) -> Result<Option<Vec<PartitionId>>> {
        if names.is_empty() {
            return Ok(None);
        }
        if coll.has_partition_key() {
            return Err(QuiverError::InvalidParameter(
                "not support manually specifying the partition names if partition key mode is used"
                    .into(),
            ));
        }
        names
            .iter()
            .map(|n| {
                coll.partition(n)
                    .map(|p| p.id)
                    .ok_or_else(|| QuiverError::PartitionNotFound(n.clone()))
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }
}

/// Key-value pairs as a lookup.
pub fn kv_get<'a>(kvs: &'a [KeyValuePair], key: &str) -> Option<&'a str> {
    kvs.iter()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.as_str())
}

/// Protobuf pairs → plain pairs.
pub fn kv_pairs(kvs: &[KeyValuePair]) -> Vec<(String, String)> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect()
}

/// Plain pairs → protobuf pairs.
pub fn to_kv(pairs: &[(String, String)]) -> Vec<KeyValuePair> {
    pairs
        .iter()
        .map(|(k, v)| KeyValuePair {
            key: k.clone(),
            value: v.clone(),
        })
        .collect()
}
