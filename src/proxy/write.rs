//! Writes: Insert, Upsert, Delete and Flush.
//!
//! Rows are validated and converted to Arrow once, here; partition-key
//! collections route each row to the physical partition its key hashes to, so a
//! tenant's rows always live together.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{AsArray, Int64Array, RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::Int64Type;

use quiver_engine::catalog::{names, CollectionMeta, DEFAULT_PARTITION};
use quiver_engine::error::{invalid, no_primary_key, parameter_invalid_msg, QuiverError, Result};
use quiver_engine::roles::QueryRequest;
use quiver_engine::segment::PartitionId;
use quiver_types::Timestamp;

use super::plan::key_partition_index;
use super::{ok_status, Ctx, Proxy};
use crate::convert;
use crate::proto::milvus as m;
use crate::proto::schema as s;

/// Splits a batch into (partition, rows) parts.
fn route(
    coll: &CollectionMeta,
    partition_name: &str,
    batch: RecordBatch,
) -> Result<Vec<(PartitionId, RecordBatch)>> {
    let Some(key) = coll.schema.partition_key() else {
        let name = if partition_name.is_empty() {
            DEFAULT_PARTITION
        } else {
            partition_name
        };
        let part = coll
            .partition(name)
            .ok_or_else(|| QuiverError::PartitionNotFound(name.to_string()))?;
        return Ok(vec![(part.id, batch)]);
    };
    if !partition_name.is_empty() {
        return Err(invalid(
            "not support manually specifying the partition names if partition key mode is used",
        ));
    }
    let col_idx = coll
        .schema
        .column_index(&key.name)
        .ok_or_else(|| QuiverError::Internal("partition key column missing".into()))?;
    let col = batch.column(col_idx);
    let n = coll.partitions.len();
    let mut rows_of: HashMap<usize, Vec<u32>> = HashMap::new();
    for row in 0..batch.num_rows() {
        let v = if let Some(a) = col.as_string_opt::<i32>() {
            serde_json::Value::String(a.value(row).to_string())
        } else if let Some(a) = col.as_primitive_opt::<Int64Type>() {
            serde_json::Value::from(a.value(row))
        } else {
            return Err(QuiverError::Internal(
                "unexpected partition key type".into(),
            ));
        };
        rows_of
            .entry(key_partition_index(&v, n))
            .or_default()
            .push(row as u32);
    }
    let mut parts: Vec<(usize, Vec<u32>)> = rows_of.into_iter().collect();
    parts.sort_by_key(|(i, _)| *i);
    parts
        .into_iter()
        .map(|(i, rows)| {
            let b = if rows.len() == batch.num_rows() {
                batch.clone()
            } else {
                take_record_batch(&batch, &UInt32Array::from(rows))?
            };
            Ok((coll.partitions[i].id, b))
        })
        .collect()
}

/// The common part of Insert and Upsert requests.
struct Rows<'a> {
    db: &'a str,
    collection: &'a str,
    partition: &'a str,
    columns: Vec<s::FieldData>,
    num_rows: u32,
}

/// Validates, routes and writes rows; returns their ids, count and the write's timestamp.
async fn write_rows(
    p: &Proxy,
    ctx: &Ctx,
    rows: Rows<'_>,
    upsert: bool,
) -> Result<(s::IDs, usize, Timestamp)> {
    let Rows {
        db,
        collection,
        partition,
        columns,
        num_rows,
    } = rows;
    let coll = p.collection(ctx, db, collection)?;
    // Milvus checks a named partition's form before routing rows to it.
    if !partition.is_empty() && !coll.has_partition_key() {
        names::partition(partition)?;
    }
    let catalog = p.coord.clone();
    let mut next_id = move || catalog.next_id();
    let mut batch = convert::insert_batch(
        &coll.schema,
        columns,
        num_rows as usize,
        upsert,
        &mut next_id,
    )?;
    let pk_col = coll.schema.primary_column().ok_or_else(no_primary_key)?;
    let mut ids = convert::pks_to_ids(batch.column(pk_col).as_ref());
    // Keys to delete after the insert: an upsert into an auto_id collection
    // (Milvus 2.6) deletes the given keys and inserts the rows under newly
    // generated ones, which are returned.
    let mut old_pks = None;
    if upsert {
        let pks = convert::ids_to_pks(&ids);
        if has_duplicates(&pks) {
            // Milvus refuses these (which row would win is undefined).
            return Err(parameter_invalid_msg(
                "duplicate primary keys are not allowed in the same batch",
            ));
        }
        if coll.schema.primary().is_some_and(|f| f.auto_id) {
            let fresh: Int64Array = (0..batch.num_rows()).map(|_| next_id()).collect();
            let mut cols = batch.columns().to_vec();
            cols[pk_col] = Arc::new(fresh);
            batch = RecordBatch::try_new(batch.schema(), cols)?;
            ids = convert::pks_to_ids(batch.column(pk_col).as_ref());
            old_pks = Some(pks);
        }
    }
    let n = batch.num_rows();
    let parts = route(&coll, partition, batch)?;
    let mut ts = p.data.insert(coll.id, parts).await?;
    // New rows first, then the old keys: a crash in between leaves both
    // versions, never neither (the request was not acknowledged).
    if let Some(old) = old_pks {
        ts = ts.max(p.data.delete(coll.id, old).await?.1);
    }
    Ok((ids, n, ts))
}

/// Whether a batch names one primary key twice.
fn has_duplicates(pks: &[quiver_types::PkValue]) -> bool {
    let mut seen = std::collections::HashSet::with_capacity(pks.len());
    !pks.iter().all(|pk| seen.insert(pk))
}

/// The reply to a write. `ts` is the write's WAL timestamp: pymilvus keeps it
/// as the collection's Session-consistency guarantee timestamp. A write that
/// changed nothing answers with the current time, which is just as safe.
fn mutation(p: &Proxy, ids: Option<s::IDs>, n: usize, ts: Timestamp) -> m::MutationResult {
    m::MutationResult {
        status: ok_status(),
        i_ds: ids,
        succ_index: (0..n as u32).collect(),
        acknowledged: true,
        timestamp: if ts == 0 { p.coord.tso() } else { ts },
        ..Default::default()
    }
}

pub async fn insert(p: Arc<Proxy>, ctx: Ctx, r: m::InsertRequest) -> Result<m::MutationResult> {
    let rows = Rows {
        db: &r.db_name,
        collection: &r.collection_name,
        partition: &r.partition_name,
        columns: r.fields_data,
        num_rows: r.num_rows,
    };
    let (ids, n, ts) = write_rows(&p, &ctx, rows, false).await?;
    let mut out = mutation(&p, Some(ids), n, ts);
    out.insert_cnt = n as i64;
    Ok(out)
}

pub async fn upsert(p: Arc<Proxy>, ctx: Ctx, r: m::UpsertRequest) -> Result<m::MutationResult> {
    if r.partial_update {
        return Err(QuiverError::Unsupported("partial update".into()));
    }
    let rows = Rows {
        db: &r.db_name,
        collection: &r.collection_name,
        partition: &r.partition_name,
        columns: r.fields_data,
        num_rows: r.num_rows,
    };
    let (ids, n, ts) = write_rows(&p, &ctx, rows, true).await?;
    let mut out = mutation(&p, Some(ids), n, ts);
    out.upsert_cnt = n as i64;
    Ok(out)
}

pub async fn delete(p: Arc<Proxy>, ctx: Ctx, r: m::DeleteRequest) -> Result<m::MutationResult> {
    let coll = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    if r.expr.trim().is_empty() {
        return Err(invalid("delete plan can't be empty or always true"));
    }
    let filter = p.plan_filter(&coll, &r.expr, &r.expr_template_values)?;
    // As Milvus: an expression that matches every row by construction (`true`,
    // `1 == 1`) is far more often a mistake than a wish to empty the collection;
    // `truncate_collection` / `drop_collection` say that on purpose.
    if filter.bound.as_ref().is_none_or(|f| f.is_always_true()) {
        return Err(invalid(format!(
            "delete plan can't be empty or always true : {}",
            r.expr
        )));
    }
    let partitions = if r.partition_name.is_empty() {
        None
    } else {
        names::partition(&r.partition_name)?;
        Some(vec![
            coll.partition(&r.partition_name)
                .ok_or_else(|| QuiverError::PartitionNotFound(r.partition_name.clone()))?
                .id,
        ])
    };
    // The keys a delete removes are resolved now, at Strong consistency, and
    // logged as keys: replay never re-evaluates the expression.
    let out = p
        .query
        .query(QueryRequest {
            collection_id: coll.id,
            partitions,
            filter: filter.expr,
            pks: None,
            limit: None,
            offset: 0,
            count_only: false,
            ignore_growing: false,
            output: Vec::new(),
            guarantee_ts: p.coord.tso(),
            deadline: None,
        })
        .await?;
    let (n, ts) = p.data.delete(coll.id, out.ids).await?;
    let mut res = mutation(&p, None, 0, ts);
    res.delete_cnt = n as i64;
    Ok(res)
}

pub async fn flush(p: Arc<Proxy>, ctx: Ctx, r: m::FlushRequest) -> Result<m::FlushResponse> {
    let db = ctx.db(&r.db_name).to_string();
    let mut out = m::FlushResponse {
        status: ok_status(),
        db_name: db.clone(),
        ..Default::default()
    };
    for name in &r.collection_names {
        let coll = p.coord.collection(&db, name)?;
        p.data.flush(coll.id).await?;
        let segs: Vec<i64> = p
            .data
            .segments(coll.id)
            .await?
            .iter()
            .filter(|s| s.sealed)
            .map(|s| s.id)
            .collect();
        let ts = p.coord.tso();
        out.coll_seg_i_ds
            .insert(name.clone(), s::LongArray { data: segs.clone() });
        out.flush_coll_seg_i_ds
            .insert(name.clone(), s::LongArray { data: segs });
        out.coll_seal_times
            .insert(name.clone(), (ts >> 18) as i64 / 1000);
        out.coll_flush_ts.insert(name.clone(), ts);
    }
    Ok(out)
}

/// Flush is synchronous, so anything that asks afterwards is flushed.
pub async fn get_flush_state(
    _p: Arc<Proxy>,
    _c: Ctx,
    _r: m::GetFlushStateRequest,
) -> Result<m::GetFlushStateResponse> {
    Ok(m::GetFlushStateResponse {
        status: ok_status(),
        flushed: true,
    })
}

pub async fn flush_all(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::FlushAllRequest,
) -> Result<m::FlushAllResponse> {
    let dbs: Vec<String> = if r.db_name.is_empty() && ctx.header_db.is_empty() {
        p.coord
            .list_databases()
            .into_iter()
            .map(|d| d.name)
            .collect()
    } else {
        vec![ctx.db(&r.db_name).to_string()]
    };
    for db in dbs {
        for c in p.coord.list_collections(&db)? {
            p.data.flush(c.id).await?;
        }
    }
    Ok(m::FlushAllResponse {
        status: ok_status(),
        flush_all_ts: p.coord.tso(),
        ..Default::default()
    })
}

pub async fn get_flush_all_state(
    _p: Arc<Proxy>,
    _c: Ctx,
    _r: m::GetFlushAllStateRequest,
) -> Result<m::GetFlushAllStateResponse> {
    Ok(m::GetFlushAllStateResponse {
        status: ok_status(),
        flushed: true,
        ..Default::default()
    })
}
