//! MATH: MATH-500 (PRM800K split, with an `answer` field), the full 5000-problem Hendrycks
//! test (answer = last `\boxed{}`/`\fbox{}` of the solution), and the 5000 extracted answers.

use herd_core::config::BenchmarkKind;

use super::{item, jsonl, required, text, unknown_subset};
use crate::error::DatasetError;
use crate::item::Item;
use crate::score::boxed::last_boxed;
use crate::source::{Reader, Resolved};

pub const SUBSETS: &[&str] = &["math500", "full", "full-answers"];
pub const DEFAULT_SUBSET: &str = "math500";

fn candidates(subset: &str) -> Vec<String> {
    let (folder, file) = match subset {
        "math500" => ("math500", "test.jsonl"),
        "full" => ("math_test_full", "test.jsonl"),
        _ => ("math_test_full_answers", "validation.jsonl"),
    };
    vec![
        format!("math/{folder}/{file}"),
        format!("{folder}/{file}"),
        file.to_string(),
    ]
}

pub(crate) fn load(
    src: &Resolved,
    subset: &str,
    rd: &mut Reader,
) -> Result<Vec<Item>, DatasetError> {
    let subset = match subset {
        "test" | "math_test_full" => "full",
        "math-500" | "prm800k" => "math500",
        s => s,
    };
    if !SUBSETS.contains(&subset) {
        return Err(unknown_subset("math", subset, SUBSETS));
    }
    let loc = src.find(BenchmarkKind::Math, subset, &candidates(subset))?;
    let (_, bytes) = rd.read(&loc)?;
    let path = loc.display();
    let mut items = Vec::new();
    for (line, row) in jsonl(&bytes, &path) {
        let parsed = row.and_then(|row| {
            let problem = required(&row, "problem", &path, line)?;
            let answer = match text(&row, "answer") {
                Some(a) => a,
                None => {
                    let sol = required(&row, "solution", &path, line)?;
                    last_boxed(&sol).ok_or_else(|| {
                        DatasetError::parse(
                            &path,
                            line,
                            "no `answer` field and no \\boxed{} in `solution`",
                        )
                    })?
                }
            };
            if answer.trim().is_empty() {
                return Err(DatasetError::parse(&path, line, "empty answer"));
            }
            let id = text(&row, "unique_id")
                .or_else(|| text(&row, "idx").map(|i| format!("math-test-{i}")))
                .unwrap_or_else(|| format!("line-{line}"));
            let mut it = item(id, problem, Some(answer), format!("{path}:{line}"));
            if let Some(l) = text(&row, "level") {
                let l = l.trim().trim_start_matches("Level").trim().to_string();
                it.metadata.insert("level".into(), l);
            }
            if let Some(s) = text(&row, "subject").or_else(|| text(&row, "type")) {
                it.metadata.insert("subject".into(), s);
            }
            Ok(it)
        });
        match parsed {
            Ok(it) => items.push(it),
            Err(e) => rd.problem(e)?,
        }
    }
    Ok(items)
}
