//! Compiles the Milvus protocol definitions in `proto/` (and Quiver's own role-to-role
//! `internal.proto`) into Rust (prost messages + tonic
//! server and client) using the protoc binary vendored by `protoc-bin-vendored`, so no system
//! protoc is needed. The generated modules are included from `src/proto.rs`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    println!("cargo:rerun-if-changed=build.rs");

    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let well_known = protoc_bin_vendored::include_path()?;

    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc);

    let protos = [
        PathBuf::from("proto/common.proto"),
        PathBuf::from("proto/schema.proto"),
        PathBuf::from("proto/rg.proto"),
        PathBuf::from("proto/milvus.proto"),
        PathBuf::from("proto/internal.proto"),
    ];
    let includes = [PathBuf::from("proto"), well_known];

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // No transport helpers on the client: the generated `MilvusServiceClient::connect(dst)`
        // constructor would clash with the `Connect` RPC method (`connect(&mut self, ..)`).
        // Build clients with `MilvusServiceClient::new(Endpoint::from_static(uri).connect().await?)`.
        .build_transport(false)
        .compile_with_config(config, &protos, &includes)?;
    Ok(())
}
