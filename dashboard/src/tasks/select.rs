//! Answering a [`TaskQuery`] over a [`TaskSet`]: one pass filters the rows and counts
//! every facet (each facet counted under the other facets' filters, so its select offers
//! what narrowing it would give), then a partial sort (`select_nth_unstable`) puts just
//! the requested page in order.

use std::sync::Arc;

use serde::Serialize;

use super::columns::{Bitset, NONE};
use super::query::{FACETS, Facet, SortKey, TaskQuery};
use super::{TaskRow, TaskSet, lock};

/// The filter value and label of an empty string.
pub const EMPTY_VALUE: &str = "(empty)";

/// One value of a facet, with how many tasks it would select.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FacetValue {
    /// The filter parameter's value.
    pub value: String,
    /// Tasks with this value that pass every other filter (and the search).
    pub count: u64,
    pub selected: bool,
}

/// The values of one facet.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FacetCounts {
    pub facet: Facet,
    pub values: Vec<FacetValue>,
}

/// The rows a query's filters and search select, and the facet counts around them.
#[derive(Debug)]
pub(crate) struct Selection {
    rows: Vec<u32>,
    facets: Vec<FacetCounts>,
}

/// One page of a task table.
#[derive(Debug, Clone, Serialize)]
pub struct TaskPage {
    /// Tasks in the set.
    pub total: usize,
    /// Tasks passing the filters and search.
    pub matched: usize,
    /// 1-based, clamped to the last page.
    pub page: usize,
    pub pages: usize,
    pub per: usize,
    pub tasks: Vec<TaskRow>,
    pub facets: Vec<FacetCounts>,
}

impl TaskSet {
    /// The page `q` asks for: filtered, searched, sorted and cut.
    pub fn page(&self, q: &TaskQuery) -> TaskPage {
        let sel = self.selection(q);
        let matched = sel.rows.len();
        let per = q.per.max(1);
        let pages = matched.div_ceil(per).max(1);
        let page = q.page.clamp(1, pages);
        let start = (page - 1) * per;
        let end = (start + per).min(matched);
        let rows = self.sorted_window(&sel.rows, q.sort, q.desc, start, end);
        TaskPage {
            total: self.len(),
            matched,
            page,
            pages,
            per,
            tasks: rows.into_iter().map(|r| self.row(r as usize)).collect(),
            facets: sel.facets.clone(),
        }
    }

    /// Rows holding every word of `query` in their search text; `None` for an empty query.
    pub fn search(&self, query: &str) -> Option<Arc<Bitset>> {
        let key = super::search::normalize_query(query);
        if key.is_empty() {
            return None;
        }
        if let Some(hit) = lock(&self.cache.searches).get(&key) {
            return Some(hit);
        }
        let hits = Arc::new(self.search.search(&key)?);
        lock(&self.cache.searches).put(key, hits.clone());
        Some(hits)
    }

    fn selection(&self, q: &TaskQuery) -> Arc<Selection> {
        let key = q.selection_key();
        if let Some(s) = lock(&self.cache.selections).get(&key) {
            return s;
        }
        let hits = q.q.as_deref().and_then(|text| self.search(text));
        let sel = Arc::new(self.select(q, hits.as_deref()));
        lock(&self.cache.selections).put(key, sel.clone());
        sel
    }

    /// Number of count slots of a facet: one per id, and one for "none".
    fn slots(&self, f: Facet) -> usize {
        match f {
            Facet::Correct => 3,
            _ => self.facet_dict(f).len() + 1,
        }
    }

    // One row index reads every column; iterating one column would hide that.
    #[allow(clippy::needless_range_loop)]
    fn select(&self, q: &TaskQuery, hits: Option<&Bitset>) -> Selection {
        // The id each filtered facet must have; a value no task has can match nothing.
        const NO_MATCH: u32 = NONE - 1;
        let active: Vec<(usize, u32)> = Facet::ALL
            .iter()
            .filter_map(|&f| {
                let v = q.filter(f)?;
                let v = if v == EMPTY_VALUE { "" } else { v };
                Some((f.index(), self.facet_lookup(f, v).unwrap_or(NO_MATCH)))
            })
            .collect();
        let cols: Vec<&[u32]> = Facet::ALL
            .iter()
            .map(|&f| self.facets[f.index()].ids.as_slice())
            .collect();
        let mut counts: Vec<Vec<u64>> =
            Facet::ALL.iter().map(|&f| vec![0; self.slots(f)]).collect();
        let slot = |counts: &Vec<u64>, id: u32| {
            if id == NONE {
                counts.len() - 1
            } else {
                (id as usize).min(counts.len() - 1)
            }
        };
        let mut rows = Vec::new();
        for r in 0..self.len() {
            if hits.is_some_and(|h| !h.contains(r)) {
                continue;
            }
            let (mut fails, mut failed) = (0, 0);
            for &(f, want) in &active {
                if cols[f][r] != want {
                    fails += 1;
                    failed = f;
                    if fails > 1 {
                        break;
                    }
                }
            }
            match fails {
                0 => {
                    rows.push(r as u32);
                    for f in 0..FACETS {
                        let s = slot(&counts[f], cols[f][r]);
                        counts[f][s] += 1;
                    }
                }
                1 => {
                    let s = slot(&counts[failed], cols[failed][r]);
                    counts[failed][s] += 1;
                }
                _ => {}
            }
        }
        let facets = Facet::ALL
            .iter()
            .map(|&f| self.facet_counts(f, &counts[f.index()], q.filter(f)))
            .collect();
        Selection { rows, facets }
    }

    fn facet_counts(&self, f: Facet, counts: &[u64], selected: Option<&str>) -> FacetCounts {
        let mut values: Vec<FacetValue> = counts
            .iter()
            .enumerate()
            .filter(|&(_, &c)| c > 0)
            .map(|(slot, &count)| {
                let id = if slot == counts.len() - 1 {
                    NONE
                } else {
                    slot as u32
                };
                let value = match self.facet_label(f, id) {
                    None => f.none_value().to_string(),
                    Some("") => EMPTY_VALUE.to_string(),
                    Some(v) => v.to_string(),
                };
                FacetValue {
                    selected: selected == Some(value.as_str()),
                    value,
                    count,
                }
            })
            .collect();
        values.sort_by(|a, b| a.value.cmp(&b.value));
        if let Some(sel) = selected
            && !values.iter().any(|v| v.selected)
        {
            values.push(FacetValue {
                value: sel.to_string(),
                count: 0,
                selected: true,
            });
        }
        FacetCounts { facet: f, values }
    }

    /// `rows` (in set order) sorted by `key`, positions `start..end` only.
    fn sorted_window(
        &self,
        rows: &[u32],
        key: SortKey,
        desc: bool,
        start: usize,
        end: usize,
    ) -> Vec<u32> {
        if start >= end {
            return Vec::new();
        }
        if key == SortKey::Row {
            return if desc {
                rows.iter()
                    .rev()
                    .skip(start)
                    .take(end - start)
                    .copied()
                    .collect()
            } else {
                rows[start..end].to_vec()
            };
        }
        let sort_key = self.sort_key(key);
        let mut keyed: Vec<(u64, u32)> = rows
            .iter()
            .map(|&r| {
                let k = sort_key(r as usize);
                (if desc { !k } else { k }, r)
            })
            .collect();
        if start > 0 {
            keyed.select_nth_unstable(start);
        }
        let tail = &mut keyed[start..];
        let len = end - start;
        if tail.len() > len {
            tail.select_nth_unstable(len - 1);
        }
        let window = &mut tail[..len];
        window.sort_unstable();
        window.iter().map(|&(_, r)| r).collect()
    }

    /// A row's position under `key` as a number (ties broken by row by the caller).
    fn sort_key(&self, key: SortKey) -> Box<dyn Fn(usize) -> u64 + '_> {
        match key {
            SortKey::Row => Box::new(move |r| r as u64),
            SortKey::Item => {
                let ranks = self.ranks(key);
                Box::new(move |r| u64::from(ranks[self.items.ids[r] as usize]))
            }
            SortKey::Key => {
                let ranks = self.ranks(key);
                Box::new(move |r| u64::from(ranks[r]))
            }
            SortKey::Facet(f) => {
                let ranks = self.ranks(key);
                let ids = &self.facets[f.index()].ids;
                Box::new(move |r| match ids[r] {
                    NONE => u64::MAX,
                    id => u64::from(ranks.get(id as usize).copied().unwrap_or(u32::MAX)),
                })
            }
            SortKey::Epoch => Box::new(move |r| u64::from(self.epoch[r])),
            SortKey::Steps => Box::new(move |r| u64::from(self.steps[r])),
            SortKey::Calls => Box::new(move |r| u64::from(self.llm_calls[r])),
            SortKey::Attempts => Box::new(move |r| u64::from(self.attempts[r])),
            SortKey::Tokens => {
                Box::new(move |r| self.prompt_tokens[r].saturating_add(self.completion_tokens[r]))
            }
            SortKey::Cost => Box::new(move |r| f64_order(self.cost_usd[r])),
            SortKey::Wall => Box::new(move |r| self.wall_ms[r]),
            SortKey::Seq => Box::new(move |r| self.finished_seq[r]),
        }
    }

    /// Sort ranks for a string column: per id (items, facets) or per row (task keys).
    pub(crate) fn ranks(&self, key: SortKey) -> Arc<Vec<u32>> {
        let mut ranks = lock(&self.cache.ranks);
        ranks
            .entry(key)
            .or_insert_with(|| {
                Arc::new(match key {
                    SortKey::Item => self.items.dict.ranks(),
                    SortKey::Facet(Facet::Correct) => vec![0, 1],
                    SortKey::Facet(f) => self.facets[f.index()].dict.ranks(),
                    _ => {
                        let mut order: Vec<u32> = (0..self.len() as u32).collect();
                        order.sort_unstable_by(|&a, &b| {
                            self.keys.get(a as usize).cmp(self.keys.get(b as usize))
                        });
                        let mut ranks = vec![0; order.len()];
                        for (rank, r) in order.into_iter().enumerate() {
                            ranks[r as usize] = rank as u32;
                        }
                        ranks
                    }
                })
            })
            .clone()
    }
}

/// An `f64` as a `u64` with the same order (negative below positive, NaN last).
fn f64_order(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

#[cfg(test)]
mod tests {
    use super::f64_order;

    #[test]
    fn float_order_is_kept() {
        let xs = [-2.5, -0.0, 0.0, 1e-9, 3.0, f64::INFINITY];
        for w in xs.windows(2) {
            assert!(f64_order(w[0]) <= f64_order(w[1]), "{w:?}");
        }
    }
}
