//! Index DDL (create, describe, drop) and load state (load, release, progress).

use std::sync::Arc;

use quiver_filter::{IndexCast, IndexSpec};
use quiver_index::Metric;

use super::{ok_status, search_params, to_kv, Ctx, Proxy};
use crate::proto::common::{KeyValuePair, Status};
use crate::proto::milvus as m;
use quiver_engine::catalog::{CollectionChange, CollectionMeta, IndexKind, IndexMeta};
use quiver_engine::error::{
    invalid, merr, parameter_invalid, parameter_invalid_msg, refuse, QuiverError, Result,
};
use quiver_storage::schema::META_FIELD_ID;
use quiver_storage::{DataType, FieldSchema, META_FIELD};

const INDEX_STATE_IN_PROGRESS: i32 = 2;
const INDEX_STATE_FINISHED: i32 = 3;
const INDEX_STATE_FAILED: i32 = 4;
const LOAD_STATE_NOT_LOAD: i32 = 1;
const LOAD_STATE_LOADED: i32 = 3;

/// Vector index types Milvus users name, and what Quiver serves them with.
fn vector_kind(index_type: &str) -> Option<IndexKind> {
    match index_type.to_ascii_uppercase().as_str() {
        "FLAT" | "BIN_FLAT" | "GPU_BRUTE_FORCE" => Some(IndexKind::Flat),
        "HNSW" | "AUTOINDEX" | "IVF_FLAT" | "IVF_SQ8" | "IVF_PQ" | "IVF_RABITQ" | "SCANN"
        | "DISKANN" | "HNSW_SQ" | "HNSW_PQ" | "HNSW_PRQ" | "GPU_IVF_FLAT" | "GPU_IVF_PQ"
        | "GPU_CAGRA" => Some(IndexKind::Hnsw),
        _ => None,
    }
}

/// Sparse vector index types (both inverted indexes here; AUTOINDEX on a
/// sparse field is SPARSE_INVERTED_INDEX, as in Milvus).
fn is_sparse_type(index_type: &str) -> bool {
    matches!(
        index_type.to_ascii_uppercase().as_str(),
        "SPARSE_INVERTED_INDEX" | "SPARSE_WAND"
    )
}

/// The cast types a JSON path index takes (Milvus's `validJSONCastTypes`).
const JSON_CAST_TYPES: [&str; 7] = [
    "BOOL",
    "DOUBLE",
    "VARCHAR",
    "ARRAY_BOOL",
    "ARRAY_DOUBLE",
    "ARRAY_VARCHAR",
    "JSON",
];

fn scalar_type_ok(index_type: &str) -> bool {
    matches!(
        index_type.to_ascii_uppercase().as_str(),
        "" | "AUTOINDEX" | "INVERTED" | "STL_SORT" | "TRIE" | "MARISA-TRIE" | "BITMAP"
    )
}

/// The flat parameter map: every extra_param, with a nested `params` JSON merged in.
fn flat_params(extra: &[KeyValuePair]) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for kv in extra {
        if kv.key == "params" {
            let v: serde_json::Value = serde_json::from_str(&kv.value)
                .map_err(|e| invalid(format!("index params is not valid JSON: {e}")))?;
            if let serde_json::Value::Object(map) = v {
                for (k, v) in map {
                    let v = match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    out.push((k, v));
                }
            }
        } else {
            out.push((kv.key.clone(), kv.value.clone()));
        }
    }
    Ok(out)
}

fn param<'a>(flat: &'a [(String, String)], key: &str) -> Option<&'a str> {
    flat.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn int_param(
    flat: &[(String, String)],
    key: &str,
    default: usize,
    range: (usize, usize),
) -> Result<usize> {
    let Some(v) = param(flat, key) else {
        return Ok(default);
    };
    let n: i64 = v.trim().parse().map_err(|_| {
        if v.trim().parse::<f64>().is_ok() {
            invalid(format!(
                "wrong data type in json: param '{key}' ({v}) should be integer"
            ))
        } else {
            invalid(format!(
                "invalid integer value, key: '{key}', value: '{v}': invalid parameter"
            ))
        }
    })?;
    if n < range.0 as i64 || n > range.1 as i64 {
        return Err(invalid(format!(
            "param '{key}' ({n}) should be in range [{}, {}]",
            range.0, range.1
        )));
    }
    Ok(n as usize)
}

pub async fn create_index(p: Arc<Proxy>, ctx: Ctx, r: m::CreateIndexRequest) -> Result<Status> {
    // Milvus looks the collection up, then checks the index name's form.
    let c = p.lookup_collection(&ctx, &r.db_name, &r.collection_name)?;
    quiver_engine::catalog::names::index(&r.index_name)?;
    // As Milvus's GetFieldFromNameDefaultJSON: a name that is no field is a
    // dynamic-field key, indexed as a path into `$meta`.
    let meta_field;
    let dynamic_key = c.schema.field(&r.field_name).is_none() && c.schema.enable_dynamic_field;
    let field = match c.schema.field(&r.field_name) {
        Some(f) => f,
        None if dynamic_key => {
            meta_field = FieldSchema::new(META_FIELD_ID, META_FIELD, DataType::Json);
            &meta_field
        }
        None => {
            return Err(parameter_invalid_msg(format!(
                "cannot create index on non-exist field: {}",
                r.field_name
            )))
        }
    };
    let flat = flat_params(&r.extra_params)?;
    let index_type = param(&flat, "index_type")
        .unwrap_or("AUTOINDEX")
        .to_string();
    // A name no index checker knows (Milvus's parseIndexParams), first.
    if vector_kind(&index_type).is_none()
        && !scalar_type_ok(&index_type)
        && !is_sparse_type(&index_type)
    {
        return Err(parameter_invalid(
            "valid index",
            format!("invalid index type: {index_type}"),
            "",
        ));
    }
    let json_path = match field.data_type {
        DataType::Json => {
            // The index checkers' cast-type rules, then the data
            // coordinator's path (filled with the field name when absent).
            let cast = param(&flat, "json_cast_type").ok_or_else(|| {
                refuse(
                    merr::PARAMETER_MISSING,
                    "json index must specify cast type: missing parameter\
                     [missing_param=json_cast_type]"
                        .into(),
                )
            })?;
            let cast = cast.trim().to_ascii_uppercase();
            if !JSON_CAST_TYPES.contains(&cast.as_str()) {
                return Err(parameter_invalid_msg(format!(
                    "json_cast_type {cast} is not supported"
                )));
            }
            let path = param(&flat, "json_path").unwrap_or(&r.field_name);
            Some(super::json_path::normalise(path, &field.name, dynamic_key)?)
        }
        _ => None,
    };
    // Milvus's default name: the field's, plus the pointer for a JSON path.
    let index_name = match (&json_path, r.index_name.is_empty()) {
        (_, false) => r.index_name.clone(),
        (Some(ptr), true) => {
            let same_path = c
                .indexes
                .iter()
                .find(|i| i.field_id == field.id && i.json_path.as_ref() == Some(ptr));
            same_path.map_or_else(|| format!("{}{ptr}", field.name), |i| i.name.clone())
        }
        (None, true) => field.name.clone(),
    };
    let (kind, metric, mm, efc) = if field.is_sparse() {
        if !is_sparse_type(&index_type) && !index_type.eq_ignore_ascii_case("AUTOINDEX") {
            return Err(parameter_invalid_msg(format!(
                "index {index_type} is not supported on the sparse float vector field {}: use SPARSE_INVERTED_INDEX or SPARSE_WAND",
                field.name
            )));
        }
        let metric_s = param(&flat, "metric_type").unwrap_or("IP");
        if !metric_s.eq_ignore_ascii_case("IP") {
            return Err(parameter_invalid_msg(format!(
                "metric type {metric_s} not found or not supported, supported: [IP BM25]"
            )));
        }
        if let Some(v) = param(&flat, "drop_ratio_build") {
            search_params::drop_ratio("drop_ratio_build", &serde_json::Value::String(v.into()))?;
        }
        (IndexKind::Flat, Some(Metric::Ip), 0, 0)
    } else if field.is_vector() {
        if is_sparse_type(&index_type) {
            return Err(parameter_invalid_msg(format!(
                "index {index_type} only supports sparse float vector fields, and {} is a {:?} field",
                field.name, field.data_type
            )));
        }
        let kind = vector_kind(&index_type)
            .ok_or_else(|| invalid(format!("invalid index type: {index_type}")))?;
        let metric_s = param(&flat, "metric_type").unwrap_or("COSINE");
        let metric = Metric::parse(metric_s).ok_or_else(|| {
            invalid(format!(
                "metric type {metric_s} not found or not supported, supported: [L2 IP COSINE]"
            ))
        })?;
        let mm = int_param(&flat, "M", 16, (2, 2048))?;
        let efc = int_param(&flat, "efConstruction", 200, (1, 2_147_483_647))?;
        if index_type.to_ascii_uppercase().starts_with("IVF") {
            int_param(&flat, "nlist", 128, (1, 65_536))?;
        }
        (kind, Some(metric), mm, efc.max(mm))
    } else {
        if !scalar_type_ok(&index_type) {
            return Err(invalid(format!(
                "index type {index_type} is not supported on scalar field {}",
                field.name
            )));
        }
        (IndexKind::Scalar, None, 0, 0)
    };
    let params = r
        .extra_params
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect::<Vec<_>>();
    let field_id = field.id;
    // DescribeIndex names a dynamic-key index by its key (the path's first
    // segment), as Milvus does; pymilvus matches on it after CreateIndex.
    let field_name = match (&json_path, dynamic_key) {
        (Some(ptr), true) => super::json_path::first_key(ptr),
        _ => field.name.clone(),
    };
    let meta = IndexMeta {
        id: p.coord.next_id(),
        name: index_name.clone(),
        field_id,
        field_name: field_name.clone(),
        params,
        kind,
        index_type,
        metric,
        m: mm,
        ef_construction: efc,
        created_ts: p.coord.tso(),
        fail_reason: None,
        json_path,
    };
    let updated = p
        .coord
        .alter_collection(c.id, CollectionChange::AddIndex(meta))
        .await?;
    p.index.ensure_indexes(&updated).await?;
    Ok(Status::default())
}

/// The collection's scalar indexes as the query node can use them to narrow
/// filters: typed scalar fields, and JSON paths (of a JSON field or of the
/// dynamic field) whose cast is BOOL, DOUBLE or VARCHAR. The ARRAY casts and
/// indexes on ARRAY fields are described but filters scan those columns.
pub fn scalar_index_specs(c: &CollectionMeta) -> Vec<IndexSpec> {
    let mut out = Vec::new();
    for ix in c.indexes.iter().filter(|i| i.kind == IndexKind::Scalar) {
        if ix.fail_reason.is_some() {
            continue;
        }
        let pointer = ix.json_path.as_deref().unwrap_or("");
        let (column, data_type) = if ix.field_id == META_FIELD_ID {
            (META_FIELD.to_string(), DataType::Json)
        } else {
            match c.schema.fields.iter().find(|f| f.id == ix.field_id) {
                Some(f) => (f.name.clone(), f.data_type),
                None => continue,
            }
        };
        let spec = match data_type {
            DataType::Json => {
                let kvs: Vec<KeyValuePair> = ix
                    .params
                    .iter()
                    .map(|(key, value)| KeyValuePair {
                        key: key.clone(),
                        value: value.clone(),
                    })
                    .collect();
                let flat = flat_params(&kvs).unwrap_or_default();
                let cast = match param(&flat, "json_cast_type")
                    .map(|c| c.trim().to_ascii_uppercase())
                    .as_deref()
                {
                    Some("BOOL") => IndexCast::Bool,
                    Some("DOUBLE") => IndexCast::Double,
                    Some("VARCHAR") => IndexCast::Varchar,
                    _ => continue,
                };
                IndexSpec::from_pointer(&column, pointer, cast)
            }
            DataType::Bool
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::Float
            | DataType::Double
            | DataType::VarChar => IndexSpec {
                column,
                path: Vec::new(),
                cast: IndexCast::Field,
            },
            _ => continue,
        };
        if !out.contains(&spec) {
            out.push(spec);
        }
    }
    out
}

/// The indexes a request names (by index name, else field name; empty = all).
fn select_indexes<'a>(
    c: &'a CollectionMeta,
    index_name: &str,
    field_name: &str,
) -> Result<Vec<&'a IndexMeta>> {
    let v: Vec<&IndexMeta> = c
        .indexes
        .iter()
        .filter(|i| index_name.is_empty() || i.name == index_name)
        .filter(|i| field_name.is_empty() || i.field_name == field_name)
        .collect();
    if v.is_empty() {
        return Err(QuiverError::IndexNotFound(c.name.clone()));
    }
    Ok(v)
}

async fn describe_one(p: &Proxy, c: &CollectionMeta, i: &IndexMeta) -> Result<m::IndexDescription> {
    let (indexed, total, pending) = match i.kind {
        IndexKind::Hnsw => {
            let pr = p.index.progress(c.id, i.field_id).await?;
            (pr.indexed_rows, pr.total_rows, pr.pending_rows)
        }
        _ => {
            let segs = p.data.segments(c.id).await?;
            let rows = segs.iter().map(|s| s.live_rows).sum();
            (rows, rows, 0)
        }
    };
    Ok(m::IndexDescription {
        index_name: i.name.clone(),
        index_id: i.id,
        params: to_kv(&i.params),
        field_name: i.field_name.clone(),
        indexed_rows: indexed as i64,
        total_rows: total as i64,
        state: if i.fail_reason.is_some() {
            INDEX_STATE_FAILED
        } else if pending == 0 {
            INDEX_STATE_FINISHED
        } else {
            INDEX_STATE_IN_PROGRESS
        },
        pending_index_rows: pending as i64,
        index_state_fail_reason: i.fail_reason.clone().unwrap_or_default(),
        ..Default::default()
    })
}

pub async fn describe_index(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::DescribeIndexRequest,
) -> Result<m::DescribeIndexResponse> {
    let c = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    let mut descs = Vec::new();
    for i in select_indexes(&c, &r.index_name, &r.field_name)? {
        descs.push(describe_one(&p, &c, i).await?);
    }
    Ok(m::DescribeIndexResponse {
        status: ok_status(),
        index_descriptions: descs,
    })
}

pub async fn get_index_statistics(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::GetIndexStatisticsRequest,
) -> Result<m::GetIndexStatisticsResponse> {
    let c = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    let mut descs = Vec::new();
    for i in select_indexes(&c, &r.index_name, "")? {
        descs.push(describe_one(&p, &c, i).await?);
    }
    Ok(m::GetIndexStatisticsResponse {
        status: ok_status(),
        index_descriptions: descs,
    })
}

pub async fn get_index_state(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::GetIndexStateRequest,
) -> Result<m::GetIndexStateResponse> {
    let c = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    let i = select_indexes(&c, &r.index_name, &r.field_name)?[0];
    let d = describe_one(&p, &c, i).await?;
    Ok(m::GetIndexStateResponse {
        status: ok_status(),
        state: d.state,
        fail_reason: d.index_state_fail_reason,
    })
}

pub async fn get_index_build_progress(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::GetIndexBuildProgressRequest,
) -> Result<m::GetIndexBuildProgressResponse> {
    let c = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    let i = select_indexes(&c, &r.index_name, &r.field_name)?[0];
    let d = describe_one(&p, &c, i).await?;
    Ok(m::GetIndexBuildProgressResponse {
        status: ok_status(),
        indexed_rows: d.indexed_rows,
        total_rows: d.total_rows,
    })
}

pub async fn drop_index(p: Arc<Proxy>, ctx: Ctx, r: m::DropIndexRequest) -> Result<Status> {
    let c = p.lookup_collection(&ctx, &r.db_name, &r.collection_name)?;
    let doomed: Vec<IndexMeta> = match select_indexes(&c, &r.index_name, &r.field_name) {
        Ok(v) => v.into_iter().cloned().collect(),
        Err(_) => return Ok(Status::default()),
    };
    if c.any_loaded() && doomed.iter().any(|i| i.kind != IndexKind::Scalar) {
        return Err(invalid(
            "index cannot be dropped, collection is loaded, please release it first",
        ));
    }
    let ids: Vec<i64> = doomed.iter().map(|i| i.id).collect();
    p.coord
        .alter_collection(c.id, CollectionChange::DropIndexes(ids))
        .await?;
    for i in doomed.iter().filter(|i| i.kind == IndexKind::Hnsw) {
        p.index.drop_index(c.id, i.field_id).await?;
    }
    Ok(Status::default())
}

pub async fn alter_index(p: Arc<Proxy>, ctx: Ctx, r: m::AlterIndexRequest) -> Result<Status> {
    let c = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    select_indexes(&c, &r.index_name, "")?;
    for kv in &r.extra_params {
        if matches!(
            kv.key.as_str(),
            "index_type" | "metric_type" | "M" | "efConstruction" | "params"
        ) {
            return Err(invalid(format!(
                "{} cannot be altered on an existing index",
                kv.key
            )));
        }
    }
    let change = CollectionChange::AlterIndexParams {
        set: super::kv_pairs(&r.extra_params),
        name: r.index_name,
        delete: r.delete_keys,
    };
    p.coord.alter_collection(c.id, change).await?;
    Ok(Status::default())
}

/// Milvus refuses to load a collection whose vector fields lack an index.
/// As Milvus's proxy: no index at all is 700, some vector field without one
/// is 1100 naming them (Go's `%v` of a string slice).
pub fn require_vector_indexes(c: &CollectionMeta) -> Result<()> {
    if c.indexes.is_empty() {
        return Err(QuiverError::IndexNotFound(c.name.clone()));
    }
    let missing: Vec<&str> = c
        .schema
        .vector_fields()
        .filter(|f| c.index_on(&f.name).is_none())
        .map(|f| f.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(parameter_invalid_msg(format!(
            "there is no vector index on field: [{}], please create index firstly",
            missing.join(" ")
        )));
    }
    Ok(())
}

pub async fn load_collection(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::LoadCollectionRequest,
) -> Result<Status> {
    let c = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    require_vector_indexes(&c)?;
    p.coord
        .place_replica(
            c.id,
            r.resource_groups,
            i64::from(r.replica_number),
            !c.loaded,
        )
        .await
        .map_err(|e| {
            // Milvus's proxy re-wraps the query coordinator's refusal of a
            // LoadCollection as a plain error: code 65535, with this prefix.
            let (_, _, reason) = e.status_parts();
            refuse(
                merr::UNEXPECTED,
                format!("call query coordinator LoadCollection: {reason}"),
            )
        })?;
    let c = if c.loaded {
        c
    } else {
        p.coord
            .alter_collection(c.id, CollectionChange::Load)
            .await?
    };
    // Builds a release cancelled start again.
    p.index.ensure_indexes(&c).await?;
    Ok(Status::default())
}

pub async fn release_collection(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::ReleaseCollectionRequest,
) -> Result<Status> {
    let c = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    p.index.cancel_builds(c.id).await?;
    if c.any_loaded() {
        p.coord
            .alter_collection(c.id, CollectionChange::Release)
            .await?;
    }
    Ok(Status::default())
}

fn loaded(p: &Proxy, c: &CollectionMeta, partitions: &[String]) -> Result<bool> {
    Ok(match p.partition_ids(c, partitions)? {
        None => c.loaded,
        Some(ids) => ids.iter().all(|id| c.partition_loaded(*id)),
    })
}

pub async fn get_load_state(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::GetLoadStateRequest,
) -> Result<m::GetLoadStateResponse> {
    let c = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    let state = if loaded(&p, &c, &r.partition_names)?
        || (r.partition_names.is_empty() && c.any_loaded())
    {
        LOAD_STATE_LOADED
    } else {
        LOAD_STATE_NOT_LOAD
    };
    Ok(m::GetLoadStateResponse {
        status: ok_status(),
        state,
    })
}

pub async fn get_loading_progress(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::GetLoadingProgressRequest,
) -> Result<m::GetLoadingProgressResponse> {
    let c = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    let done =
        loaded(&p, &c, &r.partition_names)? || (r.partition_names.is_empty() && c.any_loaded());
    if !done {
        return Err(QuiverError::CollectionNotLoaded(c.name.clone()));
    }
    Ok(m::GetLoadingProgressResponse {
        status: ok_status(),
        progress: 100,
        refresh_progress: 100,
    })
}
