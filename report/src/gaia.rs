//! GAIA leaderboard submission: one JSONL line `{task_id, model_answer, reasoning_trace}`
//! per GAIA test-split task, with the trace summarised from the task's trajectory file
//! when the coordinator wrote one, else from the result row.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use herd_core::ResultRecord;
use serde::{Deserialize, Serialize};

use crate::error::{ReportError, Result, io_err};
use crate::store;

/// One submission line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GaiaLine {
    pub task_id: String,
    pub model_answer: String,
    pub reasoning_trace: String,
}

const TRACE_LIMIT: usize = 4000;
const THOUGHT_LIMIT: usize = 400;

/// True for rows of GAIA's test split.
pub fn is_gaia_test(r: &ResultRecord) -> bool {
    r.benchmark.to_ascii_lowercase().starts_with("gaia") && r.split.eq_ignore_ascii_case("test")
}

fn truncate(s: &str, limit: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= limit {
        return s.to_string();
    }
    let mut out: String = s.chars().take(limit).collect();
    out.push('…');
    out
}

/// A short trace from a trajectory's steps: each step's thought and the actions it called.
fn trace_from_trajectory(traj: &serde_json::Value) -> Option<String> {
    let steps = traj.get("steps")?.as_array()?;
    let mut out = String::new();
    for (i, step) in steps.iter().enumerate() {
        let index = step
            .get("index")
            .and_then(|v| v.as_u64())
            .unwrap_or(i as u64);
        let thought = step.get("thought").and_then(|v| v.as_str()).unwrap_or("");
        let called: Vec<&str> = step
            .get("called")
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
            .unwrap_or_default();
        out.push_str(&format!(
            "Step {index}: {}",
            truncate(thought, THOUGHT_LIMIT)
        ));
        if !called.is_empty() {
            out.push_str(&format!(" [called: {}]", called.join(", ")));
        }
        out.push('\n');
    }
    (!out.is_empty()).then(|| truncate(&out, TRACE_LIMIT))
}

/// A short trace from the result row alone.
fn trace_from_record(r: &ResultRecord) -> String {
    let actions = crate::queries::parse_actions_called(&r.actions_called)
        .unwrap_or_default()
        .into_iter()
        .map(|(name, n)| format!("{name}×{n}"))
        .collect::<Vec<_>>();
    let mut s = format!(
        "{} steps, {} LLM calls; ended: {}",
        r.steps, r.llm_calls, r.end_reason
    );
    if !actions.is_empty() {
        s.push_str(&format!("; actions called: {}", actions.join(", ")));
    }
    if let Some(err) = &r.error_message {
        s.push_str(&format!("; error: {}", truncate(err, THOUGHT_LIMIT)));
    }
    s
}

/// The submission line of one row; `run_dir` is searched for the trajectory file.
pub fn gaia_line(run_dir: Option<&Path>, r: &ResultRecord) -> GaiaLine {
    let from_traj = run_dir.and_then(|dir| {
        let path = store::trajectory_path(dir, &r.task_key).ok()?;
        if !path.is_file() {
            return None;
        }
        match store::load_trajectory(dir, &r.task_key) {
            Ok(v) => trace_from_trajectory(&v),
            Err(e) => {
                tracing::warn!(task_key = %r.task_key, error = %e, "unreadable trajectory; summarising the result row instead");
                None
            }
        }
    });
    GaiaLine {
        task_id: r.item_id.clone(),
        model_answer: r
            .extracted_answer
            .clone()
            .or_else(|| r.answer.clone())
            .unwrap_or_default(),
        reasoning_trace: from_traj.unwrap_or_else(|| trace_from_record(r)),
    }
}

fn write_lines(path: &Path, lines: &[GaiaLine]) -> Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
    let mut buf = Vec::new();
    for line in lines {
        serde_json::to_writer(&mut buf, line).map_err(|source| ReportError::Json {
            what: "GAIA submission line",
            source,
        })?;
        buf.push(b'\n');
    }
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let mut f = fs::File::create(&tmp).map_err(io_err("create", &tmp))?;
    f.write_all(&buf).map_err(io_err("write", &tmp))?;
    f.sync_all().map_err(io_err("sync", &tmp))?;
    fs::rename(&tmp, path).map_err(io_err("rename into place", path))?;
    Ok(())
}

type Combo = (String, String, u32);

fn gaia_groups(results: &[ResultRecord]) -> BTreeMap<Combo, Vec<&ResultRecord>> {
    let mut groups: BTreeMap<Combo, Vec<&ResultRecord>> = BTreeMap::new();
    for r in results.iter().filter(|r| is_gaia_test(r)) {
        groups
            .entry((r.backbone.clone(), r.arm.clone(), r.epoch))
            .or_default()
            .push(r);
    }
    groups
}

fn lines_for(dir: &Path, rows: &[&ResultRecord]) -> Result<Vec<GaiaLine>> {
    let mut seen = std::collections::HashSet::new();
    let mut lines = Vec::with_capacity(rows.len());
    for r in rows {
        if !seen.insert(r.item_id.as_str()) {
            return Err(ReportError::Gaia(format!(
                "task `{}` appears twice for backbone `{}`, arm `{}`, epoch {}",
                r.item_id, r.backbone, r.arm, r.epoch
            )));
        }
        lines.push(gaia_line(Some(dir), r));
    }
    lines.sort_by(|a, b| a.task_id.cmp(&b.task_id));
    Ok(lines)
}

/// Writes `dir/gaia_submission.jsonl` for the GAIA test-split rows of `results`, which must
/// hold a single backbone × arm × epoch (use [`write_gaia_submissions`] otherwise). Tasks
/// that failed are still listed, with an empty answer, as the leaderboard expects every task.
pub fn write_gaia_submission(dir: &Path, results: &[ResultRecord]) -> Result<PathBuf> {
    let groups = gaia_groups(results);
    let mut iter = groups.iter();
    let (Some((_, rows)), None) = (iter.next(), iter.next()) else {
        if groups.is_empty() {
            return Err(ReportError::Gaia(
                "no GAIA test-split rows in the results".to_string(),
            ));
        }
        let combos: Vec<String> = groups
            .keys()
            .map(|(b, a, e)| format!("{b}/{a}/epoch {e}"))
            .collect();
        return Err(ReportError::Gaia(format!(
            "results hold {} backbone/arm/epoch combinations ({}); filter to one or call write_gaia_submissions",
            combos.len(),
            combos.join(", ")
        )));
    };
    let path = dir.join("gaia_submission.jsonl");
    write_lines(&path, &lines_for(dir, rows)?)?;
    Ok(path)
}

fn file_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes one `dir/gaia_submission.<backbone>.<arm>.e<epoch>.jsonl` per combination.
pub fn write_gaia_submissions(dir: &Path, results: &[ResultRecord]) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for ((backbone, arm, epoch), rows) in gaia_groups(results) {
        let path = dir.join(format!(
            "gaia_submission.{}.{}.e{epoch}.jsonl",
            file_part(&backbone),
            file_part(&arm)
        ));
        write_lines(&path, &lines_for(dir, &rows)?)?;
        paths.push(path);
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::row;

    fn gaia(item: &str, split: &str, answer: Option<&str>, status: &str) -> ResultRecord {
        let mut r = row("off", 1, status, None);
        r.benchmark = "gaia".into();
        r.split = split.into();
        r.item_id = item.into();
        r.task_key = format!("gaia-{item}-{split}");
        r.extracted_answer = answer.map(str::to_string);
        r
    }

    #[test]
    fn submission_has_one_line_per_gaia_test_task() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rows = vec![
            gaia("t-2", "test", Some("17"), "scored"),
            gaia("t-1", "test", None, "failed"),
            gaia("v-1", "validation", Some("x"), "scored"),
            row("off", 3, "scored", Some(true)),
        ];
        // A trajectory for t-2 supplies its reasoning trace.
        let traj = dir.path().join("trajectories");
        fs::create_dir_all(&traj).expect("mkdir");
        let file = fs::File::create(traj.join("gaia-t-2-test.json.gz")).expect("create");
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        gz.write_all(
            br#"{"steps":[{"index":0,"thought":"look up the table","called":["web_search"]}]}"#,
        )
        .expect("write");
        gz.finish().expect("finish");

        let path = write_gaia_submission(dir.path(), &rows).expect("write");
        let text = fs::read_to_string(&path).expect("read");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines.len(), 2);
        for l in &lines {
            let mut keys: Vec<&str> = l
                .as_object()
                .expect("object")
                .keys()
                .map(String::as_str)
                .collect();
            keys.sort();
            assert_eq!(keys, ["model_answer", "reasoning_trace", "task_id"]);
        }
        assert_eq!(lines[0]["task_id"], "t-1");
        assert_eq!(lines[0]["model_answer"], "");
        assert!(
            lines[0]["reasoning_trace"]
                .as_str()
                .expect("str")
                .contains("ended: failed")
        );
        assert_eq!(lines[1]["model_answer"], "17");
        assert_eq!(
            lines[1]["reasoning_trace"],
            "Step 0: look up the table [called: web_search]"
        );
    }

    #[test]
    fn several_combinations_need_the_plural_writer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut other = gaia("t-1", "test", Some("1"), "scored");
        other.arm = "on".into();
        let rows = vec![gaia("t-1", "test", Some("2"), "scored"), other];
        let err = write_gaia_submission(dir.path(), &rows).expect_err("two arms");
        assert!(
            err.to_string()
                .contains("2 backbone/arm/epoch combinations"),
            "{err}"
        );
        let paths = write_gaia_submissions(dir.path(), &rows).expect("write all");
        assert_eq!(paths.len(), 2);
        assert!(
            paths[0].ends_with("gaia_submission.m1.off.e0.jsonl"),
            "{paths:?}"
        );
        let err = write_gaia_submission(dir.path(), &[]).expect_err("no rows");
        assert!(err.to_string().contains("no GAIA test-split rows"), "{err}");
    }
}
