//! Every loader on the real shared files (counts from SOURCES.md) and on our GAIA fixtures.

mod common;

use std::collections::BTreeMap;

use common::*;
use herd_core::config::BenchmarkKind;
use herd_datasets::{DatasetError, LoadOptions, load, load_with, score};

fn count_by<'a>(items: &'a [herd_datasets::Item], key: &str) -> BTreeMap<&'a str, usize> {
    let mut m = BTreeMap::new();
    for it in items {
        *m.entry(it.meta(key).unwrap_or("(none)")).or_default() += 1;
    }
    m
}

#[test]
fn math_counts_and_metadata() {
    let base = crate_dir();
    let m500 = load(&shared_cfg(BenchmarkKind::Math, "math500"), &base, 0).expect("math500");
    assert_eq!(m500.items.len(), 500);
    assert!(
        m500.items
            .iter()
            .all(|i| i.meta("level").is_some() && i.meta("subject").is_some())
    );
    assert_eq!(m500.items[0].id, "test/precalculus/807.json");
    let full = load(&shared_cfg(BenchmarkKind::Math, "full"), &base, 0).expect("full");
    assert_eq!(full.items.len(), 5000);
    let subj = count_by(&full.items, "subject");
    assert_eq!(subj["Algebra"], 1187);
    assert_eq!(subj["Counting & Probability"], 474);
    assert_eq!(subj["Precalculus"], 546);
    assert_eq!(count_by(&full.items, "level").len(), 5);
    let answers =
        load(&shared_cfg(BenchmarkKind::Math, "full-answers"), &base, 0).expect("full-answers");
    assert_eq!(answers.items.len(), 5000);
    assert_ne!(m500.fingerprint, full.fingerprint);
}

#[test]
fn aime_counts_images_and_special_answer() {
    let base = crate_dir();
    let ma = load(&shared_cfg(BenchmarkKind::Aime, "matharena"), &base, 0).expect("matharena");
    assert_eq!(ma.items.len(), 60);
    for contest in ["2024_I", "2024_II", "2025_I", "2025_II"] {
        let d = load(&shared_cfg(BenchmarkKind::Aime, contest), &base, 0).expect(contest);
        assert_eq!(d.items.len(), 15, "{contest}");
    }
    let with_images: Vec<_> = ma
        .items
        .iter()
        .filter(|i| !i.attachments.is_empty())
        .collect();
    assert_eq!(with_images.len(), 6);
    let p5 = ma
        .items
        .iter()
        .find(|i| i.id == "2024-I-5")
        .expect("2024-I-5");
    assert_eq!(p5.attachments[0].name, "problem_5.png");
    assert!(p5.attachments[0].path().is_some_and(|p| p.is_file()));
    assert_eq!(p5.meta("year"), Some("2024"));
    assert_eq!(p5.meta("part"), Some("I"));
    assert_eq!(p5.meta("number"), Some("5"));
    let i2 = ma
        .items
        .iter()
        .find(|i| i.id == "2024-I-2")
        .expect("2024-I-2");
    assert_eq!(i2.gold.as_deref(), Some("025"));
    assert!(score(BenchmarkKind::Aime, i2, "25").correct);

    let csv = load(&shared_cfg(BenchmarkKind::Aime, "1983-2024"), &base, 0).expect("csv");
    assert_eq!(csv.items.len(), 933);
    let odd = csv
        .items
        .iter()
        .find(|i| i.id == "2022-II-8")
        .expect("2022-II-8");
    assert!(score(BenchmarkKind::Aime, odd, "80").correct);
    assert!(score(BenchmarkKind::Aime, odd, "\\boxed{081}").correct);
    assert!(!score(BenchmarkKind::Aime, odd, "79").correct);
    for it in &csv.items {
        assert!(
            score(BenchmarkKind::Aime, it, it.gold.as_deref().unwrap_or("x")).correct,
            "{}",
            it.id
        );
    }

    let q = load(&shared_cfg(BenchmarkKind::Aime, "aime24"), &base, 0).expect("aime24");
    assert_eq!(q.items.len(), 30);
    assert!(
        q.items
            .iter()
            .all(|i| i.meta("part").is_some_and(|p| p == "I" || p == "II"))
    );
}

#[test]
fn gpqa_subsets_permutations_and_gold_letters() {
    let base = crate_dir();
    for (subset, n) in [("main", 448), ("diamond", 198), ("extended", 546)] {
        let d = load_with(
            &shared_cfg(BenchmarkKind::Gpqa, subset),
            &base,
            7,
            &gpqa_opts(),
        )
        .expect(subset);
        assert_eq!(d.items.len(), n, "{subset}");
        let mut letters = BTreeMap::new();
        for it in &d.items {
            let gold = it.gold.as_deref().expect("gold");
            *letters.entry(gold.to_string()).or_insert(0usize) += 1;
            let perm: Vec<usize> = it
                .meta("permutation")
                .expect("perm")
                .split(',')
                .map(|x| x.parse().expect("int"))
                .collect();
            let pos = perm.iter().position(|&p| p == 0).expect("0 in perm");
            assert_eq!(gold, ["A", "B", "C", "D"][pos]);
            assert!(it.meta("domain").is_some_and(|d| !d.is_empty()));
            assert!(it.meta("subdomain").is_some());
            for l in ["a", "b", "c", "d"] {
                assert!(
                    it.meta(&format!("option_{l}"))
                        .is_some_and(|o| !o.is_empty())
                );
            }
            assert!(
                score(
                    BenchmarkKind::Gpqa,
                    it,
                    &format!("Reasoning...\nAnswer: {gold}")
                )
                .correct
            );
        }
        // The correct option is spread over all four letters (not always first).
        assert_eq!(letters.len(), 4, "{subset}: {letters:?}");
        assert!(
            letters.values().all(|&c| c * 8 > n),
            "{subset}: {letters:?}"
        );
    }
    // Same seed ⇒ same permutations; another seed ⇒ different ones.
    let a = load_with(
        &shared_cfg(BenchmarkKind::Gpqa, "diamond"),
        &base,
        7,
        &gpqa_opts(),
    )
    .expect("a");
    let b = load_with(
        &shared_cfg(BenchmarkKind::Gpqa, "diamond"),
        &base,
        7,
        &gpqa_opts(),
    )
    .expect("b");
    let c = load_with(
        &shared_cfg(BenchmarkKind::Gpqa, "diamond"),
        &base,
        8,
        &gpqa_opts(),
    )
    .expect("c");
    let perms = |d: &herd_datasets::Dataset| {
        d.items
            .iter()
            .map(|i| i.meta("permutation").unwrap_or("").to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(perms(&a), perms(&b));
    assert_ne!(perms(&a), perms(&c));
}

#[test]
fn gpqa_password_errors() {
    let base = crate_dir();
    let wrong = LoadOptions {
        gpqa_password: Some("not-the-password".into()),
        ..LoadOptions::default()
    };
    let err = load_with(
        &shared_cfg(BenchmarkKind::Gpqa, "diamond"),
        &base,
        0,
        &wrong,
    )
    .expect_err("wrong password");
    assert!(matches!(err, DatasetError::WrongPassword { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("dataset.zip")
            && msg.contains("gpqa_diamond.csv")
            && msg.contains("wrong password"),
        "{msg}"
    );

    let err = load(&shared_cfg(BenchmarkKind::Gpqa, "diamond"), &base, 0).expect_err("no password");
    let msg = err.to_string();
    assert!(
        matches!(err, DatasetError::MissingPassword { .. }),
        "{err:?}"
    );
    assert!(
        msg.contains("HERD_TEST_UNSET_GPQA_PASSWORD") && msg.contains("dataset.zip"),
        "{msg}"
    );

    let err = load_with(
        &shared_cfg(BenchmarkKind::Gpqa, "experts"),
        &base,
        0,
        &gpqa_opts(),
    )
    .expect_err("experts");
    assert!(err.to_string().contains("experts"));
}

#[test]
fn tabmwp_counts_tables_and_metadata() {
    let base = crate_dir();
    let d = load(&shared_cfg(BenchmarkKind::Tabmwp, "test1k"), &base, 0).expect("test1k");
    assert_eq!(d.items.len(), 1000);
    let qt = count_by(&d.items, "ques_type");
    assert_eq!(qt["free_text"], 751);
    assert_eq!(qt["multi_choice"], 249);
    let it = d.items.iter().find(|i| i.id == "16").expect("pid 16");
    assert!(it.question.contains("Braden | 76") && it.question.contains("mean of the numbers"));
    assert_eq!(it.meta("grade"), Some("5"));
    assert_eq!(it.meta("ans_type"), Some("integer_number"));
    let table = it
        .attachments
        .iter()
        .find(|a| a.name == "table.csv")
        .expect("table.csv");
    let bytes = table.bytes().expect("bytes");
    let mut r = csv::Reader::from_reader(bytes.as_slice());
    assert_eq!(
        r.headers().expect("headers").iter().collect::<Vec<_>>(),
        vec!["Name", "Number of coins"]
    );
    assert_eq!(r.records().count(), 8);
    assert_eq!(table.size as usize, bytes.len());
    let mc = d.items.iter().find(|i| i.id == "54").expect("pid 54");
    assert_eq!(mc.meta("choices"), Some("[\"shortage\",\"surplus\"]"));
    for it in &d.items {
        let g = it.gold.as_deref().expect("gold");
        assert!(
            score(BenchmarkKind::Tabmwp, it, g).correct,
            "{} gold {g}",
            it.id
        );
    }

    let log = load(&shared_cfg(BenchmarkKind::Tabmwp, "test"), &base, 0).expect("log");
    assert_eq!(log.items.len(), 7685);
    let p16 = log.items.iter().find(|i| i.id == "16").expect("16");
    assert_eq!(p16.gold.as_deref(), Some("84"));
    assert!(p16.attachments.iter().any(|a| a.name == "table.csv"));
    // Float answers in the log agree with the original strings through the scorer.
    let orig: BTreeMap<&str, &herd_datasets::Item> =
        d.items.iter().map(|i| (i.id.as_str(), i)).collect();
    let mut agree = 0;
    for it in &log.items {
        if let Some(o) = orig.get(it.id.as_str()) {
            assert!(
                score(BenchmarkKind::Tabmwp, o, it.gold.as_deref().unwrap_or("")).correct,
                "pid {}",
                it.id
            );
            agree += 1;
        }
    }
    assert_eq!(agree, 1000);
}

#[test]
fn gaia_fixtures_validation_and_test() {
    let base = crate_dir();
    let src = Some("fixtures/gaia".to_string());
    let v = load(
        &cfg(BenchmarkKind::Gaia, Some("validation"), src.clone()),
        &base,
        0,
    )
    .expect("validation");
    assert_eq!(v.items.len(), 6);
    assert_eq!(count_by(&v.items, "level").get("1"), Some(&3));
    let with_files: Vec<_> = v
        .items
        .iter()
        .filter(|i| !i.attachments.is_empty())
        .collect();
    assert_eq!(with_files.len(), 2);
    for it in &with_files {
        let a = &it.attachments[0];
        assert!(a.path().is_some_and(|p| p.is_file()));
        assert_eq!(Some(a.name.as_str()), it.meta("file_name"));
        assert!(
            herd_datasets::task_prompt(BenchmarkKind::Gaia, it)
                .contains(&format!("/workspace/{}", a.name))
        );
    }
    for it in &v.items {
        assert!(score(BenchmarkKind::Gaia, it, it.gold.as_deref().expect("gold")).correct);
    }
    let t = load(
        &cfg(BenchmarkKind::Gaia, Some("test"), src.clone()),
        &base,
        0,
    )
    .expect("test");
    assert_eq!(t.items.len(), 3);
    assert!(t.items.iter().all(|i| i.gold.is_none()));
    let s = score(BenchmarkKind::Gaia, &t.items[0], "18");
    assert!(!s.correct && s.rule == "gaia:no-gold");
    // A file source works too.
    let f = load(
        &cfg(
            BenchmarkKind::Gaia,
            None,
            Some("fixtures/gaia/2023/validation/metadata.jsonl".into()),
        ),
        &base,
        0,
    )
    .expect("file");
    assert_eq!(f.items.len(), 6);
}

#[test]
fn gaia_parquet_layout_loads_like_jsonl() {
    let tmp = tempfile::tempdir().expect("tmp");
    for (rel, src) in gaia_parquet_layout() {
        let dst = tmp.path().join(rel);
        std::fs::create_dir_all(dst.parent().expect("parent")).expect("mkdir");
        std::fs::copy(src, dst).expect("copy");
    }
    let base = crate_dir();
    let key = |d: &herd_datasets::Dataset| {
        d.items
            .iter()
            .map(|i| {
                (
                    i.id.clone(),
                    i.question.clone(),
                    i.gold.clone(),
                    i.meta("level").map(str::to_string),
                    i.attachments
                        .iter()
                        .map(|a| a.name.clone())
                        .collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>()
    };
    for (split, n) in [("validation", 6), ("test", 3)] {
        let pq = load(
            &cfg(
                BenchmarkKind::Gaia,
                Some(split),
                Some(tmp.path().display().to_string()),
            ),
            &base,
            0,
        )
        .expect("parquet");
        let js = load(
            &cfg(
                BenchmarkKind::Gaia,
                Some(split),
                Some("fixtures/gaia".into()),
            ),
            &base,
            0,
        )
        .expect("jsonl");
        assert_eq!(pq.items.len(), n);
        assert_eq!(key(&pq), key(&js), "{split}");
        assert!(
            pq.items[0].origin.contains("metadata.parquet:1"),
            "{}",
            pq.items[0].origin
        );
        for it in &pq.items {
            for a in &it.attachments {
                assert!(a.path().is_some_and(|p| p.starts_with(tmp.path())));
            }
        }
    }
    // A metadata file whose attachments are missing is a clear error naming both.
    let moved = tmp.path().join("files");
    std::fs::create_dir_all(moved.join("2023/validation")).expect("mkdir");
    std::fs::copy(
        tmp.path().join("2023/validation/metadata.parquet"),
        moved.join("metadata.parquet"),
    )
    .expect("copy");
    let err = load(
        &cfg(
            BenchmarkKind::Gaia,
            None,
            Some(moved.join("metadata.parquet").display().to_string()),
        ),
        &base,
        0,
    )
    .expect_err("attachments missing");
    let msg = err.to_string();
    assert!(
        msg.contains("metadata.parquet") && msg.contains("does not exist"),
        "{msg}"
    );
    // A file that is not parquet is a clear error naming it.
    let bad = tmp.path().join("bad/2023/validation");
    std::fs::create_dir_all(&bad).expect("mkdir");
    std::fs::write(bad.join("metadata.parquet"), b"not parquet at all").expect("write");
    let err = load(
        &cfg(
            BenchmarkKind::Gaia,
            Some("validation"),
            Some(tmp.path().join("bad").display().to_string()),
        ),
        &base,
        0,
    )
    .expect_err("bad parquet");
    let msg = err.to_string();
    assert!(
        msg.contains("bad/2023/validation/metadata.parquet") && msg.contains("parquet"),
        "{msg}"
    );
}

#[test]
fn herd_mini_builtin() {
    let d = load(
        &cfg(BenchmarkKind::HerdMini, None, Some("builtin".into())),
        std::path::Path::new("/nonexistent"),
        0,
    )
    .expect("mini");
    assert_eq!(d.items.len(), 24);
    let cats = count_by(&d.items, "category");
    assert_eq!(cats.len(), 3);
    assert!(cats.values().all(|&c| c == 8));
    let with_files = d.items.iter().filter(|i| !i.attachments.is_empty()).count();
    assert_eq!(with_files, 16);
    for it in &d.items {
        let gold = it.gold.as_deref().expect("gold");
        assert!(
            score(BenchmarkKind::HerdMini, it, gold).correct,
            "{}",
            it.id
        );
        assert!(
            !score(BenchmarkKind::HerdMini, it, "wrong 123456789").correct,
            "{}",
            it.id
        );
        for a in &it.attachments {
            assert!(a.size > 0);
            assert!(
                herd_datasets::task_prompt(BenchmarkKind::HerdMini, it)
                    .contains(&format!("/workspace/{}", a.name))
            );
        }
    }
    let again = load(
        &cfg(BenchmarkKind::HerdMini, None, None),
        std::path::Path::new("/nonexistent"),
        0,
    )
    .expect("mini");
    assert_eq!(again.fingerprint, d.fingerprint);
}
