//! Throughput benchmark: loads the full MATH test (5000 items) and scores every gold against
//! itself and against a perturbed answer, printing items/s (baseline: the load rate); then
//! the scorers' agreement with the reference implementations on the committed fixtures.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use herd_core::config::BenchmarkKind;

use crate::error::DatasetError;
use crate::item::Item;
use crate::source::{LoadOptions, Resolved, Store};
use crate::{loaders, score};

/// A deliberately wrong answer: integers plus one, anything else prefixed with `1+`
/// (a prefix, because Hendrycks' unit rule drops everything after `\text{ `).
pub fn perturb(gold: &str) -> String {
    match gold.trim().parse::<i64>() {
        Ok(v) => (v + 1).to_string(),
        Err(_) => format!("1+{gold}"),
    }
}

/// Runs the benchmark on `shared_dir` (the shared datasets folder) and returns the table.
pub fn bench_datasets(shared_dir: &Path) -> Result<String, DatasetError> {
    let src = Resolved::Dir(crate::source::Loc {
        store: std::sync::Arc::new(Store::Local(shared_dir.to_path_buf())),
        rel: String::new(),
    });
    let t0 = Instant::now();
    let mut rd = crate::source::Reader::new(LoadOptions::default());
    let items = loaders::math::load(&src, "full", &mut rd)?;
    let load_s = t0.elapsed().as_secs_f64();
    let n = items.len();

    let t1 = Instant::now();
    let mut self_ok = 0usize;
    for it in &items {
        if score::score(BenchmarkKind::Math, it, it.gold.as_deref().unwrap_or("")).correct {
            self_ok += 1;
        }
    }
    let self_s = t1.elapsed().as_secs_f64();

    let t2 = Instant::now();
    let mut wrong_ok = 0usize;
    for it in &items {
        let wrong = perturb(it.gold.as_deref().unwrap_or(""));
        if score::score(BenchmarkKind::Math, it, &wrong).correct {
            wrong_ok += 1;
        }
    }
    let wrong_s = t2.elapsed().as_secs_f64();

    let rate = |s: f64| if s > 0.0 { n as f64 / s } else { f64::INFINITY };
    let base = rate(load_s);
    let mut out = String::new();
    out.push_str(&format!(
        "MATH full test: {n} items from {}\n",
        shared_dir.display()
    ));
    out.push_str(&format!(
        "{:<28} {:>10} {:>12} {:>14}\n",
        "phase", "seconds", "items/s", "vs load rate"
    ));
    for (name, s) in [
        ("load (parse + boxed)", load_s),
        ("score gold vs gold", self_s),
        ("score gold vs perturbed", wrong_s),
    ] {
        out.push_str(&format!(
            "{:<28} {:>10.3} {:>12.0} {:>13.2}x\n",
            name,
            s,
            rate(s),
            rate(s) / base
        ));
    }
    out.push_str(&format!(
        "gold vs gold correct: {self_ok}/{n}; perturbed scored correct: {wrong_ok}/{n}; target: scoring 5000 in < 2 s ({})\n",
        if self_s + wrong_s < 4.0 { "met" } else { "missed" }
    ));
    out.push('\n');
    out.push_str(&agreement_table(&embedded_agreement()?));
    Ok(out)
}

/// The agreement corpus (`datasets/tests/fixtures/agreement`, made by
/// `scripts/gen-agreement.py`), embedded so the bench runs from any directory.
pub const AGREEMENT_FIXTURES: [(BenchmarkKind, &str); 5] = [
    (
        BenchmarkKind::Math,
        include_str!("../tests/fixtures/agreement/math.jsonl"),
    ),
    (
        BenchmarkKind::Tabmwp,
        include_str!("../tests/fixtures/agreement/tabmwp.jsonl"),
    ),
    (
        BenchmarkKind::Gaia,
        include_str!("../tests/fixtures/agreement/gaia.jsonl"),
    ),
    (
        BenchmarkKind::Gpqa,
        include_str!("../tests/fixtures/agreement/gpqa.jsonl"),
    ),
    (
        BenchmarkKind::Aime,
        include_str!("../tests/fixtures/agreement/aime.jsonl"),
    ),
];

/// The documented deviations (`deviations.jsonl` beside the fixtures).
pub const AGREEMENT_DEVIATIONS: &str = include_str!("../tests/fixtures/agreement/deviations.jsonl");

/// One fixture row: an answer, the gold and the reference implementation's verdict.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct AgreementRow {
    pub prediction: String,
    pub gold: String,
    /// The reference's verdict.
    pub expected: bool,
    pub case: String,
    /// TabMWP only: the unit and the options of a multiple-choice question.
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub choices: Option<Vec<String>>,
}

/// A row where herd deliberately differs from the reference, with the reason.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Deviation {
    pub benchmark: String,
    pub prediction: String,
    pub gold: String,
    pub herd_verdict: bool,
    pub reference_verdict: bool,
    pub reason: String,
}

/// One benchmark's agreement with its reference on the fixture.
#[derive(Debug, Clone, Default)]
pub struct Agreement {
    pub benchmark: String,
    pub rows: usize,
    pub agree: usize,
    /// Disagreements listed in the deviations file.
    pub documented: usize,
    /// Disagreements not listed: `gold | prediction | herd | reference | rule`.
    pub undocumented: Vec<String>,
    /// Listed deviations that no longer occur (the row agrees, is gone, or its verdicts changed).
    pub stale: Vec<String>,
}

impl Agreement {
    pub fn percent(&self) -> f64 {
        if self.rows == 0 {
            0.0
        } else {
            100.0 * self.agree as f64 / self.rows as f64
        }
    }
}

fn jsonl<T: serde::de::DeserializeOwned>(text: &str, path: &str) -> Result<Vec<T>, DatasetError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| DatasetError::Parse {
                path: path.to_string(),
                line: i + 1,
                message: e.to_string(),
            })
        })
        .collect()
}

/// Parses the deviations file.
pub fn parse_deviations(text: &str) -> Result<Vec<Deviation>, DatasetError> {
    jsonl(text, "agreement/deviations.jsonl")
}

/// Herd's verdict on one fixture row (through [`score::score_gold`]) and the deciding rule.
pub fn herd_verdict(kind: BenchmarkKind, row: &AgreementRow) -> (bool, String) {
    let mut item = Item {
        id: "agreement".into(),
        question: String::new(),
        gold: Some(row.gold.clone()),
        metadata: Default::default(),
        attachments: Vec::new(),
        split: "test".into(),
        origin: "agreement".into(),
    };
    if let Some(u) = row.unit.as_deref().filter(|u| !u.is_empty()) {
        item.metadata.insert("unit".into(), u.to_string());
    }
    if let Some(c) = &row.choices {
        item.metadata.insert(
            "choices".into(),
            serde_json::to_string(c).unwrap_or_default(),
        );
    }
    let s = score::score_gold(kind, &row.gold, &item, &row.prediction);
    (s.correct, s.rule)
}

/// Runs herd's scorer on every row of one fixture and checks the disagreements against the
/// deviations listed for that benchmark.
pub fn agreement(
    kind: BenchmarkKind,
    fixture: &str,
    deviations: &[Deviation],
) -> Result<Agreement, DatasetError> {
    let name = kind.as_str();
    let rows: Vec<AgreementRow> = jsonl(fixture, &format!("agreement/{name}.jsonl"))?;
    let mut listed: BTreeMap<(&str, &str), &Deviation> = BTreeMap::new();
    let mut out = Agreement {
        benchmark: name.to_string(),
        rows: rows.len(),
        ..Agreement::default()
    };
    for d in deviations.iter().filter(|d| d.benchmark == name) {
        if listed
            .insert((d.gold.as_str(), d.prediction.as_str()), d)
            .is_some()
        {
            out.stale.push(format!(
                "duplicate deviation: gold {:?} prediction {:?}",
                d.gold, d.prediction
            ));
        }
    }
    for row in &rows {
        let (herd, rule) = herd_verdict(kind, row);
        let dev = listed.remove(&(row.gold.as_str(), row.prediction.as_str()));
        if herd == row.expected {
            out.agree += 1;
            if dev.is_some() {
                out.stale.push(format!(
                    "now agrees: gold {:?} prediction {:?} (both {herd}, {rule})",
                    row.gold, row.prediction
                ));
            }
            continue;
        }
        match dev {
            Some(d) if d.herd_verdict == herd && d.reference_verdict == row.expected => {
                out.documented += 1;
            }
            Some(d) => out.stale.push(format!(
                "verdicts changed: gold {:?} prediction {:?}: listed herd {} reference {}, now herd {herd} reference {} ({rule})",
                row.gold, row.prediction, d.herd_verdict, d.reference_verdict, row.expected
            )),
            None => out.undocumented.push(format!(
                "[{}] gold {:?} prediction {:?}: herd {herd}, reference {} ({rule})",
                row.case, row.gold, row.prediction, row.expected
            )),
        }
    }
    for d in listed.values() {
        out.stale.push(format!(
            "not in the fixture: gold {:?} prediction {:?}",
            d.gold, d.prediction
        ));
    }
    Ok(out)
}

/// [`agreement`] for every embedded fixture.
pub fn embedded_agreement() -> Result<Vec<Agreement>, DatasetError> {
    let devs = parse_deviations(AGREEMENT_DEVIATIONS)?;
    AGREEMENT_FIXTURES
        .iter()
        .map(|(kind, text)| agreement(*kind, text, &devs))
        .collect()
}

/// The agreement table: benchmark, rows, agree, deviations documented, agreement %.
pub fn agreement_table(results: &[Agreement]) -> String {
    let mut out = String::from("scorer agreement with the reference implementations\n");
    out.push_str(&format!(
        "{:<10} {:>6} {:>6} {:>12} {:>11}\n",
        "benchmark", "rows", "agree", "deviations", "agreement"
    ));
    for a in results {
        out.push_str(&format!(
            "{:<10} {:>6} {:>6} {:>12} {:>10.1}%\n",
            a.benchmark,
            a.rows,
            a.agree,
            a.documented,
            a.percent()
        ));
    }
    let bad: usize = results
        .iter()
        .map(|a| a.undocumented.len() + a.stale.len())
        .sum();
    if bad > 0 {
        out.push_str(&format!(
            "{bad} undocumented or stale deviations (run the agreement test)\n"
        ));
    }
    out
}
