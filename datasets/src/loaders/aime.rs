//! AIME: MathArena contest folders (`aime_2024_I/answers.csv`, `problems/N.tex`,
//! `images/problem_N.png`), the 1983–2024 CSV, and Qwen2.5-Math's `aime24` jsonl.

use herd_core::config::BenchmarkKind;

use super::{item, jsonl, required, text, unknown_subset};
use crate::error::DatasetError;
use crate::item::{Attachment, Item};
use crate::source::{Loc, Reader, Resolved};

/// The MathArena contests in the shared layout.
pub const CONTESTS: &[&str] = &["2024_I", "2024_II", "2025_I", "2025_II"];
pub const SUBSETS: &[&str] = &[
    "matharena",
    "2024",
    "2025",
    "2024_I",
    "2024_II",
    "2025_I",
    "2025_II",
    "1983-2024",
    "aime24",
];
pub const DEFAULT_SUBSET: &str = "matharena";

pub(crate) fn load(
    src: &Resolved,
    subset: &str,
    rd: &mut Reader,
) -> Result<Vec<Item>, DatasetError> {
    match subset {
        "matharena" => load_contests(src, CONTESTS, rd),
        "2024" => load_contests(src, &["2024_I", "2024_II"], rd),
        "2025" => load_contests(src, &["2025_I", "2025_II"], rd),
        c if CONTESTS.contains(&c) => load_contests(src, &[c], rd),
        "1983-2024" | "csv" => load_csv(src, rd),
        "aime24" | "qwen25math" => load_qwen(src, rd),
        other => Err(unknown_subset("aime", other, SUBSETS)),
    }
}

fn load_contests(
    src: &Resolved,
    contests: &[&str],
    rd: &mut Reader,
) -> Result<Vec<Item>, DatasetError> {
    let mut items = Vec::new();
    for contest in contests {
        let mut candidates = vec![
            format!("aime/matharena/aime_{contest}/answers.csv"),
            format!("matharena/aime_{contest}/answers.csv"),
            format!("aime_{contest}/answers.csv"),
        ];
        if contests.len() == 1 {
            // A source folder that is itself one contest.
            candidates.push("answers.csv".to_string());
        }
        let answers = src.find(BenchmarkKind::Aime, contest, &candidates)?;
        items.extend(load_contest(&answers, contest, rd)?);
    }
    Ok(items)
}

fn load_contest(answers: &Loc, contest: &str, rd: &mut Reader) -> Result<Vec<Item>, DatasetError> {
    let (year, part) = contest.split_once('_').unwrap_or((contest, ""));
    let (_, bytes) = rd.read(answers)?;
    let path = answers.display();
    let dir = answers.parent();
    let mut r = csv::Reader::from_reader(bytes.as_slice());
    let mut items = Vec::new();
    for rec in r.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
                rd.problem(DatasetError::parse(
                    &path,
                    line,
                    format!("bad CSV record: {e}"),
                ))?;
                continue;
            }
        };
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
        let number = rec.get(0).unwrap_or("").trim().to_string();
        let answer = rec.get(1).unwrap_or("").trim().to_string();
        if number.is_empty() || answer.is_empty() {
            rd.problem(DatasetError::parse(&path, line, "expected `id,answer`"))?;
            continue;
        }
        let ploc = dir.join(&format!("problems/{number}.tex"));
        let Some((_, pbytes)) = rd.read_opt(&ploc)? else {
            rd.problem(DatasetError::parse(
                &path,
                line,
                format!("problem file `{}` does not exist", ploc.display()),
            ))?;
            continue;
        };
        let question = String::from_utf8_lossy(&pbytes).trim().to_string();
        let id = format!("{year}-{part}-{number}");
        let mut it = item(id, question, Some(answer), format!("{path}:{line}"));
        it.metadata.insert("year".into(), year.to_string());
        it.metadata.insert("part".into(), part.to_string());
        it.metadata.insert("number".into(), number.clone());
        let iname = format!("problem_{number}.png");
        if let Some((ip, ib)) = rd.read_opt(&dir.join(&format!("images/{iname}")))? {
            it.attachments.push(Attachment::from_file(&iname, &ip, &ib));
        }
        items.push(it);
    }
    Ok(items)
}

fn load_csv(src: &Resolved, rd: &mut Reader) -> Result<Vec<Item>, DatasetError> {
    let loc = src.find(
        BenchmarkKind::Aime,
        "1983-2024",
        &[
            "aime/AIME_Dataset_1983_2024.csv".to_string(),
            "AIME_Dataset_1983_2024.csv".to_string(),
        ],
    )?;
    let (_, bytes) = rd.read(&loc)?;
    let path = loc.display();
    let body = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
    let mut r = csv::Reader::from_reader(body);
    let headers = r
        .headers()
        .map_err(|e| DatasetError::parse(&path, 1, format!("bad CSV header: {e}")))?
        .clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| DatasetError::parse(&path, 1, format!("missing column `{name}`")))
    };
    let (c_id, c_year, c_num, c_q, c_a) = (
        col("ID")?,
        col("Year")?,
        col("Problem Number")?,
        col("Question")?,
        col("Answer")?,
    );
    let c_part = col("Part").ok();
    let mut items = Vec::new();
    for rec in r.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
                rd.problem(DatasetError::parse(
                    &path,
                    line,
                    format!("bad CSV record: {e}"),
                ))?;
                continue;
            }
        };
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
        let get = |i: usize| rec.get(i).unwrap_or("").trim().to_string();
        let (id, q, a) = (get(c_id), get(c_q), get(c_a));
        if id.is_empty() || q.is_empty() || a.is_empty() {
            rd.problem(DatasetError::parse(
                &path,
                line,
                "empty ID, Question or Answer",
            ))?;
            continue;
        }
        let mut it = item(id, q, Some(a), format!("{path}:{line}"));
        it.metadata.insert("year".into(), get(c_year));
        let part = c_part
            .map(get)
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "single".into());
        it.metadata.insert("part".into(), part);
        it.metadata.insert("number".into(), get(c_num));
        items.push(it);
    }
    Ok(items)
}

fn load_qwen(src: &Resolved, rd: &mut Reader) -> Result<Vec<Item>, DatasetError> {
    let loc = src.find(
        BenchmarkKind::Aime,
        "aime24",
        &[
            "aime/qwen25math_aime24/test.jsonl".to_string(),
            "qwen25math_aime24/test.jsonl".to_string(),
        ],
    )?;
    let (_, bytes) = rd.read(&loc)?;
    let path = loc.display();
    let mut items = Vec::new();
    for (line, row) in jsonl(&bytes, &path) {
        let parsed = row.and_then(|row| {
            let q = required(&row, "problem", &path, line)?;
            let a = required(&row, "answer", &path, line)?;
            let raw_id = text(&row, "id").unwrap_or_else(|| line.to_string());
            let mut it = item(
                format!("aime24-{raw_id}"),
                q,
                Some(a),
                format!("{path}:{line}"),
            );
            it.metadata.insert("year".into(), "2024".into());
            // The url names the contest: …/2024_AIME_I_Problems/Problem_10
            if let Some(url) = text(&row, "url") {
                let part = if url.contains("AIME_II") {
                    "II"
                } else if url.contains("AIME_I") {
                    "I"
                } else {
                    ""
                };
                it.metadata.insert("part".into(), part.into());
                if let Some(n) = url
                    .rsplit("Problem_")
                    .next()
                    .filter(|n| n.chars().all(|c| c.is_ascii_digit()))
                {
                    it.metadata.insert("number".into(), n.to_string());
                }
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
