//! `herd score`: scores a file of predictions against a benchmark with the scorers a sweep
//! uses, and rescores a finished run's recorded answers with today's scorers, listing the
//! items whose verdict changed. Neither overwrites anything: results go to new files.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use herd_core::config::BenchmarkKind;
use herd_core::result::{ResultRecord, Status};
use herd_datasets::{Dataset, Item, score};
use serde::{Deserialize, Serialize};

use crate::error::{ReportError, Result};
use crate::stats::{self, Interval};

/// One line of a predictions file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PredictionLine {
    id: String,
    answer: Option<String>,
    /// Needed only when the spec holds several benchmarks that share the id.
    #[serde(default)]
    benchmark: Option<String>,
}

/// The verdict on one prediction (one line of the scored JSONL).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Verdict {
    pub id: String,
    pub benchmark: String,
    pub correct: bool,
    pub extracted_answer: Option<String>,
    pub gold_answer: Option<String>,
    pub scorer: String,
    pub scorer_rule: String,
}

/// A line that could not be scored, with its 1-based line number.
#[derive(Debug, Clone, PartialEq)]
pub struct LineProblem {
    pub line: usize,
    pub message: String,
}

/// What a predictions file scored to.
#[derive(Debug, Clone, Default)]
pub struct PredictionScores {
    pub verdicts: Vec<Verdict>,
    /// Lines whose id no loaded benchmark has.
    pub unknown: Vec<LineProblem>,
    /// Later lines for an id already scored (the first line counts).
    pub duplicates: Vec<LineProblem>,
    /// Malformed lines, wrong benchmarks, ambiguous ids.
    pub errors: Vec<LineProblem>,
    /// Items of the loaded benchmarks with no prediction.
    pub missing: usize,
}

impl PredictionScores {
    pub fn correct(&self) -> u64 {
        self.verdicts.iter().filter(|v| v.correct).count() as u64
    }

    /// Accuracy over the scored predictions and its 95% Wilson interval.
    pub fn accuracy(&self) -> Option<(f64, Interval)> {
        let n = self.verdicts.len() as u64;
        let k = self.correct();
        stats::wilson(k, n, stats::Z95).map(|i| (k as f64 / n as f64, i))
    }

    /// The scored lines as JSONL.
    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        for v in &self.verdicts {
            out.push_str(&serde_json::to_string(v).unwrap_or_default());
            out.push('\n');
        }
        out
    }

    /// A summary for the terminal: accuracy, interval and every problem by line.
    pub fn summary(&self, predictions: &Path) -> String {
        let mut s = String::new();
        let n = self.verdicts.len();
        match self.accuracy() {
            Some((acc, i)) => {
                let _ = writeln!(
                    s,
                    "scored {n} predictions: {} correct, accuracy {:.1}% (95% CI {:.1}–{:.1}%)",
                    self.correct(),
                    acc * 100.0,
                    i.low * 100.0,
                    i.high * 100.0
                );
            }
            None => {
                let _ = writeln!(s, "scored no predictions");
            }
        }
        let _ = writeln!(
            s,
            "{} unknown ids · {} duplicates · {} bad lines · {} items without a prediction",
            self.unknown.len(),
            self.duplicates.len(),
            self.errors.len(),
            self.missing
        );
        for (what, list) in [
            ("unknown id", &self.unknown),
            ("duplicate", &self.duplicates),
            ("error", &self.errors),
        ] {
            for p in list {
                let _ = writeln!(
                    s,
                    "  {}:{}: {what}: {}",
                    predictions.display(),
                    p.line,
                    p.message
                );
            }
        }
        s
    }
}

/// Scores every line of `text` (JSONL of `{"id", "answer"[, "benchmark"]}`) against the items
/// of `datasets` (evaluation and training items), with the sweep's scorers.
pub fn score_predictions(datasets: &[Dataset], text: &str) -> PredictionScores {
    // id → (dataset index, item)
    let mut index: HashMap<&str, Vec<(usize, &Item)>> = HashMap::new();
    let mut total = 0usize;
    for (di, ds) in datasets.iter().enumerate() {
        for it in ds.items.iter().chain(&ds.train_items) {
            index.entry(it.id.as_str()).or_default().push((di, it));
            total += 1;
        }
    }
    let mut out = PredictionScores::default();
    let mut seen: HashSet<(usize, String)> = HashSet::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let p: PredictionLine = match serde_json::from_str(raw) {
            Ok(p) => p,
            Err(e) => {
                out.errors.push(LineProblem {
                    line,
                    message: format!("not a prediction (`{{\"id\": …, \"answer\": …}}`): {e}"),
                });
                continue;
            }
        };
        let Some(candidates) = index.get(p.id.as_str()) else {
            out.unknown.push(LineProblem {
                line,
                message: format!("no loaded benchmark has item `{}`", p.id),
            });
            continue;
        };
        let chosen: Vec<&(usize, &Item)> = match &p.benchmark {
            Some(b) => candidates
                .iter()
                .filter(|(di, _)| {
                    let ds = &datasets[*di];
                    ds.name == *b || ds.kind.as_str() == b
                })
                .collect(),
            None => candidates.iter().collect(),
        };
        let (di, item) = match chosen.as_slice() {
            [one] => **one,
            [] => {
                let names: Vec<&str> = candidates
                    .iter()
                    .map(|(di, _)| datasets[*di].name.as_str())
                    .collect();
                out.errors.push(LineProblem {
                    line,
                    message: format!(
                        "item `{}` is not in benchmark `{}` (it is in: {})",
                        p.id,
                        p.benchmark.as_deref().unwrap_or(""),
                        names.join(", ")
                    ),
                });
                continue;
            }
            _ => {
                out.errors.push(LineProblem {
                    line,
                    message: format!(
                        "item `{}` is in several benchmarks; add \"benchmark\" to the line",
                        p.id
                    ),
                });
                continue;
            }
        };
        if !seen.insert((di, p.id.clone())) {
            out.duplicates.push(LineProblem {
                line,
                message: format!("item `{}` was already scored by an earlier line", p.id),
            });
            continue;
        }
        let ds = &datasets[di];
        let s = score::score(ds.kind, item, p.answer.as_deref().unwrap_or(""));
        out.verdicts.push(Verdict {
            id: p.id,
            benchmark: ds.name.clone(),
            correct: s.correct,
            extracted_answer: s.extracted,
            gold_answer: item.gold.clone(),
            scorer: s.scorer.to_string(),
            scorer_rule: s.rule,
        });
    }
    out.missing = total.saturating_sub(seen.len());
    out
}

/// One result whose verdict changed on rescoring.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Change {
    pub task_key: String,
    pub benchmark: String,
    pub item_id: String,
    pub arm: String,
    pub backbone: String,
    pub answer: Option<String>,
    pub gold_answer: Option<String>,
    pub was_correct: Option<bool>,
    pub now_correct: Option<bool>,
    pub was_rule: String,
    pub now_rule: String,
}

/// A run rescored: every record with today's verdicts, and what changed.
#[derive(Debug, Clone)]
pub struct Rescored {
    pub results: Vec<ResultRecord>,
    pub changes: Vec<Change>,
    /// Scored rows rescored.
    pub rescored: usize,
    /// Rows whose scorer herd no longer knows (left as they were).
    pub unknown_scorer: usize,
}

impl Rescored {
    /// The list of changed items and the accuracy before and after.
    pub fn summary(&self, before: &[ResultRecord]) -> String {
        let acc = |rs: &[ResultRecord]| {
            let scored: Vec<&ResultRecord> = rs
                .iter()
                .filter(|r| r.status == Status::Scored.as_str() && r.correct.is_some())
                .collect();
            let k = scored.iter().filter(|r| r.correct == Some(true)).count();
            (k, scored.len())
        };
        let (k0, n0) = acc(before);
        let (k1, n1) = acc(&self.results);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "rescored {} scored results: {} changed ({} now correct, {} now wrong); correct {k0}/{n0} → {k1}/{n1}",
            self.rescored,
            self.changes.len(),
            self.changes
                .iter()
                .filter(|c| c.now_correct == Some(true))
                .count(),
            self.changes
                .iter()
                .filter(|c| c.now_correct == Some(false))
                .count(),
        );
        if self.unknown_scorer > 0 {
            let _ = writeln!(
                s,
                "{} results have a scorer this herd does not know; left as they were",
                self.unknown_scorer
            );
        }
        for c in &self.changes {
            let v = |b: Option<bool>| match b {
                Some(true) => "correct",
                Some(false) => "wrong",
                None => "unscored",
            };
            let _ = writeln!(
                s,
                "  {} {} [{} / {}]: {} → {} (rule {} → {}); answer {:?}, gold {:?}",
                c.benchmark,
                c.item_id,
                c.backbone,
                c.arm,
                v(c.was_correct),
                v(c.now_correct),
                c.was_rule,
                c.now_rule,
                c.answer.as_deref().unwrap_or(""),
                c.gold_answer.as_deref().unwrap_or("")
            );
        }
        s
    }
}

/// Rescores every `scored` record with today's scorers. The item is rebuilt from the record
/// (its id, gold and metadata), so no dataset is needed; the benchmark kind comes from the
/// scorer that scored it.
pub fn rescore_records(records: &[ResultRecord]) -> Rescored {
    let mut out = Rescored {
        results: Vec::with_capacity(records.len()),
        changes: Vec::new(),
        rescored: 0,
        unknown_scorer: 0,
    };
    for r in records {
        let mut r2 = r.clone();
        if r.status == Status::Scored.as_str() && r.gold_answer.is_some() {
            match score::kind_of_scorer(&r.scorer) {
                None => out.unknown_scorer += 1,
                Some(kind) => {
                    out.rescored += 1;
                    let s = rescore_one(kind, r);
                    r2.correct = Some(s.correct);
                    r2.score = Some(s.score);
                    r2.extracted_answer = s.extracted;
                    r2.scorer = format!("{}@{}", s.scorer, s.scorer_version);
                    r2.scorer_rule = s.rule;
                    if r2.correct != r.correct {
                        out.changes.push(Change {
                            task_key: r.task_key.clone(),
                            benchmark: r.benchmark.clone(),
                            item_id: r.item_id.clone(),
                            arm: r.arm.clone(),
                            backbone: r.backbone.clone(),
                            answer: r.answer.clone(),
                            gold_answer: r.gold_answer.clone(),
                            was_correct: r.correct,
                            now_correct: r2.correct,
                            was_rule: r.scorer_rule.clone(),
                            now_rule: r2.scorer_rule.clone(),
                        });
                    }
                }
            }
        }
        out.results.push(r2);
    }
    out
}

fn rescore_one(kind: BenchmarkKind, r: &ResultRecord) -> score::Score {
    let metadata = serde_json::from_str(&r.metadata).unwrap_or_default();
    let item = Item {
        id: r.item_id.clone(),
        question: String::new(),
        gold: r.gold_answer.clone(),
        metadata,
        attachments: Vec::new(),
        split: r.split.clone(),
        origin: format!("results row `{}`", r.task_key),
    };
    score::score(kind, &item, r.answer.as_deref().unwrap_or(""))
}

/// Rescores the run in `run` and writes `out` (default `<run>/rescored`): `results.parquet`
/// with today's verdicts, the run's `attempts.parquet`, and `changes.jsonl`. Refuses to write
/// into an existing directory. Returns the rescoring and the original records.
pub fn rescore_run(
    run: &Path,
    out: Option<&Path>,
) -> Result<(Rescored, Vec<ResultRecord>, PathBuf)> {
    let (dir, _) = crate::store::resolve_input(run)?;
    let out = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.join("rescored"));
    if out.exists() {
        return Err(ReportError::Exists(out));
    }
    let (records, attempts) = crate::store::read_result_records(run)?;
    let rescored = rescore_records(&records);
    crate::store::write_results(&out, &rescored.results, &attempts)?;
    let mut changes = String::new();
    for c in &rescored.changes {
        changes.push_str(&serde_json::to_string(c).unwrap_or_default());
        changes.push('\n');
    }
    let path = out.join("changes.jsonl");
    std::fs::write(&path, changes).map_err(|source| ReportError::Io {
        action: "write",
        path: path.clone(),
        source,
    })?;
    Ok((rescored, records, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(kind: BenchmarkKind, name: &str, items: &[(&str, &str)]) -> Dataset {
        Dataset {
            name: name.into(),
            kind,
            subset: "t".into(),
            source: "test".into(),
            fingerprint: "f".into(),
            items: items
                .iter()
                .map(|(id, gold)| Item {
                    id: id.to_string(),
                    question: "q".into(),
                    gold: Some(gold.to_string()),
                    metadata: Default::default(),
                    attachments: Vec::new(),
                    split: "test".into(),
                    origin: "t:1".into(),
                })
                .collect(),
            train_items: Vec::new(),
            total_items: items.len(),
        }
    }

    #[test]
    fn predictions_are_scored_and_every_bad_line_is_named() {
        let math = dataset(
            BenchmarkKind::Math,
            "math",
            &[("m1", "\\frac{1}{2}"), ("m2", "3"), ("shared", "4")],
        );
        let aime = dataset(BenchmarkKind::Aime, "aime", &[("a1", "7"), ("shared", "9")]);
        let text = [
            r#"{"id": "m1", "answer": "The answer is \\boxed{0.5}"}"#,
            r#"{"id": "m2", "answer": "4"}"#,
            r#"{"id": "a1", "answer": "007"}"#,
            r#"{"id": "m1", "answer": "1/2"}"#,
            r#"{"id": "nope", "answer": "1"}"#,
            r#"not json"#,
            r#"{"id": "shared", "answer": "4"}"#,
            r#"{"id": "shared", "answer": "9", "benchmark": "aime"}"#,
            r#"{"id": "a1", "answer": "7", "benchmark": "gpqa"}"#,
            "",
        ]
        .join("\n");
        let s = score_predictions(&[math, aime], &text);
        let got: Vec<(&str, &str, bool)> = s
            .verdicts
            .iter()
            .map(|v| (v.id.as_str(), v.benchmark.as_str(), v.correct))
            .collect();
        assert_eq!(
            got,
            [
                ("m1", "math", true),
                ("m2", "math", false),
                ("a1", "aime", true),
                ("shared", "aime", true)
            ]
        );
        assert_eq!(s.duplicates.iter().map(|p| p.line).collect::<Vec<_>>(), [4]);
        assert_eq!(s.unknown.iter().map(|p| p.line).collect::<Vec<_>>(), [5]);
        let errs: Vec<usize> = s.errors.iter().map(|p| p.line).collect();
        assert_eq!(errs, [6, 7, 9]);
        assert!(
            s.errors[1].message.contains("several benchmarks"),
            "{:?}",
            s.errors
        );
        assert!(
            s.errors[2].message.contains("not in benchmark `gpqa`"),
            "{:?}",
            s.errors
        );
        // m1, m2, a1 and aime's `shared` scored; math's `shared` has no prediction.
        assert_eq!(s.missing, 1);
        let (acc, i) = s.accuracy().unwrap();
        assert!((acc - 0.75).abs() < 1e-9 && i.low < 0.75 && i.high > 0.75);
        let summary = s.summary(Path::new("p.jsonl"));
        assert!(summary.contains("p.jsonl:5: unknown id"), "{summary}");
        let jsonl = s.to_jsonl();
        let first: serde_json::Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
        assert_eq!(first["extracted_answer"], "0.5");
        assert_eq!(first["gold_answer"], "\\frac{1}{2}");
        assert!(first["scorer_rule"].as_str().unwrap().starts_with("math:"));
    }

    #[test]
    fn rescoring_lists_changed_verdicts_and_leaves_other_rows_alone() {
        let rec = |key: &str, answer: &str, gold: &str, correct: bool, status: &str| {
            let kind_scorer = score::score(
                BenchmarkKind::Aime,
                &Item {
                    id: key.into(),
                    question: String::new(),
                    gold: Some(gold.into()),
                    metadata: Default::default(),
                    attachments: Vec::new(),
                    split: "test".into(),
                    origin: String::new(),
                },
                answer,
            )
            .scorer;
            ResultRecord {
                task_key: key.into(),
                item_id: key.into(),
                benchmark: "aime".into(),
                status: status.into(),
                correct: (status == "scored").then_some(correct),
                answer: Some(answer.into()),
                gold_answer: Some(gold.into()),
                scorer: format!("{kind_scorer}@0"),
                scorer_rule: "old".into(),
                metadata: "{}".into(),
                ..Default::default()
            }
        };
        let records = vec![
            // Recorded wrong by an older scorer; today's scorer says right.
            rec("k1", "007", "7", false, "scored"),
            rec("k2", "8", "7", false, "scored"),
            rec("k3", "7", "7", true, "scored"),
            rec("k4", "", "7", false, "budget"),
        ];
        let r = rescore_records(&records);
        assert_eq!(r.rescored, 3);
        assert_eq!(r.changes.len(), 1);
        assert_eq!(r.changes[0].task_key, "k1");
        assert_eq!(
            (r.changes[0].was_correct, r.changes[0].now_correct),
            (Some(false), Some(true))
        );
        assert_eq!(r.results[3], records[3], "unscored rows are untouched");
        assert_ne!(r.results[2].scorer_rule, "old", "rules are today's");
        let s = r.summary(&records);
        assert!(
            s.contains("1 changed (1 now correct, 0 now wrong); correct 1/3 → 2/3"),
            "{s}"
        );

        let dir = tempfile::tempdir().unwrap();
        crate::store::write_results(dir.path(), &records, &[]).unwrap();
        let (_, _, out) = rescore_run(dir.path(), None).unwrap();
        assert!(out.join("results.parquet").is_file());
        let changes = std::fs::read_to_string(out.join("changes.jsonl")).unwrap();
        assert_eq!(changes.lines().count(), 1);
        let again = rescore_run(dir.path(), None).unwrap_err().to_string();
        assert!(again.contains("never overwrites"), "{again}");
    }
}
