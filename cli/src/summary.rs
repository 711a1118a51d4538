//! The closing summary of a sweep: each status counted apart under the report's names
//! (scored, correct, budget, timeout, failed), both accuracies, the paired differences
//! between arms and, for each backbone × arm that accumulates actions, how often its tasks
//! called an action an earlier task stored.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use herd_proto::v1::{GroupStatus, SweepStatus};
use herd_report::{ActionUse, PairKind, PairedRow, Report, ReuseRow};

/// `n / d` as a percentage with one decimal, `–` when `d` is 0.
fn pct(n: u64, d: u64) -> String {
    if d == 0 {
        "–".into()
    } else {
        format!("{:.1}%", 100.0 * n as f64 / d as f64)
    }
}

/// Finished tasks by how they ended, with the report's status names.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    pub total: u64,
    pub done: u64,
    pub running: u64,
    /// Scored against a gold answer (the accuracy denominator).
    pub scored: u64,
    pub correct: u64,
    /// Scored, but without a gold answer to grade against.
    pub no_gold: u64,
    /// Out of steps, tokens or cost (status `budget`).
    pub budget: u64,
    /// Hit the wall-time limit (status `timeout`).
    pub timeout: u64,
    /// Errors after every attempt (status `failed`).
    pub failed: u64,
    pub cancelled: u64,
    pub cost_usd: f64,
}

impl Counts {
    /// One group's counts: the coordinator's `failed` (every unscored end) split into the
    /// report's statuses.
    pub fn of_group(g: &GroupStatus) -> Counts {
        let errors = g.failed.saturating_sub(g.timeout + g.budget + g.cancelled);
        Counts {
            total: g.total,
            done: g.done,
            running: g.running,
            scored: g.scored,
            correct: g.correct,
            no_gold: g.done.saturating_sub(g.scored + g.failed),
            budget: g.budget,
            timeout: g.timeout,
            failed: errors,
            cancelled: g.cancelled,
            cost_usd: g.cost_usd,
        }
    }

    /// The sum over `groups`.
    pub fn of<'a>(groups: impl Iterator<Item = &'a GroupStatus>) -> Counts {
        groups
            .map(Counts::of_group)
            .fold(Counts::default(), |a, b| Counts {
                total: a.total + b.total,
                done: a.done + b.done,
                running: a.running + b.running,
                scored: a.scored + b.scored,
                correct: a.correct + b.correct,
                no_gold: a.no_gold + b.no_gold,
                budget: a.budget + b.budget,
                timeout: a.timeout + b.timeout,
                failed: a.failed + b.failed,
                cancelled: a.cancelled + b.cancelled,
                cost_usd: a.cost_usd + b.cost_usd,
            })
    }

    /// `correct / scored`.
    pub fn accuracy_scored(&self) -> String {
        pct(self.correct, self.scored)
    }

    /// `correct / done`: every finished task that was not scored counts as wrong.
    pub fn accuracy_all(&self) -> String {
        pct(self.correct, self.done)
    }

    /// `2 scored (2 correct) · 4 out of budget · 1 timed out`: the non-zero statuses.
    pub fn breakdown(&self) -> String {
        let mut parts = vec![format!("{} scored ({} correct)", self.scored, self.correct)];
        for (n, what) in [
            (self.no_gold, "without a gold answer"),
            (self.budget, "out of budget"),
            (self.timeout, "timed out"),
            (self.failed, "failed"),
            (self.cancelled, "cancelled"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        parts.join(" · ")
    }

    /// For a progress bar: `acc 50.0% (1/2 scored) · budget 1 · timeout 0 · failed 0`.
    pub(crate) fn brief(&self) -> String {
        let mut s = format!(
            "acc {} ({}/{} scored) · budget {} · timeout {} · failed {}",
            self.accuracy_scored(),
            self.correct,
            self.scored,
            self.budget,
            self.timeout,
            self.failed
        );
        if self.cancelled > 0 {
            s.push_str(&format!(" · cancelled {}", self.cancelled));
        }
        s
    }
}

/// The closing line: tasks done, then the scored splits' statuses and both accuracies.
pub fn closing_line(st: &SweepStatus) -> String {
    let scored_splits = Counts::of(st.groups.iter().filter(|g| !g.training));
    let training: u64 = st
        .groups
        .iter()
        .filter(|g| g.training)
        .map(|g| g.done)
        .sum();
    let mut s = format!(
        "sweep {} — {} · {}/{} tasks done",
        st.sweep_id, st.state, st.done, st.total
    );
    if training > 0 {
        s.push_str(&format!(
            " ({training} of them training tasks, counted apart)"
        ));
    }
    if st.running > 0 {
        s.push_str(&format!(" · {} running", st.running));
    }
    s.push_str(&format!(
        " · {} · accuracy {} of scored, {} of all · cost ${:.4}",
        scored_splits.breakdown(),
        scored_splits.accuracy_scored(),
        scored_splits.accuracy_all(),
        st.cost_usd
    ));
    s
}

/// What the closing summary takes from the report of a finished sweep's results.
#[derive(Debug, Clone, Default)]
pub struct SummaryExtras {
    /// The report's paired comparisons.
    pub paired: Vec<PairedRow>,
    /// Action accumulation and reuse per backbone × arm (scored splits).
    pub reuse: Vec<ReuseRow>,
    /// The most-called actions per backbone × arm (every action call, reused or not).
    pub top: Vec<ActionUse>,
    /// Each backbone × arm's accumulation mode (`off`, `online`, `train-then-test`).
    pub accumulation: BTreeMap<(String, String), String>,
    /// Actions created by each backbone × arm's training phases (train-then-test arms).
    pub training_created: BTreeMap<(String, String), u64>,
}

impl SummaryExtras {
    pub fn from_report(report: Report) -> SummaryExtras {
        let mut accumulation = BTreeMap::new();
        for s in &report.header.scopes {
            let mode: &mut String = accumulation
                .entry((s.backbone.clone(), s.arm.clone()))
                .or_default();
            // Scopes of one arm on several benchmarks agree; an accumulating one wins.
            if mode.is_empty() || mode == "off" {
                *mode = s.accumulation.clone();
            }
        }
        let mut training_created = BTreeMap::new();
        for t in &report.training {
            *training_created
                .entry((t.accuracy.backbone.clone(), t.accuracy.arm.clone()))
                .or_default() += t.actions_created;
        }
        SummaryExtras {
            paired: report.paired,
            reuse: report.reuse,
            top: report.top_actions,
            accumulation,
            training_created,
        }
    }
}

/// The summary table printed at the end. `extras` holds what the report of the finished
/// results adds when they could be read: the paired comparisons (without them, two arms on
/// one benchmark × backbone get a pointer to the report) and the actions section.
pub fn summary_table(st: &SweepStatus, extras: Option<&SummaryExtras>) -> String {
    let rows: Vec<(&GroupStatus, Counts)> =
        st.groups.iter().map(|g| (g, Counts::of_group(g))).collect();
    let show_no_gold = rows.iter().any(|(_, c)| c.no_gold > 0);
    let show_cancelled = rows.iter().any(|(_, c)| c.cancelled > 0);
    let mut out = closing_line(st);
    out.push('\n');
    let mut header = format!(
        "{:<18} {:<22} {:<18} {:>9} {:>6} {:>7} {:>6} {:>7} {:>6}",
        "benchmark", "backbone", "arm", "done", "scored", "correct", "budget", "timeout", "failed"
    );
    if show_cancelled {
        header.push_str(&format!(" {:>9}", "cancelled"));
    }
    if show_no_gold {
        header.push_str(&format!(" {:>7}", "no gold"));
    }
    header.push_str(&format!(
        " {:>10} {:>8} {:>10}\n",
        "acc/scored", "acc/all", "cost $"
    ));
    let row = |g: &GroupStatus, c: &Counts| {
        let mut s = format!(
            "{:<18} {:<22} {:<18} {:>9} {:>6} {:>7} {:>6} {:>7} {:>6}",
            g.benchmark,
            g.backbone,
            g.arm,
            format!("{}/{}", c.done, c.total),
            c.scored,
            c.correct,
            c.budget,
            c.timeout,
            c.failed
        );
        if show_cancelled {
            s.push_str(&format!(" {:>9}", c.cancelled));
        }
        if show_no_gold {
            s.push_str(&format!(" {:>7}", c.no_gold));
        }
        s.push_str(&format!(
            " {:>10} {:>8} {:>10.4}\n",
            c.accuracy_scored(),
            c.accuracy_all(),
            c.cost_usd
        ));
        s
    };
    out.push_str(&header);
    for (g, c) in rows.iter().filter(|(g, _)| !g.training) {
        out.push_str(&row(g, c));
    }
    out.push_str(
        "budget: out of steps, tokens or cost · timeout: hit the wall-time limit · failed: \
         errors after every attempt · acc/scored = correct / scored · acc/all = correct / done \
         (every unscored task counted wrong)\n",
    );
    out.push_str(&paired_section(st, extras.map(|e| e.paired.as_slice())));
    if let Some(extras) = extras {
        out.push_str(&actions_section(extras));
    }
    if rows.iter().any(|(g, _)| g.training) {
        out.push_str(
            "training phases (fill the library of train-then-test arms; not in the accuracy above; \
             their cost is in the sweep's total):\n",
        );
        out.push_str(&header);
        for (g, c) in rows.iter().filter(|(g, _)| g.training) {
            out.push_str(&row(g, c));
        }
    }
    out
}

/// Benchmark × backbone pairs with two or more arms (test splits only).
fn multi_arm_cells(st: &SweepStatus) -> Vec<(String, String)> {
    let mut arms: HashMap<(String, String), BTreeSet<&str>> = HashMap::new();
    for g in st.groups.iter().filter(|g| !g.training) {
        arms.entry((g.benchmark.clone(), g.backbone.clone()))
            .or_default()
            .insert(&g.arm);
    }
    let mut cells: Vec<_> = arms
        .into_iter()
        .filter(|(_, a)| a.len() >= 2)
        .map(|(k, _)| k)
        .collect();
    cells.sort();
    cells
}

/// The paired differences between arms on the same benchmark × backbone.
fn paired_section(st: &SweepStatus, paired: Option<&[PairedRow]>) -> String {
    let arms: Vec<&PairedRow> = paired
        .unwrap_or_default()
        .iter()
        .filter(|r| r.kind == PairKind::Arms)
        .collect();
    if arms.is_empty() {
        if multi_arm_cells(st).is_empty() {
            return String::new();
        }
        let report = if st.out_dir.is_empty() {
            "the sweep's report.md".to_string()
        } else {
            Path::new(&st.out_dir)
                .join("report.md")
                .display()
                .to_string()
        };
        let when = if st.state == "done" {
            ""
        } else {
            " once the sweep is done"
        };
        return format!("paired differences between arms: in {report}{when}\n");
    }
    let mut out = String::from(
        "paired differences between arms (same items, both sides scored; Δ = accuracy A − B \
         in points, paired bootstrap 95% interval; exact McNemar p):\n",
    );
    for r in arms {
        out.push_str(&format!(
            "  {} · {}: {} − {}: {}\n",
            r.benchmark,
            r.within,
            r.a,
            r.b,
            paired_cell(r)
        ));
    }
    out
}

/// One line per backbone × arm that accumulates actions: actions created, calls to actions
/// an earlier task stored (in how many tasks), and the most-called action. Arms with
/// accumulation off get no line.
fn actions_section(extras: &SummaryExtras) -> String {
    let mut out = String::new();
    for r in &extras.reuse {
        let key = (r.backbone.clone(), r.arm.clone());
        let accumulates = match extras.accumulation.get(&key).map(String::as_str) {
            Some("off") => false,
            // The mode is unknown: judge by what the arm did.
            None | Some("") => r.actions_created + r.actions_retrieved + r.reused_calls > 0,
            Some(_) => true,
        };
        if !accumulates {
            continue;
        }
        let mut line = format!(
            "actions · {} · {}: {} created",
            r.backbone, r.arm, r.actions_created
        );
        if let Some(&t) = extras.training_created.get(&key).filter(|&&t| t > 0) {
            line.push_str(&format!(" (+{t} in training)"));
        }
        if r.actions_retrieved > 0 {
            line.push_str(&format!(" · {} retrieved", r.actions_retrieved));
        }
        if r.reused_calls == 0 {
            line.push_str(" · no task called a stored action");
        } else {
            let calls = if r.reused_calls == 1 { "call" } else { "calls" };
            line.push_str(&format!(
                " · {} {calls} to stored actions in {} of {} tasks",
                r.reused_calls, r.tasks_reusing, r.tasks
            ));
            // The report counts every call of an action, not reused ones apart.
            let top = extras
                .top
                .iter()
                .filter(|a| a.backbone == r.backbone && a.arm == r.arm)
                .max_by(|a, b| a.calls.cmp(&b.calls).then_with(|| b.action.cmp(&a.action)));
            if let Some(a) = top {
                line.push_str(&format!(" · most called: {} ×{}", a.action, a.calls));
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    if !out.is_empty() {
        out.push_str(
            "calls to stored actions: calls to actions an earlier task wrote and the library \
             handed back, not to functions the task wrote itself · most called: counts every \
             action call, the task's own functions and user tools included\n",
        );
    }
    out
}

fn paired_cell(r: &PairedRow) -> String {
    // In points; `+ 0.0` turns a negative zero into "+0.0".
    let pts = |x: f64| x * 100.0 + 0.0;
    let excluded = if r.unscored_pairs > 0 {
        format!(" ({} with a side unscored, excluded)", r.unscored_pairs)
    } else {
        String::new()
    };
    match (r.diff, r.ci_low, r.ci_high) {
        (Some(d), Some(lo), Some(hi)) => format!(
            "Δ {:+.1} pts [{:+.1}, {:+.1}] · {} pairs{excluded} · p {:.4}",
            pts(d),
            pts(lo),
            pts(hi),
            r.n,
            r.mcnemar_p
        ),
        (Some(d), _, _) => format!(
            "Δ {:+.1} pts (no interval) · {} pairs{excluded} · p {:.4}",
            pts(d),
            r.n,
            r.mcnemar_p
        ),
        _ => format!(
            "no pair with both sides scored ({} matched items)",
            r.matched
        ),
    }
}

/// What the report of a finished run's results in `dir` adds to the summary (the same
/// figures as its report.md); `None` when the results cannot be read here. Blocking.
pub fn extras_from_results(dir: &Path) -> Option<SummaryExtras> {
    if !dir.join("results.parquet").is_file() {
        return None;
    }
    match herd_report::build_report(dir, &herd_report::ReportOptions::default()) {
        Ok(r) => Some(SummaryExtras::from_report(r)),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "failed to read the results for the summary");
            None
        }
    }
}

/// The summary of a sweep, with its paired differences and actions section when its
/// finished results are readable from this machine (the report is built once).
pub async fn closing_summary(st: &SweepStatus) -> String {
    let extras = if st.state == "done" && !st.out_dir.is_empty() {
        let dir = std::path::PathBuf::from(&st.out_dir);
        tokio::task::spawn_blocking(move || extras_from_results(&dir))
            .await
            .ok()
            .flatten()
    } else {
        None
    };
    summary_table(st, extras.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use herd_report::stats::PairCounts;

    fn group(arm: &str, training: bool) -> GroupStatus {
        GroupStatus {
            benchmark: "herd-mini".into(),
            backbone: "fake".into(),
            arm: arm.into(),
            training,
            ..Default::default()
        }
    }

    /// `short`: 4 tasks out of steps. `long`: 1 correct, 1 wrong, 1 over the wall time,
    /// 1 error. The coordinator counts every unscored end in `failed`.
    fn fixture() -> SweepStatus {
        let short = GroupStatus {
            total: 4,
            done: 4,
            failed: 4,
            budget: 4,
            cost_usd: 0.5,
            ..group("short", false)
        };
        let long = GroupStatus {
            total: 4,
            done: 4,
            scored: 2,
            correct: 1,
            failed: 2,
            timeout: 1,
            cost_usd: 0.25,
            ..group("long", false)
        };
        SweepStatus {
            sweep_id: "s1".into(),
            state: "done".into(),
            total: 8,
            done: 8,
            failed: 6,
            scored: 2,
            correct: 1,
            cost_usd: 0.75,
            out_dir: "/runs/x".into(),
            groups: vec![long, short],
            ..Default::default()
        }
    }

    fn row_of<'a>(table: &'a str, arm: &str) -> Vec<&'a str> {
        table
            .lines()
            .find(|l| l.split_whitespace().nth(2) == Some(arm))
            .unwrap_or_else(|| panic!("no row for {arm}: {table}"))
            .split_whitespace()
            .collect()
    }

    #[test]
    fn unscored_tasks_are_split_by_status_with_both_accuracies() {
        let t = summary_table(&fixture(), None);
        let header = row_of(&t, "arm");
        assert_eq!(
            header,
            [
                "benchmark",
                "backbone",
                "arm",
                "done",
                "scored",
                "correct",
                "budget",
                "timeout",
                "failed",
                "acc/scored",
                "acc/all",
                "cost",
                "$"
            ]
        );
        // done scored correct budget timeout failed acc/scored acc/all cost
        assert_eq!(
            row_of(&t, "long")[3..],
            ["4/4", "2", "1", "0", "1", "1", "50.0%", "25.0%", "0.2500"]
        );
        assert_eq!(
            row_of(&t, "short")[3..],
            ["4/4", "0", "0", "4", "0", "0", "–", "0.0%", "0.5000"]
        );
    }

    #[test]
    fn the_closing_line_names_each_status_and_both_accuracies() {
        assert_eq!(
            closing_line(&fixture()),
            "sweep s1 — done · 8/8 tasks done · 2 scored (1 correct) · 4 out of budget · \
             1 timed out · 1 failed · accuracy 50.0% of scored, 12.5% of all · cost $0.7500"
        );
        // The run: 2 scored and correct, 4 out of steps.
        let st = SweepStatus {
            sweep_id: "q".into(),
            state: "done".into(),
            total: 6,
            done: 6,
            failed: 4,
            scored: 2,
            correct: 2,
            groups: vec![GroupStatus {
                total: 6,
                done: 6,
                failed: 4,
                budget: 4,
                scored: 2,
                correct: 2,
                ..group("base", false)
            }],
            ..Default::default()
        };
        assert!(
            closing_line(&st).contains(
                "6/6 tasks done · 2 scored (2 correct) · 4 out of budget · accuracy 100.0% of \
                 scored, 33.3% of all"
            ),
            "{}",
            closing_line(&st)
        );
    }

    #[test]
    fn training_phases_stay_apart_from_the_headline() {
        let mut st = fixture();
        st.groups.push(GroupStatus {
            total: 3,
            done: 3,
            scored: 3,
            correct: 3,
            ..group("long", true)
        });
        st.total += 3;
        st.done += 3;
        let t = summary_table(&st, None);
        let line = t.lines().next().unwrap();
        assert!(
            line.contains("11/11 tasks done (3 of them training tasks, counted apart)")
                && line.contains("2 scored (1 correct)")
                && line.contains("accuracy 50.0% of scored, 12.5% of all"),
            "{line}"
        );
        let (_, training) = t.split_once("training phases (").expect("training apart");
        assert_eq!(
            row_of(training, "long")[3..9],
            ["3/3", "3", "3", "0", "0", "0"]
        );
    }

    #[test]
    fn two_arms_get_their_paired_difference_or_a_pointer_to_the_report() {
        let st = fixture();
        let t = summary_table(&st, None);
        assert!(
            t.contains("paired differences between arms: in /runs/x/report.md\n"),
            "{t}"
        );
        let counts = PairCounts {
            both_right: 1,
            a_right_b_wrong: 2,
            a_wrong_b_right: 0,
            both_wrong: 1,
        };
        let paired = PairedRow {
            kind: PairKind::Arms,
            benchmark: "herd-mini".into(),
            within: "fake".into(),
            a: "long".into(),
            b: "short".into(),
            matched: 6,
            unscored_pairs: 2,
            counts,
            n: 4,
            accuracy_a: Some(0.75),
            accuracy_b: Some(0.25),
            diff: Some(0.5),
            ci_low: Some(0.0),
            ci_high: Some(1.0),
            mcnemar_p: 0.5,
            resamples: 1000,
        };
        let extras = SummaryExtras {
            paired: vec![paired],
            ..Default::default()
        };
        let t = summary_table(&st, Some(&extras));
        assert!(
            t.contains(
                "  herd-mini · fake: long − short: Δ +50.0 pts [+0.0, +100.0] · 4 pairs \
                 (2 with a side unscored, excluded) · p 0.5000"
            ),
            "{t}"
        );
        // One arm: nothing to pair.
        let mut one = fixture();
        one.groups.truncate(1);
        assert!(!summary_table(&one, None).contains("paired"));
    }

    fn reuse(arm: &str, created: u64, retrieved: u64, reused: u64, reusing: u64) -> ReuseRow {
        ReuseRow {
            backbone: "fake".into(),
            arm: arm.into(),
            tasks: 4,
            generated_calls: reused + 2,
            actions_created: created,
            actions_retrieved: retrieved,
            reused_calls: reused,
            tasks_reusing: reusing,
            ..Default::default()
        }
    }

    fn top(arm: &str, action: &str, calls: u64) -> ActionUse {
        ActionUse {
            backbone: "fake".into(),
            arm: arm.into(),
            action: action.into(),
            calls,
            tasks: 1,
        }
    }

    fn modes(pairs: &[(&str, &str)]) -> BTreeMap<(String, String), String> {
        pairs
            .iter()
            .map(|(arm, mode)| (("fake".to_string(), arm.to_string()), mode.to_string()))
            .collect()
    }

    #[test]
    fn accumulating_arms_get_an_actions_line_with_their_reuse() {
        let st = fixture();
        let extras = SummaryExtras {
            reuse: vec![reuse("long", 2, 3, 3, 2), reuse("short", 0, 0, 0, 0)],
            top: vec![
                top("long", "count_words_in_file", 3),
                top("long", "read_table", 1),
                top("short", "web_search", 9),
            ],
            accumulation: modes(&[("long", "online"), ("short", "off")]),
            ..Default::default()
        };
        let t = summary_table(&st, Some(&extras));
        assert!(
            t.contains(
                "\nactions · fake · long: 2 created · 3 retrieved · 3 calls to stored actions in \
                 2 of 4 tasks · most called: count_words_in_file ×3\n"
            ),
            "{t}"
        );
        assert!(t.contains("calls to stored actions: calls to actions an earlier task wrote"));
        // Accumulation off: no line, even with calls of its own functions.
        assert!(!t.contains("actions · fake · short"), "{t}");
        // The section follows the table and the paired differences.
        let table_end = t.find("budget: out of steps").expect("legend");
        assert!(t.find("actions · fake · long").expect("line") > table_end);
        // One call in one task.
        let extras = SummaryExtras {
            reuse: vec![reuse("long", 0, 1, 1, 1)],
            accumulation: modes(&[("long", "online")]),
            ..Default::default()
        };
        assert!(summary_table(&st, Some(&extras)).contains(
            "actions · fake · long: 0 created · 1 retrieved · 1 call to stored actions in 1 \
                 of 4 tasks\n"
        ));
    }

    #[test]
    fn an_accumulating_arm_without_reuse_says_so_plainly() {
        let st = fixture();
        let extras = SummaryExtras {
            reuse: vec![reuse("long", 2, 0, 0, 0), reuse("short", 0, 0, 0, 0)],
            top: vec![top("long", "helper", 5)],
            accumulation: modes(&[("long", "online"), ("short", "train-then-test")]),
            training_created: [(("fake".to_string(), "short".to_string()), 4)].into(),
            ..Default::default()
        };
        let t = summary_table(&st, Some(&extras));
        assert!(
            t.contains("actions · fake · long: 2 created · no task called a stored action\n"),
            "{t}"
        );
        assert!(
            t.contains(
                "actions · fake · short: 0 created (+4 in training) · no task called a stored \
                 action\n"
            ),
            "{t}"
        );
        assert!(!t.contains("helper"), "{t}");
        // Without a known mode, an arm that did nothing with actions gets no line; without
        // the report, no section at all.
        let extras = SummaryExtras {
            reuse: vec![reuse("long", 0, 0, 0, 0), reuse("short", 1, 0, 0, 0)],
            ..Default::default()
        };
        let t = summary_table(&st, Some(&extras));
        assert!(!t.contains("actions · fake · long"), "{t}");
        assert!(t.contains("actions · fake · short: 1 created"), "{t}");
        assert!(!summary_table(&st, None).contains("actions ·"));
    }

    #[test]
    fn extras_come_from_the_report() {
        let mut report = Report::default();
        report.header.scopes = vec![
            herd_report::ArmScope {
                benchmark: "a".into(),
                backbone: "fake".into(),
                arm: "long".into(),
                accumulation: "off".into(),
                ..Default::default()
            },
            herd_report::ArmScope {
                benchmark: "b".into(),
                backbone: "fake".into(),
                arm: "long".into(),
                accumulation: "online".into(),
                ..Default::default()
            },
        ];
        report.training = vec![herd_report::TrainingPhase {
            accuracy: herd_report::AccuracyRow {
                backbone: "fake".into(),
                arm: "tt".into(),
                ..Default::default()
            },
            actions_created: 3,
            ..Default::default()
        }];
        report.reuse = vec![reuse("long", 1, 0, 0, 0)];
        let extras = SummaryExtras::from_report(report);
        assert_eq!(extras.accumulation, modes(&[("long", "online")]));
        assert_eq!(
            extras.training_created,
            [(("fake".to_string(), "tt".to_string()), 3)].into()
        );
        assert_eq!(extras.reuse.len(), 1);
    }
}
