//! Action-use measurements for one task: which calls were of generated vs user-defined
//! actions, which generated calls reused an action an earlier task wrote, per-action call
//! counts, and coverage (steps that used only actions that already existed and defined
//! none).

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

/// How one step used actions.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct StepUsage {
    /// Calls of generated actions that existed before the step.
    pub generated_calls: Vec<String>,
    /// The part of `generated_calls` that an earlier task wrote (not this task's own).
    pub reused_calls: Vec<String>,
    /// Calls of user-defined actions (tools shipped with herd).
    pub user_calls: Vec<String>,
    /// The step called at least one action, all of them pre-existing, and defined none.
    pub covered: bool,
}

/// Totals for a task, in the shape of `TaskMetrics`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct UsageTotals {
    pub generated_calls: u32,
    pub user_calls: u32,
    /// `(name, calls)`, sorted by name.
    pub actions_called: Vec<(String, u32)>,
    pub covered_steps: u32,
    /// Calls of generated actions an earlier task wrote (part of `generated_calls`).
    pub reused_calls: u32,
}

/// Classifies a task's calls step by step.
///
/// Generated actions known at the start are the library's names visible to the task (e.g.
/// from [`crate::ActionLibrary::list`] filtered by the task's start seq, or the names it
/// retrieved). Functions defined by earlier steps of the same task count as existing for
/// later steps, but calling them is not reuse.
#[derive(Debug, Clone, Default)]
pub struct UsageTracker {
    generated: HashSet<String>,
    /// Functions this task defined (generated, but its own).
    own: HashSet<String>,
    user: HashSet<String>,
    counts: BTreeMap<String, u32>,
    totals: UsageTotals,
}

impl UsageTracker {
    pub fn new(
        generated_at_start: impl IntoIterator<Item = String>,
        user_actions: impl IntoIterator<Item = String>,
    ) -> Self {
        UsageTracker {
            generated: generated_at_start.into_iter().collect(),
            user: user_actions.into_iter().collect(),
            ..Default::default()
        }
    }

    /// Adds generated actions that became available mid-task (e.g. loaded after retrieval).
    pub fn add_generated(&mut self, names: impl IntoIterator<Item = String>) {
        self.generated.extend(names);
    }

    /// Records one step: the names its cell called and the functions it defined.
    pub fn record_step(&mut self, called: &[String], defined: &[String]) -> StepUsage {
        let defined_here: HashSet<&str> = defined.iter().map(String::as_str).collect();
        let mut usage = StepUsage::default();
        for name in called {
            if defined_here.contains(name.as_str()) {
                continue;
            }
            if self.user.contains(name) {
                usage.user_calls.push(name.clone());
            } else if self.generated.contains(name) {
                usage.generated_calls.push(name.clone());
                if !self.own.contains(name) {
                    usage.reused_calls.push(name.clone());
                }
            } else {
                continue;
            }
            *self.counts.entry(name.clone()).or_default() += 1;
        }
        let used_any = !usage.generated_calls.is_empty() || !usage.user_calls.is_empty();
        let calls_new = called.iter().any(|c| defined_here.contains(c.as_str()));
        usage.covered = used_any && defined.is_empty() && !calls_new;
        self.totals.generated_calls += usage.generated_calls.len() as u32;
        self.totals.user_calls += usage.user_calls.len() as u32;
        self.totals.reused_calls += usage.reused_calls.len() as u32;
        if usage.covered {
            self.totals.covered_steps += 1;
        }
        // Functions defined now exist for later steps.
        self.generated.extend(defined.iter().cloned());
        self.own.extend(defined.iter().cloned());
        usage
    }

    pub fn totals(&self) -> UsageTotals {
        UsageTotals {
            actions_called: self.counts.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            ..self.totals.clone()
        }
    }
}

/// Whether `name` is a generated action (in `generated`) rather than a user-defined one.
pub fn is_generated(name: &str, generated: &HashSet<String>, user: &HashSet<String>) -> bool {
    !user.contains(name) && generated.contains(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn classifies_calls_and_coverage() {
        let mut t = UsageTracker::new(
            s(&["col_mean", "parse_table"]),
            s(&["web_search", "final_answer"]),
        );
        // Uses an existing generated action and a tool; defines nothing: covered.
        let u = t.record_step(&s(&["print", "col_mean", "web_search"]), &[]);
        assert_eq!(u.generated_calls, s(&["col_mean"]));
        assert_eq!(u.reused_calls, s(&["col_mean"]));
        assert_eq!(u.user_calls, s(&["web_search"]));
        assert!(u.covered);
        // Defines a new function: not covered, even though it also calls existing ones.
        let u = t.record_step(&s(&["col_mean", "helper"]), &s(&["helper"]));
        assert!(!u.covered);
        assert_eq!(u.generated_calls, s(&["col_mean"]));
        // Only builtins: not covered (no action used).
        let u = t.record_step(&s(&["len", "print"]), &[]);
        assert!(!u.covered);
        // The helper from step 2 now counts as existing.
        let u = t.record_step(&s(&["helper"]), &[]);
        assert!(u.covered);
        assert_eq!(u.generated_calls, s(&["helper"]));
        assert!(
            u.reused_calls.is_empty(),
            "the task's own helper is not reuse"
        );
        let totals = t.totals();
        assert_eq!(totals.generated_calls, 3);
        assert_eq!(totals.user_calls, 1);
        assert_eq!(totals.covered_steps, 2);
        assert_eq!(totals.reused_calls, 2);
        assert_eq!(
            totals.actions_called,
            vec![
                ("col_mean".to_string(), 2),
                ("helper".to_string(), 1),
                ("web_search".to_string(), 1)
            ]
        );
    }

    #[test]
    fn user_names_win_over_generated() {
        let generated: HashSet<String> = s(&["web_search", "f"]).into_iter().collect();
        let user: HashSet<String> = s(&["web_search"]).into_iter().collect();
        assert!(!is_generated("web_search", &generated, &user));
        assert!(is_generated("f", &generated, &user));
        assert!(!is_generated("g", &generated, &user));
    }
}
