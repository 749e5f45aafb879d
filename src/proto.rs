//! Milvus gRPC protocol types generated from `proto/*.proto` by `build.rs`.
//!
//! Rust paths mirror the proto packages: `proto::common` (`milvus.proto.common`),
//! `proto::schema` (`milvus.proto.schema`), `proto::rg` (`milvus.proto.rg`) and
//! `proto::milvus` (`milvus.proto.milvus`, with `milvus_service_server::MilvusService` and
//! `milvus_service_client::MilvusServiceClient`),
//! plus `proto::internal` (`quiver.internal`, the proxy-to-role hop).

/// `milvus.proto.common`: Status, KeyValuePair, MsgBase, shared enums.
#[allow(
    clippy::all,
    clippy::pedantic,
    clippy::nursery,
    clippy::unwrap_used,
    dead_code,
    missing_docs,
    unused_qualifications
)]
pub mod common {
    tonic::include_proto!("milvus.proto.common");
}

/// `milvus.proto.schema`: CollectionSchema, FieldSchema, FieldData, IDs, SearchResultData.
#[allow(
    clippy::all,
    clippy::pedantic,
    clippy::nursery,
    clippy::unwrap_used,
    dead_code,
    missing_docs,
    unused_qualifications
)]
pub mod schema {
    tonic::include_proto!("milvus.proto.schema");
}

/// `milvus.proto.rg`: resource-group configurations (requests, limits, transfers).
#[allow(
    clippy::all,
    clippy::pedantic,
    clippy::nursery,
    clippy::unwrap_used,
    dead_code,
    missing_docs,
    unused_qualifications
)]
pub mod rg {
    tonic::include_proto!("milvus.proto.rg");
}

/// `milvus.proto.milvus`: the `MilvusService` RPCs and their request/response messages.
#[allow(
    clippy::all,
    clippy::pedantic,
    clippy::nursery,
    clippy::unwrap_used,
    dead_code,
    missing_docs,
    unused_qualifications
)]
pub mod milvus {
    tonic::include_proto!("milvus.proto.milvus");
}

/// `quiver.internal`: the query, data and index role services behind the proxy.
#[allow(
    clippy::all,
    clippy::pedantic,
    clippy::nursery,
    clippy::unwrap_used,
    dead_code,
    missing_docs,
    unused_qualifications
)]
pub mod internal {
    tonic::include_proto!("quiver.internal");
}
