//! GPQA letter extraction: simple-evals' `Answer: X` pattern (last match wins), then odd
//! places — `\boxed{X}`, "the answer is (X)", a bare letter, a final `(X)` — in that order.

use std::sync::LazyLock;

use regex::Regex;

pub const SCORER: &str = "gpqa";
pub const VERSION: &str = "1";

static ANSWER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)answer[ \t]*[:：][ \t*]*\$?\(?([A-D])\)?\$?(?:[^A-Za-z0-9]|$)").expect("regex")
});
static BOXED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\\boxed\{\s*(?:\\text\{)?\s*\(?([A-D])\)?\s*\}?\s*\}").expect("regex")
});
static ANSWER_IS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:answer|option|choice)\s+(?:is|would be|should be)\s*[:\s]*\**\s*\(?([A-D])\)?(?:[^A-Za-z0-9]|$)").expect("regex")
});
static BARE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[\s*_`(\[]*(?:option\s+)?([A-Da-d])[\s*_`)\].:]*$").expect("regex")
});
static PAREN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\(([A-D])\)").expect("regex"));

/// The extracted letter and the rule that found it.
pub fn extract(answer: &str) -> Option<(char, &'static str)> {
    let last = |re: &Regex| {
        re.captures_iter(answer)
            .last()
            .and_then(|c| c.get(1))
            .and_then(|m| m.as_str().chars().next())
    };
    if let Some(c) = last(&ANSWER) {
        return Some((c.to_ascii_uppercase(), "gpqa:answer-pattern"));
    }
    if let Some(c) = last(&BOXED) {
        return Some((c, "gpqa:boxed"));
    }
    if let Some(c) = last(&ANSWER_IS) {
        return Some((c.to_ascii_uppercase(), "gpqa:answer-is"));
    }
    if let Some(c) = BARE
        .captures(answer.trim())
        .and_then(|c| c.get(1))
        .and_then(|m| m.as_str().chars().next())
    {
        return Some((c.to_ascii_uppercase(), "gpqa:bare-letter"));
    }
    last(&PAREN).map(|c| (c, "gpqa:paren"))
}

/// Returns `(correct, extracted, rule)`.
pub fn grade(gold: &str, answer: &str) -> (bool, Option<String>, &'static str) {
    match extract(answer) {
        Some((c, rule)) => (
            gold.trim().eq_ignore_ascii_case(&c.to_string()),
            Some(c.to_string()),
            rule,
        ),
        None => (false, None, "gpqa:no-letter"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_in_odd_places() {
        let cases = [
            ("Answer: B", Some('B')),
            ("answer:c", Some('C')),
            (
                "Reasoning... Answer: A\nWait, recheck. Answer: D",
                Some('D'),
            ),
            ("**Answer:** C", Some('C')),
            ("Answer: $B$", Some('B')),
            ("Answer: (A)", Some('A')),
            ("The final result is \\boxed{C}", Some('C')),
            ("\\boxed{\\text{B}}", Some('B')),
            ("I think the answer is (D) because ...", Some('D')),
            ("The correct option is B.", Some('B')),
            ("C", Some('C')),
            ("(b)", Some('B')),
            ("**A**", Some('A')),
            ("Between (A) and (C), I pick (C)", Some('C')),
            ("no idea", None),
            ("Answer: E", None),
            ("A lot of thinking without letters", None),
        ];
        for (text, want) in cases {
            assert_eq!(extract(text).map(|x| x.0), want, "text {text:?}");
        }
        assert!(grade("B", "Answer: B").0);
        assert!(!grade("B", "Answer: C").0);
        assert_eq!(grade("B", "Answer: B").2, "gpqa:answer-pattern");
    }
}
