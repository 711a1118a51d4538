//! The report's data: typed rows for every section (accuracy, paired comparisons, cost,
//! action accumulation, failures, training phases) and the run header. Renderers read only
//! these. Every arm-level table counts an arm's scored split only: a train-then-test arm's
//! training phase is in [`Report::training`], never in its headline numbers.

use serde::Serialize;

use crate::stats::{self, Interval, PairCounts};

/// What was measured: sweep, versions, data, models, sandboxes, and completeness.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Header {
    pub source: String,
    pub sweeps: Vec<String>,
    pub herd_versions: Vec<String>,
    /// `(benchmark, dataset fingerprint)`.
    pub dataset_fingerprints: Vec<(String, String)>,
    /// `(backbone, model identity)`.
    pub models: Vec<(String, String)>,
    /// `(sandbox kind, image)`.
    pub sandboxes: Vec<(String, String)>,
    /// Tasks whose cells ran in the local-process sandbox, on the host, without container
    /// isolation (`sandbox.kind = "local"`); every page says so at the top.
    pub unisolated_tasks: u64,
    /// Result rows present.
    pub tasks: u64,
    /// `(status, count)` over all rows.
    pub statuses: Vec<(String, u64)>,
    pub partial: Option<PartialRun>,
    /// What each benchmark × backbone × arm's headline numbers count.
    pub scopes: Vec<ArmScope>,
}

impl Header {
    /// The warning every page of an unisolated run starts with, if the run was one.
    pub fn unisolated_warning(&self) -> Option<String> {
        (self.unisolated_tasks > 0).then(|| {
            format!(
                "{} of {} tasks ran in the local-process sandbox (`sandbox.kind = \"local\"`): \
                 their code ran on the host without container isolation",
                self.unisolated_tasks, self.tasks
            )
        })
    }
}

/// Which tasks one benchmark × backbone × arm's headline numbers count. A train-then-test
/// arm is reported on its test split; its training phase is counted here and shown apart.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ArmScope {
    pub benchmark: String,
    pub backbone: String,
    pub arm: String,
    pub accumulation: String,
    /// The dataset splits of the tasks in the headline numbers.
    pub scored_splits: Vec<String>,
    /// Tasks in the headline numbers.
    pub test_tasks: u64,
    /// Training-phase tasks (train-then-test arms), reported apart.
    pub training_tasks: u64,
    /// The library the test split saw, frozen after training (train-then-test arms).
    pub frozen_library: Option<u64>,
}

impl ArmScope {
    /// One line for the report header.
    pub fn describe(&self) -> String {
        let splits = if self.scored_splits.is_empty() {
            "—".to_string()
        } else {
            self.scored_splits.join("+")
        };
        let mut s = format!(
            "{}/{}/{} ({}): scored on the {splits} split, {} tasks",
            self.benchmark, self.backbone, self.arm, self.accumulation, self.test_tasks
        );
        if self.accumulation == "train-then-test" {
            s.push_str(&format!(
                "; library frozen at {} actions after {} training tasks (reported apart)",
                self.frozen_library
                    .map_or_else(|| "—".to_string(), |n| n.to_string()),
                self.training_tasks
            ));
        }
        s
    }
}

/// The training phase of a train-then-test arm: reported apart from the arm's result, which
/// is its test split's.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct TrainingPhase {
    /// The training tasks' verdicts (they fill the library; they are not the arm's result).
    pub accuracy: AccuracyRow,
    pub cost: CostRow,
    pub actions_created: u64,
    /// Library size when frozen (what the test split saw); `None` before any test task.
    pub frozen_library: Option<u64>,
}

/// Why the run is known to be incomplete.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct PartialRun {
    /// Tasks with a final result (scored, failed, timeout, budget).
    pub finished: u64,
    /// Tasks expected: from the caller, else rows plus tasks seen only in attempts.
    pub expected: u64,
    /// Rows whose status is cancelled or not a final status.
    pub unfinished_rows: u64,
    /// Task keys with attempts but no result row.
    pub attempted_without_result: u64,
}

impl PartialRun {
    pub fn summary(&self) -> String {
        format!("partial run: {} of {} tasks", self.finished, self.expected)
    }
}

/// Accuracy of one group with its status breakdown. `accuracy = correct / scored`; the
/// other statuses are counted apart, never as wrong answers.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct AccuracyRow {
    pub benchmark: String,
    pub backbone: String,
    pub arm: String,
    /// The level or subject for the breakdown tables; `None` in the main table.
    pub group: Option<String>,
    pub tasks: u64,
    /// Scored with a gold answer (the accuracy denominator).
    pub scored: u64,
    pub correct: u64,
    pub wrong: u64,
    /// Scored but without a gold answer to grade against.
    pub no_gold: u64,
    pub failed: u64,
    pub timeout: u64,
    pub budget: u64,
    pub cancelled: u64,
    /// Any status this report does not know.
    pub other_status: u64,
    pub accuracy: Option<f64>,
    pub wilson: Option<Interval>,
    /// `correct / tasks`: every non-scored task counted as wrong.
    pub accuracy_all_tasks: Option<f64>,
}

impl AccuracyRow {
    pub(crate) fn finish(mut self) -> Self {
        self.wrong = self.scored.saturating_sub(self.correct);
        let known =
            self.scored + self.no_gold + self.failed + self.timeout + self.budget + self.cancelled;
        self.other_status = self.tasks.saturating_sub(known);
        self.accuracy = (self.scored > 0).then(|| self.correct as f64 / self.scored as f64);
        self.wilson = stats::wilson(self.correct, self.scored, stats::Z95);
        self.accuracy_all_tasks = (self.tasks > 0).then(|| self.correct as f64 / self.tasks as f64);
        self
    }
}

/// What a paired comparison holds fixed while comparing A with B.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PairKind {
    /// Two arms under the same backbone.
    Arms,
    /// Two backbones under the same arm.
    Backbones,
    /// The same backbone and arm in two runs.
    Runs,
}

impl PairKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PairKind::Arms => "arms",
            PairKind::Backbones => "backbones",
            PairKind::Runs => "runs",
        }
    }
}

/// A → B on the same items (benchmark, item, epoch).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PairedRow {
    pub kind: PairKind,
    pub benchmark: String,
    /// The backbone (for arms), arm (for backbones) or `backbone/arm` (for runs).
    pub within: String,
    pub a: String,
    pub b: String,
    /// Items present on both sides.
    pub matched: u64,
    /// Matched items where at least one side was not scored (excluded from the test).
    pub unscored_pairs: u64,
    pub counts: PairCounts,
    /// Pairs used: both sides scored.
    pub n: u64,
    pub accuracy_a: Option<f64>,
    pub accuracy_b: Option<f64>,
    /// accuracy(A) − accuracy(B).
    pub diff: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub mcnemar_p: f64,
    pub resamples: usize,
}

impl PairedRow {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn compute(
        kind: PairKind,
        benchmark: String,
        within: String,
        a: String,
        b: String,
        matched: u64,
        counts: PairCounts,
        resamples: usize,
        base_seed: u64,
    ) -> Self {
        let n = counts.n();
        let seed = base_seed ^ stats::fnv1a(&[kind.as_str(), &benchmark, &within, &a, &b]);
        let accs = counts.accuracies();
        let ci = stats::paired_bootstrap(&counts, resamples, seed);
        PairedRow {
            kind,
            benchmark,
            within,
            a,
            b,
            matched,
            unscored_pairs: matched.saturating_sub(n),
            counts,
            n,
            accuracy_a: accs.map(|x| x.0),
            accuracy_b: accs.map(|x| x.1),
            diff: accs.map(|x| x.2),
            ci_low: ci.map(|c| c.low),
            ci_high: ci.map(|c| c.high),
            mcnemar_p: stats::mcnemar_exact_p(counts.a_right_b_wrong, counts.a_wrong_b_right),
            resamples,
        }
    }
}

/// Cost, tokens, steps and time of one group.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct CostRow {
    pub benchmark: String,
    pub backbone: String,
    pub arm: String,
    pub tasks: u64,
    pub correct: u64,
    pub cost_usd: f64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub llm_calls: u64,
    pub steps: u64,
    pub wall_ms: u64,
    pub mean_cost_usd: Option<f64>,
    pub mean_tokens: Option<f64>,
    pub mean_steps: Option<f64>,
    pub mean_wall_s: Option<f64>,
    /// Correct answers per dollar; `None` when nothing was spent.
    pub correct_per_usd: Option<f64>,
    /// The training phase's cost (train-then-test arms; 0 otherwise), not in `cost_usd`.
    pub training_cost_usd: f64,
    /// `cost_usd + training_cost_usd`: what the arm cost in all.
    pub cost_with_training_usd: f64,
}

impl CostRow {
    pub(crate) fn finish(mut self) -> Self {
        let t = self.tasks as f64;
        let per = |x: f64| (self.tasks > 0).then(|| x / t);
        self.mean_cost_usd = per(self.cost_usd);
        self.mean_tokens = per((self.prompt_tokens + self.completion_tokens) as f64);
        self.mean_steps = per(self.steps as f64);
        self.mean_wall_s = per(self.wall_ms as f64 / 1000.0);
        self.correct_per_usd = (self.cost_usd > 0.0).then(|| self.correct as f64 / self.cost_usd);
        self.cost_with_training_usd = self.cost_usd + self.training_cost_usd;
        self
    }
}

/// Library size as tasks finish, for one backbone × arm (downsampled for charts).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct GrowthSeries {
    pub backbone: String,
    pub arm: String,
    pub tasks: u64,
    pub final_size: u64,
    /// `(tasks finished so far, library size)`, in finishing order.
    pub points: Vec<(u64, u64)>,
}

/// Reuse of generated vs user-defined actions, calls of actions stored by earlier tasks, and
/// coverage of steps by actions.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ReuseRow {
    pub backbone: String,
    pub arm: String,
    pub tasks: u64,
    pub generated_calls: u64,
    pub user_calls: u64,
    /// generated / (generated + user) calls.
    pub generated_share: Option<f64>,
    pub tasks_calling_generated: u64,
    /// Calls of actions an earlier task wrote and the library handed back (part of
    /// `generated_calls`; a task calling its own functions is not counted).
    pub reused_calls: u64,
    /// Tasks with at least one reused call.
    pub tasks_reusing: u64,
    pub actions_created: u64,
    pub actions_retrieved: u64,
    pub steps: u64,
    pub covered_steps: u64,
    /// covered_steps / steps.
    pub coverage: Option<f64>,
}

impl ReuseRow {
    pub(crate) fn finish(mut self) -> Self {
        let calls = self.generated_calls + self.user_calls;
        self.generated_share = (calls > 0).then(|| self.generated_calls as f64 / calls as f64);
        self.coverage = (self.steps > 0).then(|| self.covered_steps as f64 / self.steps as f64);
        self
    }
}

/// How often one action was called.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ActionUse {
    pub backbone: String,
    pub arm: String,
    pub action: String,
    pub calls: u64,
    /// Tasks that called it at least once.
    pub tasks: u64,
}

/// A count of tasks by status, end reason and error kind.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FailureRow {
    pub backbone: String,
    pub arm: String,
    pub status: String,
    pub end_reason: String,
    pub error_kind: Option<String>,
    pub count: u64,
}

/// The whole report.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Report {
    pub header: Header,
    pub accuracy: Vec<AccuracyRow>,
    pub accuracy_by_level: Vec<AccuracyRow>,
    pub accuracy_by_subject: Vec<AccuracyRow>,
    pub paired: Vec<PairedRow>,
    pub cost: Vec<CostRow>,
    pub library_growth: Vec<GrowthSeries>,
    pub reuse: Vec<ReuseRow>,
    pub top_actions: Vec<ActionUse>,
    /// Rows whose `actions_called` was not a JSON list of `[name, count]`.
    pub malformed_actions_called: u64,
    pub failures: Vec<FailureRow>,
    /// Training phases of train-then-test arms, apart from every table above.
    pub training: Vec<TrainingPhase>,
}

/// Two runs compared item by item.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Comparison {
    pub run_a: Header,
    pub run_b: Header,
    pub rows: Vec<PairedRow>,
    /// Rows of A with no counterpart in B, and the reverse.
    pub only_in_a: u64,
    pub only_in_b: u64,
}
