//! Tolerant parsing of a step reply into a thought and a code cell: strict JSON, JSON in a
//! fence or in surrounding text, a fenced Python block with a `Thought:`, or `Thought:`/`Code:`.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

/// A reply understood as one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedReply {
    pub thought: String,
    pub code: String,
}

static FENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s)```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\r?\n(.*?)```").expect("fence regex")
});
static THOUGHT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)\**thoughts?\**\s*:\**\s*(.*?)(?:\n\s*\**code\**\s*:|```|\z)")
        .expect("thought regex")
});
static CODE_SECTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)\n?\s*\**code\**\s*:\**\s*(.*)\z").expect("code regex"));

/// Parses a model's reply; the error says what was wrong, for the model to read.
pub fn parse_reply(text: &str) -> Result<ParsedReply, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("the reply was empty".into());
    }
    let mut json_problem: Option<String> = None;
    // 1. The whole reply is the JSON object.
    match from_json(trimmed) {
        Ok(Some(p)) => return Ok(p),
        Ok(None) => {}
        Err(e) => json_problem = Some(e),
    }
    // 2. JSON inside a ```json fence, or any fence holding an object.
    for cap in FENCE.captures_iter(trimmed) {
        let lang = cap.get(1).map_or("", |m| m.as_str()).to_ascii_lowercase();
        let body = cap.get(2).map_or("", |m| m.as_str()).trim();
        if lang == "json" || (lang.is_empty() && body.starts_with('{')) {
            match from_json(body) {
                Ok(Some(p)) => return Ok(p),
                Ok(None) => {}
                Err(e) => json_problem = Some(e),
            }
        }
    }
    // 3. A JSON object inside surrounding prose.
    if let (Some(a), Some(b)) = (trimmed.find('{'), trimmed.rfind('}'))
        && a < b
        && let Ok(Some(p)) = from_json(&trimmed[a..=b])
    {
        return Ok(p);
    }
    // 4. A fenced Python block, with the thought before it.
    for cap in FENCE.captures_iter(trimmed) {
        let lang = cap.get(1).map_or("", |m| m.as_str()).to_ascii_lowercase();
        if matches!(lang.as_str(), "python" | "py" | "python3" | "ipython" | "") {
            let code = cap.get(2).map_or("", |m| m.as_str()).trim_end().to_string();
            if code.trim().is_empty() {
                continue;
            }
            let start = cap.get(0).map_or(0, |m| m.start());
            let before = &trimmed[..start];
            let thought = THOUGHT
                .captures(before)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str())
                .unwrap_or(before);
            let thought = strip_code_label(thought.trim());
            return Ok(ParsedReply { thought, code });
        }
    }
    // 5. `Thought:` / `Code:` sections without fences.
    if let Some(c) = CODE_SECTION.captures(trimmed) {
        let code = c.get(1).map_or("", |m| m.as_str()).trim().to_string();
        if !code.is_empty() {
            let thought = THOUGHT
                .captures(trimmed)
                .and_then(|c| c.get(1))
                .map_or(String::new(), |m| m.as_str().trim().to_string());
            return Ok(ParsedReply { thought, code });
        }
    }
    Err(match json_problem {
        Some(p) => p,
        None => "the reply is neither a JSON object with `thought` and `code` nor a fenced Python code block"
            .to_string(),
    })
}

fn strip_code_label(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    if lower.ends_with("code:") {
        s[..s.len() - 5].trim_end().to_string()
    } else {
        s.to_string()
    }
}

/// `Ok(None)` when the text is not JSON at all; `Err` when it is JSON of the wrong shape.
fn from_json(text: &str) -> Result<Option<ParsedReply>, String> {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => return Ok(None),
    };
    let Value::Object(map) = value else {
        return Err(
            "the reply is JSON but not an object; send {\"thought\": ..., \"code\": ...}".into(),
        );
    };
    let code = match map.get("code") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(lines)) if lines.iter().all(Value::is_string) => lines
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        Some(_) => return Err("the `code` field of the reply is not a string".into()),
        None => return Err("the reply's JSON object has no `code` field".into()),
    };
    if code.trim().is_empty() {
        return Err("the `code` field of the reply is empty; every step must run some code".into());
    }
    let thought = match map.get("thought") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    Ok(Some(ParsedReply { thought, code }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_json() {
        let p = parse_reply(r#"{"thought": "add", "code": "print(1+1)"}"#).unwrap();
        assert_eq!(
            p,
            ParsedReply {
                thought: "add".into(),
                code: "print(1+1)".into()
            }
        );
    }

    #[test]
    fn json_in_a_fence_and_in_prose() {
        let p =
            parse_reply("Here you go:\n```json\n{\"thought\": \"t\", \"code\": \"x = 2\"}\n```\n")
                .unwrap();
        assert_eq!(p.code, "x = 2");
        let p = parse_reply("Sure! {\"thought\": \"t\", \"code\": \"y = {1: 2}\"} hope it helps")
            .unwrap();
        assert_eq!(p.code, "y = {1: 2}");
    }

    #[test]
    fn python_fence_with_thought() {
        let p = parse_reply("Thought: compute the sum\nCode:\n```python\nprint(sum([1, 2]))\n```")
            .unwrap();
        assert_eq!(p.thought, "compute the sum");
        assert_eq!(p.code, "print(sum([1, 2]))");
    }

    #[test]
    fn thought_and_code_sections() {
        let p = parse_reply("Thought: square it\nCode:\nprint(3 ** 2)").unwrap();
        assert_eq!(p.thought, "square it");
        assert_eq!(p.code, "print(3 ** 2)");
    }

    #[test]
    fn errors_say_what_was_wrong() {
        assert!(parse_reply("").unwrap_err().contains("empty"));
        assert!(
            parse_reply(r#"{"thought": "t"}"#)
                .unwrap_err()
                .contains("no `code` field")
        );
        assert!(
            parse_reply(r#"{"thought": "t", "code": "  "}"#)
                .unwrap_err()
                .contains("empty")
        );
        assert!(
            parse_reply("I think the answer is 4.")
                .unwrap_err()
                .contains("neither")
        );
    }
}
