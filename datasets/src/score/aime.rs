//! AIME: integer answers 0–999 compared as integers ("025" == 25). A gold listing several
//! accepted values ("080 or 081") accepts any of them.

use std::sync::LazyLock;

use regex::Regex;

use super::boxed::last_boxed;

pub const SCORER: &str = "aime";
pub const VERSION: &str = "1";

static INT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"-?\d[\d,]*(?:\.0+)?").expect("regex"));

fn as_int(s: &str) -> Option<i64> {
    let t = s.trim().trim_matches('$').trim();
    let t = t
        .strip_prefix("\\text{")
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(t)
        .trim();
    let t = t.trim_end_matches('.');
    let t = t.strip_suffix(".0").unwrap_or(t);
    let t = t.replace(',', "");
    t.parse::<i64>().ok()
}

/// The accepted integers of a gold answer.
pub fn gold_values(gold: &str) -> Vec<i64> {
    if let Some(v) = as_int(gold) {
        return vec![v];
    }
    INT.find_iter(gold)
        .filter_map(|m| as_int(m.as_str()))
        .collect()
}

/// Returns `(correct, extracted, rule)`.
pub fn grade(gold: &str, answer: &str) -> (bool, Option<i64>, &'static str) {
    let golds = gold_values(gold);
    let rule_gold = if golds.len() > 1 {
        "aime:any-of"
    } else {
        "aime:integer"
    };
    let (val, rule) = if let Some(b) = last_boxed(answer) {
        (
            as_int(&b),
            if golds.len() > 1 {
                rule_gold
            } else {
                "aime:boxed"
            },
        )
    } else if let Some(v) = as_int(answer) {
        (Some(v), rule_gold)
    } else {
        (
            INT.find_iter(answer)
                .last()
                .and_then(|m| as_int(m.as_str())),
            "aime:last-integer",
        )
    };
    match val {
        Some(v) => (golds.contains(&v), Some(v), rule),
        None => (false, None, "aime:no-integer"),
    }
}

#[cfg(test)]
mod tests {
    use super::grade;

    #[test]
    fn aime_vectors() {
        assert!(grade("025", "25").0);
        assert!(grade("25", "025").0);
        assert!(grade("204", "\\boxed{204}").0);
        assert!(grade("204", "$204$").0);
        assert!(grade("204", "204.0").0);
        assert!(grade("204", "so the answer is 204.").0);
        assert!(grade("080 or 081 (both were accepted)", "80").0);
        assert!(grade("080 or 081 (both were accepted)", "081").0);
        assert!(!grade("080 or 081 (both were accepted)", "82").0);
        assert_eq!(
            grade("080 or 081 (both were accepted)", "80").2,
            "aime:any-of"
        );
        assert!(!grade("25", "26").0);
        assert!(!grade("25", "twenty-five").0);
        assert_eq!(grade("25", "twenty-five").2, "aime:no-integer");
        assert!(!grade("204", "\\boxed{205}").0);
    }
}
