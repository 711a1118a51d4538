//! Scorer agreement on real data: every MATH gold scores correct against itself and the
//! solution's boxed answer; perturbed answers score incorrect.

mod common;

use common::*;
use herd_core::config::BenchmarkKind;
use herd_datasets::bench::perturb;
use herd_datasets::score::boxed::last_boxed;
use herd_datasets::{load, score};

#[test]
fn math500_gold_agreement() {
    let base = crate_dir();
    let d = load(&shared_cfg(BenchmarkKind::Math, "math500"), &base, 0).expect("math500");
    let text = std::fs::read_to_string(shared().join("math/math500/test.jsonl")).expect("read");
    let mut boxed = std::collections::BTreeMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        let id = v["unique_id"].as_str().expect("id").to_string();
        let b = last_boxed(v["solution"].as_str().expect("solution")).expect("boxed");
        boxed.insert(id, b);
    }
    let frac_re = regex::Regex::new(r"^\\frac\{(\d+)\}\{(\d+)\}$").expect("regex");
    let mut failures = Vec::new();
    for it in &d.items {
        let gold = it.gold.as_deref().expect("gold");
        let s = score(BenchmarkKind::Math, it, gold);
        if !s.correct {
            failures.push(format!("self {}: {gold:?} ({})", it.id, s.rule));
        }
        let b = &boxed[&it.id];
        let s = score(
            BenchmarkKind::Math,
            it,
            &format!("So the answer is $\\boxed{{{b}}}$."),
        );
        if !s.correct {
            failures.push(format!(
                "boxed {}: gold {gold:?} vs {b:?} ({})",
                it.id, s.rule
            ));
        }
        // Equivalent rewritings must stay correct.
        let mut variants = vec![
            format!("${gold}$"),
            gold.replace("\\frac", "\\dfrac"),
            format!("Final answer: {gold}"),
        ];
        if gold.parse::<i64>().is_ok() {
            variants.push(format!("{gold}.0"));
        }
        if let Some(c) = frac_re.captures(gold) {
            variants.push(format!("{}/{}", &c[1], &c[2]));
        }
        if gold.starts_with('(') && gold.contains(',') {
            variants.push(gold.replace(',', ", ").replacen('(', "\\left(", 1));
        }
        for v in variants {
            let s = score(BenchmarkKind::Math, it, &v);
            if !s.correct {
                failures.push(format!(
                    "variant {}: gold {gold:?} vs {v:?} ({})",
                    it.id, s.rule
                ));
            }
        }
        let w = perturb(gold);
        let s = score(BenchmarkKind::Math, it, &w);
        if s.correct {
            failures.push(format!(
                "perturbed {}: {gold:?} vs {w:?} ({})",
                it.id, s.rule
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn math500_wrong_answers_from_other_items() {
    // Another item's gold, when its normalised form differs, must not score correct.
    let base = crate_dir();
    let d = load(&shared_cfg(BenchmarkKind::Math, "math500"), &base, 0).expect("math500");
    let mut false_pos = Vec::new();
    for (i, it) in d.items.iter().enumerate().step_by(5) {
        let other = &d.items[(i * 7 + 13) % d.items.len()];
        let (g, o) = (
            it.gold.as_deref().unwrap_or(""),
            other.gold.as_deref().unwrap_or(""),
        );
        let num = |s: &str| {
            herd_datasets::score::latex::parse(s)
                .and_then(|e| herd_datasets::score::latex::eval(&e, &|_| None))
        };
        let same_value = matches!((num(g), num(o)), (Some(a), Some(b)) if herd_datasets::score::latex::close(a, b));
        if g == o || same_value {
            continue;
        }
        if score(BenchmarkKind::Math, it, o).correct {
            false_pos.push(format!("{g:?} accepted {o:?}"));
        }
    }
    assert!(false_pos.is_empty(), "{}", false_pos.join("\n"));
}

#[test]
fn math_full_gold_scores_itself() {
    let base = crate_dir();
    let d = load(&shared_cfg(BenchmarkKind::Math, "full"), &base, 0).expect("full");
    let bad: Vec<String> = d
        .items
        .iter()
        .filter(|it| !score(BenchmarkKind::Math, it, it.gold.as_deref().unwrap_or("")).correct)
        .map(|it| format!("{} {:?}", it.id, it.gold))
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    let wrong: Vec<String> = d
        .items
        .iter()
        .filter(|it| {
            score(
                BenchmarkKind::Math,
                it,
                &perturb(it.gold.as_deref().unwrap_or("")),
            )
            .correct
        })
        .map(|it| format!("{} {:?}", it.id, it.gold))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn scores_name_scorer_version_and_rule() {
    let base = crate_dir();
    let d = load(&shared_cfg(BenchmarkKind::Math, "math500"), &base, 0).expect("math500");
    let it = &d.items[0];
    let s = score(BenchmarkKind::Math, it, "\\boxed{(3, \\frac{\\pi}{2})}");
    assert!(s.correct);
    assert_eq!(s.score, 1.0);
    assert_eq!(s.scorer, "math");
    assert_eq!(s.scorer_version, "1");
    assert!(s.rule.starts_with("math:"));
    assert_eq!(s.extracted.as_deref(), Some("(3, \\frac{\\pi}{2})"));
    let s = score(BenchmarkKind::Math, it, "\\boxed{(3, \\pi)}");
    assert!(!s.correct);
    assert_eq!(s.score, 0.0);
}

#[test]
fn bench_table_reports_all_phases() {
    let out = herd_datasets::bench_datasets(&shared()).expect("bench");
    println!("{out}");
    assert!(out.contains("MATH full test: 5000 items"), "{out}");
    assert!(
        out.contains("score gold vs gold") && out.contains("score gold vs perturbed"),
        "{out}"
    );
    assert!(
        out.contains("gold vs gold correct: 5000/5000; perturbed scored correct: 0/5000"),
        "{out}"
    );
}
