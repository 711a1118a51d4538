//! Observations: what a cell gave, as the model will read it. Binary and base64-looking
//! data is replaced by a note, and long text is cut to a budget keeping head and tail.

use std::sync::LazyLock;

use herd_core::kernel::CellOutcome;
use regex::Regex;

static DATA_URI: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"data:[A-Za-z0-9.+/-]*(?:;[A-Za-z0-9=.-]+)*;base64,[A-Za-z0-9+/=\s]*")
        .expect("data uri regex")
});
static BASE64_RUN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9+/]{200,}={0,2}").expect("base64 regex"));
static NON_PRINTABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F\x{FFFD}]{1,}(?:[^\n]{0,8}[\x00-\x08\x0B\x0C\x0E-\x1F\x7F\x{FFFD}]+)*")
        .expect("non-printable regex")
});

/// Replaces data URIs, long base64-looking runs and runs of non-printable bytes by notes.
pub fn sanitize_binary(text: &str) -> String {
    let out = DATA_URI.replace_all(text, |c: &regex::Captures<'_>| {
        format!("[data URI of {} characters removed]", c[0].chars().count())
    });
    let out = BASE64_RUN.replace_all(&out, |c: &regex::Captures<'_>| {
        let s = &c[0];
        // A long run of letters only is more likely a word list or hash than binary data;
        // base64 of binary mixes cases and digits.
        let has_digit = s.bytes().any(|b| b.is_ascii_digit());
        let has_upper = s.bytes().any(|b| b.is_ascii_uppercase());
        let has_lower = s.bytes().any(|b| b.is_ascii_lowercase());
        if has_digit && has_upper && has_lower {
            format!("[{} characters of base64-like data removed]", s.len())
        } else {
            s.to_string()
        }
    });
    let out = NON_PRINTABLE.replace_all(&out, |c: &regex::Captures<'_>| {
        let n = c[0].chars().count();
        if n >= 4 {
            format!("[{n} characters of binary data removed]")
        } else {
            "?".repeat(n)
        }
    });
    out.into_owned()
}

/// Cuts `text` to at most about `max_chars` characters, keeping the head and the tail and
/// saying how much was cut.
pub fn truncate_middle(text: &str, max_chars: usize) -> String {
    let total = text.chars().count();
    if total <= max_chars {
        return text.to_string();
    }
    let note_reserve = 80.min(max_chars / 2);
    let keep = max_chars.saturating_sub(note_reserve);
    let head_n = keep * 3 / 5;
    let tail_n = keep - head_n;
    let cut = total - head_n - tail_n;
    let head: String = text.chars().take(head_n).collect();
    let tail: String = text.chars().skip(total - tail_n).collect();
    format!("{head}\n[... {cut} characters cut from the middle ...]\n{tail}")
}

/// The observation for one cell.
pub(crate) fn cell_observation(
    outcome: &CellOutcome,
    cell_timeout_secs: u64,
    submit_rejected: bool,
    max_chars: usize,
) -> String {
    let mut obs = String::new();
    let output = outcome.output.trim_end();
    if !output.is_empty() {
        obs.push_str(output);
        obs.push('\n');
    }
    if let Some(r) = &outcome.result
        && outcome.error.is_none()
    {
        obs.push_str("Last value: ");
        obs.push_str(r);
        obs.push('\n');
    }
    if outcome.timed_out {
        obs.push_str(&format!(
            "The cell was stopped after {cell_timeout_secs} s, its time limit. Make it faster: smaller inputs, fewer requests, no waiting.\n"
        ));
    }
    if let Some(why) = &outcome.restarted {
        obs.push_str(&format!(
            "The Python kernel had to be restarted ({why}); every variable, import and function you defined is gone. The listed functions were loaded again.\n"
        ));
    }
    if let Some(err) = &outcome.error {
        let tb = err.traceback.trim_end();
        if tb.is_empty() {
            obs.push_str(&format!("Error: {}: {}\n", err.ename, err.evalue));
        } else {
            obs.push_str("Error:\n");
            obs.push_str(tb);
            obs.push('\n');
        }
        if submit_rejected {
            obs.push_str("Your call to submit_final_answer was not accepted because the cell raised an error; call it again once the cell runs cleanly.\n");
        }
        obs.push_str(
            "Fix the cause of this error and try again; do not repeat the same mistake.\n",
        );
    }
    if obs.trim().is_empty() {
        obs.push_str("The cell ran without output.\n");
    }
    let clean = sanitize_binary(obs.trim_end());
    truncate_middle(&clean, max_chars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use herd_core::kernel::CellError;

    #[test]
    fn truncation_keeps_head_and_tail() {
        let text: String = (0..1000).map(|i| format!("line{i}\n")).collect();
        let cut = truncate_middle(&text, 400);
        assert!(cut.chars().count() <= 400 + 10);
        assert!(cut.starts_with("line0\n"));
        assert!(cut.trim_end().ends_with("line999"));
        assert!(cut.contains("characters cut from the middle"));
        assert_eq!(truncate_middle("short", 400), "short");
    }

    #[test]
    fn base64_and_data_uris_are_removed() {
        let b64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg".repeat(4);
        let text = format!("before {b64} after\n<img src=\"data:image/png;base64,{b64}\">");
        let s = sanitize_binary(&text);
        assert!(!s.contains("iVBORw0KGgo"));
        assert!(s.contains("base64-like data removed"));
        assert!(s.contains("data URI of"));
        assert!(s.starts_with("before ") && s.contains(" after"));
    }

    #[test]
    fn raw_bytes_are_removed_but_text_stays() {
        let s = sanitize_binary(
            "ok\u{0}\u{1}\u{2}\u{3}\u{4}\u{5}PNG\u{fffd}\u{fffd}\u{fffd}\u{fffd} end\ttab",
        );
        assert!(s.contains("binary data removed"));
        assert!(s.starts_with("ok") && s.ends_with("end\ttab"));
        let words = "a".repeat(300);
        assert_eq!(sanitize_binary(&words), words);
    }

    #[test]
    fn error_observation_has_traceback_and_hint() {
        let o = CellOutcome {
            output: "partial\n".into(),
            error: Some(CellError {
                ename: "ZeroDivisionError".into(),
                evalue: "division by zero".into(),
                traceback: "Traceback...\nZeroDivisionError: division by zero".into(),
            }),
            ..Default::default()
        };
        let obs = cell_observation(&o, 60, true, 4000);
        assert!(obs.starts_with("partial"));
        assert!(obs.contains("ZeroDivisionError: division by zero"));
        assert!(obs.contains("not accepted"));
        assert!(obs.contains("do not repeat"));
        let ok = CellOutcome {
            result: Some("42".into()),
            ..Default::default()
        };
        assert_eq!(cell_observation(&ok, 60, false, 4000), "Last value: 42");
    }
}
