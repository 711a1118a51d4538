//! Chat messages for the model's own template, with the template's default system line.
//!
//! llama.cpp's built-in ChatML rendering drops the default system message that Qwen's
//! Jinja template adds when a chat has none, so it is found in the template and passed in.

use herd_core::trajectory::Message;

/// The default system message a Qwen-style Jinja template inserts when the chat has none.
pub fn default_system_line(template: &str) -> Option<String> {
    for marker in ["<|im_start|>system\\n", "<|im_start|>system\n"] {
        let mut rest = template;
        while let Some(i) = rest.find(marker) {
            let after = &rest[i + marker.len()..];
            rest = after;
            if after.starts_with('\'') || after.starts_with('"') || after.starts_with('{') {
                continue;
            }
            if let Some(end) = after.find("<|im_end|>") {
                let line = unescape_jinja(&after[..end]);
                if !line.trim().is_empty() {
                    return Some(line);
                }
            }
        }
    }
    None
}

fn unescape_jinja(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The messages to render: the chat's own, with `default_system` put first when the chat
/// has no system message.
pub fn with_system(messages: &[Message], default_system: Option<&str>) -> Vec<Message> {
    let has_system = messages.first().is_some_and(|m| m.role == "system");
    let mut out = Vec::with_capacity(messages.len() + 1);
    if !has_system && let Some(line) = default_system {
        out.push(Message {
            role: "system".into(),
            content: line.to_string(),
        });
    }
    out.extend(messages.iter().cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const QWEN_LIKE: &str = r#"{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- endif %}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}"#;

    #[test]
    fn finds_qwens_default_system_line() {
        assert_eq!(
            default_system_line(QWEN_LIKE).as_deref(),
            Some("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")
        );
        assert_eq!(default_system_line("{{ messages }}"), None);
    }

    #[test]
    fn adds_the_system_line_only_when_missing() {
        let user = Message {
            role: "user".into(),
            content: "hi".into(),
        };
        let sys = Message {
            role: "system".into(),
            content: "be brief".into(),
        };
        let out = with_system(std::slice::from_ref(&user), Some("default"));
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].content, "default");
        let out = with_system(&[sys.clone(), user], Some("default"));
        assert_eq!(out[0], sys);
        assert_eq!(out.len(), 2);
    }
}
