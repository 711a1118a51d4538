//! GAIA's `question_scorer`, re-implemented: numeric gold → strip `$ % ,` and compare floats;
//! gold with `,`/`;` → element-wise list compare (numbers as floats, strings without
//! whitespace, lower-cased, punctuation kept); else strings without whitespace/punctuation, lower-cased.

pub const SCORER: &str = "gaia";
pub const VERSION: &str = "1";

/// Python-`float()`-like parse: trims whitespace, accepts `inf`/`nan` and `_` separators
/// (only between two digits, as Python does: `1_000` yes, `1_.5` no).
fn py_float(s: &str) -> Option<f64> {
    let t = s.trim();
    let b = t.as_bytes();
    let lone_underscore = b.iter().enumerate().any(|(i, &c)| {
        c == b'_'
            && !(i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit))
    });
    if t.is_empty() || lone_underscore {
        return None;
    }
    t.replace('_', "").parse::<f64>().ok()
}

fn number(s: &str) -> f64 {
    let t: String = s
        .chars()
        .filter(|c| !matches!(c, '$' | '%' | ','))
        .collect();
    py_float(&t).unwrap_or(f64::INFINITY)
}

/// Python's `string.punctuation`.
fn is_punct(c: char) -> bool {
    c.is_ascii_punctuation()
}

fn norm_str(s: &str, remove_punct: bool) -> String {
    let t: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    if remove_punct {
        t.chars().filter(|c| !is_punct(*c)).collect()
    } else {
        t
    }
}

/// Returns `(correct, rule)`.
pub fn grade(gold: &str, answer: &str) -> (bool, &'static str) {
    if py_float(gold).is_some() {
        let g = py_float(gold).unwrap_or(f64::NAN);
        return (number(answer) == g, "gaia:number");
    }
    if gold.contains([',', ';']) {
        let gl: Vec<&str> = gold.split([',', ';']).collect();
        let al: Vec<&str> = answer.split([',', ';']).collect();
        if gl.len() != al.len() {
            return (false, "gaia:list-length");
        }
        let ok = gl.iter().zip(&al).all(|(g, a)| match py_float(g) {
            Some(gv) => number(a) == gv,
            None => norm_str(a, false) == norm_str(g, false),
        });
        return (ok, "gaia:list");
    }
    (
        norm_str(answer, true) == norm_str(gold, true),
        "gaia:string",
    )
}

#[cfg(test)]
mod tests {
    use super::grade;

    #[test]
    fn gaia_vectors() {
        let yes = [
            ("17", "17"),
            ("17", " 17 "),
            ("17", "17.0"),
            ("1000", "1,000"),
            ("1000", "$1,000"),
            ("35", "35%"),
            ("0.5", "0.50"),
            ("Paris", "paris"),
            ("Paris", "Paris."),
            ("New York", "new york"),
            ("St. Petersburg", "St Petersburg"),
            ("apple, banana", "Apple,banana"),
            ("1, 2, 3", "1,2,3.0"),
            ("3; 4", "3,4"),
            ("b, e", "b,e"),
            ("1000", "1_000"),
        ];
        for (g, a) in yes {
            assert!(grade(g, a).0, "{a:?} should match {g:?}");
        }
        let no = [
            ("17", "seventeen"),
            ("17", "17 apples"),
            ("17", "16"),
            ("Paris", "London"),
            ("apple, banana", "banana, apple"),
            ("apple, banana", "apple"),
            ("a.b, c", "ab, c"),
            ("1, 2", "1, 3"),
            ("1.5", "1_.5"),
            ("1.5", "1._5"),
            ("1.5", "1.5e_0"),
        ];
        for (g, a) in no {
            assert!(!grade(g, a).0, "{a:?} should not match {g:?}");
        }
        assert_eq!(grade("17", "17").1, "gaia:number");
        assert_eq!(grade("a, b", "a, b").1, "gaia:list");
        assert_eq!(grade("a, b", "a").1, "gaia:list-length");
        assert_eq!(grade("abc", "abc").1, "gaia:string");
    }
}
