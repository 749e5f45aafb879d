//! Collection DDL: create, describe, list, statistics, alter, rename, drop.

use std::sync::Arc;

use prost::Message;

use super::schema::parse_schema;
use super::{kv_pairs, ok_status, to_kv, Ctx, Proxy};
use crate::proto::common::{KeyValuePair, Status};
use crate::proto::milvus as m;
use crate::proto::schema as s;
use quiver_engine::catalog::{
    names, tso::physical_ms, CollectionChange, CollectionMeta, PartitionMeta, DEFAULT_PARTITION,
};
use quiver_engine::error::{invalid, merr, refuse, QuiverError, Result};

/// Default `num_partitions` of a partition-key collection (as in Milvus).
const DEFAULT_KEY_PARTITIONS: i64 = 16;

pub async fn create_collection(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::CreateCollectionRequest,
) -> Result<Status> {
    names::collection(&r.collection_name)?;
    let db = ctx.db(&r.db_name).to_string();
    p.coord.database(&db)?;
    let (schema, schema_proto) = parse_schema(&r.collection_name, &r.schema)?;
    let now = p.coord.tso();
    let has_key = schema.partition_key().is_some();
    // The same cap as CreatePartition (Milvus checks both against maxPartitionNum).
    let max_partitions = i64::try_from(p.max_partitions).unwrap_or(i64::MAX);
    let num_partitions = match (has_key, r.num_partitions) {
        (false, 0) => 0,
        (false, _) => {
            return Err(invalid(
                "num_partitions should only be specified with partition key field enabled",
            ))
        }
        (true, 0) => DEFAULT_KEY_PARTITIONS.min(max_partitions),
        (true, n) if n < 0 => {
            return Err(invalid(
                "the specified partitions should be greater than 0 if partition key is used",
            ))
        }
        (true, n) if n > max_partitions => {
            return Err(quiver_engine::catalog::too_many_partitions(
                n,
                max_partitions,
                &r.collection_name,
            ))
        }
        (true, n) => n,
    };
    let partition_names: Vec<String> = if has_key {
        (0..num_partitions)
            .map(|i| format!("{DEFAULT_PARTITION}_{i}"))
            .collect()
    } else {
        vec![DEFAULT_PARTITION.to_string()]
    };
    let partitions = partition_names
        .into_iter()
        .map(|name| PartitionMeta {
            id: p.coord.next_id(),
            name,
            created_ts: now,
        })
        .collect();
    let meta = CollectionMeta {
        id: p.coord.next_id(),
        db,
        name: r.collection_name.clone(),
        schema,
        schema_proto,
        shards_num: r.shards_num.max(1),
        consistency_level: r.consistency_level,
        properties: kv_pairs(&r.properties),
        created_ts: now,
        updated_ts: now,
        partitions,
        num_partitions,
        indexes: Vec::new(),
        loaded: false,
        loaded_partitions: Vec::new(),
        replica_group: String::new(),
    };
    let created = p.coord.create_collection(meta.clone()).await?;
    if created {
        p.data.create_collection(&meta).await?;
        tracing::info!(collection = %meta.name, db = %meta.db, "created collection");
    }
    Ok(Status::default())
}

pub async fn drop_collection(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::DropCollectionRequest,
) -> Result<Status> {
    let db = ctx.db(&r.db_name).to_string();
    p.coord.database(&db)?;
    if p.coord.describe_alias(&db, &r.collection_name).is_ok() {
        // Milvus's root coordinator refuses with a plain error (code 65535).
        return Err(refuse(
            merr::UNEXPECTED,
            format!(
                "cannot drop the collection via alias = {}",
                r.collection_name
            ),
        ));
    }
    if let Some(id) = p.coord.drop_collection(&db, &r.collection_name).await? {
        p.data.drop_collection(id).await?;
    }
    Ok(Status::default())
}

pub async fn has_collection(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::HasCollectionRequest,
) -> Result<m::BoolResponse> {
    let value = match p.collection(&ctx, &r.db_name, &r.collection_name) {
        Ok(_) => true,
        Err(QuiverError::CollectionNotFound { .. }) => false,
        Err(e) => return Err(e),
    };
    Ok(m::BoolResponse {
        status: ok_status(),
        value,
    })
}

/// The schema exactly as the client created it (field ids filled in).
fn echo_schema(c: &CollectionMeta) -> Result<s::CollectionSchema> {
    s::CollectionSchema::decode(c.schema_proto.as_slice())
        .map_err(|e| QuiverError::Internal(format!("stored schema of {} is corrupt: {e}", c.name)))
}

pub async fn describe_collection(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::DescribeCollectionRequest,
) -> Result<m::DescribeCollectionResponse> {
    let c = if r.collection_name.is_empty() && r.collection_id != 0 {
        p.coord.collection_by_id(r.collection_id).ok_or_else(|| {
            QuiverError::CollectionNotFound {
                db: ctx.db(&r.db_name).to_string(),
                name: r.collection_id.to_string(),
            }
        })?
    } else {
        p.collection(&ctx, &r.db_name, &r.collection_name)
            .map_err(|e| match e {
                QuiverError::CollectionNotFound { db, name } => {
                    QuiverError::CollectionNotDescribed { db, name }
                }
                other => other,
            })?
    };
    let db = p.coord.database(&c.db)?;
    Ok(m::DescribeCollectionResponse {
        status: ok_status(),
        schema: Some(echo_schema(&c)?),
        collection_id: c.id,
        virtual_channel_names: vec![super::misc::dml_channel(c.id)],
        physical_channel_names: vec!["quiver-dml_0".to_string()],
        created_timestamp: c.created_ts,
        created_utc_timestamp: physical_ms(c.created_ts),
        shards_num: c.shards_num,
        aliases: p.coord.aliases(&c.db, Some(c.id)),
        consistency_level: c.consistency_level,
        collection_name: c.name.clone(),
        properties: to_kv(&c.properties),
        db_name: c.db.clone(),
        num_partitions: c.partitions.len() as i64,
        db_id: db.id,
        update_timestamp: c.updated_ts,
        update_timestamp_str: c.updated_ts.to_string(),
        ..Default::default()
    })
}

pub async fn show_collections(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::ShowCollectionsRequest,
) -> Result<m::ShowCollectionsResponse> {
    let mut out = m::ShowCollectionsResponse {
        status: ok_status(),
        ..Default::default()
    };
    let only_loaded = r.r#type == 1;
    for c in p.coord.list_collections(ctx.db(&r.db_name))? {
        if only_loaded && !c.any_loaded() {
            continue;
        }
        if !r.collection_names.is_empty() && !r.collection_names.contains(&c.name) {
            continue;
        }
        out.collection_names.push(c.name.clone());
        out.collection_ids.push(c.id);
        out.created_timestamps.push(c.created_ts);
        out.created_utc_timestamps.push(physical_ms(c.created_ts));
        out.in_memory_percentages
            .push(if c.loaded { 100 } else { 0 });
        out.query_service_available.push(c.loaded);
        out.shards_num.push(c.shards_num);
    }
    Ok(out)
}

pub async fn get_collection_statistics(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::GetCollectionStatisticsRequest,
) -> Result<m::GetCollectionStatisticsResponse> {
    let c = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    let rows: usize = p
        .data
        .segments(c.id)
        .await?
        .iter()
        .map(|s| s.live_rows)
        .sum();
    Ok(m::GetCollectionStatisticsResponse {
        status: ok_status(),
        stats: vec![KeyValuePair {
            key: "row_count".into(),
            value: rows.to_string(),
        }],
    })
}

pub async fn alter_collection(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::AlterCollectionRequest,
) -> Result<Status> {
    let c = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    check_loaded_properties(&c, &r)?;
    let set = kv_pairs(&r.properties);
    let change = CollectionChange::AlterProperties {
        set,
        delete: r.delete_keys,
    };
    p.coord.alter_collection(c.id, change).await?;
    Ok(Status::default())
}

/// Milvus 2.6 refuses to set or delete `mmap.enabled` (or a `warmup.*`
/// key) while the collection is loaded: segments are mapped at load time.
fn check_loaded_properties(c: &CollectionMeta, r: &m::AlterCollectionRequest) -> Result<()> {
    if !c.loaded && c.loaded_partitions.is_empty() {
        return Ok(());
    }
    const MMAP: &str = "mmap.enabled";
    let warmup = |k: &str| k.starts_with("warmup.");
    let loaded = |what: &str| {
        refuse(
            merr::COLLECTION_LOADED,
            format!(
                "{what} if collection loaded: collection already loaded[collection={}]",
                r.collection_name
            ),
        )
    };
    if r.properties.iter().any(|kv| kv.key == MMAP) {
        return Err(loaded("can not alter mmap properties"));
    }
    if r.properties.iter().any(|kv| warmup(&kv.key)) {
        return Err(loaded("can not alter warmup properties"));
    }
    if let Some(k) = r.delete_keys.iter().find(|k| *k == MMAP || warmup(k)) {
        let what = if k == MMAP { "mmap" } else { k.as_str() };
        return Err(loaded(&format!("can not delete {what} properties")));
    }
    Ok(())
}

pub async fn alter_collection_field(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::AlterCollectionFieldRequest,
) -> Result<Status> {
    let c = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    if c.schema.field(&r.field_name).is_none() {
        return Err(QuiverError::FieldNotFound(r.field_name));
    }
    Err(QuiverError::Unsupported("altering field properties".into()))
}

pub async fn rename_collection(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::RenameCollectionRequest,
) -> Result<Status> {
    // Milvus looks the old name up without checking its form (a malformed
    // one is simply not found), then checks the new name.
    let c = p.lookup_collection(&ctx, &r.db_name, &r.old_name)?;
    names::collection(&r.new_name)?;
    if c.name != r.old_name {
        return Err(invalid(format!(
            "{} is an alias, not a collection",
            r.old_name
        )));
    }
    let new_db = if r.new_db_name.is_empty() {
        c.db.clone()
    } else {
        r.new_db_name.clone()
    };
    let mut proto = s::CollectionSchema::decode(c.schema_proto.as_slice())
        .map_err(|e| QuiverError::Internal(e.to_string()))?;
    proto.name = r.new_name.clone();
    let change = CollectionChange::Rename {
        db: new_db,
        name: r.new_name,
        schema_proto: proto.encode_to_vec(),
    };
    p.coord.alter_collection(c.id, change).await?;
    Ok(Status::default())
}

pub async fn truncate_collection(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::TruncateCollectionRequest,
) -> Result<m::TruncateCollectionResponse> {
    let c = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    p.data.truncate(c.id).await?;
    Ok(m::TruncateCollectionResponse {
        status: ok_status(),
    })
}
