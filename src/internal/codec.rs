//! Conversions between the role traits' plain data and `quiver.internal` messages.
//!
//! Both ends of the loopback hop use these, so each value has exactly one
//! encoding: Arrow arrays and record batches as Arrow IPC streams (a column as a
//! one-column batch), collection metadata and template values as JSON, primary
//! keys as typed repeated fields, vectors and distances as packed floats (bit
//! for bit, so scores are identical to the in-process wiring), and a deadline
//! as the milliseconds left when the message was built. Errors travel in-band
//! as their `status_parts()` and come back as [`QuiverError::Remote`], so the
//! proxy reports the same code and text whichever wiring is in use.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{Field, Schema};
use quiver_engine::catalog::{CollectionMeta, PartitionMeta};
use quiver_engine::error::{QuiverError, Result};
use quiver_engine::roles::{
    CompactionJob, DistRange, FilterExpr, GroupBy, MergePlan, OutputSpec, SegmentInfo,
};
use quiver_storage::{batch_to_ipc, ipc_to_batch};
use quiver_types::{PartitionId, PkValue};

use crate::proto::internal as pb;

/// A message that cannot be decoded: a bug on one side of the hop.
pub fn malformed(what: &str) -> QuiverError {
    QuiverError::Internal(format!("malformed internal message: {what}"))
}

/// The in-band form of an error.
pub fn error_to_pb(e: &QuiverError) -> pb::RoleError {
    let (code, legacy, reason) = e.status_parts();
    pb::RoleError {
        code,
        legacy,
        reason,
    }
}

/// `Ok` when the response carries no error, else the remote error unchanged.
pub fn check(error: Option<pb::RoleError>) -> Result<()> {
    match error {
        None => Ok(()),
        Some(e) => Err(QuiverError::Remote {
            code: e.code,
            legacy: e.legacy,
            reason: e.reason,
        }),
    }
}

/// Typed repeated fields; `kinds` only when ints and strings are mixed.
pub fn pks_to_pb(pks: &[PkValue]) -> pb::PkList {
    let mut out = pb::PkList::default();
    for pk in pks {
        match pk {
            PkValue::Int(v) => out.ints.push(*v),
            PkValue::Str(s) => out.strs.push(s.clone()),
        }
    }
    if !out.ints.is_empty() && !out.strs.is_empty() {
        out.kinds = pks
            .iter()
            .map(|pk| u8::from(matches!(pk, PkValue::Str(_))))
            .collect();
    }
    out
}

/// The keys of a [`pks_to_pb`] list, in their original order.
pub fn pks_from_pb(list: pb::PkList) -> Result<Vec<PkValue>> {
    let pb::PkList { ints, strs, kinds } = list;
    if kinds.is_empty() {
        if !ints.is_empty() && !strs.is_empty() {
            return Err(malformed("mixed primary keys without kinds"));
        }
        return Ok(ints
            .into_iter()
            .map(PkValue::Int)
            .chain(strs.into_iter().map(PkValue::Str))
            .collect());
    }
    if kinds.len() != ints.len() + strs.len() {
        return Err(malformed("primary key kinds do not match the keys"));
    }
    let (mut ints, mut strs) = (ints.into_iter(), strs.into_iter());
    kinds
        .iter()
        .map(|k| match k {
            0 => ints.next().map(PkValue::Int),
            _ => strs.next().map(PkValue::Str),
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| malformed("primary key kinds do not match the keys"))
}

/// One array as a one-column IPC stream (nullable, so any array fits).
pub fn column_to_ipc(col: &ArrayRef) -> Result<Vec<u8>> {
    let schema = Schema::new(vec![Field::new("c", col.data_type().clone(), true)]);
    let batch = RecordBatch::try_new(Arc::new(schema), vec![col.clone()])?;
    Ok(batch_to_ipc(&batch)?)
}

/// The array of a [`column_to_ipc`] stream.
pub fn column_from_ipc(bytes: &[u8]) -> Result<ArrayRef> {
    let batch = ipc_to_batch(bytes)?;
    if batch.num_columns() != 1 {
        return Err(malformed("a column stream must hold one column"));
    }
    Ok(batch.column(0).clone())
}

/// Encodes each column of a result.
pub fn columns_to_ipc(cols: &[ArrayRef]) -> Result<Vec<Vec<u8>>> {
    cols.iter().map(column_to_ipc).collect()
}

/// Decodes each column of a result.
pub fn columns_from_ipc(cols: &[Vec<u8>]) -> Result<Vec<ArrayRef>> {
    cols.iter().map(|c| column_from_ipc(c)).collect()
}

/// Milliseconds left before `deadline` (0 once it has passed).
pub fn deadline_to_ms(deadline: Option<Instant>) -> Option<u64> {
    deadline.map(|d| {
        let left = d.saturating_duration_since(Instant::now()).as_millis();
        u64::try_from(left).unwrap_or(u64::MAX)
    })
}

/// The local instant `ms` from now.
pub fn deadline_from_ms(ms: Option<u64>) -> Option<Instant> {
    let now = Instant::now();
    ms.map(|ms| {
        now.checked_add(Duration::from_millis(ms))
            .unwrap_or(now + Duration::from_secs(86_400 * 365))
    })
}

/// A filter's text and its template values as one JSON object.
pub fn filter_to_pb(f: &FilterExpr) -> Result<pb::Filter> {
    let templates_json = serde_json::to_vec(&f.templates)
        .map_err(|e| QuiverError::Internal(format!("encoding template values: {e}")))?;
    let indexes_json = if f.indexes.is_empty() {
        Vec::new()
    } else {
        serde_json::to_vec(&f.indexes)
            .map_err(|e| QuiverError::Internal(format!("encoding index specs: {e}")))?
    };
    Ok(pb::Filter {
        expr: f.expr.clone(),
        templates_json,
        indexes_json,
    })
}

/// The filter of a [`filter_to_pb`] message.
pub fn filter_from_pb(f: pb::Filter) -> Result<FilterExpr> {
    let templates: HashMap<String, serde_json::Value> = if f.templates_json.is_empty() {
        HashMap::new()
    } else {
        serde_json::from_slice(&f.templates_json).map_err(|_| malformed("template values"))?
    };
    let indexes = if f.indexes_json.is_empty() {
        Vec::new()
    } else {
        serde_json::from_slice(&f.indexes_json).map_err(|_| malformed("index specs"))?
    };
    Ok(FilterExpr {
        expr: f.expr,
        templates,
        indexes,
    })
}

/// Requested output columns.
pub fn outputs_to_pb(out: &[OutputSpec]) -> Vec<pb::OutputSpec> {
    use pb::output_spec::Kind;
    out.iter()
        .map(|o| pb::OutputSpec {
            kind: Some(match o {
                OutputSpec::Field(id) => Kind::FieldId(*id),
                OutputSpec::Meta => Kind::Meta(true),
            }),
        })
        .collect()
}

/// The columns of an [`outputs_to_pb`] list.
pub fn outputs_from_pb(out: Vec<pb::OutputSpec>) -> Result<Vec<OutputSpec>> {
    use pb::output_spec::Kind;
    out.into_iter()
        .map(|o| match o.kind {
            Some(Kind::FieldId(id)) => Ok(OutputSpec::Field(id)),
            Some(Kind::Meta(_)) => Ok(OutputSpec::Meta),
            None => Err(malformed("output spec without a kind")),
        })
        .collect()
}

/// Range bounds.
pub fn range_to_pb(r: DistRange) -> pb::DistRange {
    pb::DistRange { lo: r.lo, hi: r.hi }
}

/// Group-by parameters.
pub fn group_to_pb(g: GroupBy) -> pb::GroupBy {
    pb::GroupBy {
        field_id: g.field_id,
        group_size: g.group_size as u64,
    }
}

/// A count that must fit this machine's `usize`.
pub fn size(v: u64, what: &str) -> Result<usize> {
    usize::try_from(v).map_err(|_| malformed(what))
}

/// The group-by of a [`group_to_pb`] message.
pub fn group_from_pb(g: pb::GroupBy) -> Result<GroupBy> {
    Ok(GroupBy {
        field_id: g.field_id,
        group_size: size(g.group_size, "group size")?,
    })
}

/// Collection metadata as JSON. Partitions are sent on their own: the catalog
/// record skips them when serialised (they are stored under keys of their own).
pub fn meta_to_pb(meta: &CollectionMeta) -> Result<pb::MetaRequest> {
    let enc = |e: serde_json::Error| QuiverError::Internal(format!("encoding metadata: {e}"));
    Ok(pb::MetaRequest {
        meta_json: serde_json::to_vec(meta).map_err(enc)?,
        partitions_json: serde_json::to_vec(&meta.partitions).map_err(enc)?,
    })
}

/// The metadata of a [`meta_to_pb`] message.
pub fn meta_from_pb(m: &pb::MetaRequest) -> Result<CollectionMeta> {
    let mut meta: CollectionMeta =
        serde_json::from_slice(&m.meta_json).map_err(|_| malformed("collection metadata"))?;
    let parts: Vec<PartitionMeta> =
        serde_json::from_slice(&m.partitions_json).map_err(|_| malformed("partitions"))?;
    meta.partitions = parts;
    Ok(meta)
}

/// Rows to insert, one IPC stream per partition.
pub fn parts_to_pb(parts: &[(PartitionId, RecordBatch)]) -> Result<Vec<pb::InsertPart>> {
    parts
        .iter()
        .map(|(p, b)| {
            Ok(pb::InsertPart {
                partition_id: *p,
                batch: batch_to_ipc(b)?,
            })
        })
        .collect()
}

/// The rows of a [`parts_to_pb`] list.
pub fn parts_from_pb(parts: Vec<pb::InsertPart>) -> Result<Vec<(PartitionId, RecordBatch)>> {
    parts
        .into_iter()
        .map(|p| Ok((p.partition_id, ipc_to_batch(&p.batch)?)))
        .collect()
}

/// One segment's statistics.
pub fn segment_to_pb(s: &SegmentInfo) -> pb::SegmentInfo {
    pb::SegmentInfo {
        id: s.id,
        partition: s.partition,
        live_rows: s.live_rows as u64,
        memory_bytes: s.memory_bytes as u64,
        sealed: s.sealed,
        indexed_fields: s.indexed_fields.clone(),
        compacted_from: s.compacted_from.clone(),
    }
}

/// The statistics of a [`segment_to_pb`] message.
pub fn segment_from_pb(s: pb::SegmentInfo) -> Result<SegmentInfo> {
    Ok(SegmentInfo {
        id: s.id,
        partition: s.partition,
        live_rows: size(s.live_rows, "live rows")?,
        memory_bytes: size(s.memory_bytes, "memory bytes")?,
        sealed: s.sealed,
        indexed_fields: s.indexed_fields,
        compacted_from: s.compacted_from,
    })
}

/// A manual compaction and its plans.
pub fn job_to_pb(j: &CompactionJob) -> pb::CompactionJob {
    pb::CompactionJob {
        id: j.id,
        collection_id: j.collection,
        plans: j
            .plans
            .iter()
            .map(|p| pb::MergePlan {
                id: p.id,
                partition: p.partition,
                sources: p.sources.clone(),
                target: p.target,
                done: p.done,
                failure: p.failure.clone(),
            })
            .collect(),
    }
}

/// The job of a [`job_to_pb`] message.
pub fn job_from_pb(j: pb::CompactionJob) -> CompactionJob {
    CompactionJob {
        id: j.id,
        collection: j.collection_id,
        plans: j
            .plans
            .into_iter()
            .map(|p| MergePlan {
                id: p.id,
                partition: p.partition,
                sources: p.sources,
                target: p.target,
                done: p.done,
                failure: p.failure,
            })
            .collect(),
    }
}
