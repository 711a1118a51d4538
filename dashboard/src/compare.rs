//! Item-by-item comparison of two sides — two arms of one run, or two runs — paired on
//! (benchmark, item, backbone, epoch) and, across runs, the arm: which items flipped from
//! wrong to right and back, the paired 2×2 counts, exact McNemar p and a bootstrap interval.

use herd_report::stats::{self, PairCounts};
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::tasks::{Facet, NONE, SortKey, TaskSet};

/// Bootstrap resamples per comparison.
const RESAMPLES: usize = 10_000;
const SEED: u64 = 0x5EED_4E2D;

/// One side of a comparison: a task set, optionally one arm of it.
#[derive(Clone, Copy)]
pub struct Side<'a> {
    pub set: &'a TaskSet,
    pub arm: Option<&'a str>,
}

/// Base vs other on the same items. Only the scored split counts (training phases of
/// train-then-test arms are left out, as in the report); a pair counts when both sides were
/// scored with a gold answer.
#[derive(Debug, Clone, Serialize)]
pub struct Pairing {
    pub base: String,
    pub other: String,
    /// `a` is the base, `b` the other: `a_wrong_b_right` items flipped wrong → right.
    pub counts: PairCounts,
    /// Items present on both sides.
    pub matched: u64,
    /// Matched items where a side was not graded (failed, timeout, no gold…).
    pub unscored_pairs: u64,
    pub only_base: u64,
    pub only_other: u64,
    pub accuracy_base: Option<f64>,
    pub accuracy_other: Option<f64>,
    /// accuracy(other) − accuracy(base) over graded pairs.
    pub diff: Option<f64>,
    /// Paired bootstrap 95% interval of `diff`.
    pub ci: Option<(f64, f64)>,
    /// Exact McNemar p on the discordant pairs.
    pub mcnemar_p: f64,
    /// The same per benchmark × backbone (× arm across runs).
    pub groups: Vec<PairGroup>,
    /// `(base row, other row)` of items wrong in the base and right in the other.
    #[serde(skip)]
    pub fixed: Vec<(u32, u32)>,
    /// `(base row, other row)` of items right in the base and wrong in the other.
    #[serde(skip)]
    pub broken: Vec<(u32, u32)>,
}

/// One benchmark × backbone (× arm) of a [`Pairing`].
#[derive(Debug, Clone, Serialize)]
pub struct PairGroup {
    pub benchmark: String,
    pub backbone: String,
    /// The arm, across runs.
    pub arm: Option<String>,
    pub counts: PairCounts,
    pub unscored_pairs: u64,
    pub accuracy_base: Option<f64>,
    pub accuracy_other: Option<f64>,
    pub mcnemar_p: f64,
}

/// Maps one set's ids of a column to another's (`NONE` where the value is absent).
fn translate(from: &crate::tasks::Dict, to: &crate::tasks::Dict) -> Vec<u32> {
    (0..from.len() as u32)
        .map(|id| to.find(from.get(id)).unwrap_or(NONE))
        .collect()
}

/// Whether a side includes a row: its arm (if one) and never a training phase.
fn side_rows(side: Side<'_>) -> impl Iterator<Item = usize> + '_ {
    let arm = side
        .arm
        .map(|a| side.set.facet_lookup(Facet::Arm, a).unwrap_or(NONE - 1));
    (0..side.set.len()).filter(move |&r| {
        !side.set.is_training(r) && arm.is_none_or(|a| side.set.facet_id(Facet::Arm, r) == a)
    })
}

/// Pairs `base` with `other` on (benchmark, item, backbone, epoch), and the arm too when
/// `by_arm` (comparing runs).
pub fn pair(base: Side<'_>, other: Side<'_>, by_arm: bool, labels: (String, String)) -> Pairing {
    let same = std::ptr::eq(base.set, other.set);
    let map = |f: Facet| -> Option<Vec<u32>> {
        (!same).then(|| translate(other.set.facet_dict(f), base.set.facet_dict(f)))
    };
    let (bench_map, backbone_map, arm_map) =
        (map(Facet::Benchmark), map(Facet::Backbone), map(Facet::Arm));
    let item_map = (!same).then(|| translate(other.set.item_dict(), base.set.item_dict()));
    let via = |m: &Option<Vec<u32>>, id: u32| match m {
        None => id,
        Some(m) => m.get(id as usize).copied().unwrap_or(NONE),
    };
    let key = |set: &TaskSet, r: usize, translated: bool| -> Option<[u32; 5]> {
        let t = |m: &Option<Vec<u32>>, id: u32| if translated { via(m, id) } else { id };
        let k = [
            t(&bench_map, set.facet_id(Facet::Benchmark, r)),
            t(&item_map, set.item_id(r)),
            t(&backbone_map, set.facet_id(Facet::Backbone, r)),
            if by_arm {
                t(&arm_map, set.facet_id(Facet::Arm, r))
            } else {
                0
            },
            set.epoch(r),
        ];
        (k[..4].iter().all(|&id| id != NONE)).then_some(k)
    };

    let mut others: FxHashMap<[u32; 5], u32> = FxHashMap::default();
    let mut other_total = 0u64;
    for r in side_rows(other) {
        other_total += 1;
        if let Some(k) = key(other.set, r, true) {
            others.entry(k).or_insert(r as u32);
        }
    }
    let (base_scored, other_scored) = (base.set.scored_id(), other.set.scored_id());
    let mut p = Pairing {
        base: labels.0,
        other: labels.1,
        counts: PairCounts::default(),
        matched: 0,
        unscored_pairs: 0,
        only_base: 0,
        only_other: 0,
        accuracy_base: None,
        accuracy_other: None,
        diff: None,
        ci: None,
        mcnemar_p: 1.0,
        groups: Vec::new(),
        fixed: Vec::new(),
        broken: Vec::new(),
    };
    let mut groups: FxHashMap<[u32; 3], (PairCounts, u64)> = FxHashMap::default();
    for r in side_rows(base) {
        let Some(o) = key(base.set, r, false).and_then(|k| others.get(&k).copied()) else {
            p.only_base += 1;
            continue;
        };
        p.matched += 1;
        let g = groups
            .entry([
                base.set.facet_id(Facet::Benchmark, r),
                base.set.facet_id(Facet::Backbone, r),
                if by_arm {
                    base.set.facet_id(Facet::Arm, r)
                } else {
                    NONE
                },
            ])
            .or_default();
        let grades = (
            base.set.graded(r, base_scored),
            other.set.graded(o as usize, other_scored),
        );
        match grades {
            (Some(a), Some(b)) => {
                p.counts.add(a, b);
                g.0.add(a, b);
                match (a, b) {
                    (false, true) => p.fixed.push((r as u32, o)),
                    (true, false) => p.broken.push((r as u32, o)),
                    _ => {}
                }
            }
            _ => {
                p.unscored_pairs += 1;
                g.1 += 1;
            }
        }
    }
    p.only_other = other_total.saturating_sub(p.matched);
    if let Some((a, b, _)) = p.counts.accuracies() {
        p.accuracy_base = Some(a);
        p.accuracy_other = Some(b);
        p.diff = Some(b - a);
    }
    p.ci = stats::paired_bootstrap(&p.counts, RESAMPLES, SEED).map(|ci| (-ci.high, -ci.low));
    p.mcnemar_p = stats::mcnemar_exact_p(p.counts.a_right_b_wrong, p.counts.a_wrong_b_right);
    let label = |f: Facet, id: u32| base.set.facet_label(f, id).unwrap_or("").to_string();
    p.groups = groups
        .into_iter()
        .map(|([bench, backbone, arm], (counts, unscored))| {
            let accs = counts.accuracies();
            PairGroup {
                benchmark: label(Facet::Benchmark, bench),
                backbone: label(Facet::Backbone, backbone),
                arm: (arm != NONE).then(|| label(Facet::Arm, arm)),
                counts,
                unscored_pairs: unscored,
                accuracy_base: accs.map(|a| a.0),
                accuracy_other: accs.map(|a| a.1),
                mcnemar_p: stats::mcnemar_exact_p(counts.a_right_b_wrong, counts.a_wrong_b_right),
            }
        })
        .collect();
    p.groups.sort_by(|a, b| {
        (&a.benchmark, &a.backbone, &a.arm).cmp(&(&b.benchmark, &b.backbone, &b.arm))
    });
    let set = base.set;
    let rank = |k: SortKey| set.ranks(k);
    let (bench_rank, item_rank) = (rank(SortKey::Facet(Facet::Benchmark)), rank(SortKey::Item));
    let (backbone_rank, arm_rank) = (
        rank(SortKey::Facet(Facet::Backbone)),
        rank(SortKey::Facet(Facet::Arm)),
    );
    let at = |ranks: &[u32], id: u32| ranks.get(id as usize).copied().unwrap_or(u32::MAX);
    let order = |v: &mut Vec<(u32, u32)>| {
        v.sort_unstable_by_key(|&(r, _)| {
            let r = r as usize;
            (
                at(&bench_rank, set.facet_id(Facet::Benchmark, r)),
                at(&item_rank, set.item_id(r)),
                at(&backbone_rank, set.facet_id(Facet::Backbone, r)),
                at(&arm_rank, set.facet_id(Facet::Arm, r)),
                set.epoch(r),
                r,
            )
        });
    };
    order(&mut p.fixed);
    order(&mut p.broken);
    p
}

/// Which flipped items a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flip {
    /// Wrong in the base, right in the other.
    Fixed,
    /// Right in the base, wrong in the other.
    Broken,
}

/// One flipped item, with both sides' tasks.
#[derive(Debug, Clone, Serialize)]
pub struct FlipRow {
    pub benchmark: String,
    pub item_id: String,
    pub backbone: String,
    pub epoch: u32,
    pub base_arm: String,
    pub other_arm: String,
    pub base_key: String,
    pub other_key: String,
    pub base_has_trajectory: bool,
    pub other_has_trajectory: bool,
}

impl Pairing {
    pub fn flips(&self, which: Flip) -> &[(u32, u32)] {
        match which {
            Flip::Fixed => &self.fixed,
            Flip::Broken => &self.broken,
        }
    }

    /// Rows `start..start + len` of a flip list.
    pub fn flip_rows(
        &self,
        which: Flip,
        base: &TaskSet,
        other: &TaskSet,
        start: usize,
        len: usize,
    ) -> Vec<FlipRow> {
        self.flips(which)
            .iter()
            .skip(start)
            .take(len)
            .map(|&(b, o)| {
                let (b, o) = (b as usize, o as usize);
                let arm = |set: &TaskSet, r: usize| {
                    set.facet_label(Facet::Arm, set.facet_id(Facet::Arm, r))
                        .unwrap_or("")
                        .to_string()
                };
                let label = |f: Facet| {
                    base.facet_label(f, base.facet_id(f, b))
                        .unwrap_or("")
                        .to_string()
                };
                FlipRow {
                    benchmark: label(Facet::Benchmark),
                    item_id: base.item_dict().get(base.item_id(b)).to_string(),
                    backbone: label(Facet::Backbone),
                    epoch: base.epoch(b),
                    base_arm: arm(base, b),
                    other_arm: arm(other, o),
                    base_key: base.key(b).to_string(),
                    other_key: other.key(o).to_string(),
                    base_has_trajectory: base.has_trajectory(b),
                    other_has_trajectory: other.has_trajectory(o),
                }
            })
            .collect()
    }
}
