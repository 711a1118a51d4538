//! herd-mini: 24 small tasks written for herd (arithmetic, CSV tables, text/JSON files),
//! embedded in the crate so `source = "builtin"` works on any machine.

use super::{item, jsonl, required, text};
use crate::error::DatasetError;
use crate::item::{Attachment, Item};
use crate::source::{Reader, Resolved};

const TASKS: &str = include_str!("../../mini/tasks.jsonl");
const TASKS_PATH: &str = "builtin:herd-mini/tasks.jsonl";

/// The embedded attachment files.
const FILES: &[(&str, &[u8])] = &[
    ("sales.csv", include_bytes!("../../mini/files/sales.csv")),
    ("grades.csv", include_bytes!("../../mini/files/grades.csv")),
    (
        "inventory.csv",
        include_bytes!("../../mini/files/inventory.csv"),
    ),
    (
        "temperatures.csv",
        include_bytes!("../../mini/files/temperatures.csv"),
    ),
    ("notes.txt", include_bytes!("../../mini/files/notes.txt")),
    (
        "config.json",
        include_bytes!("../../mini/files/config.json"),
    ),
    (
        "orders.json",
        include_bytes!("../../mini/files/orders.json"),
    ),
    ("server.log", include_bytes!("../../mini/files/server.log")),
];

pub const SUBSETS: &[&str] = &["all"];
pub const DEFAULT_SUBSET: &str = "all";

pub(crate) fn load(src: &Resolved, rd: &mut Reader) -> Result<Vec<Item>, DatasetError> {
    if !matches!(src, Resolved::Builtin) {
        return Err(DatasetError::Config(
            "herd-mini only has the builtin source (`source = \"builtin\"` or no source)".into(),
        ));
    }
    rd.add_bytes(TASKS_PATH, TASKS.as_bytes());
    let mut items = Vec::new();
    for (line, row) in jsonl(TASKS.as_bytes(), TASKS_PATH) {
        let parsed = row.and_then(|row| {
            let id = required(&row, "id", TASKS_PATH, line)?;
            let q = required(&row, "question", TASKS_PATH, line)?;
            let a = required(&row, "answer", TASKS_PATH, line)?;
            let mut it = item(id, q, Some(a), format!("{TASKS_PATH}:{line}"));
            for key in ["category", "answer_type", "tolerance"] {
                if let Some(v) = text(&row, key) {
                    it.metadata.insert(key.into(), v);
                }
            }
            if let Some(serde_json::Value::Array(names)) = row.get("attachments") {
                for n in names {
                    let name = n.as_str().unwrap_or_default();
                    let (_, bytes) = FILES.iter().find(|(f, _)| *f == name).ok_or_else(|| {
                        DatasetError::parse(
                            TASKS_PATH,
                            line,
                            format!("unknown attachment `{name}`"),
                        )
                    })?;
                    it.attachments
                        .push(Attachment::from_bytes(name, bytes.to_vec()));
                }
            }
            Ok(it)
        });
        match parsed {
            Ok(it) => items.push(it),
            Err(e) => rd.problem(e)?,
        }
    }
    for (name, bytes) in FILES {
        rd.add_bytes(&format!("builtin:herd-mini/{name}"), bytes);
    }
    Ok(items)
}
