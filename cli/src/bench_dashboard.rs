//! `herd bench dashboard`: a synthetic run of N tasks served by the real dashboard router on
//! loopback and timed over HTTP (run page, filtered task page, search, arm comparison),
//! beside a baseline run of a few thousand tasks served by the same server in the same
//! process; then Server-Sent Events fan-out from one live sweep to many clients vs one.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use herd_report::bench::{ARMS, BENCHMARKS};

/// What `herd bench dashboard` runs.
#[derive(Debug, Clone)]
pub struct DashboardBenchOptions {
    /// Tasks in the measured run.
    pub tasks: usize,
    /// Tasks in the baseline run.
    pub baseline: usize,
    /// Timed requests per measurement after the first load.
    pub requests: usize,
    /// SSE clients on the live sweep.
    pub clients: usize,
    /// Events applied to the live sweep per fan-out measurement.
    pub events: usize,
    /// Where the synthetic runs go (kept, and reused when already written); default: a
    /// temporary directory removed afterwards.
    pub dir: Option<PathBuf>,
}

/// Distinct trajectories; task i links to variant `(i * 7919) % VARIANTS`.
const VARIANTS: usize = 1000;
/// The seed of the synthetic results (herd-report's generator).
const SEED: u64 = 17;
/// The p95 target per page after the first load.
const TARGET_MS: f64 = 300.0;
/// The memory target for the measured run.
const TARGET_MIB: f64 = 2048.0;

/// The word only variant `v`'s trajectories hold (in the question, inside every cap).
fn marker(v: usize) -> String {
    format!("kappa{v:04}")
}

/// Variant `v`'s trajectory JSON: a question and four steps, about 3.5 KB of text.
fn trajectory_json(v: usize) -> serde_json::Value {
    let m = marker(v);
    let steps: Vec<serde_json::Value> = (0..4)
        .map(|s| {
            serde_json::json!({
                "index": s,
                "thought": format!(
                    "Step {s}: the question about {m} asks for the number of distinct routes; \
                     I will enumerate the graph edges, check the constraint on station {v} and \
                     count the paths with a breadth-first search before simplifying the result. \
                     The previous observation suggests the adjacency list is correct."
                ),
                "code": format!(
                    "import networkx as nx\ng = nx.read_edgelist('routes_{v}.txt')\n\
                     paths = list(nx.all_simple_paths(g, 'A', 'Z', cutoff={s}))\n\
                     print(len(paths), sorted(map(len, paths))[:10])"
                ),
                "observation": format!(
                    "{} [{}, {}, {}]\nwarning: {} edges ignored (self loops)",
                    v * 7 + s,
                    s + 2,
                    s + 3,
                    s + 5,
                    v % 13
                ),
                "parse_error": null,
                "cell_error": false,
                "exec_ms": 40 + s,
                "host_calls": [],
                "defined": [],
                "called": [],
            })
        })
        .collect();
    serde_json::json!({
        "task_key": format!("variant-{v}"),
        "attempt": 1,
        "system_prompt": "You are a careful agent that solves tasks by writing Python.",
        "task_prompt": format!(
            "Question {v} ({m}): a rail network connects stations A to Z through {} \
             intermediate stops. How many distinct simple routes lead from A to Z when no \
             route may pass station {v} twice? Answer with a single integer.",
            v % 17 + 3
        ),
        "steps": steps,
    })
}

/// Writes the shared trajectory pool (once).
fn write_pool(pool: &Path) -> anyhow::Result<()> {
    if pool.join(".complete").is_file() {
        return Ok(());
    }
    std::fs::create_dir_all(pool)?;
    for v in 0..VARIANTS {
        let json = serde_json::to_vec(&trajectory_json(v))?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &json)?;
        std::fs::write(pool.join(format!("{v}.json.gz")), gz.finish()?)?;
    }
    std::fs::write(pool.join(".complete"), "")?;
    Ok(())
}

/// Writes a run of `n` synthetic tasks (herd-report's generator: 4 benchmarks × 3
/// backbones × 3 arms over shared items) with a trajectory per task, hard-linked from the
/// pool (copied where links fail). Reuses a run already written with the same size.
fn write_run(run: &Path, pool: &Path, n: usize) -> anyhow::Result<()> {
    let done = run.join(".bench-complete");
    if std::fs::read_to_string(&done).ok().as_deref() == Some(&n.to_string()) {
        return Ok(());
    }
    if run.exists() {
        std::fs::remove_dir_all(run).with_context(|| format!("clearing {}", run.display()))?;
    }
    let traj = run.join("trajectories");
    std::fs::create_dir_all(&traj)?;
    herd_report::bench::write_synthetic(&run.join("results.parquet"), n, SEED)?;
    const CHUNK: usize = 100_000;
    let mut start = 0;
    while start < n {
        let len = CHUNK.min(n - start);
        for (j, r) in herd_report::bench::synthetic_chunk(start, len, SEED)
            .iter()
            .enumerate()
        {
            let i = start + j;
            let src = pool.join(format!("{}.json.gz", (i * 7919) % VARIANTS));
            let dst = herd_report::store::trajectory_path(run, &r.task_key)?;
            if std::fs::hard_link(&src, &dst).is_err() {
                std::fs::copy(&src, &dst).with_context(|| format!("writing {}", dst.display()))?;
            }
        }
        start += len;
    }
    std::fs::write(&done, n.to_string())?;
    Ok(())
}

/// First load and the timed requests after it.
struct Timing {
    first: Duration,
    sorted: Vec<Duration>,
}

impl Timing {
    fn p(&self, q: f64) -> Duration {
        crate::bench::percentile(&self.sorted, q)
    }
}

/// GETs `url(0)` (the first load), then `url(1..=requests)`, each read to the end.
async fn time_gets(
    client: &reqwest::Client,
    base: &str,
    requests: usize,
    url: impl Fn(usize) -> String,
) -> anyhow::Result<Timing> {
    let get = |i: usize| {
        let u = format!("{base}{}", url(i));
        async move {
            let t = Instant::now();
            let resp = client.get(&u).send().await?;
            let status = resp.status();
            let body = resp.bytes().await?;
            let took = t.elapsed();
            if !status.is_success() {
                bail!("GET {u}: {status}: {}", String::from_utf8_lossy(&body));
            }
            Ok::<_, anyhow::Error>(took)
        }
    };
    let first = get(0).await?;
    let mut sorted = Vec::with_capacity(requests);
    for i in 1..=requests {
        sorted.push(get(i).await?);
    }
    sorted.sort();
    Ok(Timing { first, sorted })
}

/// The page measurements, in the order they run (the first load of each is the first
/// request of its kind; the run page's builds the report, the filtered page's loads the
/// task set).
const PAGES: [&str; 4] = ["run page", "filtered task page", "search", "arm comparison"];

fn page_url(kind: usize, run: &str, i: usize) -> String {
    let statuses = ["scored", "failed"];
    match kind {
        0 => format!("/runs/{run}"),
        // Each request another filter combination and page: no cached view reused.
        1 => format!(
            "/runs/{run}/tasks?arm={}&status={}&benchmark={}&sort=cost&dir=desc&page={}",
            ARMS[i % ARMS.len()],
            statuses[(i / ARMS.len()) % 2],
            BENCHMARKS[(i / (2 * ARMS.len())) % BENCHMARKS.len()],
            1 + i % 4
        ),
        // Each request another word: every search scans the whole text buffer.
        2 => format!("/runs/{run}/tasks?q={}", marker((i * 37) % VARIANTS)),
        // The 6 ordered arm pairs in turn, then further pages of them.
        _ => {
            let pairs: Vec<(&str, &str)> = ARMS
                .iter()
                .flat_map(|a| ARMS.iter().filter(move |b| *b != a).map(move |b| (*a, *b)))
                .collect();
            let (a, b) = pairs[i % pairs.len()];
            format!(
                "/runs/{run}/compare?base={a}&arms={b}&page={}",
                1 + i / pairs.len()
            )
        }
    }
}

/// Resident set size now and at its peak (MiB), from /proc/self/status.
fn rss() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets the peak RSS to the current RSS (Linux ≥ 4.0); false where unsupported.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// SSE fan-out: `clients` streams over HTTP from one [`LiveSweep`]; per event, the time
/// from `apply` until the last client has read it.
async fn sse_fanout(clients: usize, events: usize) -> anyhow::Result<(Vec<Duration>, usize)> {
    use axum::response::sse::Sse;
    use herd_dashboard::live::LiveSweep;
    use herd_proto::v1::{StepEvent, SweepEvent, SweepStatus};

    let sweep = Arc::new(LiveSweep::detached("bench"));
    sweep.apply(SweepEvent {
        kind: "snapshot".into(),
        status: Some(SweepStatus {
            sweep_id: "bench".into(),
            state: "running".into(),
            total: events as u64,
            ..Default::default()
        }),
        ..Default::default()
    });
    let cancel = tokio_util::sync::CancellationToken::new();
    let app = {
        let sweep = sweep.clone();
        let cancel = cancel.clone();
        axum::Router::new().route(
            "/events",
            axum::routing::get(move || {
                let r = axum::response::IntoResponse::into_response(Sse::new(sweep.subscribe(
                    None,
                    None,
                    cancel.clone(),
                )));
                async move { r }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/events", listener.local_addr()?);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    // Each client reports (client, event id, when read) for every event it reads.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, u64, Instant)>();
    let http = reqwest::Client::new();
    let mut readers = Vec::new();
    for c in 0..clients {
        let tx = tx.clone();
        let mut resp = http.get(&url).send().await?.error_for_status()?;
        readers.push(tokio::spawn(async move {
            let mut buf = String::new();
            while let Ok(Some(chunk)) = resp.chunk().await {
                let now = Instant::now();
                buf.push_str(&String::from_utf8_lossy(&chunk));
                // Complete events end with a blank line.
                while let Some(end) = buf.find("\n\n") {
                    let event: String = buf.drain(..end + 2).collect();
                    if let Some(id) = event
                        .lines()
                        .find_map(|l| l.strip_prefix("id:"))
                        .and_then(|v| v.trim().parse::<u64>().ok())
                    {
                        let _ = tx.send((c, id, now));
                    }
                }
            }
        }));
    }
    drop(tx);
    // Every client has its snapshot before the clock starts.
    let mut connected = vec![false; clients];
    while connected.iter().any(|c| !c) {
        let (c, _, _) = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .context("SSE clients did not connect")?
            .context("SSE clients ended")?;
        connected[c] = true;
    }

    let step = |i: usize| {
        serde_json::to_vec(&serde_json::json!({
            "index": i, "thought": format!("thinking about step {i}"),
            "code": "print(1 + 1)", "observation": "2", "parse_error": null,
            "cell_error": false, "exec_ms": 3, "host_calls": [], "defined": [], "called": [],
        }))
        .unwrap_or_default()
    };
    let mut lat = Vec::with_capacity(events);
    let mut missed = 0;
    for i in 0..events {
        let key = format!("task-{}", i / 4);
        // Three steps of a task, then its result.
        let ev = if i % 4 == 3 {
            let rec = herd_core::ResultRecord {
                sweep: "bench".into(),
                task_key: key.clone(),
                benchmark: "math".into(),
                arm: "off".into(),
                backbone: "b".into(),
                status: "scored".into(),
                correct: Some(i % 8 == 3),
                steps: 3,
                ..Default::default()
            };
            SweepEvent {
                kind: "finished".into(),
                task_key: key,
                results_json: vec![serde_json::to_vec(&rec)?],
                ..Default::default()
            }
        } else {
            SweepEvent {
                kind: "step".into(),
                task_key: key.clone(),
                worker_id: "w".into(),
                step: Some(StepEvent {
                    task_key: key,
                    attempt: 1,
                    kind: "step".into(),
                    step_json: step(i),
                    ..Default::default()
                }),
                ..Default::default()
            }
        };
        let t0 = Instant::now();
        sweep.apply(ev);
        let target = sweep.state().last_event_id();
        let mut seen = vec![false; clients];
        let mut last = t0;
        let deadline = t0 + Duration::from_secs(10);
        while seen.iter().any(|s| !s) {
            match tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), rx.recv()).await
            {
                Ok(Some((c, id, at))) => {
                    if id >= target && !seen[c] {
                        seen[c] = true;
                        last = last.max(at);
                    }
                }
                _ => break,
            }
        }
        if seen.iter().any(|s| !s) {
            missed += 1;
        } else {
            lat.push(last - t0);
        }
    }
    cancel.cancel();
    for r in readers {
        let _ = r.await;
    }
    server.abort();
    lat.sort();
    Ok((lat, missed))
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

fn ratio(a: Duration, b: Duration) -> String {
    if b.is_zero() {
        "n/a".into()
    } else {
        format!("{:.1}×", a.as_secs_f64() / b.as_secs_f64())
    }
}

/// Runs the benchmark and returns the printed table.
pub async fn bench_dashboard(o: &DashboardBenchOptions) -> anyhow::Result<String> {
    if o.tasks == 0 || o.baseline == 0 || o.requests == 0 || o.clients == 0 || o.events == 0 {
        bail!("--tasks, --baseline, --requests, --clients and --events must be at least 1");
    }
    let _temp;
    let root = match &o.dir {
        Some(d) => d.clone(),
        None => {
            let t = tempfile::tempdir()?;
            let p = t.path().to_path_buf();
            _temp = t;
            p
        }
    };
    let runs = root.join("runs");
    let pool = root.join("trajectory-pool");
    let (big, base) = (format!("tasks-{}", o.tasks), "baseline".to_string());
    let written = Instant::now();
    {
        let (runs, pool, big, base) = (runs.clone(), pool.clone(), big.clone(), base.clone());
        let (n, nb) = (o.tasks, o.baseline);
        tokio::task::spawn_blocking(move || {
            write_pool(&pool)?;
            write_run(&runs.join(&base), &pool, nb)?;
            write_run(&runs.join(&big), &pool, n)
        })
        .await??;
    }
    let written = written.elapsed();

    // The peak from here on is the server's: loading both runs and answering requests.
    let reset = reset_peak_rss();
    let (rss_before, _) = rss();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = format!("http://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(herd_dashboard::serve(
        listener,
        herd_dashboard::DashboardOptions {
            runs: runs.clone(),
            coordinator: None,
            token: None,
        },
        async move {
            let _ = stop_rx.await;
        },
    ));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    // Baseline first, so the measured run's loads are not helped by a warm page cache
    // the baseline never had (both are written just before).
    let mut timings = Vec::new();
    for kind in 0..PAGES.len() {
        let b = time_gets(&client, &addr, o.requests, |i| page_url(kind, &base, i)).await?;
        timings.push((None, b));
    }
    for (kind, slot) in timings.iter_mut().enumerate() {
        let m = time_gets(&client, &addr, o.requests, |i| page_url(kind, &big, i)).await?;
        slot.0 = Some(m);
    }
    let (rss_after, peak) = rss();
    let _ = stop_tx.send(());
    let _ = server.await;

    // The measured run's task set again, directly, for its size (the server's copy is
    // behind its cache).
    let heap = {
        let dir = runs.join(&big);
        let t = Instant::now();
        let set =
            tokio::task::spawn_blocking(move || herd_dashboard::load_task_set(&dir)).await??;
        (set.heap_bytes(), set.caps().per_task, t.elapsed())
    };

    let (fan, fan_missed) = sse_fanout(o.clients, o.events).await?;
    let (one, one_missed) = sse_fanout(1, o.events).await?;

    let mut out = String::new();
    let _ = writeln!(
        out,
        "herd bench dashboard: the dashboard router over HTTP on loopback, a run of {} tasks \
         vs a baseline run of {} in the same server; {} timed requests per row after the \
         first load (runs written in {:.1}s)\n",
        o.tasks,
        o.baseline,
        o.requests,
        written.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "{:<20} {:>9} {:>11} {:>10} {:>10} {:>11} {:>7} {:>14} {:>5}",
        "measurement", "tasks", "first load", "p50", "p95", "base p95", "ratio", "target", "met"
    );
    for (name, (m, b)) in PAGES.iter().zip(&timings) {
        let Some(m) = m else { continue };
        let p95 = m.p(0.95);
        let _ = writeln!(
            out,
            "{:<20} {:>9} {:>11} {:>10} {:>10} {:>11} {:>7} {:>14} {:>5}",
            name,
            o.tasks,
            ms(m.first),
            ms(m.p(0.5)),
            ms(p95),
            ms(b.p(0.95)),
            ratio(p95, b.p(0.95)),
            format!("p95 < {TARGET_MS:.0} ms"),
            if p95.as_secs_f64() * 1000.0 < TARGET_MS {
                "yes"
            } else {
                "no"
            }
        );
    }
    let fan_p95 = crate::bench::percentile(&fan, 0.95);
    let one_p95 = crate::bench::percentile(&one, 0.95);
    let _ = writeln!(
        out,
        "{:<20} {:>9} {:>11} {:>10} {:>10} {:>11} {:>7} {:>14} {:>5}",
        format!("SSE fan-out ×{}", o.clients),
        "-",
        "-",
        ms(crate::bench::percentile(&fan, 0.5)),
        ms(fan_p95),
        ms(one_p95),
        ratio(fan_p95, one_p95),
        "all get all",
        if fan_missed == 0 && one_missed == 0 {
            "yes"
        } else {
            "no"
        }
    );
    let _ = writeln!(
        out,
        "{:<20} {:>9} {:>11} {:>10} {:>10} {:>11} {:>7} {:>14} {:>5}",
        "peak RSS",
        o.tasks,
        "-",
        "-",
        format!("{peak:.0} MiB"),
        "-",
        "-",
        format!("< {TARGET_MIB:.0} MiB"),
        if peak < TARGET_MIB { "yes" } else { "no" }
    );
    let _ = writeln!(
        out,
        "{:<20} {:>9} {:>11} {:>10} {:>10} {:>11} {:>7} {:>14} {:>5}",
        "task set heap",
        o.tasks,
        ms(heap.2),
        "-",
        format!("{:.0} MiB", heap.0 as f64 / (1 << 20) as f64),
        "-",
        "-",
        "-",
        "-"
    );
    let _ = writeln!(
        out,
        "\n- first load: the first request of its kind, in this order: run page (builds the \
         report), filtered task page (loads the task set: results plus every task's \
         trajectory), search, comparison; p50/p95 over the {} requests after it.",
        o.requests
    );
    let _ = writeln!(
        out,
        "- filtered task page: another arm × status × benchmark filter and page each request, \
         sorted by cost. search: another word each request (`kappa0000`…), each matching \
         1/{VARIANTS} of the tasks, scanning all of the kept text ({} bytes per task at {} \
         tasks). comparison: the 6 ordered arm pairs in turn, then further pages; each pair's \
         first request computes its pairing.",
        heap.1, o.tasks
    );
    let _ = writeln!(
        out,
        "- every task has a real trajectory file (trajectories/<key>.json.gz, ~3.5 KB of \
         searchable text, one of {VARIANTS} variants hard-linked), so loading and search cover \
         trajectories as in a real run."
    );
    let _ = writeln!(
        out,
        "- peak RSS: this process's VmHWM over serving both runs ({}), RSS {:.0} MiB before the \
         first request and {:.0} MiB after the last. task set heap: the measured run's task \
         set loaded again directly (first load column: its load time).",
        if reset {
            "reset after writing the runs"
        } else {
            "could not be reset: includes writing the runs"
        },
        rss_before,
        rss_after
    );
    let _ = writeln!(
        out,
        "- SSE fan-out: {} events (3 steps then a result per task) applied to one live sweep \
         with {} HTTP SSE clients; time from apply until the last client has read the event, \
         vs 1 client (base p95). missed (not read by every client within 10 s): {} with {}, \
         {} with 1.",
        o.events, o.clients, fan_missed, o.clients, one_missed
    );
    Ok(out)
}
