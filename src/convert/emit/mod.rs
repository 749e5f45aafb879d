//! Emit: Arrow result columns → the Milvus wire columns Query and Search return.
//!
//! The data comes from Quiver's own segments, already checked on the way in, so these
//! conversions are infallible and best-effort: a column of an unexpected Arrow type is
//! cast when it can be and comes back empty otherwise, rather than failing a response.
//! The shared column shape is in `convert::layout`; nothing here depends on the ingest
//! side.
//!
//! * `columns`: scalar, vector, dynamic-field (`$meta`) and primary-key columns.
//! * `array`: the rows of ARRAY columns.

mod array;
mod columns;

pub use columns::{column_to_field_data, meta_to_field_data, pks_to_ids};
