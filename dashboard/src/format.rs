//! Plain-text formatting shared by every page: URL path segments and query strings,
//! percentages, dollars, durations and p-values. Nothing here builds HTML; the pages'
//! maud templates escape whatever these return.

use std::fmt::Write as _;

/// Percent-encodes one URL path segment or query value (everything but RFC 3986
/// unreserved characters).
pub fn url_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `path?k=v&…` with every key and value percent-encoded; just `path` with no pairs.
pub fn href<K: AsRef<str>, V: AsRef<str>>(path: &str, pairs: &[(K, V)]) -> String {
    let mut out = path.to_string();
    for (i, (k, v)) in pairs.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(&url_segment(k.as_ref()));
        out.push('=');
        out.push_str(&url_segment(v.as_ref()));
    }
    out
}

/// `correct / scored` as a percentage, or a dash when nothing was scored.
pub fn accuracy(correct: u64, scored: u64) -> String {
    if scored == 0 {
        "—".to_string()
    } else {
        format!(
            "{:.1}% ({correct}/{scored})",
            100.0 * correct as f64 / scored as f64
        )
    }
}

/// A fraction as a percentage with one decimal, or a dash.
pub fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "—".to_string(), |v| format!("{:.1}%", v * 100.0))
}

/// A difference of fractions in signed percentage points, or a dash.
pub fn signed_pts(x: Option<f64>) -> String {
    x.map_or_else(|| "—".to_string(), |v| format!("{:+.1}", v * 100.0))
}

/// `[low, high]` of fractions as percentages, or a dash.
pub fn pct_interval(x: Option<(f64, f64)>) -> String {
    x.map_or_else(
        || "—".to_string(),
        |(l, h)| format!("[{:.1}%, {:.1}%]", l * 100.0, h * 100.0),
    )
}

/// `[low, high]` of differences in signed points, or a dash.
pub fn pts_interval(x: Option<(f64, f64)>) -> String {
    x.map_or_else(
        || "—".to_string(),
        |(l, h)| format!("[{:+.1}, {:+.1}]", l * 100.0, h * 100.0),
    )
}

/// A number with `digits` decimals, or a dash.
pub fn num(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "—".to_string(), |v| format!("{v:.digits$}"))
}

/// A p-value: four decimals, or scientific notation when tiny.
pub fn pval(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

/// A dollar amount with enough digits for cheap local models.
pub fn usd(cost: f64) -> String {
    if cost != 0.0 && cost.abs() < 0.01 {
        format!("${cost:.4}")
    } else {
        format!("${cost:.2}")
    }
}

/// Milliseconds as seconds with one decimal.
pub fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// Seconds left as `1h 02m`, `3m 05s` or `42s`; a dash when unknown (0).
pub fn eta(secs: u64) -> String {
    match secs {
        0 => "—".to_string(),
        s if s >= 3600 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// The first `max` characters of `text`, with `…` when cut.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_segments_cannot_break_out_of_the_path() {
        assert_eq!(url_segment("a b/../c?d#e"), "a%20b%2F..%2Fc%3Fd%23e");
        assert_eq!(url_segment("ünï"), "%C3%BCn%C3%AF");
        assert_eq!(
            href("/runs/x/tasks", &[("q", "a&b=c"), ("page", "2")]),
            "/runs/x/tasks?q=a%26b%3Dc&page=2"
        );
        assert_eq!(href::<&str, &str>("/p", &[]), "/p");
    }

    #[test]
    fn formats_numbers() {
        assert_eq!(accuracy(0, 0), "—");
        assert_eq!(accuracy(1, 4), "25.0% (1/4)");
        assert_eq!(usd(0.001234), "$0.0012");
        assert_eq!(usd(12.5), "$12.50");
        assert_eq!(eta(0), "—");
        assert_eq!(eta(59), "59s");
        assert_eq!(eta(125), "2m 05s");
        assert_eq!(eta(3725), "1h 02m");
        assert_eq!(pval(0.5), "0.5000");
        assert_eq!(pval(1e-6), "1.0e-6");
        assert_eq!(signed_pts(Some(-0.25)), "-25.0");
        assert_eq!(clip("abcdef", 3), "abc…");
        assert_eq!(clip("abc", 3), "abc");
    }
}
