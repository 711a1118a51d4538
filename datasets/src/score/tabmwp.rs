//! TabMWP, after PromptPG's `normalize_answer` and `extract_prediction`: strip a leading `$`
//! and a trailing `,`/`.`/`/`; numbers lose commas and are rounded to 3 places (fractions
//! too); text answers lose the unit; free text goes through PromptPG's pattern list ("the
//! answer is", "= x", "is x", "h:mm A.M.", last number); multiple choice maps a letter, or
//! else the option with the best word overlap; then a case-insensitive exact match.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

pub const SCORER: &str = "tabmwp";
pub const VERSION: &str = "1";

static NUMERIC: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[-+]?[\d,./]+$").expect("regex"));
static INTEGER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[-+]?\d+$").expect("regex"));
static LATEX_FRAC: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\$?\\frac\{([\d.,\-]+)\}\{([\d.,]+)\}\$?").expect("regex"));
static EQ_SPACING: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(\d)=([-$\d])").expect("regex"));
/// PromptPG's free-text patterns, tried in order; the last match of the first that matches
/// wins. (`(?<= is) …` lookbehinds become a consumed prefix; `[Tt]he` also takes "the".)
static FREE_TEXT: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"[Tt]he answer is ([\s\S]+)$", "tabmwp:answer-is"),
        (
            r"[Th]he table shows that ([\d$.,/:]+) ",
            "tabmwp:table-shows",
        ),
        (r" = ([\d$.,/:]+)", "tabmwp:equals"),
        (r"(?: be| is) ([-\d$.,/:]*\d)", "tabmwp:is-number"),
        (r"(?: are| was) ([-\d$.,/:]*\d)", "tabmwp:is-number"),
        (r"(?: were) ([-\d$.,/:]*\d)", "tabmwp:is-number"),
        (r" ([\d$.,/:]+ [AP]\.M\.)", "tabmwp:time"),
        (r"([-\d$.,/:]*\d)", "tabmwp:last-number"),
    ]
    .iter()
    .map(|(p, r)| (Regex::new(p).expect("regex"), *r))
    .collect()
});
static LETTER_PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"^\(([A-Za-z])\)$",
        r"^([A-Za-z])$",
        r"^([A-Za-z])\. ",
        r"[Tt]he answer is \(?([A-Z])\)?",
        r"^\(([A-Za-z])\) [\s\S]+$",
    ]
    .iter()
    .map(|p| Regex::new(p).expect("regex"))
    .collect()
});

/// Python-style rounding to 3 places, printed without a trailing `.0`.
fn fmt_number(x: f64) -> String {
    let r = (x * 1000.0).round() / 1000.0;
    let s = format!("{r}");
    match s.strip_suffix(".0") {
        Some(t) => t.to_string(),
        None => s,
    }
}

/// PromptPG's `normalize_answer`.
pub fn normalize(text: &str, unit: Option<&str>) -> String {
    let mut t = text.trim();
    t = t.strip_prefix('$').unwrap_or(t);
    t = t.strip_suffix([',', '.', '/']).unwrap_or(t);
    if NUMERIC.is_match(t) {
        let n = t.replace(',', "");
        if INTEGER.is_match(&n)
            && let Ok(v) = n.parse::<i128>()
        {
            return v.to_string();
        }
        if let Some((a, b)) = n.split_once('/')
            && let (Ok(a), Ok(b)) = (a.parse::<f64>(), b.parse::<f64>())
            && b != 0.0
        {
            return fmt_number(a / b);
        }
        if let Ok(v) = n.parse::<f64>() {
            return fmt_number(v);
        }
        return n;
    }
    match unit {
        Some(u) if !u.is_empty() => t.replace(u, "").trim().to_string(),
        _ => t.to_string(),
    }
}

/// Word-overlap similarity of PromptPG's `score_string_similarity`.
fn similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return 2.0;
    }
    if a.contains(' ') || b.contains(' ') {
        // Overlap of the word sets over the longer word list (repeats count), as PromptPG.
        let sa: BTreeSet<&str> = a.split(' ').collect();
        let sb: BTreeSet<&str> = b.split(' ').collect();
        let inter = sa.intersection(&sb).count() as f64;
        inter / a.split(' ').count().max(b.split(' ').count()) as f64
    } else {
        0.0
    }
}

/// PromptPG's `extract_prediction`; returns `(prediction, rule)`.
pub fn extract(output: &str, choices: Option<&[String]>) -> (String, &'static str) {
    let mut out = LATEX_FRAC.replace_all(output.trim(), "$1/$2").into_owned();
    if out.ends_with('.') && !out.ends_with("A.M.") && !out.ends_with("P.M.") {
        out.pop();
    }
    let out = EQ_SPACING
        .replace_all(&out, "$1 = $2")
        .replace('\u{2212}', "-");
    if let Some(opts) = choices.filter(|c| !c.is_empty()) {
        for re in LETTER_PATTERNS.iter() {
            if let Some(l) = re.captures(&out).and_then(|c| c.get(1)) {
                let idx = (l.as_str().to_ascii_uppercase().as_bytes()[0] - b'A') as usize;
                if let Some(o) = opts.get(idx) {
                    return (o.clone(), "tabmwp:choice-letter");
                }
            }
        }
        let mut best = 0usize;
        let mut best_s = f64::MIN;
        for (i, o) in opts.iter().enumerate() {
            let s = similarity(o, &out);
            if s > best_s {
                best_s = s;
                best = i;
            }
        }
        return (opts[best].clone(), "tabmwp:choice-overlap");
    }
    for (re, rule) in FREE_TEXT.iter() {
        if let Some(m) = re.captures_iter(&out).last().and_then(|c| c.get(1)) {
            let p = m.as_str().trim();
            let p = match p.strip_suffix('.') {
                Some(q) if !p.contains(".M.") => q,
                _ => p,
            };
            return (p.to_string(), rule);
        }
    }
    (out, "tabmwp:text")
}

/// Returns `(correct, extracted, rule)`.
pub fn grade(
    gold: &str,
    answer: &str,
    unit: Option<&str>,
    choices: Option<&[String]>,
) -> (bool, String, &'static str) {
    let g = normalize(gold, unit).to_lowercase();
    let direct = normalize(answer, unit);
    let choice_ok = choices.is_none_or(|c| c.iter().any(|o| o.eq_ignore_ascii_case(answer.trim())));
    if choice_ok && direct.to_lowercase() == g {
        return (true, direct, "tabmwp:exact");
    }
    let (pred, rule) = extract(answer, choices);
    let p = normalize(&pred, unit);
    (p.to_lowercase() == g, p, rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation() {
        assert_eq!(normalize("$1,000", None), "1000");
        assert_eq!(normalize("3/4", None), "0.75");
        assert_eq!(normalize("1/3", None), "0.333");
        assert_eq!(normalize("2.50", None), "2.5");
        assert_eq!(normalize("3.0", None), "3");
        assert_eq!(normalize("56.4567", None), "56.457");
        assert_eq!(normalize("-3", None), "-3");
        assert_eq!(normalize("12.", None), "12");
        assert_eq!(normalize("12 cm", Some("cm")), "12");
        assert_eq!(normalize("4,656", None), "4656");
    }

    #[test]
    fn tabmwp_vectors() {
        let ch = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(grade("4,656", "4656", None, None).0);
        assert!(grade("4656", "4,656", None, None).0);
        assert!(grade("3.30", "3.3", None, None).0);
        assert!(grade("$3.30", "$3.30", None, None).0);
        assert!(grade("0.75", "3/4", None, None).0);
        assert!(grade("1/3", "0.333", None, None).0);
        assert!(grade("84", "The answer is 84.", None, None).0);
        assert!(grade("84", "the mean is 84", None, None).0);
        assert!(grade("84", "$\\frac{168}{2}$", None, None).0);
        assert!(grade("7", "7 cm", Some("cm"), None).0);
        assert!(grade("6", "It will be 6 after 2 days.", None, None).0);
        assert!(grade("10:15 A.M.", "It leaves at 10:15 A.M.", None, None).0);
        assert!(grade("40", "Total = $40, so 3 left", None, None).0);
        assert!(!grade("84", "85", None, None).0);
        assert!(!grade("0.75", "0.7", None, None).0);
        let c = ch(&["shortage", "surplus"]);
        assert!(grade("shortage", "shortage", None, Some(&c)).0);
        assert!(grade("shortage", "Shortage", None, Some(&c)).0);
        assert!(grade("shortage", "(A)", None, Some(&c)).0);
        assert!(grade("surplus", "B", None, Some(&c)).0);
        assert!(grade("surplus", "The answer is B", None, Some(&c)).0);
        assert!(grade("surplus", "there is a surplus", None, Some(&c)).0);
        assert!(!grade("surplus", "A", None, Some(&c)).0);
        // Repeated words count in the overlap denominator (PromptPG uses list lengths).
        let r = ch(&["the red the red", "the blue"]);
        assert!(grade("the blue", "the red blue", None, Some(&r)).0);
        assert_eq!(
            grade("surplus", "B", None, Some(&c)).2,
            "tabmwp:choice-letter"
        );
    }
}
