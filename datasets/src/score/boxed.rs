//! Extraction of the last `\boxed{…}` / `\fbox{…}` with brace matching (the MATH answer rule).

/// The content of the last `\boxed{…}` or `\fbox{…}` (also `\boxed 5`), braces matched.
pub fn last_boxed(s: &str) -> Option<String> {
    let pos = [s.rfind("\\boxed"), s.rfind("\\fbox")]
        .into_iter()
        .flatten()
        .max()?;
    let rest = &s[pos..];
    let cmd_len = if rest.starts_with("\\boxed") { 6 } else { 5 };
    let after = &rest[cmd_len..];
    let trimmed = after.trim_start();
    if let Some(body) = trimmed.strip_prefix('{') {
        let mut depth = 1usize;
        for (i, c) in body.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(body[..i].to_string());
                    }
                }
                _ => {}
            }
        }
        None
    } else if after.starts_with(' ') {
        // `\boxed 5$`: up to the closing `$` or the end of the word.
        let t = trimmed.split(['$', ' ', '\n']).next().unwrap_or("");
        (!t.is_empty()).then(|| t.to_string())
    } else {
        None
    }
}

/// Removes a single outer `\boxed{…}` wrapper if the whole string is one.
pub fn unbox(s: &str) -> String {
    let t = s.trim();
    if (t.starts_with("\\boxed") || t.starts_with("\\fbox"))
        && let Some(inner) = last_boxed(t)
    {
        return inner;
    }
    t.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxed_cases() {
        assert_eq!(
            last_boxed("so $\\boxed{2}$ and \\boxed{\\frac{1}{2}}.").as_deref(),
            Some("\\frac{1}{2}")
        );
        assert_eq!(last_boxed("\\fbox{x^{2}}").as_deref(), Some("x^{2}"));
        assert_eq!(
            last_boxed("\\boxed{\\{1,2\\}}").as_deref(),
            Some("\\{1,2\\}")
        );
        assert_eq!(last_boxed("is $\\boxed 5$.").as_deref(), Some("5"));
        assert_eq!(last_boxed("no box"), None);
        assert_eq!(last_boxed("\\boxed{unclosed"), None);
        assert_eq!(unbox(" \\boxed{7} "), "7");
    }
}
