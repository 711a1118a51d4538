//! Per-benchmark loaders from upstream file layouts, and small parsing helpers they share.

pub mod aime;
pub mod gaia;
pub mod gpqa;
pub mod math;
pub mod mini;
pub mod tabmwp;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::DatasetError;
use crate::item::Item;

/// One parsed JSON object (a row of a dataset file).
pub(crate) type Row = serde_json::Map<String, Value>;

/// Splits JSONL bytes into `(1-based line number, parsed object)`; blank lines are skipped.
pub(crate) fn jsonl(bytes: &[u8], path: &str) -> Vec<(usize, Result<Row, DatasetError>)> {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let line = i + 1;
            let parsed = match serde_json::from_str::<Value>(l) {
                Ok(Value::Object(m)) => Ok(m),
                Ok(_) => Err(DatasetError::parse(path, line, "expected a JSON object")),
                Err(e) => Err(DatasetError::parse(
                    path,
                    line,
                    format!("invalid JSON: {e}"),
                )),
            };
            (line, parsed)
        })
        .collect()
}

/// A field as text: strings as is, numbers and bools formatted, null/absent as `None`.
pub(crate) fn text(m: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    match m.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(number_text(n)),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// A JSON number as the shortest faithful text (`84.0` → `84`, `3.3` → `3.3`).
pub(crate) fn number_text(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        Some(f) => format!("{f}"),
        None => n.to_string(),
    }
}

/// A required non-empty string field, or a parse error naming the file and line.
pub(crate) fn required(
    m: &serde_json::Map<String, Value>,
    key: &str,
    path: &str,
    line: usize,
) -> Result<String, DatasetError> {
    match text(m, key) {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(DatasetError::parse(
            path,
            line,
            format!("field `{key}` is empty"),
        )),
        None => Err(DatasetError::parse(
            path,
            line,
            format!("missing field `{key}`"),
        )),
    }
}

/// Builds an item with the common fields.
pub(crate) fn item(id: String, question: String, gold: Option<String>, origin: String) -> Item {
    Item {
        id,
        question,
        gold,
        metadata: BTreeMap::new(),
        attachments: Vec::new(),
        split: "test".to_string(),
        origin,
    }
}

/// Rejects a subset name not in `known`.
pub(crate) fn unknown_subset(kind: &str, subset: &str, known: &[&str]) -> DatasetError {
    DatasetError::UnknownSubset {
        kind: kind.to_string(),
        subset: subset.to_string(),
        known: known.join(", "),
    }
}
