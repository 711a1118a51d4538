//! Saved action libraries: one JSON object per line (`{"action": {...}, "vector": [...]}`),
//! written by `export` and read by `--actions-from`.

use std::path::Path;

use super::StoredAction;
use crate::error::{ActionError, Result};

/// Writes `items` to `path` as JSONL (atomically: a temp file renamed into place).
pub async fn write_jsonl(path: &Path, items: &[StoredAction]) -> Result<()> {
    let mut text = String::new();
    for it in items {
        let line = serde_json::to_string(it).map_err(|e| ActionError::BadRecord {
            path: path.display().to_string(),
            line: 0,
            message: format!("cannot serialise `{}`: {e}", it.action.label()),
        })?;
        text.push_str(&line);
        text.push('\n');
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| ActionError::io("create directory", dir, e))?;
    }
    let tmp = path.with_extension("jsonl.partial");
    tokio::fs::write(&tmp, text)
        .await
        .map_err(|e| ActionError::io("write", &tmp, e))?;
    tokio::fs::rename(&tmp, path)
        .await
        .map_err(|e| ActionError::io("rename into", path, e))?;
    Ok(())
}

/// Reads a JSONL library; blank lines are skipped, a bad line is an error naming its number.
pub async fn read_jsonl(path: &Path) -> Result<Vec<StoredAction>> {
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|e| ActionError::io("read", path, e))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let it: StoredAction = serde_json::from_str(line).map_err(|e| ActionError::BadRecord {
            path: path.display().to_string(),
            line: i + 1,
            message: e.to_string(),
        })?;
        out.push(it);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::tests::action;

    #[tokio::test]
    async fn round_trip_and_bad_line_is_located() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lib.jsonl");
        let items = vec![
            StoredAction {
                action: action(
                    "f",
                    "def f():\n    return 1\n",
                    &["import numpy as np"],
                    &[],
                ),
                vector: Some(vec![0.5, 0.5]),
            },
            StoredAction {
                action: action("g", "def g():\n    return f()\n", &[], &["f"]),
                vector: None,
            },
        ];
        write_jsonl(&path, &items).await.expect("write");
        assert_eq!(read_jsonl(&path).await.expect("read"), items);

        std::fs::write(&path, "\n{\"action\": 3}\n").expect("write bad");
        let err = read_jsonl(&path).await.expect_err("bad record");
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
