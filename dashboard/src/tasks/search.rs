//! Full-text search over tasks: each task's searchable text (answers, question, thoughts,
//! code, observations) lowercased, cut to a per-task cap and kept in one buffer, scanned
//! with `memchr::memmem` on every core; several words must all appear.

use std::ops::Range;

use herd_core::trajectory::Trajectory;
use memchr::memmem::Finder;
use serde::Deserialize;

use super::columns::{Bitset, cut};

/// Separates tasks in the buffer; removed from texts and queries so no match spans two tasks.
const SEP: u8 = 0;
/// Most text kept per task.
pub const MAX_TEXT_PER_TASK: usize = 16 * 1024;
/// Least text kept per task, however many tasks there are.
pub const MIN_TEXT_PER_TASK: usize = 1024;
/// Text kept for a whole task set: the per-task cap shrinks from 16 KiB once a set
/// holds more than 64 Ki tasks (1 KiB per task at a million).
pub const TEXT_BUDGET: usize = 1 << 30;
/// Longest search query accepted (characters).
pub const MAX_QUERY_CHARS: usize = 200;
/// Below this much text a search runs on one thread.
const PARALLEL_BYTES: usize = 32 << 20;

/// How much searchable text a task set keeps per task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchCaps {
    /// Bytes of lowercased text kept per task (the start of its text).
    pub per_task: usize,
}

impl SearchCaps {
    /// Caps for a set expected to hold `tasks` tasks: 16 KiB each, less once the set
    /// would pass [`TEXT_BUDGET`] (each task's separator byte counted, so the buffer
    /// never grows past the budget into its next doubling), never under 1 KiB.
    pub fn for_tasks(tasks: usize) -> Self {
        SearchCaps {
            per_task: (TEXT_BUDGET / tasks.max(1))
                .saturating_sub(1)
                .clamp(MIN_TEXT_PER_TASK, MAX_TEXT_PER_TASK),
        }
    }
}

impl Default for SearchCaps {
    fn default() -> Self {
        SearchCaps {
            per_task: MAX_TEXT_PER_TASK,
        }
    }
}

/// The searchable text of a trajectory, in reading order: the question (task prompt), then
/// each step's thought, code and observation. Stops once `max_bytes` are collected.
pub fn trajectory_text(t: &Trajectory, max_bytes: usize) -> String {
    let mut parts = TextParts::new(max_bytes);
    parts.add(&t.task_prompt);
    for s in &t.steps {
        if parts.full() {
            break;
        }
        parts.add(&s.thought);
        parts.add(&s.code);
        parts.add(&s.observation);
    }
    parts.out
}

/// The same text from a trajectory's JSON (`trajectories/<key>.json.gz` decompressed, or
/// a trajectory received over gRPC), reading only the fields searched.
pub fn trajectory_text_from_json(json: &[u8], max_bytes: usize) -> serde_json::Result<String> {
    let t: SearchedFields = serde_json::from_slice(json)?;
    Ok(t.text(max_bytes))
}

/// As [`trajectory_text_from_json`], from a reader (a gzip decoder over a file).
pub fn trajectory_text_from_reader(
    reader: impl std::io::Read,
    max_bytes: usize,
) -> serde_json::Result<String> {
    let t: SearchedFields = serde_json::from_reader(reader)?;
    Ok(t.text(max_bytes))
}

#[derive(Deserialize)]
struct SearchedFields {
    #[serde(default)]
    task_prompt: String,
    #[serde(default)]
    steps: Vec<SearchedStep>,
}

#[derive(Deserialize)]
struct SearchedStep {
    #[serde(default)]
    thought: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    observation: String,
}

impl SearchedFields {
    fn text(&self, max_bytes: usize) -> String {
        let mut parts = TextParts::new(max_bytes);
        parts.add(&self.task_prompt);
        for s in &self.steps {
            parts.add(&s.thought);
            parts.add(&s.code);
            parts.add(&s.observation);
        }
        parts.out
    }
}

/// Newline-joined parts up to a byte cap.
struct TextParts {
    out: String,
    max: usize,
}

impl TextParts {
    fn new(max: usize) -> Self {
        TextParts {
            out: String::new(),
            max,
        }
    }

    fn full(&self) -> bool {
        self.out.len() >= self.max
    }

    fn add(&mut self, part: &str) {
        if part.is_empty() || self.full() {
            return;
        }
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        let room = self.max.saturating_sub(self.out.len());
        self.out.push_str(cut(part, room));
    }
}

/// Every task's lowercased text in one buffer, `SEP` after each.
#[derive(Debug, Default, Clone)]
pub struct SearchIndex {
    text: Vec<u8>,
    /// End (exclusive, before the separator) of each task's text.
    ends: Vec<usize>,
}

impl SearchIndex {
    /// Appends one task's text from its parts, lowercased, cut to `cap` bytes in all.
    pub fn push<'a>(&mut self, parts: impl IntoIterator<Item = &'a str>, cap: usize) {
        let start = self.text.len();
        let mut buf = [0u8; 4];
        'parts: for (i, part) in parts.into_iter().filter(|p| !p.is_empty()).enumerate() {
            if i > 0 {
                if self.text.len() - start + 1 > cap {
                    break;
                }
                self.text.push(b'\n');
            }
            for c in part.chars() {
                if c.is_ascii() {
                    if self.text.len() - start + 1 > cap {
                        break 'parts;
                    }
                    let b = c as u8;
                    self.text.push(if b == SEP {
                        b' '
                    } else {
                        b.to_ascii_lowercase()
                    });
                    continue;
                }
                for l in c.to_lowercase() {
                    let l = if l == SEP as char { ' ' } else { l };
                    let bytes = l.encode_utf8(&mut buf).as_bytes();
                    if self.text.len() - start + bytes.len() > cap {
                        break 'parts;
                    }
                    self.text.extend_from_slice(bytes);
                }
            }
        }
        self.ends.push(self.text.len());
        self.text.push(SEP);
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    fn start(&self, row: usize) -> usize {
        if row == 0 { 0 } else { self.ends[row - 1] + 1 }
    }

    /// The lowercased text kept for `row`.
    pub fn row_text(&self, row: usize) -> &[u8] {
        &self.text[self.start(row)..self.ends[row]]
    }

    /// Rows whose text holds every word of `query` (see [`normalize_query`]); `None` when
    /// the query has no words.
    pub fn search(&self, query: &str) -> Option<Bitset> {
        let words = query_words(query);
        let (first, rest) = words.split_first()?;
        let mut rows = self.scan_all(first.as_bytes());
        for w in rest {
            let f = Finder::new(w.as_bytes());
            rows.retain(|&r| f.find(self.row_text(r as usize)).is_some());
        }
        let mut set = Bitset::new(self.len());
        for r in rows {
            set.set(r as usize);
        }
        Some(set)
    }

    /// Rows holding `needle`, in order, scanning the buffer on up to one thread per core.
    fn scan_all(&self, needle: &[u8]) -> Vec<u32> {
        let n = self.len();
        let threads = if self.text.len() < PARALLEL_BYTES {
            1
        } else {
            std::thread::available_parallelism().map_or(1, |p| p.get().min(8))
        };
        if threads <= 1 || n < threads {
            return self.scan(needle, 0..n);
        }
        let chunk = n.div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .step_by(chunk)
                .map(|lo| {
                    let hi = (lo + chunk).min(n);
                    s.spawn(move || self.scan(needle, lo..hi))
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        })
    }

    /// Rows in `rows` holding `needle`: one pass over their text, jumping to the next row
    /// after each hit.
    fn scan(&self, needle: &[u8], rows: Range<usize>) -> Vec<u32> {
        let mut hits = Vec::new();
        if rows.is_empty() {
            return hits;
        }
        let finder = Finder::new(needle);
        let end = self.ends[rows.end - 1];
        let mut pos = self.start(rows.start);
        while pos < end {
            let Some(i) = finder.find(&self.text[pos..end]) else {
                break;
            };
            let at = pos + i;
            let row = self.ends.partition_point(|&e| e < at + needle.len());
            hits.push(row as u32);
            pos = self.ends[row] + 1;
        }
        hits
    }

    pub fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * std::mem::size_of::<usize>()
    }
}

/// A query as searched: lowercased, separators removed, cut to [`MAX_QUERY_CHARS`], words
/// split on whitespace and joined by one space.
pub fn normalize_query(query: &str) -> String {
    let lower: String = query
        .chars()
        .take(MAX_QUERY_CHARS)
        .flat_map(char::to_lowercase)
        .filter(|&c| c != SEP as char)
        .collect();
    lower.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn query_words(query: &str) -> Vec<String> {
    let mut words: Vec<String> = normalize_query(query)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    // The longest word first: it is usually the rarest, so the full scan finds fewest rows.
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    words.dedup();
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(texts: &[&str], cap: usize) -> SearchIndex {
        let mut ix = SearchIndex::default();
        for t in texts {
            ix.push([*t], cap);
        }
        ix
    }

    fn hits(ix: &SearchIndex, q: &str) -> Vec<usize> {
        let set = ix.search(q).expect("words");
        (0..ix.len()).filter(|&r| set.contains(r)).collect()
    }

    #[test]
    fn finds_every_word_case_insensitively_within_one_task() {
        let ix = index(
            &["Alpha beta", "GAMMA", "beta alpha gamma", "Ünïcode Straße"],
            1024,
        );
        assert_eq!(hits(&ix, "alpha"), [0, 2]);
        assert_eq!(hits(&ix, "  BETA   alpha "), [0, 2]);
        assert_eq!(hits(&ix, "gamma"), [1, 2]);
        assert_eq!(hits(&ix, "ÜNÏCODE"), [3]);
        // "beta" ends task 0 and "gamma" starts task 1: no match across the boundary.
        assert_eq!(hits(&ix, "betagamma"), Vec::<usize>::new());
        assert_eq!(hits(&ix, "a\0g"), Vec::<usize>::new());
        assert!(ix.search("   ").is_none());
    }

    #[test]
    fn text_is_cut_to_the_cap() {
        let ix = index(&["0123456789needle"], 10);
        assert_eq!(ix.row_text(0), b"0123456789");
        assert!(hits(&ix, "needle").is_empty());
        assert_eq!(SearchCaps::for_tasks(1).per_task, MAX_TEXT_PER_TASK);
        assert_eq!(SearchCaps::for_tasks(1 << 20).per_task, 1024);
        // A million tasks: text and separators fit the budget exactly, not one byte over
        // (one more would double the buffer's capacity to 2 GiB).
        let n = 1_000_000;
        assert!(n * (SearchCaps::for_tasks(n).per_task + 1) <= TEXT_BUDGET);
        assert!(SearchCaps::for_tasks(n).per_task > MIN_TEXT_PER_TASK);
        assert_eq!(
            SearchCaps::for_tasks(usize::MAX).per_task,
            MIN_TEXT_PER_TASK
        );
    }

    #[test]
    fn parallel_and_serial_scans_agree() {
        let texts: Vec<String> = (0..10_000)
            .map(|i| format!("task {i} {}", if i % 7 == 0 { "needle" } else { "hay" }))
            .collect();
        let mut ix = SearchIndex::default();
        for t in &texts {
            ix.push([t.as_str()], 64);
        }
        let serial = ix.scan(b"needle", 0..ix.len());
        let mut parallel = Vec::new();
        for lo in (0..ix.len()).step_by(3001) {
            parallel.extend(ix.scan(b"needle", lo..(lo + 3001).min(ix.len())));
        }
        assert_eq!(serial, parallel);
        assert_eq!(serial.len(), 10_000usize.div_ceil(7));
    }

    #[test]
    fn trajectory_text_reads_prompt_and_steps() {
        let json = br#"{"task_prompt":"What is 6*7?","steps":[{"thought":"multiply","code":"print(6*7)","observation":"42","index":0}],"other":1}"#;
        let t = trajectory_text_from_json(json, 1000).expect("json");
        assert_eq!(t, "What is 6*7?\nmultiply\nprint(6*7)\n42");
        assert_eq!(trajectory_text_from_json(json, 4).expect("json"), "What");
    }
}
