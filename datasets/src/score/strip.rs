//! The Hendrycks MATH / PRM800K `_strip_string` normalisation, re-implemented rule by rule:
//! drop newlines, `\!`, `\left`/`\right`, degrees, `\$`, `\%` and right-side `\text{ unit}`;
//! `tfrac`/`dfrac` → `frac`; leading-zero decimals; a short `k = ` prefix; `\sqrt3` →
//! `\sqrt{3}`; `\frac12` → `\frac{1}{2}`; spaces removed; `0.5` → `\frac{1}{2}`; `a/b` → `\frac{a}{b}`.

/// Hendrycks-normalised form of an answer string.
pub fn strip_string(input: &str) -> String {
    let mut s = input.replace('\n', "");
    s = s.replace("\\!", "");
    s = s.replace("\\\\", "\\");
    s = s.replace("tfrac", "frac").replace("dfrac", "frac");
    s = s.replace("\\left", "").replace("\\right", "");
    s = s.replace("^{\\circ}", "").replace("^\\circ", "");
    s = s.replace("\\$", "");
    s = remove_right_units(&s);
    s = s.replace("\\%", "").replace("%", "");
    s = s.replace(" .", " 0.").replace("{.", "{0.");
    if s.is_empty() {
        return s;
    }
    if s.starts_with('.') {
        s.insert(0, '0');
    }
    // "k = 5" / "x=5" → "5" when the left side is at most two characters.
    let parts: Vec<&str> = s.split('=').collect();
    if parts.len() == 2 && parts[0].len() <= 2 {
        s = parts[1].to_string();
    }
    s = fix_sqrt(&s);
    s = s.replace(' ', "");
    s = fix_fracs(&s);
    if s == "0.5" {
        s = "\\frac{1}{2}".to_string();
    }
    fix_a_slash_b(&s)
}

/// `"5 \text{ cm}"` → `"5 "`: drops everything from the first `\text{ ` (with a space).
fn remove_right_units(s: &str) -> String {
    match s.find("\\text{ ") {
        Some(i) => s[..i].to_string(),
        None => s.to_string(),
    }
}

/// `\sqrt3` → `\sqrt{3}` (one character after `\sqrt` is wrapped when no brace follows).
fn fix_sqrt(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    let mut rest = s;
    while let Some(i) = rest.find("\\sqrt") {
        out.push_str(&rest[..i + 5]);
        rest = &rest[i + 5..];
        let mut chars = rest.chars();
        match chars.next() {
            Some(c) if c != '{' && c != '[' && c != ' ' && c != '\\' => {
                out.push('{');
                out.push(c);
                out.push('}');
                rest = chars.as_str();
            }
            _ => {}
        }
    }
    out.push_str(rest);
    out
}

/// `\frac12` → `\frac{1}{2}`, `\frac1{2}` → `\frac{1}{2}`, `\frac{1}2` → `\frac{1}{2}`.
fn fix_fracs(s: &str) -> String {
    let pieces: Vec<&str> = s.split("\\frac").collect();
    let mut out = pieces[0].to_string();
    for p in &pieces[1..] {
        out.push_str("\\frac");
        let chars: Vec<char> = p.chars().collect();
        if chars.first() == Some(&'{') {
            // Numerator braced; fix a bare one-character denominator.
            if let Some(end) = matching_brace(&chars, 0) {
                let num: String = chars[..=end].iter().collect();
                let rest = &chars[end + 1..];
                if let Some(&d) = rest.first()
                    && d != '{'
                {
                    out.push_str(&num);
                    out.push('{');
                    out.push(d);
                    out.push('}');
                    out.extend(&rest[1..]);
                    continue;
                }
            }
            out.push_str(p);
        } else if chars.len() < 2 {
            // Malformed (the reference returns the input unchanged); keep as is.
            return s.to_string();
        } else {
            let a = chars[0];
            let b = chars[1];
            out.push('{');
            out.push(a);
            out.push('}');
            if b == '{' {
                out.extend(&chars[1..]);
            } else {
                out.push('{');
                out.push(b);
                out.push('}');
                out.extend(&chars[2..]);
            }
        }
    }
    out
}

fn matching_brace(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, &c) in chars.iter().enumerate().skip(open) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `"3/4"` → `"\frac{3}{4}"` when both sides are plain integers.
fn fix_a_slash_b(s: &str) -> String {
    let parts: Vec<&str> = s.split('/').collect();
    if parts.len() == 2 {
        let ok = |x: &str| {
            !x.is_empty() && x.chars().all(|c| c.is_ascii_digit()) && x.parse::<u64>().is_ok()
        };
        let a = parts[0];
        let b = parts[1];
        let a_digits = a.strip_prefix('-').unwrap_or(a);
        if ok(a_digits) && ok(b) && a == a_digits {
            return format!("\\frac{{{a}}}{{{b}}}");
        }
    }
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::strip_string as st;

    #[test]
    fn hendrycks_rules() {
        assert_eq!(st("\\frac12"), "\\frac{1}{2}");
        assert_eq!(st("\\dfrac{1}{2}"), "\\frac{1}{2}");
        assert_eq!(st("0.5"), "\\frac{1}{2}");
        assert_eq!(st("1/2"), "\\frac{1}{2}");
        assert_eq!(st(".5"), "\\frac{1}{2}");
        assert_eq!(st("\\left( 1, 2 \\right)"), "(1,2)");
        assert_eq!(st("30^\\circ"), "30");
        assert_eq!(st("30^{\\circ}"), "30");
        assert_eq!(st("\\$5"), "5");
        assert_eq!(st("50\\%"), "50");
        assert_eq!(st("5 \\text{ cm}"), "5");
        assert_eq!(st("x = 5"), "5");
        assert_eq!(st("\\sqrt3"), "\\sqrt{3}");
        assert_eq!(st("2\\sqrt2"), "2\\sqrt{2}");
        assert_eq!(st("\\frac1{2}"), "\\frac{1}{2}");
        assert_eq!(st("\\frac{1}2"), "\\frac{1}{2}");
        assert_eq!(st("\\tfrac{3}{4}"), "\\frac{3}{4}");
        assert_eq!(st("\\!10,\\!000"), "10,000");
    }
}
