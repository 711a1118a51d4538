//! Live progress of a sweep with indicatif (overall and per benchmark × backbone × arm:
//! done / running / failed, accuracy so far, cost so far, ETA) and the final summary table.

use std::collections::HashMap;

use herd_proto::v1::{GroupStatus, SweepStatus};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Bars for one sweep.
pub struct Progress {
    multi: MultiProgress,
    overall: ProgressBar,
    groups: HashMap<String, ProgressBar>,
}

fn group_key(g: &GroupStatus) -> String {
    format!("{} · {} · {}", g.benchmark, g.backbone, g.arm_label())
}

fn pct(n: u64, d: u64) -> String {
    if d == 0 {
        "–".into()
    } else {
        format!("{:.1}%", 100.0 * n as f64 / d as f64)
    }
}

impl Progress {
    pub fn new(hidden: bool) -> Progress {
        let multi = if hidden {
            MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
        } else {
            MultiProgress::new()
        };
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(
            ProgressStyle::with_template("{prefix:.bold} [{bar:30.cyan/blue}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        overall.set_prefix("all");
        Progress {
            multi,
            overall,
            groups: HashMap::new(),
        }
    }

    /// Redraws from a status snapshot.
    pub fn update(&mut self, st: &SweepStatus) {
        self.overall.set_length(st.total);
        self.overall.set_position(st.done);
        let eta = if st.eta_secs > 0 {
            format!(" · eta {}", fmt_secs(st.eta_secs))
        } else {
            String::new()
        };
        let phase = if st.phase.is_empty() {
            String::new()
        } else {
            format!(" · phase {}", st.phase)
        };
        self.overall.set_message(format!(
            "running {} · failed {} · acc {} ({}/{}) · ${:.4}{eta}{phase}",
            st.running,
            st.failed,
            pct(st.correct, st.scored),
            st.correct,
            st.scored,
            st.cost_usd
        ));
        for g in &st.groups {
            let key = group_key(g);
            let bar = self.groups.entry(key.clone()).or_insert_with(|| {
                let b = self.multi.add(ProgressBar::new(g.total));
                b.set_style(
                    ProgressStyle::with_template("  {prefix} [{bar:20}] {pos}/{len} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                b.set_prefix(key);
                b
            });
            bar.set_length(g.total);
            bar.set_position(g.done);
            bar.set_message(format!(
                "run {} · fail {} · acc {} · ${:.4}",
                g.running,
                g.failed,
                pct(g.correct, g.scored),
                g.cost_usd
            ));
        }
    }

    pub fn finish(&self) {
        for b in self.groups.values() {
            b.finish();
        }
        self.overall.finish();
    }

    pub fn println(&self, msg: &str) {
        let _ = self.multi.println(msg);
    }
}

fn fmt_secs(s: u64) -> String {
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// The summary table printed at the end.
pub fn summary_table(st: &SweepStatus) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "sweep {} — {} · {}/{} tasks done · {} failed · accuracy {} (scored splits) · cost ${:.4}\n",
        st.sweep_id,
        st.state,
        st.done,
        st.total,
        st.failed,
        pct(st.correct, st.scored),
        st.cost_usd
    ));
    let header = format!(
        "{:<18} {:<22} {:<18} {:>6} {:>6} {:>7} {:>9} {:>10}\n",
        "benchmark", "backbone", "arm", "done", "failed", "correct", "accuracy", "cost $"
    );
    let row = |g: &herd_proto::v1::GroupStatus| {
        format!(
            "{:<18} {:<22} {:<18} {:>6} {:>6} {:>7} {:>9} {:>10.4}\n",
            g.benchmark,
            g.backbone,
            g.arm,
            format!("{}/{}", g.done, g.total),
            g.failed,
            g.correct,
            pct(g.correct, g.scored),
            g.cost_usd
        )
    };
    out.push_str(&header);
    for g in st.groups.iter().filter(|g| !g.training) {
        out.push_str(&row(g));
    }
    let training: Vec<_> = st.groups.iter().filter(|g| g.training).collect();
    if !training.is_empty() {
        out.push_str(
            "training phases (fill the library of train-then-test arms; not in the accuracy above; \
             their cost is in the sweep's total):\n",
        );
        out.push_str(&header);
        for g in training {
            out.push_str(&row(g));
        }
    }
    out
}
