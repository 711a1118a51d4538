//! Sweep expansion: loads each benchmark and turns a checked sweep into its tasks
//! (items × backbones × arms × epochs, plus the training split of train-then-test arms),
//! each with a stable key. Runs off the scheduler (dataset loading is blocking I/O).

use std::collections::BTreeMap;
use std::sync::Arc;

use herd_core::config::{Accumulation, Sweep};
use herd_core::task::task_key;
use herd_datasets::Dataset;
use sha2::{Digest, Sha256};

use crate::error::CoordinatorError;

/// Whether a task belongs to the training phase of a train-then-test arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    Train,
    Test,
}

/// A task before scheduling: indices into the sweep's benchmarks, items, backbones and arms.
#[derive(Debug, Clone)]
pub struct PlannedTask {
    pub key: String,
    pub bench: u16,
    pub item: u32,
    pub backbone: u16,
    pub arm: u16,
    pub epoch: u32,
    pub phase: Phase,
}

/// A sweep with its data loaded and its tasks planned.
pub struct ExpandedSweep {
    pub sweep_id: String,
    pub sweep: Sweep,
    pub config_toml: String,
    pub origin: String,
    pub datasets: Vec<Arc<Dataset>>,
    pub tasks: Vec<PlannedTask>,
}

/// The stable id of a sweep: its name and a hash of its config text and base directory.
pub fn sweep_id(name: &str, config_toml: &str, base_dir: &str) -> String {
    let mut h = Sha256::new();
    h.update(config_toml.as_bytes());
    h.update([0]);
    h.update(base_dir.as_bytes());
    format!("{name}-{}", &hex::encode(h.finalize())[..8])
}

/// Loads every benchmark of the sweep and plans its tasks. Blocking.
pub fn expand(
    sweep: Sweep,
    config_toml: String,
    origin: String,
) -> Result<ExpandedSweep, CoordinatorError> {
    let base = sweep.base_dir.display().to_string();
    let id = sweep_id(&sweep.config.name, &config_toml, &base);
    let mut datasets = Vec::new();
    for b in &sweep.config.benchmarks {
        let ds = herd_datasets::load(b, &sweep.base_dir, sweep.config.seed).map_err(|e| {
            CoordinatorError::Dataset {
                benchmark: b.display_name(),
                message: e.to_string(),
            }
        })?;
        datasets.push(Arc::new(ds));
    }
    let tasks = plan(&sweep, &datasets);
    Ok(ExpandedSweep {
        sweep_id: id,
        sweep,
        config_toml,
        origin,
        datasets,
        tasks,
    })
}

/// Plans tasks in a fair order: epochs outermost, then items, interleaving backbones and arms,
/// so partial runs cover every arm evenly. Training items of train-then-test arms come first.
pub fn plan(sweep: &Sweep, datasets: &[Arc<Dataset>]) -> Vec<PlannedTask> {
    let cfg = &sweep.config;
    let mut out = Vec::new();
    for (phase, train) in [(Phase::Train, true), (Phase::Test, false)] {
        for epoch in 0..cfg.epochs {
            for (bi, ds) in datasets.iter().enumerate() {
                let bench_name = cfg.benchmarks[bi].display_name();
                let items = if train { &ds.train_items } else { &ds.items };
                for (ii, item) in items.iter().enumerate() {
                    for (ki, backbone) in cfg.backbones.iter().enumerate() {
                        for (ai, arm) in cfg.arms.iter().enumerate() {
                            let ttt = arm.accumulation == Accumulation::TrainThenTest;
                            if train && !ttt {
                                continue;
                            }
                            let split = if train { "train" } else { item.split.as_str() };
                            out.push(PlannedTask {
                                key: task_key(
                                    &bench_name,
                                    split,
                                    &item.id,
                                    &backbone.name,
                                    &arm.name,
                                    epoch,
                                ),
                                bench: bi as u16,
                                item: ii as u32,
                                backbone: ki as u16,
                                arm: ai as u16,
                                epoch,
                                phase,
                            });
                        }
                    }
                }
            }
        }
    }
    out
}

/// Counts of planned tasks per benchmark, for messages.
pub fn counts(sweep: &Sweep, tasks: &[PlannedTask]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for t in tasks {
        *m.entry(sweep.config.benchmarks[t.bench as usize].display_name())
            .or_insert(0) += 1;
    }
    m
}
