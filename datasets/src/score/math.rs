//! MATH answer equivalence. Rules, in order (the first that decides is recorded):
//! 1. `math:hendrycks` — Hendrycks/PRM800K `_strip_string` forms are equal;
//! 2. `math:normalized` — PRM800K-grader-style normalisation (drops `\text{}` wrappers, units,
//!    `$`/`%`, thousands commas, spacing; lower-case) gives equal strings;
//! 3. `math:matrix`, `math:tuple` (brackets must match, ordered), `math:list` (bare comma lists
//!    and `\{…\}` sets, any order) — element-wise with rules 4–6;
//! 4. `math:unreduced-fraction` — PRM800K guard: two plain fractions must be the same fraction;
//! 5. `math:integer-guard` — PRM800K guard: an integer gold needs an integer answer;
//! 6. `math:symbolic` — both parse (see [`super::latex`]) and agree numerically (rel 1e-9),
//!    at several sample points when there are free variables (our stand-in for sympy).

use std::sync::LazyLock;

use regex::Regex;

use super::boxed::{last_boxed, unbox};
use super::latex;
use super::strip::strip_string;

pub const SCORER: &str = "math";
pub const VERSION: &str = "1";

/// What a model answer contributes: the last `\boxed{}` if any, else the text without
/// `$…$`, an `Answer:` prefix or a final period.
pub fn extract(answer: &str) -> String {
    if let Some(b) = last_boxed(answer) {
        return b.trim().to_string();
    }
    let mut t = answer.trim();
    for p in [
        "Final Answer:",
        "Final answer:",
        "final answer:",
        "Answer:",
        "answer:",
        "The answer is",
        "the answer is",
    ] {
        if let Some(i) = t.rfind(p) {
            t = t[i + p.len()..].trim();
        }
    }
    let t = t.trim_end_matches('.').trim();
    let t = t
        .strip_prefix("\\(")
        .and_then(|x| x.strip_suffix("\\)"))
        .unwrap_or(t);
    let t = t
        .strip_prefix("\\[")
        .and_then(|x| x.strip_suffix("\\]"))
        .unwrap_or(t);
    let t = t.trim_matches('$').trim();
    t.to_string()
}

static TEXT_WRAP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\\(?:text|textbf|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}").expect("regex")
});
static UNITS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:degree|cm|centimeter|meter|mile|second|minute|hour|day|week|month|year|foot|feet|inch|yard|unit|dollar|cent)(?:es|s)?\s*(?:\^\{?[0-9]+\}?)?(?:\s|$)").expect("regex")
});
static THOUSANDS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$").expect("regex"));
static MIXED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(^|[^\d.}])(\d+)\\frac\{(\d+)\}\{(\d+)\}").expect("regex"));
static PLAIN_FRAC: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(-?)\\frac\{(-?)(\d+)\}\{(\d+)\}$").expect("regex"));

/// PRM800K-grader-style normalisation, applied after `strip_string`.
pub fn normalize(s: &str) -> String {
    let mut s = strip_string(s);
    for _ in 0..4 {
        let n = TEXT_WRAP.replace_all(&s, "$1").into_owned();
        if n == s {
            break;
        }
        s = n;
    }
    for (from, to) in [
        ("{,}", ","),
        ("\\,", ""),
        ("\\;", ""),
        ("\\:", ""),
        ("\\quad", ""),
        ("~", ""),
        ("\\$", ""),
        ("$", ""),
        ("\\%", ""),
        ("%", ""),
        ("\\circ", ""),
        ("°", ""),
        ("\\displaystyle", ""),
        ("\u{2212}", "-"),
        ("\\dfrac", "\\frac"),
        ("\\tfrac", "\\frac"),
        ("\\times", "\\cdot"),
    ] {
        s = s.replace(from, to);
    }
    s = s.replace("^{}", "");
    s = UNITS.replace_all(&s, " ").into_owned();
    s = s.replace(' ', "");
    if THOUSANDS.is_match(&s) {
        s = s.replace(',', "");
    }
    // "3.0" → "3"
    if let Ok(f) = s.parse::<f64>()
        && f.fract() == 0.0
        && f.abs() < 1e15
        && !s.contains('e')
    {
        s = format!("{}", f as i64);
    }
    if s.len() >= 2 && s.starts_with('{') && s.ends_with('}') && balanced(&s[1..s.len() - 1]) {
        s = s[1..s.len() - 1].to_string();
    }
    s.to_lowercase()
}

fn balanced(s: &str) -> bool {
    let mut d: i32 = 0;
    for c in s.chars() {
        match c {
            '{' | '(' | '[' => d += 1,
            '}' | ')' | ']' => {
                d -= 1;
                if d < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    d == 0
}

/// Splits on commas outside any brackets.
fn split_top(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut d: i32 = 0;
    let mut cur = String::new();
    let mut prev = ' ';
    for c in s.chars() {
        match c {
            '{' | '(' | '[' => d += 1,
            '}' | ')' | ']' => d -= 1,
            _ => {}
        }
        if c == ',' && d == 0 && prev != '\\' {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
        prev = c;
    }
    out.push(cur);
    out
}

fn is_int(s: &str) -> bool {
    let t = s.replace(',', "");
    t.parse::<f64>()
        .is_ok_and(|f| f.is_finite() && (f - f.round()).abs() <= 1e-7)
}

/// `(numerator, denominator)` with the sign on the numerator, for plain integer fractions.
fn plain_frac(s: &str) -> Option<(i128, i128)> {
    let c = PLAIN_FRAC.captures(s)?;
    let neg = (c.get(1)?.as_str() == "-") ^ (c.get(2)?.as_str() == "-");
    let n: i128 = c.get(3)?.as_str().parse().ok()?;
    let d: i128 = c.get(4)?.as_str().parse().ok()?;
    Some((if neg { -n } else { n }, d))
}

fn to_expr_text(n: &str) -> String {
    // Mixed numbers: `3\frac{1}{2}` is 3 + 1/2, not 3 · 1/2.
    let s = n.replace("\\cdot", "*");
    MIXED.replace_all(&s, "$1($2+\\frac{$3}{$4})").into_owned()
}

/// Compares one element (no top-level lists). Returns `(equal, rule)`.
fn elem_equal(gold: &str, given: &str) -> (bool, &'static str) {
    if gold == given {
        return (true, "math:normalized");
    }
    if given.is_empty() {
        return (false, "math:empty");
    }
    if let (Some(a), Some(b)) = (plain_frac(gold), plain_frac(given)) {
        return (a == b, "math:unreduced-fraction");
    }
    match (is_int(gold), is_int(given)) {
        (true, true) => {
            let v = |s: &str| s.replace(',', "").parse::<f64>().map(f64::round).ok();
            return (v(gold) == v(given), "math:integer");
        }
        (false, false) => {}
        _ => return (false, "math:integer-guard"),
    }
    match (
        latex::parse(&to_expr_text(gold)),
        latex::parse(&to_expr_text(given)),
    ) {
        (Some(a), Some(b)) => match latex::equivalent(&a, &b) {
            Some(eq) => (eq, "math:symbolic"),
            None => (false, "math:no-match"),
        },
        _ => (false, "math:no-match"),
    }
}

/// Matrix cells from `\begin{pmatrix} a & b \\ c & d \end{pmatrix}` (raw, before stripping).
fn matrix_cells(s: &str) -> Option<Vec<String>> {
    let t = s.trim();
    for env in ["pmatrix", "bmatrix", "matrix"] {
        let open = format!("\\begin{{{env}}}");
        let close = format!("\\end{{{env}}}");
        if let Some(inner) = t
            .strip_prefix(open.as_str())
            .and_then(|x| x.strip_suffix(close.as_str()))
        {
            let mut cells = Vec::new();
            for row in inner.split("\\\\") {
                if row.trim().is_empty() {
                    continue;
                }
                cells.extend(row.split('&').map(|c| c.trim().to_string()));
            }
            return Some(cells);
        }
    }
    None
}

fn bracketed(s: &str) -> Option<(char, &str, char)> {
    let first = s.chars().next()?;
    let last = s.chars().last()?;
    if s.len() >= 2
        && matches!(first, '(' | '[')
        && matches!(last, ')' | ']')
        && balanced(&s[1..s.len() - 1])
    {
        Some((first, &s[1..s.len() - 1], last))
    } else {
        None
    }
}

/// Unordered comparison of two element lists.
fn multiset_equal(gold: &[String], given: &[String]) -> bool {
    if gold.len() != given.len() {
        return false;
    }
    let mut used = vec![false; given.len()];
    'outer: for g in gold {
        for (j, a) in given.iter().enumerate() {
            if !used[j] && elem_equal(g, a).0 {
                used[j] = true;
                continue 'outer;
            }
        }
        return false;
    }
    true
}

/// Grades `given` (already extracted) against `gold`. Returns `(correct, rule)`.
pub fn grade(gold: &str, given: &str) -> (bool, &'static str) {
    let gold = unbox(gold);
    let given = unbox(given);
    if strip_string(&gold) == strip_string(&given) {
        return (true, "math:hendrycks");
    }
    if let (Some(a), Some(b)) = (matrix_cells(&gold), matrix_cells(&given)) {
        let ok = a.len() == b.len()
            && a.iter()
                .zip(&b)
                .all(|(x, y)| elem_equal(&normalize(x), &normalize(y)).0);
        return (ok, "math:matrix");
    }
    let g = normalize(&gold);
    let a = normalize(&given);
    if g == a {
        return (true, "math:normalized");
    }
    if a.is_empty() {
        return (false, "math:empty");
    }
    // Sets \{…\} and bare comma lists: any order.
    let unset = |s: &str| {
        s.strip_prefix("\\{")
            .and_then(|x| x.strip_suffix("\\}"))
            .map(str::to_string)
    };
    if let (Some(gs), Some(as_)) = (unset(&g), unset(&a)) {
        return (
            multiset_equal(&split_top(&gs), &split_top(&as_)),
            "math:list",
        );
    }
    let gold_elems = split_top(&g);
    match bracketed(&g) {
        Some((go, ginner, gc)) if split_top(ginner).len() > 1 => {
            let Some((ao, ainner, ac)) = bracketed(&a) else {
                return (false, "math:tuple");
            };
            let ge = split_top(ginner);
            let ae = split_top(ainner);
            let ok = go == ao
                && gc == ac
                && ge.len() == ae.len()
                && ge.iter().zip(&ae).all(|(x, y)| elem_equal(x, y).0);
            return (ok, "math:tuple");
        }
        _ => {}
    }
    if gold_elems.len() > 1 {
        let given_elems = split_top(unset(&a).as_deref().unwrap_or(&a));
        return (multiset_equal(&gold_elems, &given_elems), "math:list");
    }
    elem_equal(&g, &a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(gold: &str, given: &str) -> bool {
        grade(gold, &extract(given)).0
    }

    #[test]
    fn equivalences() {
        for (g, a) in [
            ("\\frac12", "0.5"),
            ("\\frac12", "1/2"),
            ("\\frac{1}{2}", "\\dfrac{1}{2}"),
            ("0.5", "\\frac{1}{2}"),
            ("\\frac{3}{4}", "0.75"),
            ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})"),
            ("(3, \\frac{\\pi}{2})", "(3, 1.5707963267948966)"),
            ("30^\\circ", "30"),
            ("30", "30^{\\circ}"),
            ("30", "30 degrees"),
            ("5\\text{ cm}", "5"),
            ("12\\text{ inches}", "12"),
            ("10,000", "10000"),
            ("10000", "10{,}000"),
            ("\\$5.50", "5.5"),
            ("25\\%", "25"),
            ("\\text{Evelyn}", "Evelyn"),
            ("\\text{(C)}", "(C)"),
            ("(-\\infty, 3]", "(-\\infty,3]"),
            ("[2, 5)", "[2,5)"),
            ("2\\sqrt{3}", "\\sqrt{12}"),
            ("\\sqrt3", "\\sqrt{3}"),
            ("x^2+2x+1", "(x+1)^2"),
            ("1, 2, 3", "3, 1, 2"),
            ("\\{1,2\\}", "\\{2,1\\}"),
            ("1+2i", "2i+1"),
            ("3\\frac{1}{2}", "\\frac{7}{2}"),
            (
                "\\begin{pmatrix} 1 \\\\ -2 \\end{pmatrix}",
                "\\begin{pmatrix}1\\\\-2\\end{pmatrix}",
            ),
            (
                "\\begin{pmatrix} 1/2 \\\\ 3 \\end{pmatrix}",
                "\\begin{pmatrix}0.5\\\\3\\end{pmatrix}",
            ),
            ("k = 5", "5"),
            ("-\\frac{1}{2}", "\\frac{-1}{2}"),
            ("2", "2.0"),
            ("\\pi", "\\boxed{\\pi}"),
            ("4", "The answer is $4$."),
            ("\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}"),
        ] {
            assert!(
                ok(g, a),
                "expected {a:?} == {g:?}: {:?}",
                grade(g, &extract(a))
            );
        }
    }

    #[test]
    fn inequivalences() {
        for (g, a) in [
            ("\\frac12", "\\frac{2}{4}"),
            ("2", "\\frac{4}{2}"),
            ("\\frac{1}{3}", "0.333"),
            ("(1,2)", "[1,2]"),
            ("(1,2)", "(2,1)"),
            ("[2, 5)", "[2,5]"),
            ("3", "4"),
            ("x^2+1", "x^2-1"),
            ("\\text{Evelyn}", "Devon"),
            ("1,2,3", "1,2"),
            ("\\pi", "3.14"),
            ("5", ""),
            ("\\sqrt{2}", "2"),
        ] {
            assert!(
                !ok(g, a),
                "expected {a:?} != {g:?}: {:?}",
                grade(g, &extract(a))
            );
        }
    }
}
