//! Where each benchmark loads from when a sweep gives no `source`.
//!
//! In order: the local folder named by `HERD_DATASETS_DIR` (the offline override: when set,
//! its files win and the network is never touched); else the benchmark's canonical Hugging
//! Face dataset, downloaded once into the herd cache; else, where no hub dataset is the same
//! data, nothing: the error names the upstream file and how to get it.

use std::path::Path;

use herd_core::config::BenchmarkKind;

/// A benchmark part's default source.
#[derive(Debug, Clone, Copy)]
pub struct DefaultSource {
    pub kind: BenchmarkKind,
    /// The subsets this covers (their canonical names; the first is the kind's default when
    /// the kind's default subset is here).
    pub subsets: &'static [&'static str],
    /// Where the local copy goes under `HERD_DATASETS_DIR` (for people; `<subset>` and
    /// `<contest>` stand for the subset and the AIME contest).
    pub local: &'static str,
    /// Paths under `HERD_DATASETS_DIR` that must all exist for the local copy to count as
    /// present; `{subset}` is replaced by each subset, and `a|b` means either.
    pub local_check: &'static [&'static str],
    pub origin: Origin,
}

/// Where the data comes from without a local copy.
#[derive(Debug, Clone, Copy)]
pub enum Origin {
    /// A Hugging Face dataset: downloaded once into the cache.
    Hub(HubFile),
    /// A file herd does not download: the error (and `herd datasets list`) says how to get it.
    Upstream(Upstream),
    /// Embedded in herd.
    Builtin,
}

#[derive(Debug, Clone, Copy)]
pub struct HubFile {
    /// `owner/name`.
    pub repo: &'static str,
    pub revision: &'static str,
    /// The file read (`{subset}` replaced); `None`: the repo root is a folder in the
    /// benchmark's own layout (GAIA).
    pub file: Option<&'static str>,
    /// Repo files whose presence in the cache means "downloaded" (`{subset}` replaced; any).
    pub cached: &'static [&'static str],
    /// Needs an accepted licence and `HF_TOKEN`.
    pub gated: bool,
    /// Why this is the same data as the shared copy herd is tested on.
    pub note: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub struct Upstream {
    /// The file (or folder) at its origin.
    pub url: &'static str,
    /// Shell commands that put it under `$HERD_DATASETS_DIR`.
    pub how: &'static str,
    /// Why there is no hub default.
    pub note: &'static str,
}

impl DefaultSource {
    /// `{subset}` replaced in a path template.
    pub fn expand(template: &str, subset: &str) -> String {
        template.replace("{subset}", subset)
    }

    /// Whether the local copy of `subset` is under `dir`.
    pub fn local_present(&self, dir: &Path, subset: &str) -> bool {
        self.local_check.iter().all(|p| {
            Self::expand(p, subset)
                .split('|')
                .any(|alt| dir.join(alt).exists())
        })
    }

    /// The local path for people, with `<subset>` filled in.
    pub fn local_for(&self, subset: &str) -> String {
        self.local.replace("<subset>", subset)
    }
}

const MATHARENA_HOW: &str = "git clone https://github.com/eth-sri/matharena && \
git -C matharena checkout 81f103e38b1df076afa65ee0a3ffbe148d42e6d2 && \
mkdir -p \"$HERD_DATASETS_DIR/aime/matharena\" && \
cp -r matharena/data/aime/aime_2024_I matharena/data/aime/aime_2024_II \
matharena/data/aime/aime_2025_I matharena/data/aime/aime_2025_II \"$HERD_DATASETS_DIR/aime/matharena/\"";

/// Every default, by kind.
pub const DEFAULTS: &[DefaultSource] = &[
    DefaultSource {
        kind: BenchmarkKind::Gaia,
        subsets: &["validation", "test"],
        local: "gaia/ (a copy of the hub repo: gaia/2023/<subset>/metadata.jsonl or .parquet, with the attachments)",
        local_check: &["gaia/2023/{subset}"],
        origin: Origin::Hub(HubFile {
            repo: "gaia-benchmark/GAIA",
            revision: "main",
            file: None,
            cached: &[
                "2023/{subset}/metadata.parquet",
                "2023/{subset}/metadata.jsonl",
            ],
            gated: true,
            note: "the benchmark's own repo (its terms forbid resharing, so herd ships no copy)",
        }),
    },
    DefaultSource {
        kind: BenchmarkKind::Math,
        subsets: &["math500"],
        local: "math/math500/test.jsonl",
        local_check: &["math/math500/test.jsonl"],
        origin: Origin::Hub(HubFile {
            repo: "HuggingFaceH4/MATH-500",
            revision: "main",
            file: Some("test.jsonl"),
            cached: &["test.jsonl"],
            gated: false,
            note: "the PRM800K 500-problem test split; the same file (sha256 35dc4108…) as openai/prm800k math_splits/test.jsonl and the shared copy",
        }),
    },
    DefaultSource {
        kind: BenchmarkKind::Math,
        subsets: &["full"],
        local: "math/math_test_full/test.jsonl",
        local_check: &["math/math_test_full/test.jsonl"],
        origin: Origin::Upstream(Upstream {
            url: "https://github.com/Zhuofeng-Li/math-evaluation-harness/blob/1b9885d817962a8494728376625ce6605772edbd/data/math/test.jsonl",
            how: "curl -fL --create-dirs -o \"$HERD_DATASETS_DIR/math/math_test_full/test.jsonl\" https://raw.githubusercontent.com/Zhuofeng-Li/math-evaluation-harness/1b9885d817962a8494728376625ce6605772edbd/data/math/test.jsonl",
            note: "the full Hendrycks MATH test in math-evaluation-harness's JSONL; the original is a tarball of per-problem JSON files, and hendrycks/competition_math is no longer served",
        }),
    },
    DefaultSource {
        kind: BenchmarkKind::Math,
        subsets: &["full-answers"],
        local: "math/math_test_full_answers/validation.jsonl",
        local_check: &["math/math_test_full_answers/validation.jsonl"],
        origin: Origin::Upstream(Upstream {
            url: "https://github.com/zifanwangsteven/assignment5-alignment/blob/d3166287c38daa0baea63d21d2393bf99ae6581a/data/MATH/validation.jsonl",
            how: "curl -fL --create-dirs -o \"$HERD_DATASETS_DIR/math/math_test_full_answers/validation.jsonl\" https://raw.githubusercontent.com/zifanwangsteven/assignment5-alignment/d3166287c38daa0baea63d21d2393bf99ae6581a/data/MATH/validation.jsonl",
            note: "the 5000 MATH test problems with extracted answers (Stanford CS336 assignment 5's copy); no hub dataset is this file",
        }),
    },
    DefaultSource {
        kind: BenchmarkKind::Gpqa,
        subsets: &["diamond", "main", "extended"],
        local: "gpqa/dataset.zip (the authors' encrypted zip from github.com/idavidrein/gpqa; password in $GPQA_PASSWORD) or gpqa/gpqa_<subset>.csv",
        local_check: &["gpqa/dataset.zip|gpqa/gpqa_{subset}.csv"],
        origin: Origin::Hub(HubFile {
            repo: "Idavidrein/gpqa",
            revision: "main",
            file: Some("gpqa_{subset}.csv"),
            cached: &["gpqa_{subset}.csv"],
            gated: true,
            note: "the authors' own hub copy of the gpqa_<subset>.csv tables that their dataset.zip holds, unencrypted (no password needed)",
        }),
    },
    DefaultSource {
        kind: BenchmarkKind::Aime,
        subsets: &[
            "matharena",
            "2024",
            "2025",
            "2024_I",
            "2024_II",
            "2025_I",
            "2025_II",
        ],
        local: "aime/matharena/aime_<contest>/ (answers.csv, problems/<n>.tex, images/)",
        local_check: &[
            "aime/matharena/aime_2024_I/answers.csv",
            "aime/matharena/aime_2024_II/answers.csv",
            "aime/matharena/aime_2025_I/answers.csv",
            "aime/matharena/aime_2025_II/answers.csv",
        ],
        origin: Origin::Upstream(Upstream {
            url: "https://github.com/eth-sri/matharena/tree/81f103e38b1df076afa65ee0a3ffbe148d42e6d2/data/aime",
            how: MATHARENA_HOW,
            note: "MathArena's contest folders (problem .tex files, answers, figures); its hub datasets are parquet tables, not this layout",
        }),
    },
    DefaultSource {
        kind: BenchmarkKind::Aime,
        subsets: &["1983-2024"],
        local: "aime/AIME_Dataset_1983_2024.csv",
        local_check: &["aime/AIME_Dataset_1983_2024.csv"],
        origin: Origin::Hub(HubFile {
            repo: "di-zhang-fdu/AIME_1983_2024",
            revision: "main",
            file: Some("AIME_Dataset_1983_2024.csv"),
            cached: &["AIME_Dataset_1983_2024.csv"],
            gated: false,
            note: "the widely shared AIME 1983-2024 CSV: same file name, columns and 933 rows as the shared copy (which is 5 bytes shorter, so not byte-identical)",
        }),
    },
    DefaultSource {
        kind: BenchmarkKind::Aime,
        subsets: &["aime24"],
        local: "aime/qwen25math_aime24/test.jsonl",
        local_check: &["aime/qwen25math_aime24/test.jsonl"],
        origin: Origin::Upstream(Upstream {
            url: "https://github.com/QwenLM/Qwen2.5-Math/blob/a45202bd16f1ec06f433442dc1152d0074773465/evaluation/data/aime24/test.jsonl",
            how: "curl -fL --create-dirs -o \"$HERD_DATASETS_DIR/aime/qwen25math_aime24/test.jsonl\" https://raw.githubusercontent.com/QwenLM/Qwen2.5-Math/a45202bd16f1ec06f433442dc1152d0074773465/evaluation/data/aime24/test.jsonl",
            note: "Qwen2.5-Math's evaluation file; the hub's AIME 2024 sets are parquet tables in another layout",
        }),
    },
    DefaultSource {
        kind: BenchmarkKind::Tabmwp,
        subsets: &["test1k"],
        local: "tabmwp/problems_test1k.json",
        local_check: &["tabmwp/problems_test1k.json"],
        origin: Origin::Upstream(Upstream {
            url: "https://github.com/lupantech/PromptPG/blob/7cf61b1bec07222fc24b4f5a1410911f77c2d2c9/data/tabmwp/problems_test1k.json",
            how: "curl -fL --create-dirs -o \"$HERD_DATASETS_DIR/tabmwp/problems_test1k.json\" https://raw.githubusercontent.com/lupantech/PromptPG/7cf61b1bec07222fc24b4f5a1410911f77c2d2c9/data/tabmwp/problems_test1k.json",
            note: "TabMWP's authors publish it in the PromptPG repo only; no hub dataset is canonical",
        }),
    },
    DefaultSource {
        kind: BenchmarkKind::Tabmwp,
        subsets: &["test"],
        local: "tabmwp/tabmwp_s0_e-1_11_06_22_55.jsonl",
        local_check: &["tabmwp/tabmwp_s0_e-1_11_06_22_55.jsonl"],
        origin: Origin::Upstream(Upstream {
            url: "https://github.com/wenhuchen/Program-of-Thoughts/blob/850399c3eff8c37458a9d642c4a98df287f50f3a/outputs/tabmwp_s0_e-1_11_06_22_55.jsonl",
            how: "curl -fL --create-dirs -o \"$HERD_DATASETS_DIR/tabmwp/tabmwp_s0_e-1_11_06_22_55.jsonl\" https://raw.githubusercontent.com/wenhuchen/Program-of-Thoughts/850399c3eff8c37458a9d642c4a98df287f50f3a/outputs/tabmwp_s0_e-1_11_06_22_55.jsonl",
            note: "7685 of the 7686 test items, from Program-of-Thoughts' prediction log (PromptPG's full problems_test.json is not retrievable); no hub dataset is canonical",
        }),
    },
    DefaultSource {
        kind: BenchmarkKind::HerdMini,
        subsets: &["all"],
        local: "(embedded in herd)",
        local_check: &[],
        origin: Origin::Builtin,
    },
];

/// The subset name the loaders use for an alias (`test` → `full` for MATH, …).
pub fn canonical_subset(kind: BenchmarkKind, subset: &str) -> String {
    let s = subset.trim();
    let c = match (kind, s) {
        (BenchmarkKind::Math, "test" | "math_test_full") => "full",
        (BenchmarkKind::Math, "math-500" | "prm800k") => "math500",
        (BenchmarkKind::Aime, "csv") => "1983-2024",
        (BenchmarkKind::Aime, "qwen25math") => "aime24",
        (BenchmarkKind::Tabmwp, "pot") => "test",
        _ => s,
    };
    c.to_string()
}

/// The default source of one subset (aliases accepted).
pub fn find(kind: BenchmarkKind, subset: &str) -> Option<&'static DefaultSource> {
    let s = canonical_subset(kind, subset);
    DEFAULTS
        .iter()
        .find(|d| d.kind == kind && d.subsets.contains(&s.as_str()))
}

/// The defaults of one kind, in table order.
pub fn of_kind(kind: BenchmarkKind) -> impl Iterator<Item = &'static DefaultSource> {
    DEFAULTS.iter().filter(move |d| d.kind == kind)
}
