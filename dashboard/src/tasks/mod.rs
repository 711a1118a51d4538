//! A run's (or a live sweep's) tasks held compactly for browsing at scale: interned
//! columns, string arenas and a search buffer, with filtered views, search hits, sort
//! ranks and comparisons cached until the set changes. A million tasks fit in about a
//! gigabyte, and a page, a search or a comparison over them takes tens of milliseconds.

mod columns;
mod query;
mod search;
mod select;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use herd_core::ResultRecord;
use rustc_hash::FxHashMap;
use serde::Serialize;

pub use columns::Bitset;
pub(crate) use columns::Dict;
pub(crate) use columns::NONE;
use columns::{OptStrs, Strs};
pub use query::{DEFAULT_PER_PAGE, FACETS, Facet, MAX_PER_PAGE, SortKey, TaskQuery};
pub use search::{
    MAX_TEXT_PER_TASK, SearchCaps, TEXT_BUDGET, trajectory_text, trajectory_text_from_json,
    trajectory_text_from_reader,
};
pub use select::{FacetCounts, FacetValue, TaskPage};

/// Longest answer, gold answer or error message kept for the table (bytes); the task
/// page reads the full row from the results file.
pub const MAX_DISPLAY_BYTES: usize = 512;

/// One interned column.
#[derive(Debug, Default, Clone)]
struct Interned {
    dict: Dict,
    ids: Vec<u32>,
}

/// A set of tasks: one row per result record, in the order pushed.
#[derive(Default)]
pub struct TaskSet {
    caps: SearchCaps,
    keys: Strs,
    items: Interned,
    facets: [Interned; FACETS],
    epoch: Vec<u32>,
    steps: Vec<u32>,
    llm_calls: Vec<u32>,
    attempts: Vec<u32>,
    prompt_tokens: Vec<u64>,
    completion_tokens: Vec<u64>,
    cost_usd: Vec<f64>,
    wall_ms: Vec<u64>,
    finished_seq: Vec<u64>,
    answer: OptStrs,
    extracted: OptStrs,
    gold: OptStrs,
    error_message: OptStrs,
    has_trajectory: Vec<bool>,
    training: Vec<bool>,
    search: search::SearchIndex,
    cache: Cache,
}

impl std::fmt::Debug for TaskSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskSet")
            .field("tasks", &self.len())
            .field("caps", &self.caps)
            .finish_non_exhaustive()
    }
}

impl TaskSet {
    /// An empty set keeping up to `caps.per_task` bytes of search text per task.
    pub fn new(caps: SearchCaps) -> Self {
        TaskSet {
            caps,
            ..TaskSet::default()
        }
    }

    /// A set of `records`, where `trajectories[i]` is the searchable text of record `i`'s
    /// trajectory ([`trajectory_text`]), `None` when it has none. Search text is capped per
    /// task by [`SearchCaps::for_tasks`].
    pub fn from_records(records: &[ResultRecord], trajectories: &[Option<String>]) -> Self {
        let mut set = TaskSet::new(SearchCaps::for_tasks(records.len()));
        set.reserve(records.len());
        for (i, r) in records.iter().enumerate() {
            set.push(r, trajectories.get(i).and_then(|t| t.as_deref()));
        }
        set
    }

    /// Makes room for `additional` more tasks.
    pub fn reserve(&mut self, additional: usize) {
        self.items.ids.reserve(additional);
        for f in &mut self.facets {
            f.ids.reserve(additional);
        }
        self.epoch.reserve(additional);
        self.steps.reserve(additional);
        self.llm_calls.reserve(additional);
        self.attempts.reserve(additional);
        self.prompt_tokens.reserve(additional);
        self.completion_tokens.reserve(additional);
        self.cost_usd.reserve(additional);
        self.wall_ms.reserve(additional);
        self.finished_seq.reserve(additional);
        self.has_trajectory.reserve(additional);
        self.training.reserve(additional);
    }

    /// Appends one task. `trajectory` is the searchable text of its trajectory
    /// ([`trajectory_text`]), `None` when the task has no trajectory (its row then links
    /// to none). Cached views are dropped.
    pub fn push(&mut self, r: &ResultRecord, trajectory: Option<&str>) {
        self.cache = Cache::default();
        self.keys.push(&r.task_key);
        self.items.ids.push(self.items.dict.intern(&r.item_id));
        for f in Facet::ALL {
            let col = &mut self.facets[f.index()];
            let id = match f {
                Facet::Status => col.dict.intern(&r.status),
                Facet::Correct => r.correct.map_or(NONE, u32::from),
                Facet::Benchmark => col.dict.intern(&r.benchmark),
                Facet::Split => col.dict.intern(&r.split),
                Facet::Backbone => col.dict.intern(&r.backbone),
                Facet::Arm => col.dict.intern(&r.arm),
                Facet::Level => col.dict.intern_opt(r.level.as_deref()),
                Facet::Subject => col.dict.intern_opt(r.subject.as_deref()),
                Facet::End => col.dict.intern(&r.end_reason),
                Facet::Error => col.dict.intern_opt(r.error_kind.as_deref()),
            };
            col.ids.push(id);
        }
        self.epoch.push(r.epoch);
        self.steps.push(r.steps);
        self.llm_calls.push(r.llm_calls);
        self.attempts.push(r.attempts);
        self.prompt_tokens.push(r.prompt_tokens);
        self.completion_tokens.push(r.completion_tokens);
        self.cost_usd.push(r.cost_usd);
        self.wall_ms.push(r.wall_ms);
        self.finished_seq.push(r.finished_seq);
        self.answer.push(r.answer.as_deref(), MAX_DISPLAY_BYTES);
        self.extracted
            .push(r.extracted_answer.as_deref(), MAX_DISPLAY_BYTES);
        self.gold.push(r.gold_answer.as_deref(), MAX_DISPLAY_BYTES);
        self.error_message
            .push(r.error_message.as_deref(), MAX_DISPLAY_BYTES);
        self.has_trajectory.push(trajectory.is_some());
        self.training.push(r.is_training_phase());
        self.search.push(
            [
                r.item_id.as_str(),
                opt(&r.answer),
                opt(&r.extracted_answer),
                opt(&r.gold_answer),
                opt(&r.error_message),
                trajectory.unwrap_or(""),
            ],
            self.caps.per_task,
        );
    }

    pub fn len(&self) -> usize {
        self.epoch.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn caps(&self) -> SearchCaps {
        self.caps
    }

    /// Approximate memory held (bytes), caches excluded.
    pub fn heap_bytes(&self) -> usize {
        let n = self.epoch.capacity();
        let interned = |c: &Interned| c.dict.heap_bytes() + c.ids.capacity() * 4;
        self.keys.heap_bytes()
            + interned(&self.items)
            + self.facets.iter().map(interned).sum::<usize>()
            + n * (4 * 4 + 8 * 5 + 2)
            + self.answer.heap_bytes()
            + self.extracted.heap_bytes()
            + self.gold.heap_bytes()
            + self.error_message.heap_bytes()
            + self.search.heap_bytes()
    }

    /// The row of task `key`, if present (a linear scan).
    pub fn find_key(&self, key: &str) -> Option<usize> {
        (0..self.len()).find(|&r| self.keys.get(r) == key)
    }

    /// The distinct values of a facet, sorted (`correct`: `false`, `true`).
    pub fn facet_values(&self, f: Facet) -> Vec<String> {
        if f == Facet::Correct {
            return vec!["false".to_string(), "true".to_string()];
        }
        let dict = &self.facets[f.index()].dict;
        let mut v: Vec<String> = (0..dict.len() as u32)
            .map(|id| dict.get(id).to_string())
            .collect();
        v.sort();
        v
    }

    /// The value a facet id stands for (`None` for [`NONE`]). `correct` has fixed ids:
    /// 0 = false, 1 = true.
    pub(crate) fn facet_label(&self, f: Facet, id: u32) -> Option<&str> {
        match (f, id) {
            (_, NONE) => None,
            (Facet::Correct, 0) => Some("false"),
            (Facet::Correct, _) => Some("true"),
            _ => Some(self.facets[f.index()].dict.get(id)),
        }
    }

    /// The id a facet filter value selects: [`NONE`] for the facet's none value, `None`
    /// when no task has the value.
    pub(crate) fn facet_lookup(&self, f: Facet, value: &str) -> Option<u32> {
        if value == f.none_value() {
            return Some(NONE);
        }
        match f {
            Facet::Correct => match value {
                "false" => Some(0),
                "true" => Some(1),
                _ => None,
            },
            _ => self.facets[f.index()].dict.find(value),
        }
    }

    /// The row's task as an owned record for pages and JSON.
    pub fn row(&self, r: usize) -> TaskRow {
        let facet = |f: Facet| {
            let c = &self.facets[f.index()];
            c.dict.opt(c.ids[r]).map(str::to_string)
        };
        let text = |f: Facet| facet(f).unwrap_or_default();
        TaskRow {
            row: r,
            key: self.keys.get(r).to_string(),
            item_id: self.items.dict.get(self.items.ids[r]).to_string(),
            benchmark: text(Facet::Benchmark),
            split: text(Facet::Split),
            backbone: text(Facet::Backbone),
            arm: text(Facet::Arm),
            epoch: self.epoch[r],
            level: facet(Facet::Level),
            subject: facet(Facet::Subject),
            status: text(Facet::Status),
            correct: self.correct(r),
            answer: self.answer.get(r).map(str::to_string),
            extracted_answer: self.extracted.get(r).map(str::to_string),
            gold_answer: self.gold.get(r).map(str::to_string),
            end_reason: text(Facet::End),
            error_kind: facet(Facet::Error),
            error_message: self.error_message.get(r).map(str::to_string),
            steps: self.steps[r],
            llm_calls: self.llm_calls[r],
            prompt_tokens: self.prompt_tokens[r],
            completion_tokens: self.completion_tokens[r],
            cost_usd: self.cost_usd[r],
            wall_ms: self.wall_ms[r],
            attempts: self.attempts[r],
            finished_seq: self.finished_seq[r],
            has_trajectory: self.has_trajectory[r],
            training: self.training[r],
        }
    }

    pub(crate) fn key(&self, r: usize) -> &str {
        self.keys.get(r)
    }

    pub(crate) fn correct(&self, r: usize) -> Option<bool> {
        match self.facets[Facet::Correct.index()].ids[r] {
            NONE => None,
            id => Some(id == 1),
        }
    }

    pub(crate) fn has_trajectory(&self, r: usize) -> bool {
        self.has_trajectory[r]
    }

    pub(crate) fn is_training(&self, r: usize) -> bool {
        self.training[r]
    }

    pub(crate) fn epoch(&self, r: usize) -> u32 {
        self.epoch[r]
    }

    pub(crate) fn item_id(&self, r: usize) -> u32 {
        self.items.ids[r]
    }

    pub(crate) fn item_dict(&self) -> &Dict {
        &self.items.dict
    }

    pub(crate) fn facet_id(&self, f: Facet, r: usize) -> u32 {
        self.facets[f.index()].ids[r]
    }

    pub(crate) fn facet_dict(&self, f: Facet) -> &Dict {
        &self.facets[f.index()].dict
    }

    /// The grade of a scored task (`None` for any other status, or no gold answer), the
    /// same rule as the report's: a failed task is never a wrong answer.
    pub(crate) fn graded(&self, r: usize, scored_id: Option<u32>) -> Option<bool> {
        match scored_id {
            Some(id) if self.facets[Facet::Status.index()].ids[r] == id => self.correct(r),
            _ => None,
        }
    }

    /// The status id of `scored`, if any task has it.
    pub(crate) fn scored_id(&self) -> Option<u32> {
        self.facet_dict(Facet::Status)
            .find(herd_core::Status::Scored.as_str())
    }

    /// A cached comparison, or `make`'s (then cached).
    pub(crate) fn cached_pairing(
        &self,
        key: &str,
        make: impl FnOnce() -> crate::compare::Pairing,
    ) -> Arc<crate::compare::Pairing> {
        if let Some(p) = lock(&self.cache.pairs).get(key) {
            return p;
        }
        let p = Arc::new(make());
        lock(&self.cache.pairs).put(key.to_string(), p.clone());
        p
    }
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

/// One task as the table and the JSON API show it. Answers and error messages are cut to
/// [`MAX_DISPLAY_BYTES`].
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TaskRow {
    /// The row in its set.
    #[serde(skip)]
    pub row: usize,
    pub key: String,
    pub item_id: String,
    pub benchmark: String,
    pub split: String,
    pub backbone: String,
    pub arm: String,
    pub epoch: u32,
    pub level: Option<String>,
    pub subject: Option<String>,
    pub status: String,
    pub correct: Option<bool>,
    pub answer: Option<String>,
    pub extracted_answer: Option<String>,
    pub gold_answer: Option<String>,
    pub end_reason: String,
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
    pub steps: u32,
    pub llm_calls: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    pub wall_ms: u64,
    pub attempts: u32,
    pub finished_seq: u64,
    pub has_trajectory: bool,
    /// A train-then-test arm's training-phase task.
    pub training: bool,
}

/// A few most recently used values by key.
struct Lru<T> {
    entries: VecDeque<(String, T)>,
}

impl<T> Default for Lru<T> {
    fn default() -> Self {
        Lru {
            entries: VecDeque::new(),
        }
    }
}

const LRU_ENTRIES: usize = 8;

impl<T: Clone> Lru<T> {
    fn get(&mut self, key: &str) -> Option<T> {
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        let e = self.entries.remove(i)?;
        let v = e.1.clone();
        self.entries.push_front(e);
        Some(v)
    }

    fn put(&mut self, key: String, value: T) {
        self.entries.retain(|(k, _)| *k != key);
        self.entries.push_front((key, value));
        self.entries.truncate(LRU_ENTRIES);
    }
}

/// What a set computes once and reuses until it changes.
#[derive(Default)]
struct Cache {
    ranks: Mutex<FxHashMap<SortKey, Arc<Vec<u32>>>>,
    searches: Mutex<Lru<Arc<Bitset>>>,
    selections: Mutex<Lru<Arc<select::Selection>>>,
    pairs: Mutex<Lru<Arc<crate::compare::Pairing>>>,
}

/// Locks a cache; a poisoned lock only means a panic elsewhere, and entries are replaced
/// whole, so it is reused.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
pub(crate) mod tests;
