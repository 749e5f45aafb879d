//! Partition DDL and per-partition load state.

use std::sync::Arc;

use super::{ok_status, Ctx, Proxy};
use crate::proto::common::{KeyValuePair, Status};
use crate::proto::milvus as m;
use quiver_engine::catalog::{
    names, tso::physical_ms, CollectionChange, PartitionMeta, DEFAULT_PARTITION,
};
use quiver_engine::error::{invalid, parameter_invalid_msg, QuiverError, Result};

fn no_manual_partitions(c: &quiver_engine::catalog::CollectionMeta) -> Result<()> {
    if c.has_partition_key() {
        return Err(invalid(
            "disable create/drop partition if partition key mode is used",
        ));
    }
    Ok(())
}

pub async fn create_partition(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::CreatePartitionRequest,
) -> Result<Status> {
    names::collection(&r.collection_name)?;
    names::partition(&r.partition_name)?;
    let c = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    no_manual_partitions(&c)?;
    if c.partition(&r.partition_name).is_some() {
        return Ok(Status::default());
    }
    let part = PartitionMeta {
        id: p.coord.next_id(),
        name: r.partition_name.clone(),
        created_ts: p.coord.tso(),
    };
    // Checked again under the catalog's lock, so racing creates cannot pass the cap.
    p.coord.add_partition(c.id, part, p.max_partitions).await?;
    Ok(Status::default())
}

pub async fn drop_partition(p: Arc<Proxy>, ctx: Ctx, r: m::DropPartitionRequest) -> Result<Status> {
    names::collection(&r.collection_name)?;
    names::partition(&r.partition_name)?;
    let c = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    no_manual_partitions(&c)?;
    if r.partition_name == DEFAULT_PARTITION {
        return Err(invalid("default partition cannot be deleted"));
    }
    let Some(part) = c.partition(&r.partition_name).cloned() else {
        return Ok(Status::default());
    };
    if c.loaded_partitions.contains(&part.id) || c.loaded {
        return Err(invalid(format!(
            "partition {} cannot be dropped, partition is loaded, please release it first",
            part.name
        )));
    }
    p.coord.remove_partition(c.id, part.id).await?;
    p.data.drop_partition(c.id, part.id).await?;
    Ok(Status::default())
}

pub async fn has_partition(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::HasPartitionRequest,
) -> Result<m::BoolResponse> {
    names::collection(&r.collection_name)?;
    names::partition(&r.partition_name)?;
    let c = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    Ok(m::BoolResponse {
        status: ok_status(),
        value: c.partition(&r.partition_name).is_some(),
    })
}

pub async fn show_partitions(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::ShowPartitionsRequest,
) -> Result<m::ShowPartitionsResponse> {
    let c = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    let mut out = m::ShowPartitionsResponse {
        status: ok_status(),
        ..Default::default()
    };
    for part in &c.partitions {
        if !r.partition_names.is_empty() && !r.partition_names.contains(&part.name) {
            continue;
        }
        out.partition_names.push(part.name.clone());
        out.partition_i_ds.push(part.id);
        out.created_timestamps.push(part.created_ts);
        out.created_utc_timestamps
            .push(physical_ms(part.created_ts));
        out.in_memory_percentages
            .push(if c.partition_loaded(part.id) { 100 } else { 0 });
    }
    Ok(out)
}

pub async fn load_partitions(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::LoadPartitionsRequest,
) -> Result<Status> {
    let c = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    super::index::require_vector_indexes(&c)?;
    let ids = p.partition_ids(&c, &r.partition_names)?.ok_or_else(|| {
        parameter_invalid_msg("failed to load partition, due to no partition specified")
    })?;
    p.coord
        .place_replica(c.id, r.resource_groups, i64::from(r.replica_number), true)
        .await?;
    p.coord
        .alter_collection(c.id, CollectionChange::LoadPartitions(ids))
        .await?;
    Ok(Status::default())
}

pub async fn release_partitions(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::ReleasePartitionsRequest,
) -> Result<Status> {
    let c = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    let ids = p.partition_ids(&c, &r.partition_names)?.unwrap_or_default();
    p.coord
        .alter_collection(c.id, CollectionChange::ReleasePartitions(ids))
        .await?;
    Ok(Status::default())
}

pub async fn get_partition_statistics(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::GetPartitionStatisticsRequest,
) -> Result<m::GetPartitionStatisticsResponse> {
    let c = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    let part = c
        .partition(&r.partition_name)
        .ok_or_else(|| QuiverError::PartitionNotFound(r.partition_name.clone()))?;
    let rows: usize = p
        .data
        .segments(c.id)
        .await?
        .iter()
        .filter(|s| s.partition == part.id)
        .map(|s| s.live_rows)
        .sum();
    Ok(m::GetPartitionStatisticsResponse {
        status: ok_status(),
        stats: vec![KeyValuePair {
            key: "row_count".into(),
            value: rows.to_string(),
        }],
    })
}
