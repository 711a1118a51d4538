//! What the dashboard keeps in memory per run, each entry valid until the run's results
//! file changes: its summary, its report model, its task set, and comparisons between
//! runs. Concurrent first requests for the same run wait for one load.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use herd_report::{Report, ReportOptions};

use crate::compare::Pairing;
use crate::error::DashboardError;
use crate::runs::{self, FileStamp, RunDir, Summaries, lock};
use crate::tasks::TaskSet;

/// Report models kept.
const MAX_REPORTS: usize = 16;
/// Task sets kept, at most.
const MAX_TASK_SETS: usize = 8;
/// Task sets beyond the most recently used one are dropped past this much memory.
const TASK_SET_BUDGET: usize = 2 << 30;
/// Cross-run comparisons kept.
const MAX_COMPARISONS: usize = 16;

/// One cached value, loaded once per file stamp.
struct Slot<T> {
    value: Mutex<Option<(FileStamp, Arc<T>)>>,
    used: AtomicU64,
}

/// The memory of one value, and the budget for all of them.
type Weigh<T> = (fn(&T) -> usize, usize);

/// Values per run path, least recently used dropped first.
struct Slots<T> {
    map: Mutex<HashMap<PathBuf, Arc<Slot<T>>>>,
    clock: AtomicU64,
    max: usize,
    /// Memory per value and the budget, when bounded by memory too.
    weigh: Option<Weigh<T>>,
}

impl<T> Slots<T> {
    fn new(max: usize, weigh: Option<Weigh<T>>) -> Self {
        Slots {
            map: Mutex::new(HashMap::new()),
            clock: AtomicU64::new(0),
            max,
            weigh,
        }
    }

    fn get(
        &self,
        key: &Path,
        stamp: FileStamp,
        load: impl FnOnce() -> Result<T, DashboardError>,
    ) -> Result<Arc<T>, DashboardError> {
        let slot = lock(&self.map)
            .entry(key.to_path_buf())
            .or_insert_with(|| {
                Arc::new(Slot {
                    value: Mutex::new(None),
                    used: AtomicU64::new(0),
                })
            })
            .clone();
        slot.used.store(
            self.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        let value = {
            let mut v = lock(&slot.value);
            match &*v {
                Some((st, value)) if *st == stamp => return Ok(value.clone()),
                _ => {
                    let value = Arc::new(load()?);
                    *v = Some((stamp, value.clone()));
                    value
                }
            }
        };
        self.evict(key);
        Ok(value)
    }

    /// Drops least recently used entries (never `keep`) past the count or memory bound.
    fn evict(&self, keep: &Path) {
        let mut map = lock(&self.map);
        loop {
            let weight: usize = match self.weigh {
                Some((weigh, _)) => map
                    .values()
                    .filter_map(|s| {
                        s.value
                            .try_lock()
                            .ok()
                            .and_then(|v| v.as_ref().map(|(_, v)| weigh(v)))
                    })
                    .sum(),
                None => 0,
            };
            let over_budget = self.weigh.is_some_and(|(_, budget)| weight > budget);
            if map.len() <= self.max && !over_budget {
                return;
            }
            let oldest = map
                .iter()
                .filter(|(k, _)| k.as_path() != keep)
                .min_by_key(|(_, s)| s.used.load(Ordering::Relaxed))
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => {
                    map.remove(&k);
                }
                None => return,
            }
        }
    }

    fn retain(&self, live: impl Fn(&Path) -> bool) {
        lock(&self.map).retain(|k, _| live(k));
    }
}

/// A comparison of two cached task sets, valid while both are.
struct CachedPairing {
    base: Weak<TaskSet>,
    other: Weak<TaskSet>,
    pairing: Arc<Pairing>,
}

/// Everything the dashboard caches about runs.
pub struct RunCache {
    pub summaries: Summaries,
    reports: Slots<Report>,
    tasks: Slots<TaskSet>,
    pairings: Mutex<VecDeque<CachedPairing>>,
}

impl Default for RunCache {
    fn default() -> Self {
        RunCache {
            summaries: Summaries::default(),
            reports: Slots::new(MAX_REPORTS, None),
            tasks: Slots::new(MAX_TASK_SETS, Some((TaskSet::heap_bytes, TASK_SET_BUDGET))),
            pairings: Mutex::new(VecDeque::new()),
        }
    }
}

/// Hands heap pages freed by a big build back to the kernel. Polars builds the report of
/// a million-row run on every core and frees most of what it used, but glibc keeps those
/// pages in its per-thread arenas, where they would count against the dashboard's memory
/// for as long as it runs.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only returns free pages of the heap to the kernel; it reads
    // and writes no memory of ours.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn results_stamp(run: &RunDir) -> Result<FileStamp, DashboardError> {
    runs::stamp(&run.results_path()).map_err(|_| DashboardError::RunNotFound(run.name.clone()))
}

impl RunCache {
    /// The run's report model (herd-report's, from its results and attempts frames).
    pub fn report(&self, run: &RunDir) -> Result<Arc<Report>, DashboardError> {
        self.reports.get(&run.results_path(), results_stamp(run)?, || {
            let started = std::time::Instant::now();
            // Only the columns the report uses are read (not answers, messages, metadata).
            let report = herd_report::build_report(&run.path, &ReportOptions::default())
                .map_err(|source| DashboardError::Report {
                    run: run.name.clone(),
                    source,
                })?;
            tracing::debug!(run = %run.name, ms = started.elapsed().as_millis() as u64, "built report");
            release_freed_memory();
            Ok(report)
        })
    }

    /// The run's tasks, with their trajectories' text for search.
    pub fn tasks(&self, run: &RunDir) -> Result<Arc<TaskSet>, DashboardError> {
        self.tasks
            .get(&run.results_path(), results_stamp(run)?, || {
                runs::load_task_set(run)
            })
    }

    /// A comparison of two task sets, computed by `make` once while both are cached.
    pub fn pairing(
        &self,
        base: &Arc<TaskSet>,
        other: &Arc<TaskSet>,
        make: impl FnOnce() -> Pairing,
    ) -> Arc<Pairing> {
        let found = lock(&self.pairings).iter().find_map(|c| {
            (Weak::ptr_eq(&c.base, &Arc::downgrade(base))
                && Weak::ptr_eq(&c.other, &Arc::downgrade(other))
                && c.base.strong_count() > 0
                && c.other.strong_count() > 0)
                .then(|| c.pairing.clone())
        });
        if let Some(p) = found {
            return p;
        }
        let pairing = Arc::new(make());
        let mut cached = lock(&self.pairings);
        cached.retain(|c| c.base.strong_count() > 0 && c.other.strong_count() > 0);
        cached.push_front(CachedPairing {
            base: Arc::downgrade(base),
            other: Arc::downgrade(other),
            pairing: pairing.clone(),
        });
        cached.truncate(MAX_COMPARISONS);
        pairing
    }

    /// Summaries of every run under `root`; forgets runs that are gone.
    pub fn summaries(&self, root: &Path) -> Result<Vec<crate::runs::RunSummary>, DashboardError> {
        let all = self.summaries.all(root)?;
        let live: std::collections::HashSet<PathBuf> = all
            .iter()
            .map(|s| PathBuf::from(&s.path).join("results.parquet"))
            .collect();
        self.reports.retain(|p| live.contains(p));
        self.tasks.retain(|p| live.contains(p));
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(n: u64) -> FileStamp {
        FileStamp {
            modified: std::time::UNIX_EPOCH,
            len: n,
        }
    }

    #[test]
    fn slots_load_once_per_stamp_and_evict_the_least_recently_used() {
        let slots: Slots<u64> = Slots::new(2, None);
        let loads = std::cell::Cell::new(0);
        let load = |v: u64| {
            let loads = &loads;
            move || {
                loads.set(loads.get() + 1);
                Ok(v)
            }
        };
        assert_eq!(*slots.get(Path::new("a"), stamp(1), load(1)).expect("a"), 1);
        assert_eq!(*slots.get(Path::new("a"), stamp(1), load(9)).expect("a"), 1);
        assert_eq!(*slots.get(Path::new("a"), stamp(2), load(2)).expect("a"), 2);
        slots.get(Path::new("b"), stamp(1), load(3)).expect("b");
        slots.get(Path::new("a"), stamp(2), load(9)).expect("a");
        slots.get(Path::new("c"), stamp(1), load(4)).expect("c");
        let mut keys: Vec<PathBuf> = lock(&slots.map).keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, [PathBuf::from("a"), PathBuf::from("c")]);
        assert_eq!(loads.get(), 4);
    }

    #[test]
    fn memory_bound_keeps_the_newest() {
        let slots: Slots<u64> = Slots::new(10, Some((|v: &u64| *v as usize, 100)));
        slots.get(Path::new("a"), stamp(1), || Ok(60)).expect("a");
        slots.get(Path::new("b"), stamp(1), || Ok(60)).expect("b");
        let keys: Vec<PathBuf> = lock(&slots.map).keys().cloned().collect();
        assert_eq!(keys, [PathBuf::from("b")]);
        slots.get(Path::new("c"), stamp(1), || Ok(500)).expect("c");
        let keys: Vec<PathBuf> = lock(&slots.map).keys().cloned().collect();
        assert_eq!(keys, [PathBuf::from("c")]);
    }
}
