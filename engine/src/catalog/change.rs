//! The changes a collection record can undergo after it is created, as plain
//! data.
//!
//! The proxy used to hand the catalog a closure that edited the record in
//! place. A closure cannot cross a network, and a coordinator that receives
//! one cannot log what it did; each DDL is therefore one named change with its
//! arguments, applied here under the catalog's write lock and persisted with
//! the rest of the record.

use serde::{Deserialize, Serialize};

use super::{merge_properties, CollectionMeta, IndexMeta};
use crate::error::{parameter_invalid_msg, Result};
use crate::segment::PartitionId;
use quiver_storage::FieldSchema;

/// One change to a collection's record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum CollectionChange {
    /// CreateIndex: adds the index unless the field already has the same one
    /// (a no-op, as in Milvus); another index on the field or another field's
    /// index of that name is refused.
    AddIndex(IndexMeta),
    /// DropIndex: removes these index ids.
    DropIndexes(Vec<i64>),
    /// AlterIndex: sets and deletes user parameters of the index `name`.
    AlterIndexParams {
        name: String,
        set: Vec<(String, String)>,
        delete: Vec<String>,
    },
    /// A build was refused for good: the index is Failed with this reason
    /// (the first reason recorded is kept).
    IndexFailed { index_id: i64, reason: String },
    /// LoadCollection: everything is searchable.
    Load,
    /// ReleaseCollection: nothing is.
    Release,
    /// LoadPartitions: these become searchable; the collection counts as
    /// loaded once every partition is.
    LoadPartitions(Vec<PartitionId>),
    /// ReleasePartitions.
    ReleasePartitions(Vec<PartitionId>),
    /// Load into, or TransferReplica to, a resource group.
    PlaceReplica(String),
    /// AlterCollection: sets and deletes collection properties.
    AlterProperties {
        set: Vec<(String, String)>,
        delete: Vec<String>,
    },
    /// AddCollectionField: appends `field` to the schema. `schema_proto` is
    /// the stored client schema with the field appended (the proxy owns the
    /// protobuf types). A field of that name already there is refused.
    AddField {
        field: FieldSchema,
        schema_proto: Vec<u8>,
    },
    /// RenameCollection. `schema_proto` is the client's schema re-encoded
    /// with the new name (the proxy owns the protobuf types).
    Rename {
        db: String,
        name: String,
        schema_proto: Vec<u8>,
    },
}

impl CollectionChange {
    /// Applies the change to a copy of the record.
    pub(super) fn apply(self, m: &mut CollectionMeta) -> Result<()> {
        match self {
            CollectionChange::AddIndex(meta) => add_index(m, meta)?,
            CollectionChange::DropIndexes(ids) => m.indexes.retain(|i| !ids.contains(&i.id)),
            CollectionChange::AlterIndexParams { name, set, delete } => {
                if let Some(i) = m.indexes.iter_mut().find(|i| i.name == name) {
                    merge_properties(&mut i.params, set, &delete);
                }
            }
            CollectionChange::IndexFailed { index_id, reason } => {
                if let Some(i) = m.indexes.iter_mut().find(|i| i.id == index_id) {
                    i.fail_reason.get_or_insert(reason);
                }
            }
            CollectionChange::Load => {
                m.loaded = true;
                m.loaded_partitions.clear();
            }
            CollectionChange::Release => {
                m.loaded = false;
                m.loaded_partitions.clear();
                m.replica_group.clear();
            }
            CollectionChange::LoadPartitions(ids) => {
                for id in ids {
                    if !m.loaded_partitions.contains(&id) {
                        m.loaded_partitions.push(id);
                    }
                }
                let all = m.partitions.iter().map(|x| x.id);
                if all.into_iter().all(|x| m.loaded_partitions.contains(&x)) {
                    m.loaded = true;
                }
            }
            CollectionChange::ReleasePartitions(ids) => {
                if m.loaded {
                    m.loaded = false;
                    m.loaded_partitions = m.partitions.iter().map(|x| x.id).collect();
                }
                m.loaded_partitions.retain(|x| !ids.contains(x));
                if m.loaded_partitions.is_empty() {
                    m.replica_group.clear();
                }
            }
            CollectionChange::PlaceReplica(group) => {
                m.replica_group = if group == crate::roles::DEFAULT_RESOURCE_GROUP {
                    String::new()
                } else {
                    group
                };
            }
            CollectionChange::AlterProperties { set, delete } => {
                merge_properties(&mut m.properties, set, &delete);
            }
            CollectionChange::AddField {
                field,
                schema_proto,
            } => {
                if m.schema.field(&field.name).is_some() {
                    return Err(parameter_invalid_msg(format!(
                        "duplicated field name {}",
                        field.name
                    )));
                }
                m.schema.fields.push(field);
                m.schema_proto = schema_proto;
            }
            CollectionChange::Rename {
                db,
                name,
                schema_proto,
            } => {
                m.schema.name = name.clone();
                m.name = name;
                m.db = db;
                m.schema_proto = schema_proto;
            }
        }
        Ok(())
    }
}

/// Milvus's data coordinator rules (`canCreateIndex`), texts included: an
/// index name already taken is a no-op when it is the same index, else
/// refused; another index on the same field (or the same path of a JSON
/// field) is refused.
fn add_index(m: &mut CollectionMeta, meta: IndexMeta) -> Result<()> {
    for existing in &m.indexes {
        if existing.name == meta.name {
            return if existing.field_id == meta.field_id && same_index(existing, &meta) {
                Ok(())
            } else {
                Err(parameter_invalid_msg(
                    "at most one distinct index is allowed per field",
                ))
            };
        }
        if existing.field_id == meta.field_id && existing.json_path == meta.json_path {
            return Err(parameter_invalid_msg(
                "CreateIndex failed: creating multiple indexes on same field is not supported",
            ));
        }
    }
    m.indexes.push(meta);
    Ok(())
}

/// The same index asked for again: type, metric, graph parameters, JSON path
/// and cast type.
fn same_index(a: &IndexMeta, b: &IndexMeta) -> bool {
    // Given as its own pair or inside the JSON `params` pair (pymilvus).
    let cast = |i: &IndexMeta| {
        i.params.iter().find_map(|(k, v)| match k.as_str() {
            "json_cast_type" => Some(v.to_ascii_uppercase()),
            "params" => serde_json::from_str::<serde_json::Value>(v)
                .ok()?
                .get("json_cast_type")?
                .as_str()
                .map(str::to_ascii_uppercase),
            _ => None,
        })
    };
    a.kind == b.kind
        && a.index_type.eq_ignore_ascii_case(&b.index_type)
        && a.metric == b.metric
        && a.m == b.m
        && a.ef_construction == b.ef_construction
        && a.json_path == b.json_path
        && cast(a) == cast(b)
}
