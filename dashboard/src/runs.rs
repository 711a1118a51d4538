//! Run directories on disk: finding them under the dashboard's root, validating the names
//! and task keys that arrive in URLs, reading their results (a chunk of records at a time,
//! or one row by key) and trajectories, and summarising each run for the index.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use herd_core::ResultRecord;
use polars::prelude::*;
use serde::Serialize;

use crate::error::DashboardError;
use crate::tasks::{SearchCaps, TaskSet};

const RESULTS_FILE: &str = "results.parquet";
const TRAJECTORIES_DIR: &str = "trajectories";
const TRAJECTORY_SUFFIX: &str = ".json.gz";
/// Longest run name or task key accepted from a URL.
const MAX_NAME_LEN: usize = 200;

/// True when `name` can only ever mean one entry inside a directory: not empty, not `.`
/// or `..`, no separators, no `..`, no control characters, not absurdly long.
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name != "."
        && !name.contains("..")
        && !name.contains(['/', '\\', ':'])
        && !name.chars().any(char::is_control)
}

/// Refuses a URL-supplied name that is not [`is_safe_name`].
pub fn check_name(what: &'static str, name: &str) -> Result<(), DashboardError> {
    if is_safe_name(name) {
        Ok(())
    } else {
        Err(DashboardError::BadName {
            what,
            name: name.chars().take(MAX_NAME_LEN).collect(),
        })
    }
}

/// One run directory: its name in URLs and its path on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    pub name: String,
    pub path: PathBuf,
}

impl RunDir {
    pub fn results_path(&self) -> PathBuf {
        self.path.join(RESULTS_FILE)
    }
}

/// The runs under `root`: `root` itself when it holds `results.parquet`, else each direct
/// subdirectory (not hidden, with a safe name) that holds one, sorted by name.
pub fn discover(root: &Path) -> Result<Vec<RunDir>, DashboardError> {
    if root.join(RESULTS_FILE).is_file() {
        let name = fs::canonicalize(root)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .filter(|n| is_safe_name(n))
            .unwrap_or_else(|| "run".to_string());
        return Ok(vec![RunDir {
            name,
            path: root.to_path_buf(),
        }]);
    }
    let entries = fs::read_dir(root).map_err(|source| DashboardError::ListRuns {
        path: root.to_path_buf(),
        source,
    })?;
    let mut runs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| DashboardError::ListRuns {
            path: root.to_path_buf(),
            source,
        })?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') || !is_safe_name(&name) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() && path.join(RESULTS_FILE).is_file() {
            runs.push(RunDir { name, path });
        }
    }
    runs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(runs)
}

/// The run called `name`, looked up among the discovered runs (never by joining the name
/// onto a path), so only real run directories can be reached.
pub fn find(root: &Path, name: &str) -> Result<RunDir, DashboardError> {
    check_name("run name", name)?;
    discover(root)?
        .into_iter()
        .find(|r| r.name == name)
        .ok_or_else(|| DashboardError::RunNotFound(name.to_string()))
}

/// Task keys that have a trajectory file in the run.
pub fn trajectory_keys(run: &RunDir) -> HashSet<String> {
    let Ok(entries) = fs::read_dir(run.path.join(TRAJECTORIES_DIR)) else {
        return HashSet::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(TRAJECTORY_SUFFIX).map(str::to_string))
        .collect()
}

/// Rows converted to records at a time, bounding the memory a big run takes to load.
const CHUNK_ROWS: usize = 16_384;

/// A lazy scan of the run's results file (nothing read yet).
fn lazy_results(run: &RunDir) -> Result<LazyFrame, DashboardError> {
    let path = run.results_path();
    let path_str = path.to_str().ok_or_else(|| DashboardError::Report {
        run: run.name.clone(),
        source: herd_report::ReportError::NonUtf8Path(path.clone()),
    })?;
    LazyFrame::scan_parquet(PlPath::new(path_str), ScanArgsParquet::default())
        .map_err(|e| polars_err(run, "scanning", e))
}

/// A lazy scan of the run's results file and its number of rows (from the file's
/// metadata; nothing else is read).
fn scan(run: &RunDir) -> Result<(LazyFrame, usize), DashboardError> {
    let scan = lazy_results(run)?;
    let rows = scan
        .clone()
        .select([len()])
        .collect()
        .and_then(|df| Ok(df.column("len")?.u32()?.get(0).unwrap_or(0)))
        .map_err(|e| polars_err(run, "counting the rows of", e))?;
    Ok((scan, rows as usize))
}

fn polars_err(run: &RunDir, doing: &str, source: PolarsError) -> DashboardError {
    DashboardError::Report {
        run: run.name.clone(),
        source: herd_report::ReportError::Polars {
            context: format!("{doing} `{}`", run.results_path().display()),
            source,
        },
    }
}

/// The number of result rows of the run.
pub fn count_rows(run: &RunDir) -> Result<usize, DashboardError> {
    scan(run).map(|(_, rows)| rows)
}

/// Calls `f` with the run's result rows as records, [`CHUNK_ROWS`] at a time, reading
/// the results file slice by slice (never the whole table at once: at a million rows that
/// alone is hundreds of megabytes). Returns the number of rows.
pub fn for_each_chunk(
    run: &RunDir,
    mut f: impl FnMut(Vec<ResultRecord>) -> Result<(), DashboardError>,
) -> Result<usize, DashboardError> {
    let (scan, rows) = scan(run)?;
    let mut offset = 0;
    while offset < rows {
        let chunk = scan
            .clone()
            .slice(offset as i64, CHUNK_ROWS as IdxSize)
            .collect()
            .map_err(|e| polars_err(run, "reading a slice of", e))?;
        offset += chunk.height().max(1);
        let records =
            herd_report::results_from_frame(&chunk).map_err(|source| DashboardError::Report {
                run: run.name.clone(),
                source,
            })?;
        drop(chunk);
        f(records)?;
    }
    Ok(rows)
}

/// The result row of task `key`, if the run has one (a filtered scan of the results file).
pub fn read_record(run: &RunDir, key: &str) -> Result<Option<ResultRecord>, DashboardError> {
    let frame = lazy_results(run)?
        .filter(col("task_key").eq(lit(key)))
        .collect()
        .map_err(|e| polars_err(run, &format!("looking up task `{key}` in"), e))?;
    Ok(herd_report::results_from_frame(&frame)
        .map_err(|source| DashboardError::Report {
            run: run.name.clone(),
            source,
        })?
        .into_iter()
        .next())
}

/// A run's tasks as a [`TaskSet`], with each trajectory's text for search (read on every
/// core; a trajectory that cannot be read still links, with no text).
pub fn load_task_set(run: &RunDir) -> Result<TaskSet, DashboardError> {
    let started = std::time::Instant::now();
    let n = count_rows(run)?;
    let with_trajectory = trajectory_keys(run);
    let caps = SearchCaps::for_tasks(n);
    let mut set = TaskSet::new(caps);
    set.reserve(n);
    let mut unreadable = 0usize;
    for_each_chunk(run, |records| {
        let texts = trajectory_texts(&run.path, &records, &with_trajectory, caps.per_task);
        for (r, text) in records.iter().zip(&texts) {
            if text.as_ref().is_some_and(|t| t.is_err()) {
                unreadable += 1;
            }
            set.push(r, text.as_ref().map(|t| t.as_deref().unwrap_or("")));
        }
        Ok(())
    })?;
    if unreadable > 0 {
        tracing::warn!(run = %run.name, unreadable, "some trajectories could not be read for search");
    }
    tracing::info!(
        run = %run.name,
        tasks = n,
        mib = set.heap_bytes() >> 20,
        ms = started.elapsed().as_millis() as u64,
        "loaded tasks"
    );
    Ok(set)
}

type Text = Option<Result<String, String>>;

/// The search text of each record's trajectory: `None` without one, `Err` when unreadable.
fn trajectory_texts(
    dir: &Path,
    records: &[ResultRecord],
    with_trajectory: &HashSet<String>,
    cap: usize,
) -> Vec<Text> {
    let one = |r: &ResultRecord| -> Text {
        if !with_trajectory.contains(&r.task_key) {
            return None;
        }
        Some(read_trajectory_text(dir, &r.task_key, cap))
    };
    let threads = std::thread::available_parallelism().map_or(1, |p| p.get().min(8));
    if threads <= 1 || records.len() < 64 {
        return records.iter().map(one).collect();
    }
    let chunk = records.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = records
            .chunks(chunk)
            .map(|part| {
                (
                    part.len(),
                    s.spawn(move || part.iter().map(one).collect::<Vec<_>>()),
                )
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|(len, h)| {
                h.join()
                    .unwrap_or_else(|_| vec![Some(Err("reader panicked".to_string())); len])
            })
            .collect()
    })
}

fn read_trajectory_text(dir: &Path, key: &str, cap: usize) -> Result<String, String> {
    let path = herd_report::store::trajectory_path(dir, key).map_err(|e| e.to_string())?;
    let file = fs::File::open(&path).map_err(|e| e.to_string())?;
    let reader = flate2::read::GzDecoder::new(std::io::BufReader::new(file));
    crate::tasks::trajectory_text_from_reader(reader, cap).map_err(|e| e.to_string())
}

/// What the index shows (and `/api/runs` returns) for one run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunSummary {
    pub name: String,
    pub path: String,
    /// Tasks of the scored splits (training phases of train-then-test arms are left out of
    /// the run's tasks and accuracy; their cost is in `cost_usd`).
    pub tasks: u64,
    pub scored: u64,
    pub correct: u64,
    /// Tasks whose status is not `scored` (failed, timeout, budget, cancelled).
    pub unscored: u64,
    /// `correct / scored`; `None` when nothing was scored.
    pub accuracy: Option<f64>,
    pub cost_usd: f64,
    /// `(status, count)`, sorted by status.
    pub statuses: Vec<(String, u64)>,
    /// Modification time of `results.parquet`, RFC 3339 UTC.
    pub last_modified: String,
    pub last_modified_unix_ms: u64,
    /// Why the results could not be read, when they could not.
    pub error: Option<String>,
    /// Tasks that ran in the local-process sandbox, without container isolation.
    pub unisolated: u64,
}

impl RunSummary {
    /// The summary of a run's records, read a chunk at a time.
    fn read(run: &RunDir, modified: SystemTime) -> Result<Self, DashboardError> {
        let mut statuses: HashMap<String, u64> = HashMap::new();
        let mut s = Self::empty(run, modified);
        for_each_chunk(run, |records| {
            for r in &records {
                match statuses.get_mut(r.status.as_str()) {
                    Some(n) => *n += 1,
                    None => {
                        statuses.insert(r.status.clone(), 1);
                    }
                }
                s.cost_usd += r.cost_usd;
                if r.sandbox_kind == "local" {
                    s.unisolated += 1;
                }
                // Training phases fill a library; the run's accuracy is over scored splits only.
                if r.is_training_phase() {
                    continue;
                }
                s.tasks += 1;
                if r.status == herd_core::Status::Scored.as_str() {
                    s.scored += 1;
                    if r.correct == Some(true) {
                        s.correct += 1;
                    }
                }
            }
            Ok(())
        })?;
        s.statuses = statuses.into_iter().collect();
        s.statuses.sort();
        s.unscored = s.tasks - s.scored;
        s.accuracy = (s.scored > 0).then(|| s.correct as f64 / s.scored as f64);
        Ok(s)
    }

    fn empty(run: &RunDir, modified: SystemTime) -> Self {
        let ms = modified
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        RunSummary {
            name: run.name.clone(),
            path: run.path.display().to_string(),
            tasks: 0,
            scored: 0,
            correct: 0,
            unscored: 0,
            accuracy: None,
            cost_usd: 0.0,
            statuses: Vec::new(),
            last_modified: chrono::DateTime::<chrono::Utc>::from(modified)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            last_modified_unix_ms: ms,
            error: None,
            unisolated: 0,
        }
    }
}

/// Identifies one version of a file: a changed file changes its stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    pub(crate) modified: SystemTime,
    pub(crate) len: u64,
}

pub fn stamp(path: &Path) -> std::io::Result<FileStamp> {
    let meta = fs::metadata(path)?;
    Ok(FileStamp {
        modified: meta.modified().unwrap_or(UNIX_EPOCH),
        len: meta.len(),
    })
}

/// Summaries of runs, kept until their results file changes.
#[derive(Default)]
pub struct Summaries {
    by_path: Mutex<HashMap<PathBuf, (FileStamp, RunSummary)>>,
}

impl Summaries {
    /// The summary of one run (read errors are kept in the summary, not returned).
    pub fn summary(&self, run: &RunDir) -> RunSummary {
        let results = run.results_path();
        let st = match stamp(&results) {
            Ok(st) => st,
            Err(e) => {
                let mut s = RunSummary::empty(run, UNIX_EPOCH);
                s.error = Some(format!("failed to stat `{}`: {e}", results.display()));
                return s;
            }
        };
        if let Some((cached, s)) = lock(&self.by_path).get(&results)
            && *cached == st
        {
            return s.clone();
        }
        let summary = RunSummary::read(run, st.modified).unwrap_or_else(|e| {
            tracing::warn!(run = %run.name, error = %e, "failed to summarise run");
            let mut s = RunSummary::empty(run, st.modified);
            s.error = Some(e.to_string());
            s
        });
        lock(&self.by_path).insert(results, (st, summary.clone()));
        summary
    }

    /// Summaries of every run under `root`.
    pub fn all(&self, root: &Path) -> Result<Vec<RunSummary>, DashboardError> {
        let runs = discover(root)?;
        let live: HashSet<PathBuf> = runs.iter().map(RunDir::results_path).collect();
        lock(&self.by_path).retain(|path, _| live.contains(path));
        Ok(runs.iter().map(|r| self.summary(r)).collect())
    }
}

/// Locks a cache map; a panic while holding the lock cannot leave a map half-updated in a
/// way that matters (entries are replaced whole), so a poisoned lock is simply reused.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a\\b",
            "..%2f",
            "x\0",
            "a\nb",
            "c:",
            &"x".repeat(201),
        ] {
            assert!(!is_safe_name(bad), "{bad:?} accepted");
            assert!(matches!(
                check_name("run name", bad),
                Err(DashboardError::BadName { .. })
            ));
        }
        for good in [
            "run-1",
            "sweep_2026.11.22",
            "3f2a9c0b11d2e4f5a6b7c8d9",
            "a b",
        ] {
            assert!(is_safe_name(good), "{good:?} refused");
        }
    }

    #[test]
    fn discovers_child_runs_and_a_single_run_root() {
        let root = tempfile::tempdir().expect("tempdir");
        for d in ["b-run", "a-run", ".hidden", "not-a-run"] {
            fs::create_dir_all(root.path().join(d)).expect("mkdir");
        }
        for d in ["b-run", "a-run", ".hidden"] {
            fs::write(root.path().join(d).join(RESULTS_FILE), b"x").expect("write");
        }
        let runs = discover(root.path()).expect("discover");
        let names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a-run", "b-run"]);
        assert!(matches!(
            find(root.path(), "not-a-run"),
            Err(DashboardError::RunNotFound(_))
        ));
        assert!(matches!(
            find(root.path(), ".."),
            Err(DashboardError::BadName { .. })
        ));
        let single = discover(&root.path().join("a-run")).expect("single");
        assert_eq!(single.len(), 1);
        assert_eq!(single[0].name, "a-run");
        assert!(matches!(
            discover(&root.path().join("absent")),
            Err(DashboardError::ListRuns { .. })
        ));
    }
}
