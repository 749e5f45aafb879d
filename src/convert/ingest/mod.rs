//! Ingest: Milvus wire columns (`schema.FieldData`, placeholder bytes) → Arrow and
//! plain vectors, with every check a client's data must pass.
//!
//! Everything here reads untrusted input, so nothing panics on it: row counts, oneof
//! members, value ranges, finiteness, VarChar lengths, ARRAY capacities and JSON
//! documents are all checked and refused with Milvus's messages. The shared column
//! shape is in `convert::layout`; nothing here depends on the emit side.
//!
//! * `insert`: routes a request's columns to schema fields, one `RecordBatch` out.
//! * `scalar`: one scalar or vector column → one Arrow array.
//! * `array`: ARRAY columns → `List<elem>`.
//! * `placeholder`: search vectors out of `common.PlaceholderGroup` bytes.

mod array;
mod insert;
mod placeholder;
mod scalar;

pub use insert::insert_batch;
#[cfg(test)]
pub(super) use placeholder::f16_to_f32;
pub use placeholder::{decode_placeholder_group, decode_sparse_placeholder_group};
