//! Finding run directories under the dashboard's root, validating the names and task keys
//! that arrive in URLs, and summarising each run (cached by the results file's stamp so
//! the auto-refreshing index stays cheap).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use herd_core::ResultRecord;
use serde::Serialize;

use crate::error::DashboardError;

const RESULTS_FILE: &str = "results.parquet";
const TRAJECTORIES_DIR: &str = "trajectories";
const TRAJECTORY_SUFFIX: &str = ".json.gz";
/// Longest run name or task key accepted from a URL.
const MAX_NAME_LEN: usize = 200;
/// Report pages kept in memory.
const MAX_CACHED_REPORTS: usize = 16;

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

/// Reads a run's result rows.
pub fn read_records(run: &RunDir) -> Result<Vec<ResultRecord>, DashboardError> {
    herd_report::read_result_records(&run.path)
        .map(|(results, _attempts)| results)
        .map_err(|source| DashboardError::Report {
            run: run.name.clone(),
            source,
        })
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
    fn from_records(run: &RunDir, records: &[ResultRecord], modified: SystemTime) -> Self {
        let mut statuses: HashMap<&str, u64> = HashMap::new();
        let (mut scored, mut correct, mut cost) = (0u64, 0u64, 0.0f64);
        for r in records {
            *statuses.entry(r.status.as_str()).or_default() += 1;
            cost += r.cost_usd;
            // Training phases fill a library; the run's accuracy is over scored splits only.
            if r.is_training_phase() {
                continue;
            }
            if r.status == herd_core::Status::Scored.as_str() {
                scored += 1;
                if r.correct == Some(true) {
                    correct += 1;
                }
            }
        }
        let mut statuses: Vec<(String, u64)> = statuses
            .into_iter()
            .map(|(s, n)| (s.to_string(), n))
            .collect();
        statuses.sort();
        let mut s = Self::empty(run, modified);
        s.tasks = records.iter().filter(|r| !r.is_training_phase()).count() as u64;
        s.scored = scored;
        s.correct = correct;
        s.unscored = s.tasks - scored;
        s.accuracy = (scored > 0).then(|| correct as f64 / scored as f64);
        s.cost_usd = cost;
        s.statuses = statuses;
        s.unisolated = records.iter().filter(|r| r.sandbox_kind == "local").count() as u64;
        s
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
struct FileStamp {
    modified: SystemTime,
    len: u64,
}

fn stamp(path: &Path) -> std::io::Result<FileStamp> {
    let meta = fs::metadata(path)?;
    Ok(FileStamp {
        modified: meta.modified().unwrap_or(UNIX_EPOCH),
        len: meta.len(),
    })
}

/// Run summaries and rendered reports, each kept until its results file changes.
#[derive(Default)]
pub struct RunCache {
    summaries: Mutex<HashMap<PathBuf, (FileStamp, RunSummary)>>,
    reports: Mutex<HashMap<PathBuf, (FileStamp, Arc<String>)>>,
}

impl RunCache {
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
        if let Some((cached, s)) = lock(&self.summaries).get(&results)
            && *cached == st
        {
            return s.clone();
        }
        let summary = match read_records(run) {
            Ok(records) => RunSummary::from_records(run, &records, st.modified),
            Err(e) => {
                tracing::warn!(run = %run.name, error = %e, "failed to summarise run");
                let mut s = RunSummary::empty(run, st.modified);
                s.error = Some(e.to_string());
                s
            }
        };
        lock(&self.summaries).insert(results, (st, summary.clone()));
        summary
    }

    /// Summaries of every run under `root`.
    pub fn summaries(&self, root: &Path) -> Result<Vec<RunSummary>, DashboardError> {
        let runs = discover(root)?;
        let live: HashSet<PathBuf> = runs.iter().map(RunDir::results_path).collect();
        lock(&self.summaries).retain(|path, _| live.contains(path));
        Ok(runs.iter().map(|r| self.summary(r)).collect())
    }

    /// The run's report as one HTML page (`herd_report`'s self-contained page).
    pub fn report_html(&self, run: &RunDir) -> Result<Arc<String>, DashboardError> {
        let results = run.results_path();
        let st = stamp(&results).ok();
        if let Some(st) = st
            && let Some((cached, html)) = lock(&self.reports).get(&results)
            && *cached == st
        {
            return Ok(html.clone());
        }
        let report_err = |source| DashboardError::Report {
            run: run.name.clone(),
            source,
        };
        let started = std::time::Instant::now();
        let report = herd_report::build_report(&run.path, &herd_report::ReportOptions::default())
            .map_err(report_err)?;
        let html = Arc::new(report.to_html().map_err(report_err)?);
        tracing::debug!(run = %run.name, ms = started.elapsed().as_millis() as u64, "built report");
        if let Some(st) = st {
            let mut reports = lock(&self.reports);
            if reports.len() >= MAX_CACHED_REPORTS && !reports.contains_key(&results) {
                let oldest = reports
                    .iter()
                    .min_by_key(|(_, (s, _))| s.modified)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    reports.remove(&k);
                }
            }
            reports.insert(results, (st, html.clone()));
        }
        Ok(html)
    }
}

/// Locks a cache map; a panic while holding the lock cannot leave a map half-updated in a
/// way that matters (entries are replaced whole), so a poisoned lock is simply reused.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The inside of a full HTML page's `<body>` (the whole text when there is no body tag),
/// so a report page can be embedded in ours.
pub fn body_of(html: &str) -> &str {
    let Some(open) = html.find("<body") else {
        return html;
    };
    let Some(start) = html[open..].find('>').map(|i| open + i + 1) else {
        return html;
    };
    match html.rfind("</body>") {
        Some(end) if end >= start => &html[start..end],
        _ => &html[start..],
    }
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

    #[test]
    fn body_is_cut_out_of_a_page() {
        assert_eq!(
            body_of("<html><head></head><body class=\"x\"><h1>r</h1></body></html>"),
            "<h1>r</h1>"
        );
        assert_eq!(body_of("<p>plain</p>"), "<p>plain</p>");
    }
}
