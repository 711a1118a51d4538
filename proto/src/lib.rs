//! herd's gRPC protocol, compiled from `proto/herd.proto`: the worker service, the control
//! service, and the descriptor set that backs server reflection.

#![allow(clippy::all)]

pub mod v1 {
    tonic::include_proto!("herd.v1");
}

/// Encoded `FileDescriptorSet` for `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("herd_descriptor");

/// Metadata key carrying the shared token (`authorization: Bearer <token>`).
pub const AUTH_HEADER: &str = "authorization";

pub mod client;
