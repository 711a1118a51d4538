//! Item selection: explicit ids, first-N / seeded random / stratified samples, and `K/N`
//! shards. Deterministic: the same items, config and seed always give the same selection.

use std::collections::{BTreeMap, BTreeSet};

use herd_core::config::{BenchmarkConfig, SampleMode};

use crate::error::DatasetError;
use crate::item::Item;
use crate::rng::{SplitMix64, derive_seed};

/// Parses `K/N` (0-based K < N).
pub fn parse_shard(s: &str) -> Result<(usize, usize), DatasetError> {
    let bad = || {
        DatasetError::Config(format!(
            "shard `{s}` must be `K/N` with 0 <= K < N, e.g. `0/4`"
        ))
    };
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let k: usize = k.trim().parse().map_err(|_| bad())?;
    let n: usize = n.trim().parse().map_err(|_| bad())?;
    if n == 0 || k >= n {
        return Err(bad());
    }
    Ok((k, n))
}

/// Keeps only the items with these ids (in file order); every id must exist.
pub fn filter_ids(items: Vec<Item>, ids: &[String]) -> Result<Vec<Item>, DatasetError> {
    if ids.is_empty() {
        return Ok(items);
    }
    let wanted: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    let have: BTreeSet<&str> = items.iter().map(|i| i.id.as_str()).collect();
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|id| !have.contains(*id))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(DatasetError::Config(format!(
            "`ids` lists items that are not in the benchmark: {}",
            missing.join(", ")
        )));
    }
    Ok(items
        .into_iter()
        .filter(|i| wanted.contains(i.id.as_str()))
        .collect())
}

/// Picks `limit` item positions per the sample mode; the result is in file order.
pub fn sample_indices(
    items: &[Item],
    mode: SampleMode,
    limit: Option<usize>,
    stratify_by: Option<&str>,
    seed: u64,
    label: &str,
) -> Result<Vec<usize>, DatasetError> {
    let n = items.len();
    let limit = limit.unwrap_or(n).min(n);
    let mut rng = SplitMix64::new(derive_seed(seed, &["sample", label]));
    let mut picked: Vec<usize> = match mode {
        SampleMode::First => (0..limit).collect(),
        SampleMode::Random => {
            let mut idx: Vec<usize> = (0..n).collect();
            rng.shuffle(&mut idx);
            idx.truncate(limit);
            idx
        }
        SampleMode::Stratified => {
            let key = stratify_by.ok_or_else(|| {
                DatasetError::Config(
                    "`sample = \"stratified\"` needs `stratify_by` (e.g. `level`)".into(),
                )
            })?;
            let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
            for (i, it) in items.iter().enumerate() {
                groups
                    .entry(it.meta(key).unwrap_or("(none)"))
                    .or_default()
                    .push(i);
            }
            let mut queues: Vec<Vec<usize>> = groups
                .into_values()
                .map(|mut g| {
                    rng.shuffle(&mut g);
                    g.reverse(); // pop() takes from the shuffled front
                    g
                })
                .collect();
            let mut out = Vec::with_capacity(limit);
            while out.len() < limit {
                let mut progressed = false;
                for q in queues.iter_mut() {
                    if out.len() >= limit {
                        break;
                    }
                    if let Some(i) = q.pop() {
                        out.push(i);
                        progressed = true;
                    }
                }
                if !progressed {
                    break;
                }
            }
            out
        }
    };
    picked.sort_unstable();
    Ok(picked)
}

/// Applies a config's `ids`, sample/limit and shard to loaded items.
pub fn select(
    items: Vec<Item>,
    cfg: &BenchmarkConfig,
    seed: u64,
    label: &str,
) -> Result<Vec<Item>, DatasetError> {
    let items = filter_ids(items, &cfg.ids)?;
    let idx = sample_indices(
        &items,
        cfg.sample,
        cfg.limit,
        cfg.stratify_by.as_deref(),
        seed,
        label,
    )?;
    let mut slots: Vec<Option<Item>> = items.into_iter().map(Some).collect();
    let mut chosen: Vec<Item> = idx.into_iter().filter_map(|i| slots[i].take()).collect();
    if let Some(shard) = &cfg.shard {
        let (k, n) = parse_shard(shard)?;
        chosen = chosen
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % n == k)
            .map(|(_, it)| it)
            .collect();
    }
    Ok(chosen)
}
