//! GAIA in the Hugging Face layout: `2023/<split>/metadata.jsonl` or `metadata.parquet`
//! (task_id, Question, Level, Final answer, file_name, file_path) plus the attached files
//! beside it. The test split has `?` (or nothing) as answer.

use herd_core::config::BenchmarkKind;
use serde_json::Value;

use super::{Row, item, jsonl, required, text, unknown_subset};
use crate::error::DatasetError;
use crate::item::{Attachment, Item};
use crate::source::{Loc, Reader, Resolved};

pub const SUBSETS: &[&str] = &["validation", "test"];
pub const DEFAULT_SUBSET: &str = "validation";

/// The columns a GAIA metadata file may have that the loader reads.
const COLUMNS: &[&str] = &[
    "task_id",
    "Question",
    "Level",
    "Final answer",
    "file_name",
    "file_path",
];

pub(crate) fn load(
    src: &Resolved,
    subset: &str,
    rd: &mut Reader,
) -> Result<Vec<Item>, DatasetError> {
    if !SUBSETS.contains(&subset) {
        return Err(unknown_subset("gaia", subset, SUBSETS));
    }
    let mut candidates = Vec::new();
    for dir in [
        format!("2023/{subset}/"),
        format!("{subset}/"),
        String::new(),
    ] {
        for ext in ["jsonl", "parquet"] {
            candidates.push(format!("{dir}metadata.{ext}"));
        }
    }
    let loc = src.find(BenchmarkKind::Gaia, subset, &candidates)?;
    let (_, bytes) = rd.read(&loc)?;
    let path = loc.display();
    let rows = if path.ends_with(".parquet") {
        parquet_rows(&bytes, &path)?
    } else {
        jsonl(&bytes, &path)
    };
    let root = match src {
        Resolved::Dir(root) => Some(root.clone()),
        _ => None,
    };
    let mut items = Vec::new();
    for (line, row) in rows {
        let parsed = row.and_then(|row| parse_row(&row, &loc, root.as_ref(), line, rd));
        match parsed {
            Ok(it) => items.push(it),
            Err(e) => rd.problem(e)?,
        }
    }
    Ok(items)
}

/// One metadata row (a JSONL line or a parquet row) into an item, its attachment read.
fn parse_row(
    row: &Row,
    meta: &Loc,
    root: Option<&Loc>,
    line: usize,
    rd: &mut Reader,
) -> Result<Item, DatasetError> {
    let path = meta.display();
    let id = required(row, "task_id", &path, line)?;
    let question = required(row, "Question", &path, line)?;
    let level = required(row, "Level", &path, line)?;
    let gold = text(row, "Final answer")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s != "?");
    let mut it = item(id, question, gold, format!("{path}:{line}"));
    it.metadata.insert("level".into(), level);
    if let Some(f) = text(row, "file_name").filter(|f| !f.trim().is_empty()) {
        let name = f.rsplit('/').next().unwrap_or(&f).to_string();
        // `file_name` is relative to the metadata file; the parquet layout also has
        // `file_path`, relative to the repository root.
        let mut tried = vec![meta.parent().join(&f)];
        if let (Some(root), Some(fp)) = (root, text(row, "file_path"))
            && !fp.trim().is_empty()
        {
            tried.push(root.join(fp.trim()));
        }
        let mut found = None;
        for loc in &tried {
            if let Some(hit) = rd.read_opt(loc)? {
                found = Some(hit);
                break;
            }
        }
        let Some((p, b)) = found else {
            let names: Vec<String> = tried.iter().map(Loc::display).collect();
            return Err(DatasetError::parse(
                &path,
                line,
                format!("attached file `{}` does not exist", names.join("` or `")),
            ));
        };
        it.attachments.push(Attachment::from_file(&name, &p, &b));
        it.metadata.insert("file_name".into(), name);
    }
    Ok(it)
}

/// Metadata rows numbered from 1, each parsed or with its own error.
type NumberedRows = Vec<(usize, Result<Row, DatasetError>)>;

/// The rows of a parquet metadata file as JSON objects of text, numbered from 1.
/// Nested columns (`Annotator Metadata`) are not needed and skipped.
fn parquet_rows(bytes: &[u8], path: &str) -> Result<NumberedRows, DatasetError> {
    use polars::prelude::{DataType, ParquetReader, SerReader};
    let bad = |e: polars::error::PolarsError| {
        DatasetError::io(path, format!("not a readable parquet file: {e}"))
    };
    let mut reader = ParquetReader::new(std::io::Cursor::new(bytes.to_vec()));
    let schema = reader.schema().map_err(bad)?;
    // Only the text columns are decoded: nested ones would need polars' struct support.
    let present: Vec<String> = COLUMNS
        .iter()
        .filter(|c| schema.contains(c))
        .map(|c| c.to_string())
        .collect();
    let df = reader.with_columns(Some(present)).finish().map_err(bad)?;
    let mut columns = Vec::new();
    for &name in COLUMNS {
        let Ok(col) = df.column(name) else { continue };
        let col = col.cast(&DataType::String).map_err(|e| {
            DatasetError::io(path, format!("column `{name}` cannot be read as text: {e}"))
        })?;
        columns.push((name, col));
    }
    let mut rows = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let mut row = Row::new();
        for (name, col) in &columns {
            let ca = col.str().map_err(bad)?;
            if let Some(v) = ca.get(i) {
                row.insert((*name).to_string(), Value::String(v.to_string()));
            }
        }
        rows.push((i + 1, Ok(row)));
    }
    Ok(rows)
}
