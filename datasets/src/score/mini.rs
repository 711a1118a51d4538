//! herd-mini: numbers compare with a tolerance (after dropping `$`, `%`, commas and a
//! trailing unit word); strings compare lower-cased with surrounding punctuation and
//! articles removed, also accepting the gold as the answer's last word.

use std::sync::LazyLock;

use regex::Regex;

pub const SCORER: &str = "herd-mini";
pub const VERSION: &str = "1";

static NUM: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"-?\d+(?:\.\d+)?").expect("regex"));

fn clean_number(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '$' | '%' | ','))
        .collect()
}

fn norm_text(s: &str) -> String {
    let t = s
        .trim()
        .trim_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace())
        .to_lowercase();
    let t = t.strip_prefix("the ").unwrap_or(&t).to_string();
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Returns `(correct, extracted, rule)`; `tolerance` is absolute (default 1e-6 relative).
pub fn grade(
    gold: &str,
    answer: &str,
    number: bool,
    tolerance: Option<f64>,
) -> (bool, Option<String>, &'static str) {
    if number {
        let Ok(g) = clean_number(gold).trim().parse::<f64>() else {
            return (false, None, "herd-mini:bad-gold");
        };
        let cleaned = clean_number(answer);
        let v = cleaned.trim().parse::<f64>().ok().or_else(|| {
            NUM.find_iter(&cleaned)
                .last()
                .and_then(|m| m.as_str().parse().ok())
        });
        return match v {
            Some(v) => {
                let tol = tolerance.unwrap_or(1e-6 * g.abs().max(1.0));
                (
                    (v - g).abs() <= tol,
                    Some(format!("{v}")),
                    "herd-mini:number",
                )
            }
            None => (false, None, "herd-mini:no-number"),
        };
    }
    let g = norm_text(gold);
    let a = norm_text(answer);
    if a == g {
        return (true, Some(a), "herd-mini:string");
    }
    let last = a
        .split_whitespace()
        .last()
        .map(norm_text)
        .unwrap_or_default();
    (last == g, Some(a), "herd-mini:last-word")
}

#[cfg(test)]
mod tests {
    use super::grade;

    #[test]
    fn mini_vectors() {
        assert!(grade("888", "888", true, None).0);
        assert!(grade("888", "888.0", true, None).0);
        assert!(grade("1048576", "1,048,576", true, None).0);
        assert!(grade("74.74", "$74.74", true, None).0);
        assert!(grade("36", "36%", true, None).0);
        assert!(grade("12", "12 degrees", true, None).0);
        assert!(grade("0.875", "0.8750000001", true, None).0);
        assert!(!grade("0.875", "0.88", true, None).0);
        assert!(grade("0.875", "0.88", true, Some(0.01)).0);
        assert!(grade("South", "south", false, None).0);
        assert!(grade("PELICAN", "The code word is PELICAN.", false, None).0);
        assert!(!grade("Ana", "Ben", false, None).0);
        assert!(!grade("888", "887", true, None).0);
    }
}
