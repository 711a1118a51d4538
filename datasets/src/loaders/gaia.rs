//! GAIA in the Hugging Face layout: `2023/<split>/metadata.jsonl` (task_id, Question, Level,
//! Final answer, file_name) plus the attached files beside it. The test split has `?` as answer.

use herd_core::config::BenchmarkKind;

use super::{item, jsonl, required, text, unknown_subset};
use crate::error::DatasetError;
use crate::item::{Attachment, Item};
use crate::source::{Reader, Resolved};

pub const SUBSETS: &[&str] = &["validation", "test"];
pub const DEFAULT_SUBSET: &str = "validation";

pub(crate) fn load(
    src: &Resolved,
    subset: &str,
    rd: &mut Reader,
) -> Result<Vec<Item>, DatasetError> {
    if !SUBSETS.contains(&subset) {
        return Err(unknown_subset("gaia", subset, SUBSETS));
    }
    let candidates = [
        format!("2023/{subset}/metadata.jsonl"),
        format!("{subset}/metadata.jsonl"),
        "metadata.jsonl".to_string(),
    ];
    let loc = src.find(BenchmarkKind::Gaia, subset, &candidates)?;
    let (_, bytes) = rd.read(&loc)?;
    let path = loc.display();
    let dir = loc.parent();
    let mut items = Vec::new();
    for (line, row) in jsonl(&bytes, &path) {
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                rd.problem(e)?;
                continue;
            }
        };
        let parsed = (|| -> Result<Item, DatasetError> {
            let id = required(&row, "task_id", &path, line)?;
            let question = required(&row, "Question", &path, line)?;
            let level = required(&row, "Level", &path, line)?;
            let gold = text(&row, "Final answer")
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty() && s != "?");
            let mut it = item(id, question, gold, format!("{path}:{line}"));
            it.metadata.insert("level".into(), level);
            if let Some(f) = text(&row, "file_name").filter(|f| !f.trim().is_empty()) {
                let name = f.rsplit('/').next().unwrap_or(&f).to_string();
                let floc = dir.join(&f);
                match rd.read_opt(&floc)? {
                    Some((p, b)) => it.attachments.push(Attachment::from_file(&name, &p, &b)),
                    None => {
                        return Err(DatasetError::parse(
                            &path,
                            line,
                            format!("attached file `{}` does not exist", floc.display()),
                        ));
                    }
                }
                it.metadata.insert("file_name".into(), name);
            }
            Ok(it)
        })();
        match parsed {
            Ok(it) => items.push(it),
            Err(e) => rd.problem(e)?,
        }
    }
    Ok(items)
}
