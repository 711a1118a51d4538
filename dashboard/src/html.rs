//! HTML building blocks shared by every page: escaping of untrusted text, URL path
//! segments, number formatting and the page frame (inline CSS, optional refresh script).

use std::fmt::Write as _;

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Percent-encodes one URL path segment (everything but RFC 3986 unreserved characters).
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

/// A dollar amount with enough digits for cheap local models.
pub fn usd(cost: f64) -> String {
    if cost != 0.0 && cost.abs() < 0.01 {
        format!("${cost:.4}")
    } else {
        format!("${cost:.2}")
    }
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

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#222}\
a{color:#0645ad}h1 a{color:inherit;text-decoration:none}\
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:13px}\
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}\
th{background:#f3f3f3}td.n{text-align:right}\
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:600}\
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:6px;white-space:pre-wrap;word-break:break-word;max-height:40em;overflow:auto;font-size:12px}\
.err,.partial{color:#b00}.ok{color:#070}.muted,.note{color:#666;font-size:13px}\
.step{border-left:3px solid #ccd;padding-left:10px;margin:1em 0}\
.bar{display:inline-block;width:120px;height:9px;background:#eee;vertical-align:middle}\
.bar span{display:block;height:9px;background:#5a8}\
.charts svg{margin:0 1em 1em 0;border:1px solid #eee}";

/// Replaces the `#runs` and `#sweeps` sections with fresh copies of this page every 2 s.
const REFRESH_JS: &str = "<script>\
setInterval(function(){fetch(location.href,{cache:'no-store'}).then(function(r){return r.text()}).then(function(t){\
var d=new DOMParser().parseFromString(t,'text/html');['runs','sweeps'].forEach(function(id){\
var n=d.getElementById(id),o=document.getElementById(id);if(n&&o){o.replaceWith(n)}})}).catch(function(){})},2000);\
</script>";

/// A whole page: `title` (escaped here) and `body` (already safe HTML). `refresh` adds the
/// auto-refresh script.
pub fn page(title: &str, body: &str, refresh: bool) -> String {
    let script = if refresh { REFRESH_JS } else { "" };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width\"><title>{t} · herd</title><style>{CSS}</style></head>\n\
<body>\n<h1><a href=\"/\">herd</a> · {t}</h1>\n{body}{script}</body></html>\n",
        t = esc(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn url_segments_cannot_break_out_of_the_path() {
        assert_eq!(url_segment("a b/../c?d#e"), "a%20b%2F..%2Fc%3Fd%23e");
        assert_eq!(url_segment("ünï"), "%C3%BCn%C3%AF");
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
    }
}
