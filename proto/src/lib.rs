//! herd's gRPC protocol, compiled from `proto/herd.proto`: the worker service, the control
//! service, and the descriptor set that backs server reflection.

#![allow(clippy::all)]

pub mod v1 {
    tonic::include_proto!("herd.v1");

    impl GroupStatus {
        /// The arm's name, marked when this group is a train-then-test arm's training phase
        /// (shown apart from the arm's result everywhere).
        pub fn arm_label(&self) -> String {
            if self.training {
                format!("{} (training)", self.arm)
            } else {
                self.arm.clone()
            }
        }
    }
}

/// Encoded `FileDescriptorSet` for `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("herd_descriptor");

/// Metadata key carrying the shared token (`authorization: Bearer <token>`).
pub const AUTH_HEADER: &str = "authorization";

pub mod client;

/// Chooses rustls' ring provider for this process. The dependency graph enables two
/// providers (ring and aws-lc-rs), so rustls cannot choose one itself and the first TLS
/// handshake would panic. Idempotent; called wherever herd starts TLS.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
