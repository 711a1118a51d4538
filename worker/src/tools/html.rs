//! HTML to readable text with a small tag stripper: scripts and styles dropped, block tags
//! turned into line breaks, links kept as `text [url]`, entities decoded, spaces collapsed.

use std::sync::LazyLock;

use regex::Regex;

static DROP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)<!--.*?-->|<(script|style|noscript|svg|template|head)\b[^>]*>.*?</(?:script|style|noscript|svg|template|head)\s*>")
        .expect("drop regex")
});
static TITLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)<title[^>]*>(.*?)</title\s*>").expect("title regex"));
static LINK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)<a\b[^>]*?\bhref\s*=\s*["']?(https?://[^"'\s>]+)["']?[^>]*>(.*?)</a\s*>"#)
        .expect("link regex")
});
static BLOCK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)</?(p|div|br|tr|table|section|article|header|footer|nav|ul|ol|h[1-6]|pre|blockquote|hr|dl|dt|dd|form|main|aside|figure|figcaption)\b[^>]*>")
        .expect("block regex")
});
static LI: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)<li\b[^>]*>").expect("li regex"));
static CELL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)</t[dh]\s*>").expect("cell regex"));
static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?s)<[^>]*>").expect("tag regex"));
static ENTITY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});").expect("entity regex")
});
static SPACES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[ \t\x{a0}]+").expect("spaces regex"));
static BLANK_LINES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\n{3,}").expect("blank regex"));

/// Readable text of an HTML document; the title, when there is one, comes first.
pub fn html_to_text(html: &str) -> String {
    let title = TITLE
        .captures(html)
        .and_then(|c| c.get(1))
        .map(|m| decode_entities(TAG.replace_all(m.as_str(), "").trim()));
    let s = DROP.replace_all(html, " ");
    let s = LINK.replace_all(&s, |c: &regex::Captures<'_>| {
        let text = TAG.replace_all(&c[2], "");
        let text = text.trim();
        if text.is_empty() {
            format!("[{}]", &c[1])
        } else {
            format!("{text} [{}]", &c[1])
        }
    });
    let s = LI.replace_all(&s, "\n- ");
    let s = CELL.replace_all(&s, " | ");
    let s = BLOCK.replace_all(&s, "\n");
    let s = TAG.replace_all(&s, "");
    let s = decode_entities(&s);
    let s = SPACES.replace_all(&s, " ");
    let lines: Vec<&str> = s.lines().map(str::trim).collect();
    let s = BLANK_LINES
        .replace_all(&lines.join("\n"), "\n\n")
        .trim()
        .to_string();
    match title {
        Some(t) if !t.is_empty() => format!("Title: {t}\n\n{s}"),
        _ => s,
    }
}

fn decode_entities(s: &str) -> String {
    ENTITY
        .replace_all(s, |c: &regex::Captures<'_>| {
            let e = &c[1];
            let ch = if let Some(num) = e.strip_prefix("#x").or_else(|| e.strip_prefix("#X")) {
                u32::from_str_radix(num, 16).ok().and_then(char::from_u32)
            } else if let Some(num) = e.strip_prefix('#') {
                num.parse::<u32>().ok().and_then(char::from_u32)
            } else {
                match e {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    "nbsp" => Some(' '),
                    "ndash" => Some('–'),
                    "mdash" => Some('—'),
                    "hellip" => Some('…'),
                    "copy" => Some('©'),
                    "deg" => Some('°'),
                    "times" => Some('×'),
                    _ => None,
                }
            };
            ch.map_or_else(|| c[0].to_string(), |ch| ch.to_string())
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_tags_scripts_and_decodes() {
        let html = "<html><head><title>T &amp; U</title><style>p{}</style></head><body><script>var x=1;</script><h1>Head</h1><p>One&nbsp;two &lt;3&gt; &#233;</p><ul><li>a</li><li>b</li></ul><a href=\"https://x.org/p\">link</a><table><tr><td>1</td><td>2</td></tr></table></body></html>";
        let t = html_to_text(html);
        assert!(t.starts_with("Title: T & U"));
        assert!(!t.contains("var x"));
        assert!(!t.contains("p{}"));
        assert!(t.contains("Head\n"));
        assert!(t.contains("One two <3> é"));
        assert!(t.contains("- a\n- b"));
        assert!(t.contains("link [https://x.org/p]"));
        assert!(t.contains("1 | 2 |"));
        assert!(!t.contains('<') || t.contains("<3>"));
    }
}
