//! TabMWP: PromptPG's `problems_test1k.json` (dict by pid) and the Program-of-Thoughts log of
//! 7685 test items (numeric answers stored as floats). The table goes into the question as
//! text and is attached as `table.csv` (from `table_for_pd`, or parsed from the pipe table).

use herd_core::config::BenchmarkKind;
use serde_json::Value;

use super::{item, jsonl, required, text, unknown_subset};
use crate::error::DatasetError;
use crate::item::{Attachment, Item};
use crate::source::{Reader, Resolved};

pub const SUBSETS: &[&str] = &["test1k", "test"];
pub const DEFAULT_SUBSET: &str = "test1k";
/// Name of the table attachment.
pub const TABLE_FILE: &str = "table.csv";

pub(crate) fn load(
    src: &Resolved,
    subset: &str,
    rd: &mut Reader,
) -> Result<Vec<Item>, DatasetError> {
    match subset {
        "test1k" => load_test1k(src, rd),
        "test" | "pot" => load_pot(src, rd),
        other => Err(unknown_subset("tabmwp", other, SUBSETS)),
    }
}

fn load_test1k(src: &Resolved, rd: &mut Reader) -> Result<Vec<Item>, DatasetError> {
    let loc = src.find(
        BenchmarkKind::Tabmwp,
        "test1k",
        &[
            "tabmwp/problems_test1k.json".to_string(),
            "problems_test1k.json".to_string(),
        ],
    )?;
    let (_, bytes) = rd.read(&loc)?;
    let path = loc.display();
    let root: serde_json::Map<String, Value> = serde_json::from_slice(&bytes).map_err(|e| {
        DatasetError::parse(
            &path,
            e.line(),
            format!("invalid JSON (expected an object keyed by pid): {e}"),
        )
    })?;
    let mut items = Vec::new();
    for (pid, v) in &root {
        let origin = format!("{path}#{pid}");
        let Value::Object(row) = v else {
            rd.problem(DatasetError::parse(
                &path,
                0,
                format!("pid {pid}: expected an object"),
            ))?;
            continue;
        };
        let parsed = (|| -> Result<Item, DatasetError> {
            let q = required(row, "question", &origin, 0)?;
            let a = required(row, "answer", &origin, 0)?;
            let table = required(row, "table", &origin, 0)?;
            let title = text(row, "table_title").filter(|t| !t.trim().is_empty());
            let choices = choices(row.get("choices"));
            let csv_bytes = match row.get("table_for_pd") {
                Some(Value::Object(cols)) => table_csv_from_pd(cols, &table),
                _ => None,
            }
            .unwrap_or_else(|| table_csv_from_pipe(&table));
            let mut it = item(
                pid.clone(),
                compose(title.as_deref(), &table, &q),
                Some(a),
                origin.clone(),
            );
            for key in ["ques_type", "ans_type", "unit", "grade", "table_title"] {
                if let Some(s) = text(row, key).filter(|s| !s.is_empty()) {
                    it.metadata.insert(key.to_string(), s);
                }
            }
            if let Some(c) = &choices {
                it.metadata.insert(
                    "choices".into(),
                    serde_json::to_string(c).unwrap_or_default(),
                );
            }
            it.attachments
                .push(Attachment::from_bytes(TABLE_FILE, csv_bytes));
            Ok(it)
        })();
        match parsed {
            Ok(it) => items.push(it),
            Err(e) => rd.problem(e)?,
        }
    }
    // serde_json's map is sorted by key as text; order items by numeric pid like the file.
    items.sort_by_key(|it| it.id.parse::<u64>().unwrap_or(u64::MAX));
    Ok(items)
}

fn load_pot(src: &Resolved, rd: &mut Reader) -> Result<Vec<Item>, DatasetError> {
    let loc = src.find(
        BenchmarkKind::Tabmwp,
        "test",
        &[
            "tabmwp/tabmwp_s0_e-1_11_06_22_55.jsonl".to_string(),
            "tabmwp_s0_e-1_11_06_22_55.jsonl".to_string(),
        ],
    )?;
    let (_, bytes) = rd.read(&loc)?;
    let path = loc.display();
    let mut items = Vec::new();
    for (line, row) in jsonl(&bytes, &path) {
        let parsed = row.and_then(|row| {
            let id = required(&row, "id", &path, line)?;
            let q = required(&row, "question", &path, line)?;
            let a = required(&row, "answer", &path, line)?;
            let table = required(&row, "table", &path, line)?;
            let choices = choices(row.get("choices"));
            let mut it = item(
                id,
                compose(None, &table, &q),
                Some(a),
                format!("{path}:{line}"),
            );
            let qt = if choices.is_some() {
                "multi_choice"
            } else {
                "free_text"
            };
            it.metadata.insert("ques_type".into(), qt.into());
            if let Some(c) = &choices {
                it.metadata.insert(
                    "choices".into(),
                    serde_json::to_string(c).unwrap_or_default(),
                );
            }
            it.attachments.push(Attachment::from_bytes(
                TABLE_FILE,
                table_csv_from_pipe(&table),
            ));
            Ok(it)
        });
        match parsed {
            Ok(it) => items.push(it),
            Err(e) => rd.problem(e)?,
        }
    }
    Ok(items)
}

fn choices(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::Array(a) if !a.is_empty() => Some(
            a.iter()
                .map(|x| match x {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => super::number_text(n),
                    other => other.to_string(),
                })
                .collect(),
        ),
        _ => None,
    }
}

/// The question as the agent reads it: table title, the pipe table, then the question.
fn compose(title: Option<&str>, table: &str, question: &str) -> String {
    let mut s = String::new();
    if let Some(t) = title {
        s.push_str(&format!("Table: {t}\n"));
    }
    s.push_str(table.trim_end());
    s.push_str("\n\n");
    s.push_str(question.trim());
    s
}

fn header_cells(table: &str) -> Vec<String> {
    table
        .lines()
        .next()
        .map(|l| l.split('|').map(|c| c.trim().to_string()).collect())
        .unwrap_or_default()
}

/// CSV from `table_for_pd` (column → values), columns in the pipe table's header order.
fn table_csv_from_pd(cols: &serde_json::Map<String, Value>, table: &str) -> Option<Vec<u8>> {
    let header = header_cells(table);
    let mut names: Vec<String> = header
        .into_iter()
        .filter(|h| cols.contains_key(h))
        .collect();
    if names.len() != cols.len() {
        names = cols.keys().cloned().collect();
    }
    let columns: Vec<Vec<String>> = names
        .iter()
        .map(|n| match cols.get(n) {
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                })
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    let rows = columns.iter().map(Vec::len).max().unwrap_or(0);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&names).ok()?;
    for r in 0..rows {
        let rec: Vec<&str> = columns
            .iter()
            .map(|c| c.get(r).map(String::as_str).unwrap_or(""))
            .collect();
        w.write_record(&rec).ok()?;
    }
    w.into_inner().ok()
}

/// CSV parsed from a pipe table (`a | b` lines; the first line is the header).
pub fn table_csv_from_pipe(table: &str) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    for line in table.lines().filter(|l| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // Writing into a Vec cannot fail.
        let _ = w.write_record(&cells);
    }
    w.into_inner().unwrap_or_default()
}
