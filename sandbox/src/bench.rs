//! `bench_sandbox`: time to a ready kernel that ran `print(1)`, warm pool vs cold
//! create-start-exec-remove, measured in the same run, plus a container start-up burst rate.
//! Prints a table; targets (pooled p50 < 50 ms, ≥10× faster than cold) are reported, not asserted.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use herd_core::config::{SandboxConfig, SandboxKind};
use herd_core::kernel::HostCalls;

use crate::docker::TaskLabels;
use crate::error::Result;
use crate::provider::SandboxProvider;

struct NoHost;

#[async_trait]
impl HostCalls for NoHost {
    async fn call(
        &self,
        name: &str,
        _args: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        Err(format!("no host function `{name}` in the benchmark"))
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn one_task(provider: &SandboxProvider, i: usize) -> Result<Duration> {
    let t = Instant::now();
    let labels = TaskLabels {
        sweep: "bench".into(),
        task: format!("bench-{i}"),
    };
    let mut session = provider.acquire(labels, false).await?;
    let out = session
        .run_cell("print(1)", Duration::from_secs(30), &NoHost)
        .await;
    let elapsed = t.elapsed();
    session.close().await;
    match out {
        Ok(o) if o.output == "1\n" => Ok(elapsed),
        Ok(o) => Err(crate::SandboxError::KernelStart(format!(
            "print(1) gave {:?}",
            o.output
        ))),
        Err(e) => Err(crate::SandboxError::KernelStart(e.to_string())),
    }
}

/// Runs the benchmark against the Docker engine with `cfg`'s image and limits; `iterations`
/// tasks per path, `burst` containers for the start-rate line. Returns the printed table.
pub async fn bench_sandbox(cfg: &SandboxConfig, iterations: usize, burst: usize) -> Result<String> {
    let iterations = iterations.max(1);
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();

    // Warm pool: acquire from a full pool; wait for the refill between tasks so each one is warm.
    let mut warm_cfg = cfg.clone();
    warm_cfg.kind = SandboxKind::Docker;
    warm_cfg.pool_size = cfg.pool_size.max(2);
    let warm_provider = SandboxProvider::new(&warm_cfg, &format!("bench-warm-{run_id}")).await?;
    warm_provider
        .wait_pool(warm_cfg.pool_size as usize, Duration::from_secs(120))
        .await;
    let mut warm = Vec::new();
    let mut warm_err = 0;
    for i in 0..iterations {
        warm_provider.wait_pool(1, Duration::from_secs(60)).await;
        match one_task(&warm_provider, i).await {
            Ok(d) => warm.push(d),
            Err(e) => {
                warm_err += 1;
                tracing::warn!(error = %e, "warm iteration failed");
            }
        }
    }
    let image = warm_provider.image();
    warm_provider.shutdown().await;

    // Cold: no pool, every task creates, starts, runs and removes its container.
    let mut cold_cfg = warm_cfg.clone();
    cold_cfg.pool_size = 0;
    cold_cfg.max_starts_per_second = 1000.0;
    let cold_provider = SandboxProvider::new(&cold_cfg, &format!("bench-cold-{run_id}")).await?;
    let mut cold = Vec::new();
    let mut cold_err = 0;
    for i in 0..iterations {
        match one_task(&cold_provider, i).await {
            Ok(d) => cold.push(d),
            Err(e) => {
                cold_err += 1;
                tracing::warn!(error = %e, "cold iteration failed");
            }
        }
    }

    // Burst: `burst` tasks at once through the provider's create semaphore, unthrottled.
    let t = Instant::now();
    let results =
        futures::future::join_all((0..burst).map(|i| one_task(&cold_provider, 10_000 + i))).await;
    let burst_time = t.elapsed();
    let burst_ok = results.iter().filter(|r| r.is_ok()).count();
    cold_provider.shutdown().await;

    warm.sort();
    cold.sort();
    let (w50, w99, c50, c99) = (
        percentile(&warm, 0.5),
        percentile(&warm, 0.99),
        percentile(&cold, 0.5),
        percentile(&cold, 0.99),
    );
    let ratio = if w50.is_zero() {
        f64::NAN
    } else {
        c50.as_secs_f64() / w50.as_secs_f64()
    };
    let rate = if burst_time.is_zero() {
        0.0
    } else {
        burst_ok as f64 / burst_time.as_secs_f64()
    };
    let mut out = String::new();
    out.push_str(&format!(
        "sandbox bench: image {image}, {iterations} tasks per path, acquire + run `print(1)`\n"
    ));
    out.push_str(&format!(
        "{:<28} {:>9} {:>9} {:>7}\n",
        "path", "p50 ms", "p99 ms", "errors"
    ));
    out.push_str(&format!(
        "{:<28} {:>9.1} {:>9.1} {:>7}\n",
        "warm pool (acquire+exec)",
        ms(w50),
        ms(w99),
        warm_err
    ));
    out.push_str(&format!(
        "{:<28} {:>9.1} {:>9.1} {:>7}\n",
        "cold (create+start+exec+rm)",
        ms(c50),
        ms(c99),
        cold_err
    ));
    out.push_str(&format!(
        "cold/warm p50 ratio: {ratio:.1}x (target >= 10x: {})\n",
        if ratio >= 10.0 { "met" } else { "NOT met" }
    ));
    out.push_str(&format!(
        "pooled p50 < 50 ms: {}\n",
        if ms(w50) < 50.0 { "met" } else { "NOT met" }
    ));
    out.push_str(&format!(
        "start-up burst: {burst_ok}/{burst} containers started, ran and removed in {:.2}s = {rate:.1}/s, {} errors\n",
        burst_time.as_secs_f64(),
        burst - burst_ok
    ));
    Ok(out)
}

/// The engine's container-lifecycle floor: `n` bare containers of the sandbox image (create,
/// start, wait for `/bin/true`, remove), `concurrency` at a time, with no kernel, pool or
/// throttle of herd's. Returns the wall time and how many went through; a sweep of `n` tasks
/// with a fresh container each cannot finish faster than this on the same engine.
pub async fn start_floor(
    cfg: &SandboxConfig,
    n: usize,
    concurrency: usize,
) -> Result<(Duration, usize)> {
    use bollard::models::{ContainerCreateBody, HostConfig};
    use bollard::query_parameters::{
        CreateContainerOptions, RemoveContainerOptions, StartContainerOptions, WaitContainerOptions,
    };
    use futures::StreamExt;

    let (docker, image) = engine_with_image(cfg).await?;
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let one = |i: usize| {
        let docker = docker.clone();
        let image = image.clone();
        let name = format!("herd-floor-{run_id}-{i}");
        let runtime = cfg.runtime.clone();
        async move {
            let body = ContainerCreateBody {
                image: Some(image),
                cmd: Some(vec!["/bin/true".into()]),
                labels: Some(
                    [(crate::docker::LABEL_MANAGED.to_owned(), "true".to_owned())]
                        .into_iter()
                        .collect(),
                ),
                network_disabled: Some(true),
                host_config: Some(HostConfig {
                    network_mode: Some("none".into()),
                    runtime,
                    ..Default::default()
                }),
                ..Default::default()
            };
            let created = docker
                .create_container(
                    Some(CreateContainerOptions {
                        name: Some(name),
                        ..Default::default()
                    }),
                    body,
                )
                .await
                .map_err(crate::SandboxError::docker("create container"))?;
            let started = docker
                .start_container(&created.id, None::<StartContainerOptions>)
                .await
                .map_err(crate::SandboxError::docker("start container"));
            if started.is_ok() {
                let mut wait = docker.wait_container(&created.id, None::<WaitContainerOptions>);
                while wait.next().await.is_some() {}
            }
            let removed = docker
                .remove_container(
                    &created.id,
                    Some(RemoveContainerOptions {
                        force: true,
                        ..Default::default()
                    }),
                )
                .await
                .map_err(crate::SandboxError::docker("remove container"));
            started.and(removed)
        }
    };
    Ok(burst(n, concurrency, one).await)
}

/// The container-start floor with herd's own container spec: `n` sandboxes created,
/// attached and started until their kernel answers, then removed, `concurrency` at once and
/// unthrottled. What every task's sandbox costs the engine before its first cell; returns the
/// elapsed time and how many started.
pub async fn spec_floor(
    cfg: &SandboxConfig,
    n: usize,
    concurrency: usize,
) -> Result<(Duration, usize)> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use crate::docker::{DockerShared, StartThrottle, create_and_start};

    let (docker, image) = engine_with_image(cfg).await?;
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let shared = Arc::new(DockerShared {
        docker,
        image,
        worker_id: format!("floor-{run_id}"),
        cfg: cfg.clone(),
        // Unused: `create_and_start` is called past the throttle.
        throttle: StartThrottle::new(f64::INFINITY, concurrency),
        live: Mutex::new(HashMap::new()),
    });
    let one = |_: usize| {
        let shared = shared.clone();
        async move {
            let mut ready = create_and_start(&shared, None, false).await?;
            ready.guard.remove().await;
            Ok::<(), crate::SandboxError>(())
        }
    };
    Ok(burst(n, concurrency, one).await)
}

/// The engine and the sandbox image it must already hold.
async fn engine_with_image(cfg: &SandboxConfig) -> Result<(bollard::Docker, String)> {
    let docker = crate::image::connect().await?;
    let image = cfg.image.clone().unwrap_or_else(crate::image::image_tag);
    if !crate::image::image_exists(&docker, &image).await? {
        return Err(crate::SandboxError::ImageMissing(image));
    }
    Ok((docker, image))
}

/// Runs `one(0..n)`, `concurrency` at once; the elapsed time and how many succeeded.
async fn burst<F, Fut>(n: usize, concurrency: usize, one: F) -> (Duration, usize)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    use futures::StreamExt;
    let t = Instant::now();
    let ok = futures::stream::iter(0..n)
        .map(one)
        .buffer_unordered(concurrency.max(1))
        .filter(|r| std::future::ready(r.is_ok()))
        .count()
        .await;
    (t.elapsed(), ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_ranks() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 0.5), Duration::from_millis(51));
        assert_eq!(percentile(&v, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }
}
