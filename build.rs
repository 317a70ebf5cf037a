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
    build_commit();
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

/// Sets `PAYGATE_BUILD_COMMIT` for `paygate_build_info`: the environment variable of that name
/// if set (a Docker build has no `.git`), else `git rev-parse --short HEAD`, else `unknown`.
/// Never fails the build: a missing git is not a reason to refuse to compile.
fn build_commit() {
    println!("cargo:rerun-if-env-changed=PAYGATE_BUILD_COMMIT");
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let commit = std::env::var("PAYGATE_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    // Rerun when HEAD moves: HEAD itself (a checkout) and the branch's ref file (a commit).
    // Only existing paths: cargo reruns every build for a path that does not exist.
    let mut watch = Vec::new();
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        watch.push(head);
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(file) = git(&["rev-parse", "--git-path", &branch])
    {
        watch.push(file);
    }
    for path in watch {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rustc-env=PAYGATE_BUILD_COMMIT={commit}");
}
