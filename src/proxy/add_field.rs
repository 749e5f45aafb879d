//! AddCollectionField (Milvus 2.6): a nullable field appended to a live
//! collection.
//!
//! Nothing stored is rewritten. The data role first lays the rows it holds
//! out in the grown schema (old rows read the field's default value, or
//! null), then the catalog records the field; sealed segments and WAL
//! records written before read the same fill whenever they are loaded
//! (`CollectionSchema::conform`). In that order no insert can carry a column
//! the data role does not know yet.

use std::sync::Arc;

use prost::Message;

use super::schema::{check_field_schema, parse_field, MAX_FIELDS};
use super::{Ctx, Proxy};
use crate::proto::common::Status;
use crate::proto::milvus as m;
use crate::proto::schema as s;
use quiver_engine::catalog::CollectionChange;
use quiver_engine::error::{
    invalid, parameter_invalid, parameter_invalid_msg, QuiverError, Result,
};
use quiver_storage::META_FIELD;

/// Most vector fields a collection may have (Milvus's `maxVectorFieldNum`).
const MAX_VECTOR_FIELDS: usize = 4;
/// Names Milvus reserves for its system fields.
const SYSTEM_FIELDS: [&str; 5] = [
    "RowID",
    "Timestamp",
    META_FIELD,
    "$namespace",
    "$virtual_pk",
];

pub async fn add_collection_field(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::AddCollectionFieldRequest,
) -> Result<Status> {
    let c = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    let mut pf = s::FieldSchema::decode(r.schema.as_slice())
        .map_err(|e| invalid(format!("failed to unmarshal field schema: {e}")))?;
    let mut proto = s::CollectionSchema::decode(c.schema_proto.as_slice()).map_err(|e| {
        QuiverError::Internal(format!("stored schema of {} is corrupt: {e}", c.name))
    })?;
    check_request(&proto, &c.schema, &pf)?;
    pf.field_id = c.schema.fields.iter().map(|f| f.id).max().unwrap_or(99) + 1;
    let field = parse_field(&pf, &c.name)?;
    check_field_schema(&pf).map_err(|e| match e {
        QuiverError::Milvus { code, reason } => QuiverError::Milvus {
            code,
            reason: format!("failed to check field schema: {reason}"),
        },
        other => other,
    })?;
    proto.fields.push(pf);
    let mut grown = (*c).clone();
    grown.schema.fields.push(field.clone());
    p.data.evolve_schema(&grown).await?;
    p.coord
        .alter_collection(
            c.id,
            CollectionChange::AddField {
                field,
                schema_proto: proto.encode_to_vec(),
            },
        )
        .await?;
    tracing::info!(collection = %c.name, field = %grown.schema.fields.last().map_or("", |f| f.name.as_str()), "added field");
    Ok(Status::default())
}

/// Milvus's proxy checks (`validateAddFieldRequest`, then "must be
/// nullable"), in its order and with its texts.
fn check_request(
    proto: &s::CollectionSchema,
    schema: &quiver_storage::CollectionSchema,
    pf: &s::FieldSchema,
) -> Result<()> {
    let total = schema.fields.len() + usize::from(schema.enable_dynamic_field);
    if total >= MAX_FIELDS {
        return Err(parameter_invalid_msg(format!(
            "The number of fields has reached the maximum value {MAX_FIELDS}"
        )));
    }
    if schema.field(&pf.name).is_some() {
        return Err(parameter_invalid_msg(format!(
            "duplicated field name {}",
            pf.name
        )));
    }
    if pf.data_type == 0 {
        return Err(parameter_invalid(
            "valid field",
            "field data type: None is not supported",
            "",
        ));
    }
    if SYSTEM_FIELDS.contains(&pf.name.as_str()) {
        return Err(parameter_invalid_msg(format!(
            "not support to add system field, field name = {}",
            pf.name
        )));
    }
    if pf.is_primary_key {
        return Err(parameter_invalid_msg(format!(
            "not support to add pk field, field name = {}",
            pf.name
        )));
    }
    if pf.auto_id {
        // Milvus's text, spelling included.
        return Err(parameter_invalid_msg(format!(
            "only primary field can speficy AutoID with true, field name = {}",
            pf.name
        )));
    }
    if pf.is_partition_key {
        return Err(parameter_invalid_msg(format!(
            "not support to add partition key field, field name  = {}",
            pf.name
        )));
    }
    if pf.is_clustering_key && proto.fields.iter().any(|f| f.is_clustering_key) {
        return Err(parameter_invalid_msg(format!(
            "already has another clustering key field, field name: {}",
            pf.name
        )));
    }
    let vector = (100..=105).contains(&pf.data_type);
    if vector && schema.vector_fields().count() >= MAX_VECTOR_FIELDS {
        return Err(parameter_invalid_msg(format!(
            "maximum vector field's number should be limited to {MAX_VECTOR_FIELDS}"
        )));
    }
    if vector && pf.data_type != 104 && pf.type_params.is_empty() {
        return Err(parameter_invalid_msg(format!(
            "vector field must have dimension specified, field name = {}",
            pf.name
        )));
    }
    if !pf.nullable {
        return Err(parameter_invalid_msg(format!(
            "added field must be nullable, please check it, field name = {}",
            pf.name
        )));
    }
    Ok(())
}
