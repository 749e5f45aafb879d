//! Conversion between Milvus wire columns (`schema.FieldData`) and Quiver's Arrow columns.
//!
//! The gRPC edge is the only place that knows the protocol's column format, so every
//! request/response column passes through here exactly once:
//! * [`insert_batch`]: Insert/Upsert columns → one validated `RecordBatch` in
//!   `CollectionSchema::arrow_schema()` order (compacted nullable columns expanded, defaults
//!   filled, auto_id keys generated, dynamic `$meta` checked).
//! * [`column_to_field_data`], [`meta_to_field_data`], [`empty_field_data`]: Arrow result
//!   columns → the *dense* `FieldData` pymilvus expects (placeholders under `valid_data`).
//! * [`pks_to_ids`], [`pk_values_to_ids`], [`ids_to_pks`]: primary keys ↔ `schema.IDs`.
//! * [`decode_placeholder_group`]: search vectors out of `common.PlaceholderGroup` bytes.
//!
//! The code is organised by direction, not by data type, so that neither side imports
//! the other:
//! * `ingest`: wire → Arrow. Untrusted input; every check lives here.
//! * `emit`: Arrow → wire. Quiver's own data; infallible, best-effort.
//! * `layout`: what both agree on (row layout of nullable columns, a field's typed
//!   empty column, type names), importing neither.
//!
//! See `shared/docs/milvus-protocol.md` §4.5, §7.1, §8.4 and §8.5.

mod emit;
mod ingest;
mod layout;

#[cfg(test)]
mod tests_errors;
#[cfg(test)]
mod tests_fuzz;
#[cfg(test)]
mod tests_insert;
#[cfg(test)]
mod tests_output;
#[cfg(test)]
mod tests_types;

pub use emit::{column_to_field_data, meta_to_field_data, pks_to_ids};
pub use ingest::{decode_placeholder_group, decode_sparse_placeholder_group, insert_batch};
pub use layout::empty_field_data;

use quiver_filter::PkValue;

use crate::proto::schema::{i_ds::IdField, IDs};

/// IDs (from `SearchRequest.ids`, `MutationResult`, ...) → primary-key values, in order.
pub fn ids_to_pks(ids: &IDs) -> Vec<PkValue> {
    match &ids.id_field {
        Some(IdField::IntId(a)) => a.data.iter().map(|&v| PkValue::Int(v)).collect(),
        Some(IdField::StrId(a)) => a.data.iter().map(|s| PkValue::Str(s.clone())).collect(),
        None => Vec::new(),
    }
}

/// Primary-key values → `schema.IDs` (string ids when `strings`, so an empty
/// result still carries the key's type).
pub fn pk_values_to_ids<'a>(pks: impl Iterator<Item = &'a PkValue>, strings: bool) -> IDs {
    let id_field = if strings {
        IdField::StrId(crate::proto::schema::StringArray {
            data: pks
                .map(|p| match p {
                    PkValue::Str(s) => s.clone(),
                    PkValue::Int(v) => v.to_string(),
                })
                .collect(),
        })
    } else {
        IdField::IntId(crate::proto::schema::LongArray {
            data: pks
                .map(|p| match p {
                    PkValue::Int(v) => *v,
                    PkValue::Str(_) => 0,
                })
                .collect(),
        })
    };
    IDs {
        id_field: Some(id_field),
    }
}
