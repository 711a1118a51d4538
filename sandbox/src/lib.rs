//! herd's per-task sandbox: a persistent Python kernel (`kernel/herd_kernel.py`) in a locked
//! down Docker container built offline from Debian packages, with a warm pool, host calls to
//! the worker and a local-process fallback. Implements `herd_core::kernel::CodeSession`.
//!
//! Entry points: [`SandboxProvider`] (acquire a session per task, `shutdown`),
//! [`build_image`] / [`image_tag`], [`remove_orphans`] and [`bench_sandbox`].

mod bench;
mod docker;
mod error;
mod image;
mod local;
mod protocol;
mod provider;
mod session;
pub mod throttle;

pub use bench::{bench_sandbox, spec_floor, start_floor};
pub use docker::{
    LABEL_MANAGED, LABEL_POOL, LABEL_SWEEP, LABEL_TASK, LABEL_WORKER, TaskLabels, WORKSPACE,
    remove_orphans,
};
pub use error::{Result, SandboxError};
pub use image::{
    BuildOptions, IMAGE_REPO, KERNEL_PATH_IN_IMAGE, RECIPE_VERSION, build_image, default_cache_dir,
    image_tag, recipe_hash, rootfs_hash,
};
pub use local::host_python;
pub use provider::{SandboxProvider, check_engine, preflight};
pub use session::INTERRUPT_GRACE;

/// The kernel's source, as baked into the image and written for local sessions.
pub const KERNEL_SOURCE: &str = include_str!("../kernel/herd_kernel.py");
/// The root filesystem recipe (hashed into the image tag).
pub const BUILD_SCRIPT: &str = include_str!("../image/build-rootfs.sh");
