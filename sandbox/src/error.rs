//! Errors of the sandbox crate: building the image, reaching Docker, starting sandboxes.

use std::path::PathBuf;

/// A failure to build, start or manage sandboxes (a cell's own failures are in `CellOutcome`).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "no docker engine answers at `{host}`: {message}; start Docker (or point DOCKER_HOST \
         at one), or set `sandbox.kind = \"local\"` in the sweep config to run cells on this \
         host without isolation"
    )]
    DockerUnavailable { host: String, message: String },
    #[error("docker call `{op}` failed: {source}")]
    Docker {
        op: &'static str,
        #[source]
        source: bollard::errors::Error,
    },
    #[error(
        "sandbox image `{0}` is not present: run `herd sandbox build` (or scripts/setup-sandbox.sh)"
    )]
    ImageMissing(String),
    #[error(
        "the docker engine has no runtime `{runtime}` (it knows: {known}): register it (for \
         gVisor, scripts/setup-runsc.sh) or remove `sandbox.runtime` from the sweep config"
    )]
    RuntimeMissing { runtime: String, known: String },
    #[error("building the sandbox root filesystem failed ({status}); log: {log}\n{tail}")]
    RootfsBuild {
        status: String,
        log: PathBuf,
        tail: String,
    },
    #[error("i/o error while {what} `{path}`: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no python3 interpreter found for the local sandbox: {0}")]
    NoPython(String),
    #[error("kernel did not become ready: {0}")]
    KernelStart(String),
    #[error("sandbox provider is shut down")]
    ShutDown,
}

impl SandboxError {
    pub(crate) fn docker(op: &'static str) -> impl FnOnce(bollard::errors::Error) -> SandboxError {
        move |source| SandboxError::Docker { op, source }
    }

    pub(crate) fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> SandboxError {
        let path = path.into();
        move |source| SandboxError::Io { what, path, source }
    }
}

pub type Result<T, E = SandboxError> = std::result::Result<T, E>;
