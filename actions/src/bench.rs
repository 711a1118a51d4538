//! The retrieval benchmark: local embedding throughput, and search latency, recall and upsert
//! throughput at growing library sizes — of the embedded store and, when given, a Qdrant
//! server on the same vectors — next to an exact brute-force cosine scan measured in the same
//! run. Prints a table; asserts nothing.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::action::{Action, action_id};
use crate::embed::{Embedder, l2_normalise};
use crate::error::Result;
use crate::store::{
    ActionFilter, ActionStore, EdgeStore, EdgeStoreOptions, EmbedderSpec, ServerStore, StoredAction,
};

/// How the benchmark's vectors are spread over the sphere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distribution {
    /// Text-like: points near a 32-dimensional subspace, in topic clusters, as sentence
    /// embeddings are (their intrinsic dimension is far below their 384 coordinates).
    Clustered,
    /// Uniform on the sphere: no structure at all, the hardest case for any graph index.
    Uniform,
}

impl Distribution {
    fn label(self) -> &'static str {
        match self {
            Distribution::Clustered => "text-like",
            Distribution::Uniform => "uniform",
        }
    }
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Library sizes (number of actions).
    pub sizes: Vec<usize>,
    /// Vector distributions, each measured at every size.
    pub distributions: Vec<Distribution>,
    /// Random queries per size.
    pub queries: usize,
    pub k: usize,
    pub dim: usize,
    /// Docstrings embedded for the throughput line.
    pub embed_texts: usize,
    /// Scratch directory for the shards (removed afterwards).
    pub dir: PathBuf,
    pub store: EdgeStoreOptions,
    pub seed: u64,
    /// A Qdrant server measured beside the embedded store: (gRPC URL, API key).
    pub server: Option<(String, Option<String>)>,
}

impl BenchOptions {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        BenchOptions {
            sizes: vec![1_000, 10_000, 100_000],
            distributions: vec![Distribution::Clustered, Distribution::Uniform],
            queries: 200,
            k: 10,
            dim: 384,
            embed_texts: 256,
            dir: dir.into(),
            store: EdgeStoreOptions {
                optimize_every: usize::MAX,
                ..EdgeStoreOptions::default()
            },
            seed: 7,
            server: None,
        }
    }
}

/// A small deterministic generator (xorshift64*), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }

    fn unit(&mut self, dim: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..dim).map(|_| self.next_f32()).collect();
        l2_normalise(&mut v);
        v
    }

    /// A standard normal draw (Box–Muller).
    fn normal(&mut self) -> f32 {
        let u1 = ((self.next_f32() + 1.0) / 2.0).max(1e-7);
        let u2 = (self.next_f32() + 1.0) / 2.0;
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    }
}

/// Draws unit vectors from a [`Distribution`].
struct Sampler {
    dist: Distribution,
    dim: usize,
    /// Clustered: the subspace's basis (`INTRINSIC` rows of `dim`) and the topic centres.
    basis: Vec<f32>,
    centres: Vec<Vec<f32>>,
}

const INTRINSIC: usize = 32;
const TOPICS: usize = 500;

impl Sampler {
    fn new(dist: Distribution, dim: usize, rng: &mut Rng) -> Sampler {
        let (basis, centres) = match dist {
            Distribution::Uniform => (Vec::new(), Vec::new()),
            Distribution::Clustered => (
                (0..INTRINSIC * dim).map(|_| rng.normal()).collect(),
                (0..TOPICS)
                    .map(|_| (0..INTRINSIC).map(|_| rng.normal()).collect())
                    .collect(),
            ),
        };
        Sampler {
            dist,
            dim,
            basis,
            centres,
        }
    }

    fn sample(&self, rng: &mut Rng) -> Vec<f32> {
        match self.dist {
            Distribution::Uniform => rng.unit(self.dim),
            Distribution::Clustered => {
                let c = &self.centres
                    [(((rng.next_f32() + 1.0) / 2.0) * TOPICS as f32) as usize % TOPICS];
                let z: Vec<f32> = c.iter().map(|x| x + 0.6 * rng.normal()).collect();
                let mut v: Vec<f32> = (0..self.dim).map(|_| 0.3 * rng.normal()).collect();
                for (zi, row) in z.iter().zip(self.basis.chunks_exact(self.dim)) {
                    for (vj, bj) in v.iter_mut().zip(row) {
                        *vj += zi * bj;
                    }
                }
                l2_normalise(&mut v);
                v
            }
        }
    }
}

fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    if sorted_ms.is_empty() {
        return 0.0;
    }
    let idx = ((sorted_ms.len() as f64 - 1.0) * p).round() as usize;
    sorted_ms[idx.min(sorted_ms.len() - 1)]
}

fn exact_top_k(matrix: &[f32], dim: usize, q: &[f32], k: usize) -> Vec<usize> {
    let mut scored: Vec<(f32, usize)> = matrix
        .chunks_exact(dim)
        .enumerate()
        .map(|(i, row)| (row.iter().zip(q).map(|(a, b)| a * b).sum::<f32>(), i))
        .collect();
    let k = k.min(scored.len());
    if k == 0 {
        return vec![];
    }
    scored.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
    scored.truncate(k);
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().map(|(_, i)| i).collect()
}

/// Mean cosine similarity of each vector to its nearest other vector.
fn nn_cosine(vs: &[Vec<f32>]) -> f64 {
    if vs.len() < 2 {
        return 0.0;
    }
    let total: f64 = vs
        .iter()
        .enumerate()
        .map(|(i, a)| {
            vs.iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, b)| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>())
                .fold(f32::MIN, f32::max) as f64
        })
        .sum();
    total / vs.len() as f64
}

/// Varied docstrings of the kind agents write, for embedding throughput and calibration.
fn docstrings(n: usize) -> Vec<String> {
    const VERBS: [&str; 8] = [
        "Return", "Compute", "Parse", "Download", "Count", "Extract", "Convert", "Find",
    ];
    const OBJECTS: [&str; 8] = [
        "the mean of the numeric columns in a table",
        "the dates mentioned in a web page",
        "the rows of a CSV file that match a condition",
        "the roots of a polynomial with integer coefficients",
        "the text of every slide in a PowerPoint file",
        "the number of distinct words in a document",
        "the prime factors of an integer",
        "the population of a country from a Wikipedia table",
    ];
    const TAILS: [&str; 4] = [
        "ignoring missing values.",
        "as a list sorted in ascending order.",
        "and raise ValueError when the input is empty.",
        "using only the standard library.",
    ];
    (0..n)
        .map(|i| {
            format!(
                "{} {} {}",
                VERBS[i % 8],
                OBJECTS[(i / 8) % 8],
                TAILS[(i / 64) % 4]
            )
        })
        .collect()
}

fn bench_action(ns: &str, i: usize) -> Action {
    let name = format!("fn_{i}");
    Action {
        id: action_id(ns, &name, 1),
        namespace: ns.to_string(),
        name: name.clone(),
        version: 1,
        signature: "(x)".into(),
        returns: None,
        docstring: Some(format!("Synthetic action number {i}.")),
        source: format!("def {name}(x):\n    return x + {i}\n"),
        imports: vec![],
        calls_generated: vec![],
        source_hash: format!("{i:064x}"),
        created_by_task: "bench".into(),
        created_split: None,
        created_seq: i as u64,
        created_at: String::new(),
        embedder: "random".into(),
    }
}

/// Upserts `vectors` as synthetic actions, 1,000 per call.
async fn load(store: &dyn ActionStore, ns: &str, vectors: &[Vec<f32>]) -> Result<()> {
    for (c, chunk) in vectors.chunks(1000).enumerate() {
        let batch = chunk
            .iter()
            .enumerate()
            .map(|(j, v)| StoredAction {
                action: bench_action(ns, c * 1000 + j),
                vector: Some(v.clone()),
            })
            .collect();
        store.upsert(ns, batch).await?;
    }
    Ok(())
}

/// Search latency percentiles (ms) and recall against the exact answers.
struct Measured {
    p50: f64,
    p99: f64,
    recall: f64,
}

async fn measure(
    store: &dyn ActionStore,
    ns: &str,
    queries: &[Vec<f32>],
    exact: &[Vec<usize>],
    k: usize,
) -> Result<Measured> {
    let filter = ActionFilter::before(u64::MAX / 2);
    // Warm-up (page cache, lazily loaded structures, connections).
    for q in queries.iter().take(10) {
        store.search(ns, q, k, &filter).await?;
    }
    let mut ms = Vec::with_capacity(queries.len());
    let (mut hits, mut total) = (0usize, 0usize);
    for (q, exact) in queries.iter().zip(exact) {
        let t = Instant::now();
        let found = store.search(ns, q, k, &filter).await?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        let names: std::collections::HashSet<String> =
            exact.iter().map(|i| format!("fn_{i}")).collect();
        hits += found
            .iter()
            .filter(|h| names.contains(&h.action.name))
            .count();
        total += exact.len();
    }
    ms.sort_by(f64::total_cmp);
    Ok(Measured {
        p50: percentile(&ms, 0.5),
        p99: percentile(&ms, 0.99),
        recall: hits as f64 / total.max(1) as f64,
    })
}

/// Runs the benchmark and returns the printed table. `embedder` (the local MiniLM, usually)
/// gives the throughput line; without one that line says it was skipped.
pub async fn bench_retrieval(
    opts: &BenchOptions,
    embedder: Option<Arc<dyn Embedder>>,
) -> Result<String> {
    let mut out = String::new();
    out.push_str("herd-actions retrieval benchmark\n\n");

    // How close each vector's nearest neighbour is, in a sample of 256: real docstring
    // embeddings next to the synthetic distributions, so the text-like one can be judged.
    let mut calib = Vec::new();
    match embedder {
        Some(e) => {
            let texts = docstrings(opts.embed_texts);
            let _ = e.embed(&texts[..texts.len().min(8)]).await?; // warm-up
            let t = Instant::now();
            let v = e.embed(&texts).await?;
            let secs = t.elapsed().as_secs_f64();
            out.push_str(&format!(
                "embedding: {} docstrings with `{}` (dim {}) in {:.2}s = {:.1} docstrings/s\n",
                v.len(),
                e.id(),
                e.dim(),
                secs,
                v.len() as f64 / secs.max(1e-9)
            ));
            calib.push((format!("real `{}` docstrings", e.id()), nn_cosine(&v)));
        }
        None => {
            out.push_str("embedding: skipped (no local embedder; run scripts/fetch-embedder.sh)\n")
        }
    }
    let mut crng = Rng(opts.seed.wrapping_add(99).max(1));
    for &d in &opts.distributions {
        let sampler = Sampler::new(d, opts.dim, &mut crng);
        let sample: Vec<Vec<f32>> = (0..256).map(|_| sampler.sample(&mut crng)).collect();
        calib.push((format!("synthetic {}", d.label()), nn_cosine(&sample)));
    }
    out.push_str("nearest-neighbour cosine in 256 vectors (mean): ");
    out.push_str(
        &calib
            .iter()
            .map(|(what, c)| format!("{what} {c:.2}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    out.push_str("\n\n");

    out.push_str(&format!(
        "search: k={}, {} random queries, dim {}, HNSW m={} ef_construct={} ef={}\n",
        opts.k,
        opts.queries,
        opts.dim,
        opts.store.hnsw_m,
        opts.store.hnsw_ef_construct,
        opts.store.search_ef
    ));
    out.push_str("| data | store | actions | build s | upserts/s | p50 ms | p99 ms | brute p50 ms | brute p99 ms | p50 speedup | p50 vs embedded | recall@10 |\n");
    out.push_str("|------|-------|--------:|--------:|----------:|-------:|-------:|-------------:|-------------:|------------:|----------------:|----------:|\n");

    let server = match &opts.server {
        Some((url, key)) => Some(ServerStore::connect(url, key.clone()).await?),
        None => None,
    };
    let mut rng = Rng(opts.seed.max(1));
    let runs: Vec<(Distribution, usize)> = opts
        .distributions
        .iter()
        .flat_map(|&d| opts.sizes.iter().map(move |&n| (d, n)))
        .collect();
    for (dist, n) in runs {
        let sampler = Sampler::new(dist, opts.dim, &mut rng);
        let vectors: Vec<Vec<f32>> = (0..n).map(|_| sampler.sample(&mut rng)).collect();
        let queries: Vec<Vec<f32>> = (0..opts.queries)
            .map(|_| sampler.sample(&mut rng))
            .collect();
        let matrix: Vec<f32> = vectors.concat();
        let mut exact = Vec::with_capacity(queries.len());
        let mut brute_ms = Vec::with_capacity(queries.len());
        for q in &queries {
            let t = Instant::now();
            exact.push(exact_top_k(&matrix, opts.dim, q, opts.k));
            brute_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        brute_ms.sort_by(f64::total_cmp);
        let (bp50, bp99) = (percentile(&brute_ms, 0.5), percentile(&brute_ms, 0.99));
        let ns = format!("bench-{}-{n}", dist.label());
        let spec = EmbedderSpec {
            id: "random".into(),
            dim: opts.dim,
        };

        let dir = opts.dir.join(format!("bench-{}-{n}", dist.label()));
        let _ = tokio::fs::remove_dir_all(&dir).await;
        let edge = EdgeStore::open_with(&dir, opts.store).await?;
        edge.ensure_namespace(&ns, &spec).await?;
        let t = Instant::now();
        load(&edge, &ns, &vectors).await?;
        let upsert_s = t.elapsed().as_secs_f64();
        edge.optimize(&ns).await?;
        let build = t.elapsed().as_secs_f64();
        let embedded = measure(&edge, &ns, &queries, &exact, opts.k).await?;
        let row = |store: &str, build: f64, upsert_s: f64, m: &Measured, vs: Option<f64>| {
            format!(
                "| {} | {store} | {n:>7} | {build:>7.1} | {:>9.0} | {:>6.3} | {:>6.3} | {bp50:>12.3} | {bp99:>12.3} | {:>10.1}x | {} | {:>9.3} |\n",
                dist.label(),
                n as f64 / upsert_s.max(1e-9),
                m.p50,
                m.p99,
                bp50 / m.p50.max(1e-9),
                vs.map(|r| format!("{r:>14.2}x"))
                    .unwrap_or_else(|| format!("{:>15}", "—")),
                m.recall
            )
        };
        out.push_str(&row("embedded", build, upsert_s, &embedded, None));
        tracing::info!(
            data = dist.label(),
            actions = n,
            store = "embedded",
            p99_ms = embedded.p99,
            "benchmarked size"
        );
        drop(edge);
        let _ = tokio::fs::remove_dir_all(&dir).await;

        if let Some(server) = &server {
            server.drop_namespace(&ns).await?;
            server.ensure_namespace(&ns, &spec).await?;
            let t = Instant::now();
            load(server, &ns, &vectors).await?;
            let upsert_s = t.elapsed().as_secs_f64();
            server
                .wait_until_indexed(&ns, std::time::Duration::from_secs(1800))
                .await?;
            let build = t.elapsed().as_secs_f64();
            let m = measure(server, &ns, &queries, &exact, opts.k).await?;
            out.push_str(&row(
                "server",
                build,
                upsert_s,
                &m,
                Some(m.p50 / embedded.p50.max(1e-9)),
            ));
            tracing::info!(
                data = dist.label(),
                actions = n,
                store = "server",
                p99_ms = m.p99,
                "benchmarked size"
            );
            server.drop_namespace(&ns).await?;
        }
    }
    out.push_str("\ntargets: store p99 < 5 ms at 100k with recall@10 >= 0.95\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_top_k_orders_by_similarity() {
        let h = std::f32::consts::FRAC_1_SQRT_2;
        let m = vec![1.0, 0.0, 0.0, 1.0, h, h];
        assert_eq!(exact_top_k(&m, 2, &[1.0, 0.0], 2), vec![0, 2]);
        assert_eq!(exact_top_k(&m, 2, &[0.0, 1.0], 1), vec![1]);
    }

    /// Runs the full benchmark: `cargo test -p herd-actions --release bench_table -- --ignored --nocapture`.
    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "benchmark: slow, run by hand"]
    async fn bench_table() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut opts = BenchOptions::new(dir.path());
        if let Ok(sizes) = std::env::var("HERD_BENCH_SIZES") {
            opts.sizes = sizes
                .split(',')
                .filter_map(|s| s.trim().parse().ok())
                .collect();
        }
        if let Some(ef) = std::env::var("HERD_BENCH_EF")
            .ok()
            .and_then(|s| s.parse().ok())
        {
            opts.store.search_ef = ef;
        }
        let embedder = crate::embed::MiniLmEmbedder::load_default()
            .ok()
            .map(|e| Arc::new(e) as Arc<dyn Embedder>);
        let table = bench_retrieval(&opts, embedder).await.expect("benchmark");
        println!("{table}");
    }
}
