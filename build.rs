//! Compiles `proto/` with protox (a pure-Rust protobuf compiler), so a fresh machine needs no
//! system `protoc`, and writes the encoded descriptor set that server reflection serves.
//!
//! pbjson-build derives serde impls following the proto3 JSON mapping from the same
//! descriptors, so the HTTP/JSON API and gRPC can never disagree on a field. Well-known types
//! come from `pbjson-types` (prost's own have no serde impls).

use prost::Message;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/paygate/v1/paygate.proto";
    println!("cargo:rerun-if-changed=proto");
    // `sqlx::migrate!` embeds these files: a new migration must rebuild the crate.
    println!("cargo:rerun-if-changed=src/store/migrations");
    let fds = protox::compile([proto], ["proto"])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let encoded = fds.encode_to_vec();
    std::fs::write(out_dir.join("paygate_descriptor.bin"), &encoded)?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_well_known_types(true)
        .extern_path(".google.protobuf", "::pbjson_types")
        .compile_fds(fds)?;
    pbjson_build::Builder::new()
        .register_descriptors(&encoded)?
        .emit_fields()
        .build(&[".paygate.v1"])?;
    Ok(())
}
