//! Renders a [`Report`] or [`Comparison`] as Markdown, as one self-contained HTML file
//! (inline CSS and SVG charts, no external references), or as JSON.

use std::fmt::Write as _;

use crate::charts;
use crate::error::{ReportError, Result, io_err};
use crate::model::*;

/// A titled table of preformatted cells, rendered to either format.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub title: String,
    pub note: Option<String>,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    fn to_markdown(&self, out: &mut String) {
        let _ = writeln!(out, "## {}\n", self.title);
        if let Some(note) = &self.note {
            let _ = writeln!(out, "{note}\n");
        }
        if self.rows.is_empty() {
            out.push_str("_no rows_\n\n");
            return;
        }
        let md = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let _ = writeln!(out, "| {} |", self.headers.join(" | "));
        let _ = writeln!(
            out,
            "|{}",
            self.headers.iter().map(|_| "---|").collect::<String>()
        );
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(|c| md(c)).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out.push('\n');
    }

    fn to_html(&self, out: &mut String) {
        let _ = writeln!(out, "<h2>{}</h2>", esc(&self.title));
        if let Some(note) = &self.note {
            let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(note));
        }
        if self.rows.is_empty() {
            out.push_str("<p><em>no rows</em></p>\n");
            return;
        }
        out.push_str("<table><thead><tr>");
        for h in &self.headers {
            let _ = write!(out, "<th>{}</th>", esc(h));
        }
        out.push_str("</tr></thead><tbody>\n");
        for row in &self.rows {
            out.push_str("<tr>");
            for c in row {
                let _ = write!(out, "<td>{}</td>", esc(c));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table>\n");
    }
}

/// Escapes text for HTML bodies and attributes.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "—".to_string(), |v| format!("{:.1}%", v * 100.0))
}

fn signed_pts(x: Option<f64>) -> String {
    x.map_or_else(|| "—".to_string(), |v| format!("{:+.1}", v * 100.0))
}

fn num(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "—".to_string(), |v| format!("{v:.digits$}"))
}

fn pval(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

fn accuracy_table(title: &str, rows: &[AccuracyRow], group_header: Option<&'static str>) -> Table {
    let mut headers = vec!["benchmark", "backbone", "arm"];
    if let Some(g) = group_header {
        headers.push(g);
    }
    headers.extend([
        "tasks",
        "scored",
        "correct",
        "wrong",
        "accuracy (correct/scored)",
        "Wilson 95%",
        "failed",
        "timeout",
        "budget",
        "cancelled",
        "no gold",
        "other",
        "accuracy over all tasks (non-scored = wrong)",
    ]);
    let rows = rows
        .iter()
        .map(|r| {
            let mut cells = vec![r.benchmark.clone(), r.backbone.clone(), r.arm.clone()];
            if group_header.is_some() {
                cells.push(r.group.clone().unwrap_or_default());
            }
            cells.extend([
                r.tasks.to_string(),
                r.scored.to_string(),
                r.correct.to_string(),
                r.wrong.to_string(),
                pct(r.accuracy),
                r.wilson.map_or_else(
                    || "—".to_string(),
                    |w| format!("[{:.1}%, {:.1}%]", w.low * 100.0, w.high * 100.0),
                ),
                r.failed.to_string(),
                r.timeout.to_string(),
                r.budget.to_string(),
                r.cancelled.to_string(),
                r.no_gold.to_string(),
                r.other_status.to_string(),
                pct(r.accuracy_all_tasks),
            ]);
            cells
        })
        .collect();
    Table {
        title: title.to_string(),
        note: Some(
            "Accuracy is correct / scored. Failed, timed-out, over-budget and cancelled tasks are \
             counted in their own columns, not as wrong answers; the last column counts them as wrong."
                .to_string(),
        ),
        headers,
        rows,
    }
}

fn paired_table(title: &str, rows: &[PairedRow]) -> Table {
    Table {
        title: title.to_string(),
        note: Some(
            "Same items (benchmark, item, epoch) on both sides, test-split items only (training phases \
             of train-then-test arms are never paired); pairs where either side was not scored \
             are excluded and counted. Δ = accuracy(A) − accuracy(B) in points, paired bootstrap 95% \
             interval; p = exact McNemar (two-sided binomial on discordant pairs)."
                .to_string(),
        ),
        headers: vec![
            "kind", "benchmark", "within", "A", "B", "pairs", "unscored pairs", "acc A", "acc B", "Δ (pts)",
            "95% CI (pts)", "A right/B wrong", "A wrong/B right", "McNemar p",
        ],
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    r.kind.as_str().to_string(),
                    r.benchmark.clone(),
                    r.within.clone(),
                    r.a.clone(),
                    r.b.clone(),
                    r.n.to_string(),
                    r.unscored_pairs.to_string(),
                    pct(r.accuracy_a),
                    pct(r.accuracy_b),
                    signed_pts(r.diff),
                    match (r.ci_low, r.ci_high) {
                        (Some(l), Some(h)) => format!("[{:+.1}, {:+.1}]", l * 100.0, h * 100.0),
                        _ => "—".to_string(),
                    },
                    r.counts.a_right_b_wrong.to_string(),
                    r.counts.a_wrong_b_right.to_string(),
                    pval(r.mcnemar_p),
                ]
            })
            .collect(),
    }
}

fn cost_table(rows: &[CostRow], training: bool) -> Table {
    let mut t = cost_table_scored(rows);
    if training {
        t.note = Some(
            "Figures count the scored split. A train-then-test arm's training phase costs apart \
             (training $); the last column is what the arm cost in all."
                .to_string(),
        );
        t.headers.extend(["training $", "cost incl. training $"]);
        for (cells, r) in t.rows.iter_mut().zip(rows) {
            cells.push(format!("{:.4}", r.training_cost_usd));
            cells.push(format!("{:.4}", r.cost_with_training_usd));
        }
    }
    t
}

fn cost_table_scored(rows: &[CostRow]) -> Table {
    Table {
        title: "Cost, tokens, steps and time".to_string(),
        note: None,
        headers: vec![
            "benchmark",
            "backbone",
            "arm",
            "tasks",
            "cost $",
            "prompt tokens",
            "completion tokens",
            "LLM calls",
            "steps",
            "wall s",
            "$ / task",
            "tokens / task",
            "steps / task",
            "s / task",
            "correct per $",
        ],
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    r.benchmark.clone(),
                    r.backbone.clone(),
                    r.arm.clone(),
                    r.tasks.to_string(),
                    format!("{:.4}", r.cost_usd),
                    r.prompt_tokens.to_string(),
                    r.completion_tokens.to_string(),
                    r.llm_calls.to_string(),
                    r.steps.to_string(),
                    format!("{:.1}", r.wall_ms as f64 / 1000.0),
                    num(r.mean_cost_usd, 5),
                    num(r.mean_tokens, 1),
                    num(r.mean_steps, 2),
                    num(r.mean_wall_s, 2),
                    num(r.correct_per_usd, 2),
                ]
            })
            .collect(),
    }
}

fn reuse_table(report: &Report) -> Table {
    let growth: std::collections::HashMap<(&str, &str), &GrowthSeries> = report
        .library_growth
        .iter()
        .map(|g| ((g.backbone.as_str(), g.arm.as_str()), g))
        .collect();
    Table {
        title: "Action accumulation and reuse".to_string(),
        note: Some(
            "Generated share = calls to generated actions / all action calls; coverage = steps that \
             called an action / steps. Calls to stored actions = calls to actions an earlier task \
             wrote and the library handed back (a task calling functions it wrote itself is not \
             counted); tasks reusing a stored action = tasks with at least one such call."
                .to_string(),
        ),
        headers: vec![
            "backbone", "arm", "tasks", "final library size", "actions created", "actions retrieved",
            "generated calls", "user calls", "generated share", "tasks calling generated",
            "calls to stored actions", "tasks reusing a stored action", "coverage",
        ],
        rows: report
            .reuse
            .iter()
            .map(|r| {
                let size = growth.get(&(r.backbone.as_str(), r.arm.as_str())).map(|g| g.final_size);
                vec![
                    r.backbone.clone(),
                    r.arm.clone(),
                    r.tasks.to_string(),
                    size.map_or_else(|| "—".to_string(), |s| s.to_string()),
                    r.actions_created.to_string(),
                    r.actions_retrieved.to_string(),
                    r.generated_calls.to_string(),
                    r.user_calls.to_string(),
                    pct(r.generated_share),
                    r.tasks_calling_generated.to_string(),
                    r.reused_calls.to_string(),
                    r.tasks_reusing.to_string(),
                    pct(r.coverage),
                ]
            })
            .collect(),
    }
}

fn actions_table(report: &Report) -> Table {
    Table {
        title: "Most reused actions".to_string(),
        note: (report.malformed_actions_called > 0).then(|| {
            format!(
                "{} rows had an actions_called value that is not a JSON list of [name, count]; they are not counted here.",
                report.malformed_actions_called
            )
        }),
        headers: vec!["backbone", "arm", "action", "calls", "tasks"],
        rows: report
            .top_actions
            .iter()
            .map(|a| {
                vec![a.backbone.clone(), a.arm.clone(), a.action.clone(), a.calls.to_string(), a.tasks.to_string()]
            })
            .collect(),
    }
}

fn failure_table(rows: &[FailureRow]) -> Table {
    Table {
        title: "Outcomes by status, end reason and error kind".to_string(),
        note: None,
        headers: vec![
            "backbone",
            "arm",
            "status",
            "end reason",
            "error kind",
            "tasks",
        ],
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    r.backbone.clone(),
                    r.arm.clone(),
                    r.status.clone(),
                    r.end_reason.clone(),
                    r.error_kind.clone().unwrap_or_else(|| "—".to_string()),
                    r.count.to_string(),
                ]
            })
            .collect(),
    }
}

fn training_table(rows: &[TrainingPhase]) -> Table {
    Table {
        title: "Training phases (train-then-test arms, not in the tables above)".to_string(),
        note: Some(
            "These tasks filled each arm's library before it was frozen; their verdicts are not the \
             arm's result. The arm is reported on its test split everywhere else."
                .to_string(),
        ),
        headers: vec![
            "benchmark", "backbone", "arm", "training tasks", "scored", "correct", "accuracy",
            "cost $", "tokens", "actions created", "library when frozen",
        ],
        rows: rows
            .iter()
            .map(|t| {
                vec![
                    t.accuracy.benchmark.clone(),
                    t.accuracy.backbone.clone(),
                    t.accuracy.arm.clone(),
                    t.accuracy.tasks.to_string(),
                    t.accuracy.scored.to_string(),
                    t.accuracy.correct.to_string(),
                    pct(t.accuracy.accuracy),
                    format!("{:.4}", t.cost.cost_usd),
                    (t.cost.prompt_tokens + t.cost.completion_tokens).to_string(),
                    t.actions_created.to_string(),
                    t.frozen_library
                        .map_or_else(|| "—".to_string(), |n| n.to_string()),
                ]
            })
            .collect(),
    }
}

fn report_tables(report: &Report) -> Vec<Table> {
    let mut tables = vec![accuracy_table("Accuracy", &report.accuracy, None)];
    if !report.accuracy_by_level.is_empty() {
        tables.push(accuracy_table(
            "Accuracy by level",
            &report.accuracy_by_level,
            Some("level"),
        ));
    }
    if !report.accuracy_by_subject.is_empty() {
        tables.push(accuracy_table(
            "Accuracy by subject",
            &report.accuracy_by_subject,
            Some("subject"),
        ));
    }
    tables.push(paired_table("Paired comparisons", &report.paired));
    tables.push(cost_table(&report.cost, !report.training.is_empty()));
    tables.push(reuse_table(report));
    tables.push(actions_table(report));
    tables.push(failure_table(&report.failures));
    if !report.training.is_empty() {
        tables.push(training_table(&report.training));
    }
    tables
}

fn join_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "—".to_string()
    } else {
        items.join(", ")
    }
}

fn pairs_text(items: &[(String, String)]) -> String {
    if items.is_empty() {
        return "—".to_string();
    }
    items
        .iter()
        .map(|(a, b)| format!("{a}: {}", if b.is_empty() { "—" } else { b }))
        .collect::<Vec<_>>()
        .join(", ")
}

fn header_lines(h: &Header) -> Vec<(&'static str, String)> {
    let mut lines = vec![
        (
            "source",
            if h.source.is_empty() {
                "—".to_string()
            } else {
                h.source.clone()
            },
        ),
        ("sweep", join_or_dash(&h.sweeps)),
        ("herd version", join_or_dash(&h.herd_versions)),
        ("tasks", h.tasks.to_string()),
        (
            "statuses",
            h.statuses
                .iter()
                .map(|(s, n)| format!("{s}: {n}"))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("dataset fingerprints", pairs_text(&h.dataset_fingerprints)),
        ("models", pairs_text(&h.models)),
        ("sandboxes", pairs_text(&h.sandboxes)),
    ];
    if h.scopes.iter().any(|s| s.accumulation == "train-then-test") {
        lines.push((
            "scored splits",
            h.scopes
                .iter()
                .map(ArmScope::describe)
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
    if let Some(p) = &h.partial {
        let mut text = p.summary();
        if p.unfinished_rows > 0 {
            let _ = write!(
                text,
                " ({} rows cancelled or unfinished)",
                p.unfinished_rows
            );
        }
        if p.attempted_without_result > 0 {
            let _ = write!(
                text,
                " ({} tasks attempted without a result)",
                p.attempted_without_result
            );
        }
        lines.insert(0, ("PARTIAL", text));
    }
    if let Some(text) = h.unisolated_warning() {
        lines.insert(0, ("UNISOLATED", text));
    }
    lines
}

fn header_markdown(h: &Header, out: &mut String) {
    for (k, v) in header_lines(h) {
        let _ = writeln!(out, "- **{k}**: {v}");
    }
    out.push('\n');
}

fn header_html(h: &Header, out: &mut String) {
    out.push_str("<dl>\n");
    for (k, v) in header_lines(h) {
        let class = if k == "PARTIAL" || k == "UNISOLATED" {
            " class=\"partial\""
        } else {
            ""
        };
        let _ = writeln!(out, "<dt{class}>{}</dt><dd{class}>{}</dd>", esc(k), esc(&v));
    }
    out.push_str("</dl>\n");
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:13px}\
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}\
th{background:#f3f3f3}td:nth-child(-n+3){text-align:left}\
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:600}\
.partial{color:#b00}.note{color:#555;font-size:13px;max-width:60em}\
.charts svg{margin:0 1em 1em 0;border:1px solid #eee}";

fn html_page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head>\n<body>\n<h1>{}</h1>\n{body}</body></html>\n",
        esc(title),
        esc(title)
    )
}

impl Report {
    /// The report as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut out = String::from("# herd report\n\n");
        header_markdown(&self.header, &mut out);
        for t in report_tables(self) {
            t.to_markdown(&mut out);
        }
        out
    }

    /// The report as one self-contained HTML page with inline SVG charts.
    pub fn to_html(&self) -> Result<String> {
        let mut body = String::new();
        header_html(&self.header, &mut body);
        body.push_str("<div class=\"charts\">\n");
        for svg in charts::accuracy_charts(&self.accuracy)? {
            body.push_str(&svg);
        }
        if !self.library_growth.is_empty() {
            body.push_str(&charts::growth_chart(&self.library_growth)?);
        }
        body.push_str(&charts::cost_accuracy_chart(&self.accuracy, &self.cost)?);
        body.push_str("</div>\n");
        for t in report_tables(self) {
            t.to_html(&mut body);
        }
        Ok(html_page("herd report", &body))
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|source| ReportError::Json {
            what: "report",
            source,
        })
    }

    /// Writes `report.md`, `report.html` and `report.json` into `dir` (each atomically) and
    /// returns their paths.
    pub fn write_files(&self, dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
        std::fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        let files = [
            ("report.md", self.to_markdown()),
            ("report.html", self.to_html()?),
            ("report.json", self.to_json()?),
        ];
        let mut paths = Vec::new();
        for (name, text) in files {
            let path = dir.join(name);
            let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
            std::fs::write(&tmp, text).map_err(io_err("write", &tmp))?;
            std::fs::rename(&tmp, &path).map_err(io_err("rename into place", &path))?;
            paths.push(path);
        }
        Ok(paths)
    }
}

impl Comparison {
    fn tables(&self) -> Vec<Table> {
        let mut t = paired_table("Run A vs run B on the same items", &self.rows);
        t.note = Some(format!(
            "Items matched by benchmark, item, epoch, backbone and arm. {} rows only in A, {} only in B. {}",
            self.only_in_a,
            self.only_in_b,
            t.note.unwrap_or_default()
        ));
        vec![t]
    }

    pub fn to_markdown(&self) -> String {
        let mut out = String::from("# herd run comparison\n\n## Run A\n\n");
        header_markdown(&self.run_a, &mut out);
        out.push_str("## Run B\n\n");
        header_markdown(&self.run_b, &mut out);
        for t in self.tables() {
            t.to_markdown(&mut out);
        }
        out
    }

    pub fn to_html(&self) -> Result<String> {
        let mut body = String::from("<h2>Run A</h2>\n");
        header_html(&self.run_a, &mut body);
        body.push_str("<h2>Run B</h2>\n");
        header_html(&self.run_b, &mut body);
        for t in self.tables() {
            t.to_html(&mut body);
        }
        Ok(html_page("herd run comparison", &body))
    }

    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|source| ReportError::Json {
            what: "comparison",
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::queries::{ReportOptions, build_report};
    use crate::store::write_results;
    use crate::testutil::small_table;

    #[test]
    fn html_is_one_self_contained_file_with_svg_charts() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_results(dir.path(), &small_table(), &[]).expect("write");
        let report = build_report(dir.path(), &ReportOptions::default()).expect("report");
        let html = report.to_html().expect("html");
        assert!(html.starts_with("<!DOCTYPE html>"));
        // Accuracy bars (one benchmark), library growth, cost vs accuracy.
        assert_eq!(html.matches("<svg").count(), 3, "{html}");
        let lower = html.to_ascii_lowercase();
        for external in ["src=", "href=", "<link", "<script", "url(", "@import"] {
            assert!(!lower.contains(external), "found `{external}` in the HTML");
        }
        assert!(html.contains("accuracy over all tasks (non-scored = wrong)"));
        assert!(html.contains("Wilson 95%"));
        let paths = report
            .write_files(&dir.path().join("out"))
            .expect("write files");
        assert_eq!(paths.len(), 3);
        assert_eq!(std::fs::read_to_string(&paths[1]).expect("read"), html);
    }

    #[test]
    fn markdown_and_json_hold_the_figures() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_results(dir.path(), &small_table(), &[]).expect("write");
        let report = build_report(dir.path(), &ReportOptions::default()).expect("report");
        let md = report.to_markdown();
        assert!(md.contains("| math | m1 | off | 10 | 8 | 2 | 6 | 25.0% | [7.1%, 59.1%] | 1 | 1 | 0 | 0 | 0 | 0 | 20.0% |"), "{md}");
        assert!(
            md.contains("| arms | math | m1 | off | on | 8 | 2 | 25.0% | 100.0% | -75.0 |"),
            "{md}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&report.to_json().expect("json")).expect("parse");
        assert_eq!(json["accuracy"][0]["correct"], 2);
        assert_eq!(json["paired"][0]["counts"]["a_wrong_b_right"], 6);
        // Reuse: calls to stored actions and the tasks making them, beside generated calls.
        assert!(
            md.contains("| generated calls | user calls | generated share | tasks calling generated | calls to stored actions | tasks reusing a stored action | coverage |"),
            "{md}"
        );
        assert!(
            md.contains("| m1 | on | 10 | 10 | 0 | 0 | 10 | 10 | 50.0% | 10 | 4 | 4 | 50.0% |"),
            "{md}"
        );
        assert!(md.contains("earlier task"), "{md}");
        let on = json["reuse"]
            .as_array()
            .expect("reuse")
            .iter()
            .find(|r| r["arm"] == "on")
            .expect("on");
        assert_eq!(
            (on["reused_calls"].as_u64(), on["tasks_reusing"].as_u64()),
            (Some(4), Some(4))
        );
    }

    #[test]
    fn a_run_with_local_sandboxes_says_unisolated_at_the_top() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut rows = small_table();
        write_results(dir.path(), &rows, &[]).expect("write");
        let report = build_report(dir.path(), &ReportOptions::default()).expect("report");
        assert_eq!(report.header.unisolated_tasks, 0);
        assert!(!report.to_markdown().contains("UNISOLATED"));

        for r in rows.iter_mut().take(3) {
            r.sandbox_kind = "local".into();
            r.sandbox_image = String::new();
        }
        write_results(dir.path(), &rows, &[]).expect("write");
        let report = build_report(dir.path(), &ReportOptions::default()).expect("report");
        assert_eq!(report.header.unisolated_tasks, 3);
        let md = report.to_markdown();
        let first = md
            .lines()
            .find(|l| l.starts_with("- **"))
            .expect("a header line");
        assert!(
            first.starts_with("- **UNISOLATED**: 3 of 20 tasks ran in the local-process sandbox"),
            "{md}"
        );
        let html = report.to_html().expect("html");
        assert!(
            html.contains("<dt class=\"partial\">UNISOLATED</dt>"),
            "{html}"
        );
    }
}
