//! Agreement with the reference scorers, as data: every row of the committed corpus
//! (`tests/fixtures/agreement`, made by `scripts/gen-agreement.py`) must get herd's verdict
//! equal to the reference's, except the rows listed in `deviations.jsonl` — which must still differ.

use std::collections::BTreeSet;
use std::path::PathBuf;

use herd_core::config::BenchmarkKind;
use herd_datasets::bench::{
    AgreementRow, agreement, agreement_table, herd_verdict, parse_deviations,
};

const BENCHES: [(BenchmarkKind, usize); 5] = [
    (BenchmarkKind::Math, 300),
    (BenchmarkKind::Tabmwp, 150),
    (BenchmarkKind::Gaia, 150),
    (BenchmarkKind::Gpqa, 50),
    (BenchmarkKind::Aime, 50),
];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agreement")
}

fn read(name: &str) -> String {
    let p = dir().join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn rows(kind: BenchmarkKind) -> Vec<AgreementRow> {
    read(&format!("{}.jsonl", kind.as_str()))
        .lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{} line {}: {e}", kind.as_str(), i + 1))
        })
        .collect()
}

/// With `HERD_AGREEMENT_DUMP=<file>`, writes every current disagreement as a deviation
/// skeleton (reason left empty), to help curate `deviations.jsonl` after regenerating.
fn dump_disagreements() {
    let Ok(path) = std::env::var("HERD_AGREEMENT_DUMP") else {
        return;
    };
    let mut out = String::new();
    for (kind, _) in BENCHES {
        for r in rows(kind) {
            let (herd, rule) = herd_verdict(kind, &r);
            if herd != r.expected {
                let v = serde_json::json!({
                    "benchmark": kind.as_str(),
                    "prediction": r.prediction,
                    "gold": r.gold,
                    "herd_verdict": herd,
                    "reference_verdict": r.expected,
                    "reason": "",
                    "case": r.case,
                    "rule": rule,
                });
                out.push_str(&v.to_string());
                out.push('\n');
            }
        }
    }
    std::fs::write(&path, out).expect("write dump");
}

#[test]
fn herd_agrees_with_the_references_except_documented_deviations() {
    dump_disagreements();
    let devs = parse_deviations(&read("deviations.jsonl")).expect("deviations.jsonl");
    for d in &devs {
        assert!(
            BENCHES.iter().any(|(k, _)| k.as_str() == d.benchmark),
            "deviation for unknown benchmark {:?}",
            d.benchmark
        );
        assert!(
            d.herd_verdict != d.reference_verdict,
            "deviation with equal verdicts: {d:?}"
        );
        assert!(
            d.reason.trim().len() >= 10,
            "deviation without a reason: {d:?}"
        );
    }
    let mut results = Vec::new();
    let mut problems = Vec::new();
    for (kind, _) in BENCHES {
        let text = read(&format!("{}.jsonl", kind.as_str()));
        let a = agreement(kind, &text, &devs).expect("fixture parses");
        for u in &a.undocumented {
            problems.push(format!("{}: undocumented disagreement {u}", a.benchmark));
        }
        for s in &a.stale {
            problems.push(format!("{}: stale deviation, {s}", a.benchmark));
        }
        results.push(a);
    }
    println!("{}", agreement_table(&results));
    assert!(
        problems.is_empty(),
        "{} problems (document real deviations in tests/fixtures/agreement/deviations.jsonl and docs/scoring-deviations.md; remove ones that no longer occur):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn corpus_is_large_balanced_and_unique() {
    for (kind, min) in BENCHES {
        let rs = rows(kind);
        assert!(
            rs.len() >= min,
            "{}: {} rows, want at least {min}",
            kind.as_str(),
            rs.len()
        );
        let yes = rs.iter().filter(|r| r.expected).count();
        let no = rs.len() - yes;
        assert!(
            yes * 5 >= rs.len() / 2 && no * 5 >= rs.len() / 2,
            "{}: verdicts too one-sided ({yes} equivalent, {no} not)",
            kind.as_str()
        );
        let mut seen = BTreeSet::new();
        for r in &rs {
            assert!(
                seen.insert((r.gold.clone(), r.prediction.clone())),
                "{}: duplicate row gold {:?} prediction {:?}",
                kind.as_str(),
                r.gold,
                r.prediction
            );
            assert!(
                !r.case.is_empty(),
                "{}: row without a case tag",
                kind.as_str()
            );
        }
    }
}

#[test]
fn embedded_fixtures_match_the_files() {
    for (kind, text) in herd_datasets::bench::AGREEMENT_FIXTURES {
        assert_eq!(
            text,
            read(&format!("{}.jsonl", kind.as_str())),
            "{}: rebuild after regenerating the corpus",
            kind.as_str()
        );
    }
    let table = agreement_table(&herd_datasets::bench::embedded_agreement().expect("embedded"));
    for (kind, _) in BENCHES {
        assert!(table.contains(kind.as_str()), "{table}");
    }
    assert!(!table.contains("undocumented"), "{table}");
}

#[test]
fn undocumented_and_stale_deviations_are_reported() {
    let fixture = concat!(
        r#"{"prediction": "16", "gold": "17", "expected": true, "case": "t"}"#,
        "\n",
        r#"{"prediction": "17", "gold": "17", "expected": true, "case": "t"}"#,
        "\n",
        r#"{"prediction": "18", "gold": "17", "expected": true, "case": "t"}"#,
        "\n",
    );
    let devs = parse_deviations(concat!(
        r#"{"benchmark": "gaia", "prediction": "16", "gold": "17", "herd_verdict": false, "reference_verdict": true, "reason": "listed and still differs"}"#,
        "\n",
        r#"{"benchmark": "gaia", "prediction": "17", "gold": "17", "herd_verdict": false, "reference_verdict": true, "reason": "listed but now agrees"}"#,
        "\n",
        r#"{"benchmark": "gaia", "prediction": "19", "gold": "17", "herd_verdict": false, "reference_verdict": true, "reason": "listed but not in the corpus"}"#,
        "\n",
    ))
    .expect("deviations");
    let a = agreement(BenchmarkKind::Gaia, fixture, &devs).expect("agreement");
    assert_eq!((a.rows, a.agree, a.documented), (3, 1, 1));
    assert_eq!(a.undocumented.len(), 1, "{:?}", a.undocumented);
    assert!(a.undocumented[0].contains("\"18\""), "{:?}", a.undocumented);
    assert_eq!(a.stale.len(), 2, "{:?}", a.stale);
    assert!(a.stale.iter().any(|s| s.starts_with("now agrees")));
    assert!(a.stale.iter().any(|s| s.starts_with("not in the fixture")));
}
