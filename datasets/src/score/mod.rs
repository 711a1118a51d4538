//! Scorers reproducing each benchmark's official answer-checking rules. Every [`Score`]
//! names the scorer, its version and the rule that decided (e.g. `gaia:number`).

pub mod aime;
pub mod boxed;
pub mod gaia;
pub mod gpqa;
pub mod latex;
pub mod math;
pub mod mini;
pub mod strip;
pub mod tabmwp;

use herd_core::config::BenchmarkKind;
use serde::Serialize;

use crate::item::Item;

/// The verdict on one answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub correct: bool,
    /// 1.0 or 0.0 for all current scorers.
    pub score: f64,
    /// What the scorer took as the answer (a letter, an integer, a boxed expression, …).
    pub extracted: Option<String>,
    pub scorer: &'static str,
    pub scorer_version: &'static str,
    /// The rule that decided, e.g. `gaia:number`, `math:symbolic`, `gpqa:answer-pattern`.
    pub rule: String,
}

impl Score {
    fn new(
        correct: bool,
        extracted: Option<String>,
        scorer: &'static str,
        version: &'static str,
        rule: &str,
    ) -> Score {
        Score {
            correct,
            score: if correct { 1.0 } else { 0.0 },
            extracted,
            scorer,
            scorer_version: version,
            rule: rule.to_string(),
        }
    }
}

fn scorer_of(kind: BenchmarkKind) -> (&'static str, &'static str) {
    match kind {
        BenchmarkKind::Gaia => (gaia::SCORER, gaia::VERSION),
        BenchmarkKind::Math => (math::SCORER, math::VERSION),
        BenchmarkKind::Gpqa => (gpqa::SCORER, gpqa::VERSION),
        BenchmarkKind::Aime => (aime::SCORER, aime::VERSION),
        BenchmarkKind::Tabmwp => (tabmwp::SCORER, tabmwp::VERSION),
        BenchmarkKind::HerdMini => (mini::SCORER, mini::VERSION),
    }
}

/// The benchmark kind whose scorer is named `scorer`, as a result row records it
/// (`name@version`, or the bare name).
pub fn kind_of_scorer(scorer: &str) -> Option<BenchmarkKind> {
    let name = scorer.split_once('@').map_or(scorer, |(n, _)| n);
    crate::ALL_KINDS
        .into_iter()
        .find(|k| scorer_of(*k).0 == name)
}

/// Scores `answer` (the agent's final answer text) against the item's gold.
pub fn score(kind: BenchmarkKind, item: &Item, answer: &str) -> Score {
    let (name, version) = scorer_of(kind);
    let Some(gold) = item.gold.as_deref() else {
        return Score::new(
            false,
            None,
            name,
            version,
            &format!("{}:no-gold", kind.as_str()),
        );
    };
    score_gold(kind, gold, item, answer)
}

/// Scores against an explicit gold (used by validation and the agreement checks).
pub fn score_gold(kind: BenchmarkKind, gold: &str, item: &Item, answer: &str) -> Score {
    let (name, version) = scorer_of(kind);
    match kind {
        BenchmarkKind::Gaia => {
            let a = answer.trim();
            let (ok, rule) = gaia::grade(gold, a);
            Score::new(ok, Some(a.to_string()), name, version, rule)
        }
        BenchmarkKind::Math => {
            let a = math::extract(answer);
            // The gold gets the same light cleanup (some golds end with a period).
            let (ok, rule) = math::grade(&math::extract(gold), &a);
            Score::new(ok, Some(a), name, version, rule)
        }
        BenchmarkKind::Gpqa => {
            let (ok, ex, rule) = gpqa::grade(gold, answer);
            Score::new(ok, ex, name, version, rule)
        }
        BenchmarkKind::Aime => {
            let (ok, ex, rule) = aime::grade(gold, answer);
            Score::new(ok, ex.map(|v| v.to_string()), name, version, rule)
        }
        BenchmarkKind::Tabmwp => {
            let choices: Option<Vec<String>> = item
                .meta("choices")
                .and_then(|c| serde_json::from_str(c).ok());
            let (ok, ex, rule) = tabmwp::grade(gold, answer, item.meta("unit"), choices.as_deref());
            Score::new(ok, Some(ex), name, version, rule)
        }
        BenchmarkKind::HerdMini => {
            let number = item.meta("answer_type") == Some("number");
            let tol = item.meta("tolerance").and_then(|t| t.parse().ok());
            let (ok, ex, rule) = mini::grade(gold, answer, number, tol);
            Score::new(ok, ex, name, version, rule)
        }
    }
}

/// Whether a gold answer is usable by the kind's scorer (for `validate`).
pub fn check_gold(kind: BenchmarkKind, item: &Item) -> Result<(), String> {
    let Some(gold) = item.gold.as_deref() else {
        return Ok(());
    };
    match kind {
        BenchmarkKind::Aime if aime::gold_values(gold).is_empty() => {
            Err(format!("gold `{gold}` has no integer"))
        }
        BenchmarkKind::Gpqa if !matches!(gold, "A" | "B" | "C" | "D") => {
            Err(format!("gold `{gold}` is not a letter A-D"))
        }
        _ => {
            let s = score_gold(kind, gold, item, gold);
            if s.correct {
                Ok(())
            } else {
                Err(format!(
                    "gold `{gold}` does not score correct against itself ({})",
                    s.rule
                ))
            }
        }
    }
}
