//! Materialising results: the primary keys and requested columns of the hits,
//! gathered out of the snapshot's segments into fresh Arrow arrays, so nothing
//! that points into a node's memory leaves the query node.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{new_empty_array, Array, ArrayRef};
use arrow::compute::interleave;
use quiver_storage::{CollectionSchema, META_FIELD};
use quiver_types::PkValue;

use crate::datanode::pk_values;
use crate::error::{no_primary_key, QuiverError, Result};
use crate::roles::OutputSpec;
use crate::segment::Segment;

/// Gathers column `col` for `rows` (segment index, segment row) in order.
pub fn gather(segments: &[Arc<Segment>], rows: &[(usize, usize)], col: usize) -> Result<ArrayRef> {
    let mut sources: Vec<&dyn Array> = Vec::new();
    let mut slot: HashMap<(usize, usize), usize> = HashMap::new();
    let mut idx: Vec<(usize, usize)> = Vec::with_capacity(rows.len());
    for &(s, row) in rows {
        let seg = segments
            .get(s)
            .ok_or_else(|| QuiverError::Internal("hit outside the snapshot".into()))?;
        let (c, r) = seg.locate(row);
        let k = *slot.entry((s, c)).or_insert_with(|| {
            sources.push(seg.column(c, col).as_ref());
            sources.len() - 1
        });
        idx.push((k, r));
    }
    Ok(interleave(&sources, &idx)?)
}

/// The column position of field `field_id` (or `$meta`) in segment batches.
pub fn column_of(schema: &CollectionSchema, spec: &OutputSpec) -> Result<usize> {
    match spec {
        OutputSpec::Field(id) => field_column(schema, *id),
        OutputSpec::Meta => schema
            .column_index(META_FIELD)
            .ok_or_else(|| QuiverError::Internal("the collection has no $meta column".into())),
    }
}

/// The column position of field `field_id`.
pub fn field_column(schema: &CollectionSchema, field_id: i64) -> Result<usize> {
    schema
        .fields
        .iter()
        .position(|f| f.id == field_id)
        .ok_or_else(|| QuiverError::FieldNotFound(format!("field id {field_id}")))
}

/// Primary keys and the requested columns of `rows`.
pub fn materialise(
    schema: &CollectionSchema,
    segments: &[Arc<Segment>],
    rows: &[(usize, usize)],
    output: &[OutputSpec],
) -> Result<(Vec<PkValue>, Vec<ArrayRef>)> {
    let pk_col = schema.primary_column().ok_or_else(no_primary_key)?;
    let arrow = schema.arrow_schema();
    let column = |col: usize| -> Result<ArrayRef> {
        if rows.is_empty() {
            return Ok(new_empty_array(arrow.field(col).data_type()));
        }
        gather(segments, rows, col)
    };
    let ids = pk_values(column(pk_col)?.as_ref())?;
    let columns = output
        .iter()
        .map(|spec| column(column_of(schema, spec)?))
        .collect::<Result<_>>()?;
    Ok((ids, columns))
}
