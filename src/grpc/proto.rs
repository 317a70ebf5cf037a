//! The generated `paygate.v1` types and the descriptor set served by reflection.
//! Generated types are used only inside `grpc/` (and by the CLI client and loadgen).
#![allow(clippy::all, clippy::pedantic, clippy::restriction, missing_docs)]

tonic::include_proto!("paygate.v1");

/// Encoded `FileDescriptorSet` for server reflection, written by build.rs.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/paygate_descriptor.bin"));
