//! Train-then-test training phases: which rows are training (never in an arm's headline
//! numbers), what each arm's figures count (its scope), and the training phases' own rows.

use polars::prelude::*;

use crate::error::Result;
use crate::model::*;
use crate::queries::{accuracy_table, collect, cost, keys, sort_by, sum_u64};
use crate::store::Cols;

/// Rows of a train-then-test arm's training phase (tasks of its `train` split). They fill the
/// arm's library; they are not its result, so every arm-level table leaves them out.
pub(crate) fn is_training() -> Expr {
    col("accumulation")
        .eq(lit("train-then-test"))
        .and(col("split").eq(lit("train")))
}

/// What each benchmark × backbone × arm's headline numbers count (from all rows).
pub(crate) fn scopes(all: &LazyFrame) -> Result<Vec<ArmScope>> {
    let names = [
        "benchmark",
        "backbone",
        "arm",
        "accumulation",
        "phase",
        "split",
    ];
    let q = all
        .clone()
        .with_column(
            when(is_training())
                .then(lit("train"))
                .otherwise(lit("test"))
                .alias("phase"),
        )
        .group_by(keys(&names))
        .agg([
            len().cast(DataType::UInt64).alias("n"),
            col("library_size")
                .max()
                .cast(DataType::UInt64)
                .fill_null(lit(0u64))
                .alias("library"),
        ]);
    let df = collect(sort_by(q, &names), "arm scopes")?;
    let c = Cols(&df);
    let (benchmark, backbone, arm) = (c.strs("benchmark")?, c.strs("backbone")?, c.strs("arm")?);
    let (acc, phase, split) = (c.strs("accumulation")?, c.strs("phase")?, c.strs("split")?);
    let (n, library) = (c.u64s("n")?, c.u64s("library")?);
    let mut out: Vec<ArmScope> = Vec::new();
    for i in 0..df.height() {
        let key = (&benchmark[i], &backbone[i], &arm[i]);
        let pos = match out
            .iter()
            .position(|s| (&s.benchmark, &s.backbone, &s.arm) == key)
        {
            Some(p) => p,
            None => {
                out.push(ArmScope {
                    benchmark: benchmark[i].clone(),
                    backbone: backbone[i].clone(),
                    arm: arm[i].clone(),
                    accumulation: acc[i].clone(),
                    ..Default::default()
                });
                out.len() - 1
            }
        };
        let s = &mut out[pos];
        if phase[i] == "train" {
            s.training_tasks += n[i];
        } else {
            s.test_tasks += n[i];
            if !s.scored_splits.contains(&split[i]) {
                s.scored_splits.push(split[i].clone());
            }
            if s.accumulation == "train-then-test" {
                // Test tasks see the frozen library (read-only), so its size is their max.
                s.frozen_library = Some(s.frozen_library.unwrap_or(0).max(library[i]));
            }
        }
    }
    Ok(out)
}

/// The training phases of train-then-test arms: verdicts, cost and actions created.
pub(crate) fn training(train: &LazyFrame, scopes: &[ArmScope]) -> Result<Vec<TrainingPhase>> {
    let accuracy = accuracy_table(train, None)?;
    let cost = cost(train)?;
    let q = train
        .clone()
        .group_by(keys(&["benchmark", "backbone", "arm"]))
        .agg([sum_u64("actions_created")]);
    let df = collect(
        sort_by(q, &["benchmark", "backbone", "arm"]),
        "training actions",
    )?;
    let c = Cols(&df);
    let (benchmark, backbone, arm) = (c.strs("benchmark")?, c.strs("backbone")?, c.strs("arm")?);
    let created = c.u64s("actions_created")?;
    Ok(accuracy
        .into_iter()
        .zip(cost)
        .map(|(accuracy, cost)| {
            let key = (&accuracy.benchmark, &accuracy.backbone, &accuracy.arm);
            let actions_created = (0..df.height())
                .find(|&i| (&benchmark[i], &backbone[i], &arm[i]) == key)
                .map_or(0, |i| created[i]);
            let frozen_library = scopes
                .iter()
                .find(|s| (&s.benchmark, &s.backbone, &s.arm) == key)
                .and_then(|s| s.frozen_library);
            TrainingPhase {
                accuracy,
                cost,
                actions_created,
                frozen_library,
            }
        })
        .collect())
}

/// Adds each training phase's cost to its arm's cost row (`training_cost_usd` and the total).
pub(crate) fn add_training_cost(cost: &mut [CostRow], training: &[TrainingPhase]) {
    for c in cost {
        if let Some(t) = training.iter().find(|t| {
            (&t.cost.benchmark, &t.cost.backbone, &t.cost.arm)
                == (&c.benchmark, &c.backbone, &c.arm)
        }) {
            c.training_cost_usd = t.cost.cost_usd;
            c.cost_with_training_usd = c.cost_usd + c.training_cost_usd;
        }
    }
}
