//! The sandbox image, built with no registry: `image/build-rootfs.sh` debootstraps a lean
//! Debian root filesystem (cached under `~/.cache/herd/sandbox/` by the script's hash), herd
//! appends the kernel and `docker import`s it as `herd-sandbox:<recipe hash>`.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use bollard::Docker;
use bollard::query_parameters::CreateImageOptions;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::process::Command;

use crate::error::{Result, SandboxError};
use crate::{BUILD_SCRIPT, KERNEL_SOURCE};

/// Bump when the way the image is assembled here changes (not the script or the kernel:
/// those are hashed themselves).
pub const RECIPE_VERSION: &str = "herd-sandbox-recipe-v2";
/// Repository part of the image tag.
pub const IMAGE_REPO: &str = "herd-sandbox";
/// Where the kernel lives inside the image.
pub const KERNEL_PATH_IN_IMAGE: &str = "/opt/herd/herd_kernel.py";

fn sha12(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())[..12].to_owned()
}

/// Hash of everything the image is made from: recipe version, rootfs script, kernel source.
pub fn recipe_hash() -> String {
    sha12(&[
        RECIPE_VERSION.as_bytes(),
        BUILD_SCRIPT.as_bytes(),
        KERNEL_SOURCE.as_bytes(),
    ])
}

/// Hash of the base root filesystem (the script alone): keys the cached tarball.
pub fn rootfs_hash() -> String {
    sha12(&[BUILD_SCRIPT.as_bytes()])
}

/// The tag of the image this herd version builds and uses by default.
pub fn image_tag() -> String {
    format!("{IMAGE_REPO}:{}", recipe_hash())
}

/// Options of [`build_image`].
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Rebuild even when the tagged image exists (the cached rootfs is still reused).
    pub force: bool,
    /// Cache directory; default `$HERD_CACHE_DIR` or `~/.cache/herd`.
    pub cache_dir: Option<PathBuf>,
}

/// herd's cache directory.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HERD_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("herd")
}

pub(crate) async fn connect() -> Result<Docker> {
    let unavailable = |e: bollard::errors::Error| SandboxError::DockerUnavailable {
        host: std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".into()),
        message: e.to_string(),
    };
    let docker = Docker::connect_with_local_defaults()
        .map_err(unavailable)?
        .negotiate_version()
        .await
        .map_err(unavailable)?;
    docker.ping().await.map_err(unavailable)?;
    Ok(docker)
}

pub(crate) async fn image_exists(docker: &Docker, tag: &str) -> Result<bool> {
    match docker.inspect_image(tag).await {
        Ok(_) => Ok(true),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(false),
        Err(e) => Err(SandboxError::Docker {
            op: "inspect image",
            source: e,
        }),
    }
}

/// Builds (idempotently) the sandbox image and returns its tag. Needs root, debootstrap, a
/// Debian mirror and PyPI the first time; later builds reuse the cached rootfs tarball, and a
/// present image is not rebuilt unless `opts.force`.
pub async fn build_image(opts: &BuildOptions) -> Result<String> {
    let docker = connect().await?;
    let tag = image_tag();
    if !opts.force && image_exists(&docker, &tag).await? {
        tracing::info!(%tag, "sandbox image already present");
        return Ok(tag);
    }
    let cache = opts
        .cache_dir
        .clone()
        .unwrap_or_else(default_cache_dir)
        .join("sandbox");
    tokio::fs::create_dir_all(&cache)
        .await
        .map_err(SandboxError::io("creating", &cache))?;
    let base = ensure_rootfs(&cache).await?;

    let work = tempfile::Builder::new()
        .prefix("herd-image-")
        .tempdir_in(&cache)
        .map_err(SandboxError::io(
            "creating a temporary directory in",
            &cache,
        ))?;
    let final_tar = work.path().join("rootfs.tar");
    tokio::fs::copy(&base, &final_tar)
        .await
        .map_err(SandboxError::io("copying", &base))?;
    append_kernel(work.path(), &final_tar).await?;
    import(&docker, &final_tar, &tag).await?;
    tracing::info!(%tag, "sandbox image built");
    Ok(tag)
}

/// Runs the rootfs script unless its tarball is cached; returns the tarball's path.
async fn ensure_rootfs(cache: &Path) -> Result<PathBuf> {
    let hash = rootfs_hash();
    let tar = cache.join(format!("rootfs-{hash}.tar"));
    if tokio::fs::try_exists(&tar).await.unwrap_or(false) {
        tracing::info!(path = %tar.display(), "reusing cached sandbox rootfs");
        return Ok(tar);
    }
    let script = cache.join(format!("build-rootfs-{hash}.sh"));
    tokio::fs::write(&script, BUILD_SCRIPT)
        .await
        .map_err(SandboxError::io("writing", &script))?;
    let log = cache.join(format!("rootfs-{hash}.log"));
    let log_file = std::fs::File::create(&log).map_err(SandboxError::io("creating", &log))?;
    let log_err = log_file
        .try_clone()
        .map_err(SandboxError::io("opening", &log))?;
    tracing::info!(log = %log.display(), "building the sandbox rootfs (debootstrap; takes minutes)");
    let status = Command::new("bash")
        .arg(&script)
        .arg(&tar)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log_file))
        .stderr(Stdio::from(log_err))
        .status()
        .await
        .map_err(SandboxError::io("running", &script))?;
    if !status.success() {
        let text = tokio::fs::read_to_string(&log).await.unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        return Err(SandboxError::RootfsBuild {
            status: status.to_string(),
            log,
            tail,
        });
    }
    Ok(tar)
}

/// Appends the kernel (owned by root, world-readable) to the rootfs tarball.
async fn append_kernel(stage: &Path, tar: &Path) -> Result<()> {
    let dir = stage.join("opt").join("herd");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(SandboxError::io("creating", &dir))?;
    let kernel = dir.join("herd_kernel.py");
    tokio::fs::write(&kernel, KERNEL_SOURCE)
        .await
        .map_err(SandboxError::io("writing", &kernel))?;
    let status = Command::new("tar")
        .arg("-rf")
        .arg(tar)
        .arg("-C")
        .arg(stage)
        .args([
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "--mode=a+rX,go-w",
            "./opt/herd/herd_kernel.py",
        ])
        .status()
        .await
        .map_err(SandboxError::io("running tar on", tar))?;
    if !status.success() {
        return Err(SandboxError::Io {
            what: "appending the kernel to",
            path: tar.to_path_buf(),
            source: std::io::Error::other(format!("tar exited with {status}")),
        });
    }
    Ok(())
}

/// `docker import` of the tarball with the kernel as CMD and a minimal environment.
async fn import(docker: &Docker, tar: &Path, tag: &str) -> Result<()> {
    let (repo, version) = tag.split_once(':').unwrap_or((tag, "latest"));
    let file = tokio::fs::File::open(tar)
        .await
        .map_err(SandboxError::io("opening", tar))?;
    let body = bollard::body_try_stream(tokio_util::io::ReaderStream::with_capacity(file, 1 << 20));
    let options = CreateImageOptions {
        from_src: Some("-".into()),
        repo: Some(repo.into()),
        tag: Some(version.into()),
        message: Some(format!("herd sandbox ({RECIPE_VERSION})")),
        changes: vec![
            format!("CMD [\"python3\", \"-S\", \"-u\", \"{KERNEL_PATH_IN_IMAGE}\"]"),
            "ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 PYTHONUNBUFFERED=1 MPLBACKEND=Agg HOME=/workspace".into(),
            "WORKDIR /workspace".into(),
            "USER 1000:1000".into(),
            format!("LABEL herd.recipe={}", recipe_hash()),
        ],
        ..Default::default()
    };
    let mut stream = docker.create_image(Some(options), Some(body), None);
    while let Some(item) = stream.next().await {
        let info = item.map_err(SandboxError::docker("import image"))?;
        tracing::debug!(status = ?info.status, "docker import");
    }
    if !image_exists(docker, tag).await? {
        return Err(SandboxError::ImageMissing(tag.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_carries_the_recipe_hash() {
        let tag = image_tag();
        let (repo, hash) = tag.split_once(':').unwrap();
        assert_eq!(repo, IMAGE_REPO);
        assert_eq!(hash.len(), 12);
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(hash, recipe_hash());
        assert_ne!(recipe_hash(), rootfs_hash());
    }

    #[test]
    fn hash_separates_its_parts() {
        assert_ne!(sha12(&[b"ab", b"c"]), sha12(&[b"a", b"bc"]));
    }
}
