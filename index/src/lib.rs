//! Vector search for Quiver: exact (flat) and HNSW search over `f32` vectors, with
//! SIMD distance kernels chosen once at start-up.
//!
//! The crate knows nothing about storage or RPC. Callers hand it contiguous vector
//! slabs (`n * dim` floats, row `i` is internal id `i`) and filters as a [`Bitset`]
//! over internal ids; every search returns [`Neighbor`]s whose `dist` is "smaller is
//! better" for every metric, converted to the Milvus score with [`Metric::to_score`].
//! The query engine searches flat slabs and graphs alike through [`VectorIndex`]
//! ([`FlatView`], [`HnswView`]); with a segment's `f32` rows, graph distances are
//! bit-identical to a flat scan's.
#![warn(missing_docs)]

pub mod bitset;
mod error;
pub mod flat;
pub mod hnsw;
pub mod kernels;
mod metric;
mod quant;
mod rows;
pub mod sparse;
mod topk;
mod vindex;

pub use bitset::Bitset;
pub use error::IndexError;
pub use flat::{FlatIndex, FlatView, RawScorer};
pub use hnsw::{FilterPlan, Hnsw, HnswParams};
pub use metric::{Metric, Neighbor};
pub use rows::VectorStorage;
pub use vindex::{HnswView, SearchRequest, VectorIndex};
