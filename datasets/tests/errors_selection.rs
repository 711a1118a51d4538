//! Clear errors (missing file, malformed line), selection determinism, fingerprints,
//! prompts and `validate`.

mod common;

use std::collections::BTreeSet;

use common::*;
use herd_core::config::{BenchmarkKind, SampleMode, TrainSplitConfig};
use herd_datasets::{DatasetError, LoadOptions, cli, load, reformulation_prompt, task_prompt};

#[test]
fn missing_file_names_the_path() {
    let dir = tempfile::tempdir().expect("tmp");
    let err = load(
        &cfg(
            BenchmarkKind::Math,
            Some("math500"),
            Some(dir.path().display().to_string()),
        ),
        dir.path(),
        0,
    )
    .expect_err("missing");
    let msg = err.to_string();
    assert!(matches!(err, DatasetError::FileNotFound { .. }), "{err:?}");
    assert!(
        msg.contains("math500/test.jsonl") && msg.contains(&dir.path().display().to_string()),
        "{msg}"
    );

    let err = load(
        &cfg(
            BenchmarkKind::Math,
            None,
            Some("does/not/exist.jsonl".into()),
        ),
        dir.path(),
        0,
    )
    .expect_err("missing");
    assert!(err.to_string().contains("does/not/exist.jsonl"), "{err}");

    // A GAIA task naming an attachment that is not there.
    std::fs::write(
        dir.path().join("metadata.jsonl"),
        "{\"task_id\":\"t1\",\"Question\":\"q\",\"Level\":1,\"Final answer\":\"1\",\"file_name\":\"gone.pdf\"}\n",
    )
    .expect("write");
    let err = load(
        &cfg(
            BenchmarkKind::Gaia,
            None,
            Some(dir.path().join("metadata.jsonl").display().to_string()),
        ),
        dir.path(),
        0,
    )
    .expect_err("attachment");
    let msg = err.to_string();
    assert!(
        msg.contains("metadata.jsonl") && msg.contains("line 1") && msg.contains("gone.pdf"),
        "{msg}"
    );
}

#[test]
fn malformed_line_names_file_and_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("test.jsonl");
    std::fs::write(
        &p,
        "{\"problem\":\"1+1?\",\"answer\":\"2\",\"unique_id\":\"a\"}\n{\"problem\": oops}\n{\"problem\":\"2+2?\",\"unique_id\":\"c\"}\n",
    )
    .expect("write");
    let err = load(
        &cfg(BenchmarkKind::Math, None, Some(p.display().to_string())),
        dir.path(),
        0,
    )
    .expect_err("bad line");
    let msg = err.to_string();
    assert!(
        matches!(err, DatasetError::Parse { line: 2, .. }),
        "{err:?}"
    );
    assert!(
        msg.contains("test.jsonl") && msg.contains("line 2"),
        "{msg}"
    );

    // validate reports every problem with file and line instead of stopping.
    let v = cli::validate(
        &format!("math={}", p.display()),
        dir.path(),
        &LoadOptions::default(),
    )
    .expect("validate");
    assert_eq!(v.items, 1);
    assert_eq!(v.problems.len(), 2, "{:?}", v.problems);
    assert!(v.problems[0].contains("line 2"), "{:?}", v.problems);
    assert!(
        v.problems[1].contains("line 3") && v.problems[1].contains("solution"),
        "{:?}",
        v.problems
    );
    assert!(!v.ok());
    assert!(v.report.contains("2 problem(s)"));
}

#[test]
fn validate_shared_files_is_clean() {
    let base = shared();
    for spec in [
        "math:math500",
        "aime:matharena",
        "aime:1983-2024",
        "tabmwp:test1k",
        "herd-mini",
    ] {
        let v = cli::validate(
            &format!(
                "{spec}={}",
                if spec == "herd-mini" {
                    "builtin".into()
                } else {
                    base.display().to_string()
                }
            ),
            &base,
            &LoadOptions::default(),
        )
        .expect(spec);
        assert!(v.ok(), "{spec}: {:?}", v.problems);
        assert!(v.items > 0);
    }
    let v = cli::validate(
        &format!("{}", base.join("math/math500/test.jsonl").display()),
        &base,
        &LoadOptions::default(),
    )
    .expect("path spec");
    assert_eq!(v.items, 500);
}

#[test]
fn selection_is_deterministic() {
    let base = crate_dir();
    let mut c = shared_cfg(BenchmarkKind::Math, "math500");
    c.limit = Some(40);
    c.sample = SampleMode::Random;
    let ids = |d: &herd_datasets::Dataset| d.items.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
    let a = load(&c, &base, 11).expect("a");
    let b = load(&c, &base, 11).expect("b");
    let other = load(&c, &base, 12).expect("c");
    assert_eq!(a.items.len(), 40);
    assert_eq!(ids(&a), ids(&b));
    assert_ne!(ids(&a), ids(&other));
    assert_eq!(a.total_items, 500);

    // Stratified: every level represented, evenly.
    c.sample = SampleMode::Stratified;
    c.stratify_by = Some("level".into());
    c.limit = Some(50);
    let s = load(&c, &base, 3).expect("strat");
    assert_eq!(s.items.len(), 50);
    let mut per = std::collections::BTreeMap::new();
    for it in &s.items {
        *per.entry(it.meta("level").unwrap_or("").to_string())
            .or_insert(0) += 1;
    }
    assert_eq!(per.len(), 5, "{per:?}");
    assert!(per.values().all(|&n| n == 10), "{per:?}");
    assert_eq!(ids(&s), ids(&load(&c, &base, 3).expect("again")));
    c.stratify_by = None;
    assert!(load(&c, &base, 3).is_err());

    // Shards partition the selection.
    let mut c = shared_cfg(BenchmarkKind::Math, "math500");
    c.limit = Some(30);
    let all: BTreeSet<String> = load(&c, &base, 0)
        .expect("all")
        .items
        .into_iter()
        .map(|i| i.id)
        .collect();
    let mut union = BTreeSet::new();
    for k in 0..3 {
        c.shard = Some(format!("{k}/3"));
        let part = load(&c, &base, 0).expect("shard");
        assert_eq!(part.items.len(), 10);
        for it in part.items {
            assert!(union.insert(it.id));
        }
    }
    assert_eq!(union, all);
    c.shard = Some("3/3".into());
    assert!(load(&c, &base, 0).is_err());

    // Explicit ids; unknown ids are an error.
    let mut c = shared_cfg(BenchmarkKind::Math, "math500");
    c.ids = vec![
        "test/precalculus/807.json".into(),
        "test/algebra/1265.json".into(),
    ];
    let d = load(&c, &base, 0).expect("ids");
    assert_eq!(d.items.len(), 2);
    c.ids.push("nope".into());
    assert!(load(&c, &base, 0).unwrap_err().to_string().contains("nope"));
}

#[test]
fn train_split_and_fingerprint() {
    let base = crate_dir();
    let mut c = shared_cfg(BenchmarkKind::Math, "math500");
    c.limit = Some(10);
    let plain = load(&c, &base, 0).expect("plain");
    c.train = Some(TrainSplitConfig {
        source: None,
        subset: Some("full".into()),
        limit: Some(20),
        ids: vec![],
    });
    let d = load(&c, &base, 0).expect("train");
    assert_eq!(d.items.len(), 10);
    assert_eq!(d.train_items.len(), 20);
    assert!(d.train_items.iter().all(|i| i.split == "train"));
    assert!(d.items.iter().all(|i| i.split == "test"));
    assert_ne!(d.fingerprint, plain.fingerprint);

    // Fingerprint: stable, selection-independent, content-sensitive.
    let mut c2 = shared_cfg(BenchmarkKind::Math, "math500");
    c2.limit = Some(3);
    assert_eq!(
        load(&c2, &base, 0).expect("x").fingerprint,
        plain.fingerprint
    );
    assert_eq!(plain.fingerprint.len(), 64);
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("test.jsonl");
    std::fs::write(&p, "{\"problem\":\"1+1?\",\"answer\":\"2\"}\n").expect("w");
    let f1 = load(
        &cfg(BenchmarkKind::Math, None, Some(p.display().to_string())),
        dir.path(),
        0,
    )
    .expect("f1")
    .fingerprint;
    std::fs::write(&p, "{\"problem\":\"1+1?\",\"answer\":\"3\"}\n").expect("w");
    let f2 = load(
        &cfg(BenchmarkKind::Math, None, Some(p.display().to_string())),
        dir.path(),
        0,
    )
    .expect("f2")
    .fingerprint;
    assert_ne!(f1, f2);
}

#[test]
fn prompts_carry_format_rules_and_files() {
    let base = crate_dir();
    let g = herd_datasets::load_with(
        &shared_cfg(BenchmarkKind::Gpqa, "diamond"),
        &base,
        0,
        &gpqa_opts(),
    )
    .expect("gpqa");
    let it = &g.items[0];
    let p = task_prompt(BenchmarkKind::Gpqa, it);
    for l in ["A) ", "B) ", "C) ", "D) ", "Answer: X"] {
        assert!(p.contains(l), "{p}");
    }
    assert!(p.contains(it.meta("option_a").unwrap_or("?")));
    assert!(!p.contains(&format!("gold {}", it.gold.as_deref().unwrap_or(""))));

    let m = load(&shared_cfg(BenchmarkKind::Math, "math500"), &base, 0).expect("math");
    assert!(task_prompt(BenchmarkKind::Math, &m.items[0]).contains("\\boxed{}"));
    let a = load(&shared_cfg(BenchmarkKind::Aime, "2024_I"), &base, 0).expect("aime");
    let with_img = a
        .items
        .iter()
        .find(|i| !i.attachments.is_empty())
        .expect("img");
    let p = task_prompt(BenchmarkKind::Aime, with_img);
    assert!(
        p.contains("between 0 and 999")
            && p.contains(&format!("/workspace/{}", with_img.attachments[0].name)),
        "{p}"
    );
    let t = load(&shared_cfg(BenchmarkKind::Tabmwp, "test1k"), &base, 0).expect("tab");
    let mc = t.items.iter().find(|i| i.id == "54").expect("54");
    let p = task_prompt(BenchmarkKind::Tabmwp, mc);
    assert!(
        p.contains("(A) shortage")
            && p.contains("(B) surplus")
            && p.contains("/workspace/table.csv")
            && p.contains("$155 | 22,600"),
        "{p}"
    );
    for k in herd_datasets::ALL_KINDS {
        assert!(reformulation_prompt(k).is_some_and(|r| !r.is_empty()));
    }
    assert!(
        reformulation_prompt(BenchmarkKind::Gaia)
            .unwrap_or_default()
            .contains("comma")
    );
}

#[test]
fn cli_list_and_show() {
    let base = shared();
    let l = cli::list(&herd_datasets::LoadOptions {
        datasets_dir: herd_datasets::LocalOverride::Dir(base.clone()),
        ..Default::default()
    });
    for k in [
        "gaia",
        "math",
        "gpqa",
        "aime",
        "tabmwp",
        "herd-mini",
        "hf://gaia-benchmark/GAIA",
    ] {
        assert!(l.contains(k), "{l}");
    }
    let s = cli::show(&format!("aime:matharena={}", base.display()), &base, 0).expect("show");
    assert!(
        s.contains("60 selected of 60")
            && s.contains("year: 2024=30, 2025=30")
            && s.contains("fingerprint"),
        "{s}"
    );
    let s = cli::show("herd-mini", &base, 0).expect("show mini");
    assert!(s.contains("category: arithmetic=8, file=8, table=8"), "{s}");
    assert!(cli::show("nonsense-kind", &base, 0).is_err());
}
