//! Results files on disk: `results.parquet` (one row per task) and `attempts.parquet`
//! written atomically, read back as frames or records (a count column added since a file
//! was written reads as zeros), and the coordinator's gzipped per-task trajectories.

use std::fs::{self, File};
use std::io::BufReader;
use std::path::{Path, PathBuf};

use herd_core::{AttemptRecord, ResultRecord};
use polars::prelude::*;

use crate::error::{PolarsContext, ReportError, Result, io_err};

pub const RESULTS_FILE: &str = "results.parquet";
pub const ATTEMPTS_FILE: &str = "attempts.parquet";
pub const TRAJECTORIES_DIR: &str = "trajectories";

/// A run's results as read from disk.
#[derive(Debug, Clone)]
pub struct RunFrames {
    /// The directory holding the files (trajectories live under it).
    pub dir: PathBuf,
    pub results_path: PathBuf,
    pub results: DataFrame,
    /// `None` when the run has no attempts file.
    pub attempts: Option<DataFrame>,
}

macro_rules! column {
    ($rows:expr, $name:literal, |$r:ident| $value:expr) => {
        Column::new(
            $name.into(),
            $rows.iter().map(|$r| $value).collect::<Vec<_>>(),
        )
    };
}

/// The results table as a frame, one row per record, every field a column.
pub fn results_frame(rows: &[ResultRecord]) -> Result<DataFrame> {
    let columns = vec![
        column!(rows, "sweep", |r| r.sweep.as_str()),
        column!(rows, "task_key", |r| r.task_key.as_str()),
        column!(rows, "benchmark", |r| r.benchmark.as_str()),
        column!(rows, "split", |r| r.split.as_str()),
        column!(rows, "item_id", |r| r.item_id.as_str()),
        column!(rows, "metadata", |r| r.metadata.as_str()),
        column!(rows, "level", |r| r.level.as_deref()),
        column!(rows, "subject", |r| r.subject.as_deref()),
        column!(rows, "backbone", |r| r.backbone.as_str()),
        column!(rows, "arm", |r| r.arm.as_str()),
        column!(rows, "accumulation", |r| r.accumulation.as_str()),
        column!(rows, "epoch", |r| r.epoch),
        column!(rows, "seed", |r| r.seed),
        column!(rows, "status", |r| r.status.as_str()),
        column!(rows, "correct", |r| r.correct),
        column!(rows, "score", |r| r.score),
        column!(rows, "answer", |r| r.answer.as_deref()),
        column!(rows, "extracted_answer", |r| r.extracted_answer.as_deref()),
        column!(rows, "gold_answer", |r| r.gold_answer.as_deref()),
        column!(rows, "scorer", |r| r.scorer.as_str()),
        column!(rows, "scorer_rule", |r| r.scorer_rule.as_str()),
        column!(rows, "end_reason", |r| r.end_reason.as_str()),
        column!(rows, "steps", |r| r.steps),
        column!(rows, "llm_calls", |r| r.llm_calls),
        column!(rows, "cached_calls", |r| r.cached_calls),
        column!(rows, "prompt_tokens", |r| r.prompt_tokens),
        column!(rows, "completion_tokens", |r| r.completion_tokens),
        column!(rows, "cost_usd", |r| r.cost_usd),
        column!(rows, "wall_ms", |r| r.wall_ms),
        column!(rows, "model_ms", |r| r.model_ms),
        column!(rows, "exec_ms", |r| r.exec_ms),
        column!(rows, "actions_created", |r| r.actions_created),
        column!(rows, "actions_retrieved", |r| r.actions_retrieved),
        column!(rows, "generated_calls", |r| r.generated_calls),
        column!(rows, "user_calls", |r| r.user_calls),
        column!(rows, "actions_called", |r| r.actions_called.as_str()),
        column!(rows, "library_size", |r| r.library_size),
        column!(rows, "covered_steps", |r| r.covered_steps),
        column!(rows, "reused_calls", |r| r.reused_calls),
        column!(rows, "sandbox_kind", |r| r.sandbox_kind.as_str()),
        column!(rows, "sandbox_image", |r| r.sandbox_image.as_str()),
        column!(rows, "model_identity", |r| r.model_identity.as_str()),
        column!(rows, "dataset_fingerprint", |r| r
            .dataset_fingerprint
            .as_str()),
        column!(rows, "herd_version", |r| r.herd_version.as_str()),
        column!(rows, "worker", |r| r.worker.as_str()),
        column!(rows, "attempts", |r| r.attempts),
        column!(rows, "error_kind", |r| r.error_kind.as_deref()),
        column!(rows, "error_message", |r| r.error_message.as_deref()),
        column!(rows, "finished_seq", |r| r.finished_seq),
        column!(rows, "finished_at", |r| r.finished_at.as_str()),
    ];
    DataFrame::new(columns).ctx("building the results frame")
}

/// The attempts table as a frame.
pub fn attempts_frame(rows: &[AttemptRecord]) -> Result<DataFrame> {
    let columns = vec![
        column!(rows, "sweep", |r| r.sweep.as_str()),
        column!(rows, "task_key", |r| r.task_key.as_str()),
        column!(rows, "attempt", |r| r.attempt),
        column!(rows, "worker", |r| r.worker.as_str()),
        column!(rows, "disposition", |r| r.disposition.as_str()),
        column!(rows, "end_reason", |r| r.end_reason.as_str()),
        column!(rows, "error_kind", |r| r.error_kind.as_deref()),
        column!(rows, "error_message", |r| r.error_message.as_deref()),
        column!(rows, "wall_ms", |r| r.wall_ms),
        column!(rows, "started_at", |r| r.started_at.as_str()),
        column!(rows, "finished_at", |r| r.finished_at.as_str()),
    ];
    DataFrame::new(columns).ctx("building the attempts frame")
}

/// Typed column access with errors that name the column.
pub(crate) struct Cols<'a>(pub &'a DataFrame);

impl Cols<'_> {
    fn cast(&self, name: &str, dtype: &DataType) -> Result<Series> {
        let column = self.0.column(name).map_err(|_| ReportError::Schema {
            column: name.to_string(),
            message: "missing".to_string(),
        })?;
        column
            .as_materialized_series()
            .cast(dtype)
            .map_err(|e| ReportError::Schema {
                column: name.to_string(),
                message: format!("cannot be read as {dtype}: {e}"),
            })
    }

    pub fn opt_strs(&self, name: &str) -> Result<Vec<Option<String>>> {
        let s = self.cast(name, &DataType::String)?;
        let ca = s.str().ctx(format!("reading column `{name}`"))?;
        Ok(ca.into_iter().map(|v| v.map(str::to_string)).collect())
    }

    pub fn strs(&self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .opt_strs(name)?
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect())
    }

    pub fn opt_u64s(&self, name: &str) -> Result<Vec<Option<u64>>> {
        let s = self.cast(name, &DataType::UInt64)?;
        let ca = s.u64().ctx(format!("reading column `{name}`"))?;
        Ok(ca.into_iter().collect())
    }

    pub fn u64s(&self, name: &str) -> Result<Vec<u64>> {
        Ok(self
            .opt_u64s(name)?
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect())
    }

    /// Like [`Self::u32s`], but a missing column reads as zeros (a column added after some
    /// results files were written).
    pub fn u32s_or_zero(&self, name: &str) -> Result<Vec<u32>> {
        if self.0.column(name).is_err() {
            return Ok(vec![0; self.0.height()]);
        }
        self.u32s(name)
    }

    pub fn u32s(&self, name: &str) -> Result<Vec<u32>> {
        let s = self.cast(name, &DataType::UInt32)?;
        let ca = s.u32().ctx(format!("reading column `{name}`"))?;
        Ok(ca.into_iter().map(Option::unwrap_or_default).collect())
    }

    pub fn opt_f64s(&self, name: &str) -> Result<Vec<Option<f64>>> {
        let s = self.cast(name, &DataType::Float64)?;
        let ca = s.f64().ctx(format!("reading column `{name}`"))?;
        Ok(ca.into_iter().collect())
    }

    pub fn f64s(&self, name: &str) -> Result<Vec<f64>> {
        Ok(self
            .opt_f64s(name)?
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect())
    }

    pub fn opt_bools(&self, name: &str) -> Result<Vec<Option<bool>>> {
        let s = self.cast(name, &DataType::Boolean)?;
        let ca = s.bool().ctx(format!("reading column `{name}`"))?;
        Ok(ca.into_iter().collect())
    }
}

/// Result records from a results frame (the inverse of [`results_frame`]).
pub fn results_from_frame(df: &DataFrame) -> Result<Vec<ResultRecord>> {
    let c = Cols(df);
    let n = df.height();
    let mut sweep = c.strs("sweep")?.into_iter();
    let mut task_key = c.strs("task_key")?.into_iter();
    let mut benchmark = c.strs("benchmark")?.into_iter();
    let mut split = c.strs("split")?.into_iter();
    let mut item_id = c.strs("item_id")?.into_iter();
    let mut metadata = c.strs("metadata")?.into_iter();
    let mut level = c.opt_strs("level")?.into_iter();
    let mut subject = c.opt_strs("subject")?.into_iter();
    let mut backbone = c.strs("backbone")?.into_iter();
    let mut arm = c.strs("arm")?.into_iter();
    let mut accumulation = c.strs("accumulation")?.into_iter();
    let mut epoch = c.u32s("epoch")?.into_iter();
    let mut seed = c.u64s("seed")?.into_iter();
    let mut status = c.strs("status")?.into_iter();
    let mut correct = c.opt_bools("correct")?.into_iter();
    let mut score = c.opt_f64s("score")?.into_iter();
    let mut answer = c.opt_strs("answer")?.into_iter();
    let mut extracted_answer = c.opt_strs("extracted_answer")?.into_iter();
    let mut gold_answer = c.opt_strs("gold_answer")?.into_iter();
    let mut scorer = c.strs("scorer")?.into_iter();
    let mut scorer_rule = c.strs("scorer_rule")?.into_iter();
    let mut end_reason = c.strs("end_reason")?.into_iter();
    let mut steps = c.u32s("steps")?.into_iter();
    let mut llm_calls = c.u32s("llm_calls")?.into_iter();
    let mut cached_calls = c.u32s("cached_calls")?.into_iter();
    let mut prompt_tokens = c.u64s("prompt_tokens")?.into_iter();
    let mut completion_tokens = c.u64s("completion_tokens")?.into_iter();
    let mut cost_usd = c.f64s("cost_usd")?.into_iter();
    let mut wall_ms = c.u64s("wall_ms")?.into_iter();
    let mut model_ms = c.u64s("model_ms")?.into_iter();
    let mut exec_ms = c.u64s("exec_ms")?.into_iter();
    let mut actions_created = c.u32s("actions_created")?.into_iter();
    let mut actions_retrieved = c.u32s("actions_retrieved")?.into_iter();
    let mut generated_calls = c.u32s("generated_calls")?.into_iter();
    let mut user_calls = c.u32s("user_calls")?.into_iter();
    let mut actions_called = c.strs("actions_called")?.into_iter();
    let mut library_size = c.u64s("library_size")?.into_iter();
    let mut covered_steps = c.u32s("covered_steps")?.into_iter();
    let mut reused_calls = c.u32s_or_zero("reused_calls")?.into_iter();
    let mut sandbox_kind = c.strs("sandbox_kind")?.into_iter();
    let mut sandbox_image = c.strs("sandbox_image")?.into_iter();
    let mut model_identity = c.strs("model_identity")?.into_iter();
    let mut dataset_fingerprint = c.strs("dataset_fingerprint")?.into_iter();
    let mut herd_version = c.strs("herd_version")?.into_iter();
    let mut worker = c.strs("worker")?.into_iter();
    let mut attempts = c.u32s("attempts")?.into_iter();
    let mut error_kind = c.opt_strs("error_kind")?.into_iter();
    let mut error_message = c.opt_strs("error_message")?.into_iter();
    let mut finished_seq = c.u64s("finished_seq")?.into_iter();
    let mut finished_at = c.strs("finished_at")?.into_iter();
    let mut out = Vec::with_capacity(n);
    // Every vector has `n` entries (one per frame row), so `next()` never runs dry here.
    for _ in 0..n {
        out.push(ResultRecord {
            sweep: sweep.next().unwrap_or_default(),
            task_key: task_key.next().unwrap_or_default(),
            benchmark: benchmark.next().unwrap_or_default(),
            split: split.next().unwrap_or_default(),
            item_id: item_id.next().unwrap_or_default(),
            metadata: metadata.next().unwrap_or_default(),
            level: level.next().flatten(),
            subject: subject.next().flatten(),
            backbone: backbone.next().unwrap_or_default(),
            arm: arm.next().unwrap_or_default(),
            accumulation: accumulation.next().unwrap_or_default(),
            epoch: epoch.next().unwrap_or_default(),
            seed: seed.next().unwrap_or_default(),
            status: status.next().unwrap_or_default(),
            correct: correct.next().flatten(),
            score: score.next().flatten(),
            answer: answer.next().flatten(),
            extracted_answer: extracted_answer.next().flatten(),
            gold_answer: gold_answer.next().flatten(),
            scorer: scorer.next().unwrap_or_default(),
            scorer_rule: scorer_rule.next().unwrap_or_default(),
            end_reason: end_reason.next().unwrap_or_default(),
            steps: steps.next().unwrap_or_default(),
            llm_calls: llm_calls.next().unwrap_or_default(),
            cached_calls: cached_calls.next().unwrap_or_default(),
            prompt_tokens: prompt_tokens.next().unwrap_or_default(),
            completion_tokens: completion_tokens.next().unwrap_or_default(),
            cost_usd: cost_usd.next().unwrap_or_default(),
            wall_ms: wall_ms.next().unwrap_or_default(),
            model_ms: model_ms.next().unwrap_or_default(),
            exec_ms: exec_ms.next().unwrap_or_default(),
            actions_created: actions_created.next().unwrap_or_default(),
            actions_retrieved: actions_retrieved.next().unwrap_or_default(),
            generated_calls: generated_calls.next().unwrap_or_default(),
            user_calls: user_calls.next().unwrap_or_default(),
            actions_called: actions_called.next().unwrap_or_default(),
            library_size: library_size.next().unwrap_or_default(),
            covered_steps: covered_steps.next().unwrap_or_default(),
            reused_calls: reused_calls.next().unwrap_or_default(),
            sandbox_kind: sandbox_kind.next().unwrap_or_default(),
            sandbox_image: sandbox_image.next().unwrap_or_default(),
            model_identity: model_identity.next().unwrap_or_default(),
            dataset_fingerprint: dataset_fingerprint.next().unwrap_or_default(),
            herd_version: herd_version.next().unwrap_or_default(),
            worker: worker.next().unwrap_or_default(),
            attempts: attempts.next().unwrap_or_default(),
            error_kind: error_kind.next().flatten(),
            error_message: error_message.next().flatten(),
            finished_seq: finished_seq.next().unwrap_or_default(),
            finished_at: finished_at.next().unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Attempt records from an attempts frame (the inverse of [`attempts_frame`]).
pub fn attempts_from_frame(df: &DataFrame) -> Result<Vec<AttemptRecord>> {
    let c = Cols(df);
    let sweep = c.strs("sweep")?;
    let task_key = c.strs("task_key")?;
    let attempt = c.u32s("attempt")?;
    let worker = c.strs("worker")?;
    let disposition = c.strs("disposition")?;
    let end_reason = c.strs("end_reason")?;
    let error_kind = c.opt_strs("error_kind")?;
    let error_message = c.opt_strs("error_message")?;
    let wall_ms = c.u64s("wall_ms")?;
    let started_at = c.strs("started_at")?;
    let finished_at = c.strs("finished_at")?;
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        out.push(AttemptRecord {
            sweep: sweep[i].clone(),
            task_key: task_key[i].clone(),
            attempt: attempt[i],
            worker: worker[i].clone(),
            disposition: disposition[i].clone(),
            end_reason: end_reason[i].clone(),
            error_kind: error_kind[i].clone(),
            error_message: error_message[i].clone(),
            wall_ms: wall_ms[i],
            started_at: started_at[i].clone(),
            finished_at: finished_at[i].clone(),
        });
    }
    Ok(out)
}

/// Writes `frame` to `path` through a temporary file in the same directory, then renames
/// it into place, so readers never see a half-written file.
pub fn write_parquet_atomic(path: &Path, frame: &mut DataFrame) -> Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "results.parquet".to_string());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let file = File::create(&tmp).map_err(io_err("create", &tmp))?;
    let written = ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(frame)
        .ctx(format!("writing `{}`", tmp.display()));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::rename(&tmp, path).map_err(io_err("rename into place", path))?;
    Ok(())
}

/// Writes `dir/results.parquet` and `dir/attempts.parquet` (each atomically), creating
/// `dir` if needed.
pub fn write_results(
    dir: &Path,
    results: &[ResultRecord],
    attempts: &[AttemptRecord],
) -> Result<()> {
    fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
    let mut frame = results_frame(results)?;
    write_parquet_atomic(&dir.join(RESULTS_FILE), &mut frame)?;
    let mut frame = attempts_frame(attempts)?;
    write_parquet_atomic(&dir.join(ATTEMPTS_FILE), &mut frame)?;
    tracing::info!(dir = %dir.display(), results = results.len(), attempts = attempts.len(), "wrote results");
    Ok(())
}

/// Resolves a run directory or a results file to `(run dir, results file)`.
pub fn resolve_input(input: &Path) -> Result<(PathBuf, PathBuf)> {
    if input.is_dir() {
        let file = input.join(RESULTS_FILE);
        if file.is_file() {
            return Ok((input.to_path_buf(), file));
        }
        return Err(ReportError::NotFound(input.to_path_buf()));
    }
    if input.is_file() {
        let dir = input
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| Path::new("."))
            .to_path_buf();
        return Ok((dir, input.to_path_buf()));
    }
    Err(ReportError::NotFound(input.to_path_buf()))
}

/// Count columns of the results table added after results files were first written; a file
/// without one reads it as zeros.
pub const LATE_COUNT_COLUMNS: &[&str] = &["reused_calls"];

/// `lf` with each [`LATE_COUNT_COLUMNS`] column it lacks added as zeros, so a results file
/// written before the column existed reads like a current one.
pub fn with_late_columns(mut lf: LazyFrame) -> Result<LazyFrame> {
    let schema = lf
        .collect_schema()
        .ctx("reading the schema of the results")?;
    let missing: Vec<Expr> = LATE_COUNT_COLUMNS
        .iter()
        .filter(|name| !schema.contains(name))
        .map(|name| lit(0u32).alias(*name))
        .collect();
    Ok(if missing.is_empty() {
        lf
    } else {
        lf.with_columns(missing)
    })
}

/// Adds each [`LATE_COUNT_COLUMNS`] column `df` lacks, as zeros.
fn add_late_columns(df: &mut DataFrame) -> Result<()> {
    for name in LATE_COUNT_COLUMNS {
        if df.column(name).is_err() {
            let zeros = Column::new((*name).into(), vec![0u32; df.height()]);
            df.with_column(zeros)
                .ctx(format!("adding the missing column `{name}` as zeros"))?;
        }
    }
    Ok(())
}

pub(crate) fn read_parquet(path: &Path) -> Result<DataFrame> {
    let file = File::open(path).map_err(io_err("open", path))?;
    ParquetReader::new(file)
        .finish()
        .ctx(format!("reading `{}`", path.display()))
}

/// Reads the attempts file next to a results file, if there is one.
pub(crate) fn read_attempts(dir: &Path) -> Result<Option<DataFrame>> {
    let path = dir.join(ATTEMPTS_FILE);
    if path.is_file() {
        read_parquet(&path).map(Some)
    } else {
        Ok(None)
    }
}

/// Reads a run (a directory, or a results.parquet path) as frames.
pub fn read_results(input: &Path) -> Result<RunFrames> {
    let (dir, results_path) = resolve_input(input)?;
    let mut results = read_parquet(&results_path)?;
    add_late_columns(&mut results)?;
    let attempts = read_attempts(&dir)?;
    Ok(RunFrames {
        dir,
        results_path,
        results,
        attempts,
    })
}

/// Reads a run as records: every result row and every attempt row (none if the run has
/// no attempts file).
pub fn read_result_records(input: &Path) -> Result<(Vec<ResultRecord>, Vec<AttemptRecord>)> {
    let run = read_results(input)?;
    let results = results_from_frame(&run.results)?;
    let attempts = match &run.attempts {
        Some(df) => attempts_from_frame(df)?,
        None => Vec::new(),
    };
    Ok((results, attempts))
}

/// Path of a task's trajectory file under a run directory.
pub fn trajectory_path(dir: &Path, task_key: &str) -> Result<PathBuf> {
    if task_key.is_empty()
        || task_key.contains('/')
        || task_key.contains('\\')
        || task_key.contains("..")
        || task_key.contains('\0')
    {
        return Err(ReportError::BadTaskKey(task_key.to_string()));
    }
    Ok(dir
        .join(TRAJECTORIES_DIR)
        .join(format!("{task_key}.json.gz")))
}

/// Loads `dir/trajectories/<task_key>.json.gz` as JSON.
pub fn load_trajectory(dir: &Path, task_key: &str) -> Result<serde_json::Value> {
    let path = trajectory_path(dir, task_key)?;
    let file = File::open(&path).map_err(io_err("open trajectory", &path))?;
    let reader = flate2::read::GzDecoder::new(BufReader::new(file));
    serde_json::from_reader(reader).map_err(|source| ReportError::Trajectory { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn full_record(i: u32) -> ResultRecord {
        ResultRecord {
            sweep: "sw".into(),
            task_key: format!("k{i}"),
            benchmark: "gaia".into(),
            split: "validation".into(),
            item_id: format!("item-{i}"),
            metadata: "{\"level\":2,\"file\":\"a.xlsx\"}".into(),
            level: Some("2".into()),
            subject: if i == 0 { Some("physics".into()) } else { None },
            backbone: "gpt-4o".into(),
            arm: "online".into(),
            accumulation: "online".into(),
            epoch: 3 + i,
            seed: u64::MAX - i as u64,
            status: "scored".into(),
            correct: if i == 0 { Some(true) } else { None },
            score: Some(0.5 + i as f64),
            answer: Some("Answer: 42".into()),
            extracted_answer: Some("42".into()),
            gold_answer: if i == 0 { Some("42".into()) } else { None },
            scorer: "gaia".into(),
            scorer_rule: "number".into(),
            end_reason: "final-answer".into(),
            steps: 7,
            llm_calls: 9,
            cached_calls: 1,
            prompt_tokens: 12_345_678_901,
            completion_tokens: 789,
            cost_usd: 0.123_456_789,
            wall_ms: 61_000,
            model_ms: 40_000,
            exec_ms: 15_000,
            actions_created: 2,
            actions_retrieved: 5,
            generated_calls: 3,
            user_calls: 4,
            actions_called: "[[\"web_search\",3]]".into(),
            library_size: 1234,
            covered_steps: 6,
            reused_calls: 2,
            sandbox_kind: "docker".into(),
            sandbox_image: "herd/sandbox@sha256:ff".into(),
            model_identity: "openai:gpt-4o-2024-08-06".into(),
            dataset_fingerprint: "sha256:0011".into(),
            herd_version: "0.1.0".into(),
            worker: "w-1".into(),
            attempts: 2,
            error_kind: if i == 1 { Some("llm".into()) } else { None },
            error_message: if i == 1 {
                Some("rate limited ünïcode".into())
            } else {
                None
            },
            finished_seq: 99 + i as u64,
            finished_at: "2026-11-22T02:00:00Z".into(),
        }
    }

    #[test]
    fn parquet_round_trip_keeps_every_field() {
        let dir = tempfile::tempdir().expect("tempdir");
        let results = vec![full_record(0), full_record(1), ResultRecord::default()];
        let attempts = vec![
            AttemptRecord {
                sweep: "sw".into(),
                task_key: "k0".into(),
                attempt: 2,
                worker: "w-1".into(),
                disposition: "recorded".into(),
                end_reason: "final-answer".into(),
                error_kind: Some("llm".into()),
                error_message: Some("boom".into()),
                wall_ms: 5,
                started_at: "a".into(),
                finished_at: "b".into(),
            },
            AttemptRecord::default(),
        ];
        write_results(dir.path(), &results, &attempts).expect("write");
        // No temporary files are left behind.
        let names: Vec<String> = fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        let (r2, a2) = read_result_records(dir.path()).expect("read");
        assert_eq!(r2, results);
        assert_eq!(a2, attempts);
        // A results file path works too, and finds the attempts beside it.
        let run = read_results(&dir.path().join(RESULTS_FILE)).expect("read file");
        assert_eq!(run.results.height(), 3);
        assert_eq!(run.attempts.map(|a| a.height()), Some(2));
    }

    #[test]
    fn a_results_file_without_reused_calls_reads_it_as_zero() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rec = full_record(0);
        assert_eq!(rec.reused_calls, 2);
        // A file written before the column existed.
        let mut frame = results_frame(std::slice::from_ref(&rec))
            .expect("frame")
            .drop("reused_calls")
            .expect("drop");
        write_parquet_atomic(&dir.path().join(RESULTS_FILE), &mut frame).expect("write");
        let (read, _) = read_result_records(dir.path()).expect("read records");
        assert_eq!(
            read,
            vec![ResultRecord {
                reused_calls: 0,
                ..rec
            }]
        );
        let run = read_results(dir.path()).expect("read frames");
        assert_eq!(
            Cols(&run.results).u32s("reused_calls").expect("column"),
            [0]
        );
        let report = crate::queries::build_report(dir.path(), &Default::default())
            .expect("report of an old file");
        assert_eq!(report.reuse[0].generated_calls, 3);
        assert_eq!(report.reuse[0].reused_calls, 0);
        assert_eq!(report.reuse[0].tasks_reusing, 0);
    }

    #[test]
    fn missing_inputs_and_columns_are_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = read_results(dir.path()).expect_err("no results");
        assert!(err.to_string().contains("no results at"), "{err}");
        let df = df!("sweep" => ["x"]).expect("df");
        let err = results_from_frame(&df).expect_err("missing columns");
        assert!(err.to_string().contains("`task_key`"), "{err}");
    }

    #[test]
    fn trajectories_load_from_gzip() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(dir.path().join(TRAJECTORIES_DIR)).expect("mkdir");
        let path = trajectory_path(dir.path(), "t-1").expect("path");
        let mut gz = flate2::write::GzEncoder::new(
            File::create(&path).expect("create"),
            flate2::Compression::fast(),
        );
        gz.write_all(br#"{"task_key":"t-1","steps":[]}"#)
            .expect("write");
        gz.finish().expect("finish");
        let v = load_trajectory(dir.path(), "t-1").expect("load");
        assert_eq!(v["task_key"], "t-1");
        assert!(matches!(
            load_trajectory(dir.path(), "../x"),
            Err(ReportError::BadTaskKey(_))
        ));
        assert!(matches!(
            load_trajectory(dir.path(), "absent"),
            Err(ReportError::Io { .. })
        ));
    }
}
