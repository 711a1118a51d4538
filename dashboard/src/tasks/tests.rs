//! TaskSet behaviour: filters and facet counts, search, sorting and paging, and a
//! synthetic million-task set (ignored by default; run it to see the timings).

use std::time::Instant;

use herd_core::ResultRecord;

use super::*;
use crate::compare::{Side, pair};

pub(crate) fn record(i: usize, arm: &str, correct: Option<bool>) -> ResultRecord {
    ResultRecord {
        task_key: format!("{arm}-{i:04}"),
        benchmark: if i.is_multiple_of(2) { "math" } else { "gaia" }.into(),
        split: "test".into(),
        item_id: format!("item-{i:04}"),
        backbone: "qwen".into(),
        arm: arm.into(),
        accumulation: "off".into(),
        status: if correct.is_some() {
            "scored"
        } else {
            "failed"
        }
        .into(),
        correct,
        level: i.is_multiple_of(3).then(|| format!("Level {}", i % 5)),
        steps: (i % 7) as u32,
        cost_usd: (i % 10) as f64 * 0.01,
        answer: Some(format!("ans{i}x")),
        end_reason: if correct.is_some() { "submitted" } else { "" }.into(),
        error_kind: correct.is_none().then(|| "llm".to_string()),
        ..Default::default()
    }
}

fn set(n: usize) -> TaskSet {
    let records: Vec<ResultRecord> = (0..n)
        .map(|i| record(i, "on", if i % 5 == 4 { None } else { Some(i % 2 == 0) }))
        .collect();
    let texts: Vec<Option<String>> = (0..n)
        .map(|i| (i % 4 != 3).then(|| format!("Thought for task {i}: think about Zebra{i}")))
        .collect();
    TaskSet::from_records(&records, &texts)
}

fn query(pairs: &[(&str, &str)]) -> TaskQuery {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    TaskQuery::from_pairs(&pairs).expect("query")
}

fn items(page: &TaskPage) -> Vec<String> {
    page.tasks.iter().map(|t| t.item_id.clone()).collect()
}

fn facet(page: &TaskPage, f: Facet) -> &[FacetValue] {
    &page
        .facets
        .iter()
        .find(|c| c.facet == f)
        .expect("facet")
        .values
}

#[test]
fn filters_narrow_and_facets_count_under_the_other_filters() {
    let s = set(20);
    let all = s.page(&TaskQuery::default());
    assert_eq!((all.total, all.matched, all.pages), (20, 20, 1));
    let p = s.page(&query(&[("benchmark", "math"), ("correct", "true")]));
    // Even rows are math; of those, correct = i % 2 == 0 unless i % 5 == 4.
    assert_eq!(
        items(&p),
        [
            "item-0000",
            "item-0002",
            "item-0006",
            "item-0008",
            "item-0010",
            "item-0012",
            "item-0016",
            "item-0018"
        ]
    );
    // The benchmark facet counts correct=true tasks of each benchmark (gaia has none).
    let bench = facet(&p, Facet::Benchmark);
    assert_eq!(bench.len(), 1, "{bench:?}");
    assert_eq!(
        (bench[0].value.as_str(), bench[0].count, bench[0].selected),
        ("math", 8, true)
    );
    // The correct facet counts math tasks by grade, none included.
    let correct = facet(&p, Facet::Correct);
    let got: Vec<(&str, u64)> = correct
        .iter()
        .map(|v| (v.value.as_str(), v.count))
        .collect();
    assert_eq!(got, [("none", 2), ("true", 8)]);
    let none = s.page(&query(&[("correct", "none")]));
    assert_eq!(none.matched, 4);
    let failed = s.page(&query(&[("end", "(empty)"), ("error", "llm")]));
    assert_eq!(failed.matched, 4);
    let no_level = s.page(&query(&[("level", "(none)")]));
    assert_eq!(no_level.matched, 13);
    let unknown = s.page(&query(&[("arm", "nope")]));
    assert_eq!(unknown.matched, 0);
    let arm = facet(&unknown, Facet::Arm);
    assert!(
        arm.iter()
            .any(|v| v.value == "nope" && v.selected && v.count == 0),
        "{arm:?}"
    );
}

#[test]
fn search_finds_trajectory_text_and_answers() {
    let s = set(20);
    let p = s.page(&query(&[("q", "ZEBRA17")]));
    assert_eq!(items(&p), ["item-0017"]);
    // Task 3 has no trajectory: its thought text is not there, its answer is.
    assert_eq!(s.page(&query(&[("q", "zebra3")])).matched, 0);
    assert_eq!(items(&s.page(&query(&[("q", "ANS3X")]))), ["item-0003"]);
    // Words are ANDed, and combine with filters.
    let p = s.page(&query(&[("q", "think zebra1"), ("benchmark", "gaia")]));
    assert_eq!(items(&p), ["item-0001", "item-0013", "item-0017"]);
    assert!(p.tasks.iter().all(|t| t.has_trajectory));
}

#[test]
fn pages_sort_and_clamp() {
    let s = set(20);
    let p = s.page(&query(&[("sort", "cost"), ("dir", "desc"), ("per", "3")]));
    assert_eq!(p.pages, 7);
    let costs: Vec<f64> = p.tasks.iter().map(|t| t.cost_usd).collect();
    assert_eq!(costs, [0.09, 0.09, 0.08]);
    // Ties keep row order.
    assert_eq!(items(&p), ["item-0009", "item-0019", "item-0008"]);
    let p2 = s.page(&query(&[
        ("sort", "cost"),
        ("dir", "desc"),
        ("per", "3"),
        ("page", "2"),
    ]));
    assert_eq!(items(&p2), ["item-0018", "item-0007", "item-0017"]);
    let last = s.page(&query(&[("per", "3"), ("page", "99")]));
    assert_eq!(
        (last.page, items(&last)),
        (7, vec!["item-0018".to_string(), "item-0019".to_string()])
    );
    let desc = s.page(&query(&[("dir", "desc"), ("per", "2")]));
    assert_eq!(items(&desc), ["item-0019", "item-0018"]);
    let by_key = s.page(&query(&[("sort", "key"), ("dir", "desc"), ("per", "1")]));
    assert_eq!(items(&by_key), ["item-0019"]);
    let by_level = s.page(&query(&[("sort", "level"), ("per", "2")]));
    assert_eq!(by_level.tasks[0].level.as_deref(), Some("Level 0"));
    // Every sort gives every row exactly once across the pages.
    for sort in SortKey::names() {
        let mut seen: Vec<String> = (1..=4)
            .flat_map(|page| {
                items(&s.page(&query(&[
                    ("sort", sort),
                    ("per", "6"),
                    ("page", &page.to_string()),
                ])))
            })
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 20, "sort={sort}");
    }
}

#[test]
fn arms_pair_on_items_and_list_flips() {
    let mut records = Vec::new();
    // Base arm "off": items 0..6 right on even items; "on": right on items < 4.
    for i in 0..6 {
        records.push(record(i, "off", Some(i % 2 == 0)));
        records.push(record(i, "on", Some(i < 4)));
    }
    records.push(record(6, "off", None));
    records.push(record(6, "on", Some(true)));
    records.push(record(7, "on", Some(true)));
    let s = TaskSet::from_records(&records, &[]);
    let p = pair(
        Side {
            set: &s,
            arm: Some("off"),
        },
        Side {
            set: &s,
            arm: Some("on"),
        },
        false,
        ("off".into(), "on".into()),
    );
    assert_eq!(p.matched, 7);
    assert_eq!(p.unscored_pairs, 1);
    assert_eq!((p.only_base, p.only_other), (0, 1));
    // off right: 0, 2, 4; on right: 0, 1, 2, 3.
    assert_eq!(p.counts.both_right, 2);
    assert_eq!(p.counts.a_wrong_b_right, 2);
    assert_eq!(p.counts.a_right_b_wrong, 1);
    assert_eq!(p.counts.both_wrong, 1);
    let fixed: Vec<String> = p
        .flip_rows(crate::compare::Flip::Fixed, &s, &s, 0, 10)
        .into_iter()
        .map(|f| format!("{}:{}>{}", f.item_id, f.base_key, f.other_key))
        .collect();
    assert_eq!(
        fixed,
        ["item-0001:off-0001>on-0001", "item-0003:off-0003>on-0003"]
    );
    let broken = p.flip_rows(crate::compare::Flip::Broken, &s, &s, 0, 10);
    assert_eq!(broken.len(), 1);
    assert_eq!(broken[0].item_id, "item-0004");
    assert!((p.diff.expect("diff") - 1.0 / 6.0).abs() < 1e-12);
    assert!((p.mcnemar_p - 1.0).abs() < 1e-12);
    assert_eq!(p.groups.len(), 2);
}

#[test]
fn pushing_drops_cached_views() {
    let mut s = set(4);
    assert_eq!(s.page(&query(&[("q", "zebra9")])).matched, 0);
    s.push(&record(9, "on", Some(true)), Some("zebra9"));
    assert_eq!(s.page(&query(&[("q", "zebra9")])).matched, 1);
    assert_eq!(s.find_key("on-0009"), Some(4));
}

/// A synthetic million-task set: memory and timings of a page, a search and a comparison.
#[test]
#[ignore = "builds a million tasks; run with --run-ignored to see the figures"]
fn a_million_tasks() {
    let n = 1_000_000;
    let started = Instant::now();
    let mut s = TaskSet::new(SearchCaps::for_tasks(n));
    s.reserve(n);
    let arms = ["off", "online", "train-then-test", "no-user-actions"];
    for i in 0..n {
        let arm = arms[i % 4];
        let item = i / 4;
        let mut r = record(
            item,
            arm,
            if i % 9 == 0 {
                None
            } else {
                Some((i * 7919) % 3 != 0)
            },
        );
        r.task_key = format!("{i:016x}");
        r.benchmark = ["math", "gaia", "gpqa", "aime"][item % 4].into();
        r.cost_usd = ((i * 31) % 1000) as f64 / 1000.0;
        let text = format!(
            "Question {item}: compute the value. Thought: use sympy to simplify term{i}. \
             Code: import sympy as sp\nx = sp.symbols('x')\nprint(sp.simplify(x**2 - {i})) \
             Observation: x**2 - {i} {}",
            "lorem ipsum dolor sit amet ".repeat(30)
        );
        s.push(&r, Some(&text));
    }
    let built = started.elapsed();
    let mb = s.heap_bytes() as f64 / (1 << 20) as f64;
    let time = |what: &str, f: &dyn Fn() -> usize| {
        for round in 0..2 {
            let t = Instant::now();
            let n = f();
            eprintln!("{what} (round {round}): {n} in {:?}", t.elapsed());
        }
    };
    eprintln!("built {n} tasks in {built:?}, {mb:.0} MiB");
    time("page sorted by cost", &|| {
        s.page(&query(&[
            ("sort", "cost"),
            ("dir", "desc"),
            ("page", "300"),
        ]))
        .tasks
        .len()
    });
    time("filtered page", &|| {
        s.page(&query(&[
            ("benchmark", "gaia"),
            ("correct", "false"),
            ("sort", "item"),
        ]))
        .matched
    });
    time("search", &|| s.page(&query(&[("q", "term777777")])).matched);
    time("comparison", &|| {
        pair(
            Side {
                set: &s,
                arm: Some("off"),
            },
            Side {
                set: &s,
                arm: Some("online"),
            },
            false,
            ("off".into(), "online".into()),
        )
        .fixed
        .len()
    });
    assert!(mb < 2048.0, "{mb} MiB");
}
