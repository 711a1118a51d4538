//! The stored record of a generated action, how its identity is computed (a hash of the
//! normalised source), and how it is shown to the model (`name(args) -> type: doc`).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A generated action: a Python function an agent wrote, as stored in one namespace.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Action {
    /// Stable id (a UUID string derived from namespace, name and version); also the point id.
    pub id: String,
    pub namespace: String,
    pub name: String,
    /// 1 for the first function stored under `name`, 2 for the next different one, …
    pub version: u32,
    /// Argument list as written, e.g. `(x: int, y: float = 1.0)`.
    pub signature: String,
    pub returns: Option<String>,
    /// One-line docstring (written by the agent, or by a counted LLM call), if any.
    pub docstring: Option<String>,
    pub source: String,
    /// The defining cell's import statements, aliases kept.
    pub imports: Vec<String>,
    /// Names of other generated actions this one calls.
    pub calls_generated: Vec<String>,
    /// Hex SHA-256 of the normalised source (see [`normalise_source`]).
    pub source_hash: String,
    pub created_by_task: String,
    /// The split of the task that created it (`train`, `test`, …), when known.
    #[serde(default)]
    pub created_split: Option<String>,
    /// Position in the namespace's monotonic write sequence (0-based).
    pub created_seq: u64,
    /// RFC 3339 time of storing.
    pub created_at: String,
    /// Id of the embedder whose vector is stored with it.
    pub embedder: String,
}

impl Action {
    /// `name@vN`, for logs and listings.
    pub fn label(&self) -> String {
        format!("{}@v{}", self.name, self.version)
    }
}

/// The point id of `(namespace, name, version)`: a UUID built from a SHA-256 of the three.
pub fn action_id(namespace: &str, name: &str, version: u32) -> String {
    let mut h = Sha256::new();
    for part in [namespace, name] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.update(version.to_le_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// The line shown to the model for an action: `name(args) -> type: docstring`.
pub fn prompt_line(action: &Action) -> String {
    let mut line = format!("{}{}", action.name, action.signature);
    if let Some(ret) = action.returns.as_deref().filter(|r| !r.trim().is_empty()) {
        line.push_str(" -> ");
        line.push_str(ret.trim());
    }
    match action
        .docstring
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        Some(doc) => {
            line.push_str(": ");
            line.push_str(doc);
        }
        None => line.push_str(": (no description)"),
    }
    line
}

/// The text embedded for an action: its name in words and its docstring, or
/// `name(signature)` when it has no docstring.
pub fn embed_text(name: &str, signature: &str, docstring: Option<&str>) -> String {
    match docstring.map(str::trim).filter(|d| !d.is_empty()) {
        Some(doc) => format!("{}: {}", name.replace('_', " ").trim(), doc),
        None => format!("{name}{signature}"),
    }
}

/// Hex SHA-256 of [`normalise_source`].
pub fn source_hash(source: &str) -> String {
    hex::encode(Sha256::digest(normalise_source(source).as_bytes()))
}

/// Normalises Python source for identity: comments, blank lines and trailing whitespace are
/// dropped, and indentation is rewritten as four spaces per nesting level (so two functions
/// differing only in indentation width or comments are the same action).
pub fn normalise_source(source: &str) -> String {
    let stripped = strip_comments(&source.replace("\r\n", "\n").replace('\t', "    "));
    let mut out = String::new();
    let mut stack: Vec<usize> = vec![0];
    for line in stripped.lines() {
        let body = line.trim_end();
        if body.trim().is_empty() {
            continue;
        }
        let indent = body.len() - body.trim_start().len();
        while stack.len() > 1 && indent < *stack.last().unwrap_or(&0) {
            stack.pop();
        }
        if indent > *stack.last().unwrap_or(&0) {
            stack.push(indent);
        }
        let depth = stack.len() - 1;
        out.push_str(&"    ".repeat(depth));
        out.push_str(body.trim_start());
        out.push('\n');
    }
    out
}

/// Removes `#` comments, leaving `#` inside string literals (single, double and triple
/// quoted, with escapes) untouched.
fn strip_comments(src: &str) -> String {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    // Some((quote char, triple)) while inside a string literal.
    let mut in_str: Option<(char, bool)> = None;
    while i < chars.len() {
        let c = chars[i];
        match in_str {
            Some((q, triple)) => {
                if c == '\\' {
                    out.push(c);
                    if let Some(&next) = chars.get(i + 1) {
                        out.push(next);
                    }
                    i += 2;
                    continue;
                }
                if c == q {
                    if triple {
                        if chars.get(i + 1) == Some(&q) && chars.get(i + 2) == Some(&q) {
                            out.push_str(&q.to_string().repeat(3));
                            i += 3;
                            in_str = None;
                            continue;
                        }
                    } else {
                        in_str = None;
                    }
                } else if c == '\n' && !triple {
                    // An unterminated single-line string ends at the line end.
                    in_str = None;
                }
                out.push(c);
                i += 1;
            }
            None => {
                if c == '#' {
                    while i < chars.len() && chars[i] != '\n' {
                        i += 1;
                    }
                    continue;
                }
                if c == '\'' || c == '"' {
                    if chars.get(i + 1) == Some(&c) && chars.get(i + 2) == Some(&c) {
                        in_str = Some((c, true));
                        out.push_str(&c.to_string().repeat(3));
                        i += 3;
                        continue;
                    }
                    in_str = Some((c, false));
                }
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_blank_lines_and_indentation_do_not_change_identity() {
        let a = "def f(x):\n    # double it\n    y = x * 2  # here\n\n    return y\n";
        let b = "def f(x):\n  y = x * 2\n  return y   \n";
        assert_eq!(normalise_source(a), normalise_source(b));
        assert_eq!(source_hash(a), source_hash(b));
        let c = "def f(x):\n    return x * 3\n";
        assert_ne!(source_hash(a), source_hash(c));
    }

    #[test]
    fn hash_inside_strings_is_kept() {
        let a = "def f():\n    return '# not a comment'  # a comment\n";
        assert_eq!(
            normalise_source(a),
            "def f():\n    return '# not a comment'\n"
        );
        let t = "def g():\n    \"\"\"Doc with # sign.\"\"\"\n    return \"a\\\"#b\"\n";
        assert_eq!(normalise_source(t), t);
    }

    #[test]
    fn nested_indentation_is_normalised_per_level() {
        let a = "def f(x):\n  if x:\n      return 1\n  return 2\n";
        assert_eq!(
            normalise_source(a),
            "def f(x):\n    if x:\n        return 1\n    return 2\n"
        );
    }

    #[test]
    fn prompt_line_has_signature_return_and_doc() {
        let mut a = Action {
            id: action_id("ns", "area", 1),
            namespace: "ns".into(),
            name: "area".into(),
            version: 1,
            signature: "(r: float)".into(),
            returns: Some("float".into()),
            docstring: Some("Area of a circle of radius r.".into()),
            source: String::new(),
            imports: vec![],
            calls_generated: vec![],
            source_hash: String::new(),
            created_by_task: "t".into(),
            created_split: None,
            created_seq: 0,
            created_at: String::new(),
            embedder: "e".into(),
        };
        assert_eq!(
            prompt_line(&a),
            "area(r: float) -> float: Area of a circle of radius r."
        );
        a.returns = None;
        a.docstring = None;
        assert_eq!(prompt_line(&a), "area(r: float): (no description)");
    }

    #[test]
    fn ids_differ_by_namespace_name_and_version() {
        let a = action_id("ns", "f", 1);
        assert_ne!(a, action_id("ns", "f", 2));
        assert_ne!(a, action_id("other", "f", 1));
        assert_eq!(a, action_id("ns", "f", 1));
        assert!(uuid::Uuid::parse_str(&a).is_ok());
    }
}
