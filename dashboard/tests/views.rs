//! The views over big runs, end to end through the router: the task table's filters,
//! search, sort and pages (and its JSON twin), arm and run comparisons, downloads, the
//! token gate, and escaping of model output.

use std::io::Write as _;
use std::path::Path;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use herd_core::ResultRecord;
use herd_core::trajectory::{Step, Trajectory};
use herd_dashboard::{DashboardOptions, router};
use tower::ServiceExt as _;

const TOKEN: &str = "views-token";
const EVIL: &str = "<script>alert('pwned')</script>";

/// Base arm `off`: right on q0, q2; wrong on q1, q3, q5; failed on q4.
/// Arm `on`: right on q0, q1, q3, q4; wrong on q2, q5.
/// So off → on flips q1 and q3 wrong → right, q2 right → wrong.
fn grade(arm: &str, i: usize) -> Option<bool> {
    match arm {
        "off" => [
            Some(true),
            Some(false),
            Some(true),
            Some(false),
            None,
            Some(false),
        ][i],
        _ => [
            Some(true),
            Some(true),
            Some(false),
            Some(true),
            Some(true),
            Some(false),
        ][i],
    }
}

fn rec(prefix: &str, arm: &str, i: usize, correct: Option<bool>) -> ResultRecord {
    let arm_index = usize::from(arm == "on");
    ResultRecord {
        sweep: "views".into(),
        task_key: format!("{prefix}{arm}-q{i}"),
        benchmark: if i.is_multiple_of(2) { "math" } else { "gaia" }.into(),
        split: "test".into(),
        item_id: format!("q{i}"),
        backbone: "qwen".into(),
        arm: arm.into(),
        accumulation: "off".into(),
        status: if correct.is_some() {
            "scored"
        } else {
            "failed"
        }
        .into(),
        correct,
        error_kind: correct.is_none().then(|| "llm".to_string()),
        end_reason: if correct.is_some() {
            "submitted"
        } else {
            "error"
        }
        .into(),
        answer: Some(if arm == "off" && i == 5 {
            EVIL.to_string()
        } else {
            format!("answer-{i}")
        }),
        gold_answer: Some(format!("answer-{i}")),
        steps: 2,
        cost_usd: (2 * i + arm_index) as f64 * 0.01,
        ..Default::default()
    }
}

fn write_trajectory(dir: &Path, key: &str, observation: &str) {
    let t = Trajectory {
        task_key: key.into(),
        attempt: 1,
        task_prompt: format!("Question for {key}"),
        steps: vec![Step {
            index: 0,
            thought: "thinking hard".into(),
            code: "print(1)".into(),
            observation: observation.into(),
            parse_error: None,
            cell_error: false,
            exec_ms: 1,
            host_calls: vec![],
            defined: vec![],
            called: vec![],
        }],
        end_reason: "submitted".into(),
        ..Default::default()
    };
    let tdir = dir.join("trajectories");
    std::fs::create_dir_all(&tdir).expect("mkdir");
    let file = std::fs::File::create(tdir.join(format!("{key}.json.gz"))).expect("create");
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    gz.write_all(&serde_json::to_vec(&t).expect("json"))
        .expect("write");
    gz.finish().expect("finish");
}

/// `runs/arms` (two arms, twelve tasks, a trajectory each; only on-q3's observation says
/// "zanzibar") and `runs/arms2`, the same run where off-q1 came out right.
fn fixture() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (run, prefix) in [("arms", ""), ("arms2", "b-")] {
        let dir = tmp.path().join("runs").join(run);
        let mut records = Vec::new();
        for i in 0..6 {
            for arm in ["off", "on"] {
                let mut correct = grade(arm, i);
                if run == "arms2" && arm == "off" && i == 1 {
                    correct = Some(true);
                }
                let r = rec(prefix, arm, i, correct);
                let observation = if r.task_key == "on-q3" {
                    "the capital is Zanzibar"
                } else {
                    "nothing of note"
                };
                write_trajectory(&dir, &r.task_key, observation);
                records.push(r);
            }
        }
        herd_report::write_results(&dir, &records, &[]).expect("write results");
    }
    tmp
}

fn app(tmp: &tempfile::TempDir) -> axum::Router {
    router(DashboardOptions {
        runs: tmp.path().join("runs"),
        coordinator: None,
        token: Some(TOKEN.into()),
    })
}

async fn send(app: &axum::Router, req: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let response = app.clone().oneshot(req).await.expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024 * 1024)
        .await
        .expect("body");
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String) {
    let req = Request::builder()
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .expect("request");
    let (status, _, body) = send(app, req).await;
    (status, body)
}

async fn get_json(app: &axum::Router, uri: &str) -> serde_json::Value {
    let (status, body) = get(app, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    serde_json::from_str(&body).expect("json")
}

/// Task keys of the table's rows, in order (each row links its trajectory once).
fn row_keys(body: &str, run: &str) -> Vec<String> {
    let marker = format!("href=\"/runs/{run}/tasks/");
    body.match_indices(&marker)
        .map(|(at, _)| {
            let rest = &body[at + marker.len()..];
            rest[..rest.find('"').expect("end of href")].to_string()
        })
        .collect()
}

#[tokio::test]
async fn filters_narrow_the_table_and_facets_count_the_rest() {
    let tmp = fixture();
    let app = app(&tmp);
    let (status, body) = get(&app, "/runs/arms/tasks").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(row_keys(&body, "arms").len(), 12, "{body}");
    assert!(
        body.contains("<strong id=\"task-count\">12</strong> of 12 tasks"),
        "{body}"
    );

    let (status, body) = get(&app, "/runs/arms/tasks?arm=on&correct=true").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        row_keys(&body, "arms"),
        ["on-q0", "on-q1", "on-q3", "on-q4"]
    );
    assert!(
        body.contains("<strong id=\"task-count\">4</strong> of 12 tasks match"),
        "{body}"
    );
    // The arm select counts correct answers per arm, the chosen one selected.
    assert!(
        body.contains("<option value=\"on\" selected>on (4)</option>"),
        "{body}"
    );
    assert!(
        body.contains("<option value=\"off\">off (2)</option>"),
        "{body}"
    );

    let (_, body) = get(
        &app,
        "/runs/arms/tasks?status=failed&error=llm&benchmark=math",
    )
    .await;
    assert_eq!(row_keys(&body, "arms"), ["off-q4"]);
    let (_, body) = get(&app, "/runs/arms/tasks?correct=none").await;
    assert_eq!(row_keys(&body, "arms"), ["off-q4"]);
    let (_, body) = get(&app, "/runs/arms/tasks?backbone=nope").await;
    assert!(row_keys(&body, "arms").is_empty());
    assert!(body.contains("No task matches."), "{body}");

    let (status, body) = get(&app, "/runs/arms/tasks?sort=nope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("sort=nope"), "{body}");
}

#[tokio::test]
async fn search_finds_text_only_in_a_trajectory() {
    let tmp = fixture();
    let app = app(&tmp);
    let (_, body) = get(&app, "/runs/arms/tasks?q=ZANZIBAR").await;
    assert_eq!(row_keys(&body, "arms"), ["on-q3"], "{body}");
    assert!(
        body.contains("<strong id=\"task-count\">1</strong> of 12 tasks"),
        "{body}"
    );
    // The search box keeps the query.
    assert!(body.contains("value=\"ZANZIBAR\""), "{body}");
    // Words are ANDed, and combine with filters.
    let (_, body) = get(&app, "/runs/arms/tasks?q=question+q3").await;
    assert_eq!(row_keys(&body, "arms"), ["off-q3", "on-q3"]);
    let (_, body) = get(&app, "/runs/arms/tasks?q=question+q3&arm=off").await;
    assert_eq!(row_keys(&body, "arms"), ["off-q3"]);
    let v = get_json(&app, "/api/runs/arms/tasks?q=zanzibar").await;
    assert_eq!(v["matched"], 1);
    assert_eq!(v["tasks"][0]["key"], "on-q3");
}

#[tokio::test]
async fn pages_sort_and_keep_their_parameters() {
    let tmp = fixture();
    let app = app(&tmp);
    let (_, body) = get(&app, "/runs/arms/tasks?sort=cost&dir=desc&per=5").await;
    assert_eq!(
        row_keys(&body, "arms"),
        ["on-q5", "off-q5", "on-q4", "off-q4", "on-q3"]
    );
    assert!(body.contains("page 1 of 3"), "{body}");
    assert!(
        body.contains(
            "href=\"/runs/arms/tasks?sort=cost&amp;dir=desc&amp;per=5&amp;page=2\" rel=\"next\""
        ),
        "{body}"
    );
    let (_, body) = get(&app, "/runs/arms/tasks?sort=cost&dir=desc&per=5&page=2").await;
    assert_eq!(
        row_keys(&body, "arms"),
        ["off-q3", "on-q2", "off-q2", "on-q1", "off-q1"]
    );
    assert!(
        body.contains("href=\"/runs/arms/tasks?sort=cost&amp;dir=desc&amp;per=5\" rel=\"prev\""),
        "{body}"
    );
    // The column head flips the order and goes back to the first page.
    assert!(
        body.contains("href=\"/runs/arms/tasks?sort=cost&amp;per=5\" title=\"sort by cost\""),
        "{body}"
    );
    let v = get_json(&app, "/api/runs/arms/tasks?sort=cost&dir=desc&per=5&page=3").await;
    assert_eq!(
        (
            v["page"].as_u64(),
            v["pages"].as_u64(),
            v["matched"].as_u64()
        ),
        (Some(3), Some(3), Some(12))
    );
    let keys: Vec<&str> = v["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|t| t["key"].as_str())
        .collect();
    assert_eq!(keys, ["on-q0", "off-q0"]);
    assert_eq!(v["sort"], "cost");
    assert_eq!(v["dir"], "desc");
    let arm_facet = v["facets"]
        .as_array()
        .expect("facets")
        .iter()
        .find(|f| f["facet"] == "arm")
        .expect("arm facet");
    assert_eq!(arm_facet["values"][0]["count"], 6);
}

#[tokio::test]
async fn arm_comparison_lists_the_flipped_items() {
    let tmp = fixture();
    let app = app(&tmp);
    let (status, body) = get(&app, "/runs/arms/compare?base=off&arms=on").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Wrong → right (2)"), "{body}");
    assert!(body.contains("Right → wrong (1)"), "{body}");
    for link in ["off-q1", "on-q1", "off-q3", "on-q3", "off-q2", "on-q2"] {
        assert!(
            body.contains(&format!("href=\"/runs/arms/tasks/{link}\"")),
            "{link} not linked: {body}"
        );
    }
    assert!(
        !body.contains("/tasks/on-q0\""),
        "both-right items are not listed: {body}"
    );

    let v = get_json(&app, "/api/runs/arms/compare?base=off&arms=on").await;
    let p = &v["pairs"][0];
    assert_eq!(p["base"], "off");
    assert_eq!(p["other"], "on");
    assert_eq!(p["counts"]["a_wrong_b_right"], 2);
    assert_eq!(p["counts"]["a_right_b_wrong"], 1);
    assert_eq!(p["counts"]["both_right"], 1);
    assert_eq!(p["counts"]["both_wrong"], 1);
    assert_eq!(p["unscored_pairs"], 1);
    assert_eq!(p["mcnemar_p"], 1.0);
    let items = |list: &str| -> Vec<String> {
        p[list]
            .as_array()
            .expect("list")
            .iter()
            .map(|f| {
                format!(
                    "{}:{}",
                    f["item_id"].as_str().unwrap_or(""),
                    f["other_key"].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    assert_eq!(items("fixed"), ["q1:on-q1", "q3:on-q3"]);
    assert_eq!(items("broken"), ["q2:on-q2"]);
    // Lists page.
    let v = get_json(&app, "/api/runs/arms/compare?base=off&per=1&page=2").await;
    assert_eq!(v["pages"], 2);
    assert_eq!(v["pairs"][0]["fixed"][0]["item_id"], "q3");
    assert!(
        v["pairs"][0]["broken"]
            .as_array()
            .expect("broken")
            .is_empty()
    );

    let (status, body) = get(&app, "/runs/arms/compare?base=nope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("no arm `nope`"), "{body}");
    // The run page offers the form.
    let (_, body) = get(&app, "/runs/arms").await;
    assert!(body.contains("action=\"/runs/arms/compare\""), "{body}");
}

#[tokio::test]
async fn run_comparison_pairs_the_same_arm_and_item() {
    let tmp = fixture();
    let app = app(&tmp);
    let (status, body) = get(&app, "/compare?base=arms&runs=arms2").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Wrong → right (1)"), "{body}");
    assert!(body.contains("Right → wrong (0)"), "{body}");
    assert!(body.contains("href=\"/runs/arms/tasks/off-q1\""), "{body}");
    assert!(
        body.contains("href=\"/runs/arms2/tasks/b-off-q1\""),
        "{body}"
    );
    let v = get_json(&app, "/api/compare?base=arms&runs=arms2,arms2").await;
    assert_eq!(v["pairs"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["pairs"][0]["counts"]["a_wrong_b_right"], 1);
    assert_eq!(v["pairs"][0]["counts"]["both_right"], 6);
    assert_eq!(v["pairs"][0]["only_base"], 0);
    let (status, _) = get(&app, "/compare?base=arms&runs=missing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(&app, "/compare?base=..%2Fx&runs=arms").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn model_output_in_an_answer_is_escaped() {
    let tmp = fixture();
    let app = app(&tmp);
    let (_, body) = get(&app, "/runs/arms/tasks?arm=off&benchmark=gaia").await;
    assert!(
        row_keys(&body, "arms").contains(&"off-q5".to_string()),
        "{body}"
    );
    assert!(!body.contains("<script"), "unescaped: {body}");
    assert!(
        body.contains("&lt;script&gt;alert('pwned')&lt;/script&gt;"),
        "{body}"
    );
}

#[tokio::test]
async fn downloads_are_attachments() {
    let tmp = fixture();
    let app = app(&tmp);
    let req = |uri: &str| {
        Request::builder()
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .expect("request")
    };
    let (status, headers, body) = send(&app, req("/runs/arms/results.parquet")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with("PAR1"), "not parquet");
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"arms-results.parquet\""
    );
    let on_disk = std::fs::metadata(tmp.path().join("runs/arms/results.parquet")).expect("stat");
    assert_eq!(
        headers[header::CONTENT_LENGTH],
        on_disk.len().to_string().as_str()
    );
    let (status, headers, body) = send(&app, req("/runs/arms/report.html")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with("<!DOCTYPE html>"), "{body}");
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"arms-report.html\""
    );
}

#[tokio::test]
async fn the_token_gate_refuses_strangers_and_admits_token_holders() {
    let tmp = fixture();
    let app = app(&tmp);
    let anon = |uri: &str| {
        Request::builder()
            .uri(uri)
            .body(Body::empty())
            .expect("request")
    };

    // Open paths.
    let (status, _, body) = send(&app, anon("/healthz")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
    let (status, _, body) = send(&app, anon("/login?next=%2Fruns%2Farms")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("name=\"next\" value=\"/runs/arms\""),
        "{body}"
    );

    // Pages redirect to the login form, API calls get 401 JSON.
    let (status, headers, _) = send(&app, anon("/runs/arms/tasks?q=x&page=2")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        headers[header::LOCATION],
        "/login?next=%2Fruns%2Farms%2Ftasks%3Fq%3Dx%26page%3D2"
    );
    let (status, headers, body) = send(&app, anon("/api/runs")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    assert!(serde_json::from_str::<serde_json::Value>(&body).expect("json")["error"].is_string());
    let wrong = Request::builder()
        .uri("/api/runs")
        .header(header::AUTHORIZATION, "Bearer not-the-token")
        .body(Body::empty())
        .expect("request");
    assert_eq!(send(&app, wrong).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(get(&app, "/api/runs").await.0, StatusCode::OK);

    // The login form: a wrong token shows the form again with 401.
    let login = |form: &str| {
        Request::builder()
            .method("POST")
            .uri("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.to_string()))
            .expect("request")
    };
    let (status, headers, body) = send(&app, login("token=guess&next=%2Fruns%2Farms")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.get(header::SET_COOKIE).is_none());
    assert!(body.contains("not this dashboard"), "{body}");
    assert!(body.contains("<form"), "{body}");

    // The right token sets a cookie (a digest, not the token) and returns to `next`.
    let (status, headers, _) =
        send(&app, login(&format!("token={TOKEN}&next=%2Fruns%2Farms"))).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/runs/arms");
    let cookie = headers[header::SET_COOKIE]
        .to_str()
        .expect("cookie")
        .to_string();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains(TOKEN), "{cookie}");
    let pair = cookie.split(';').next().expect("name=value").to_string();
    let with_cookie = |uri: &str, cookie: &str| {
        Request::builder()
            .uri(uri)
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .expect("request")
    };
    let (status, _, body) =
        send(&app, with_cookie("/runs/arms", &format!("other=1; {pair}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, _) = send(&app, with_cookie("/api/runs", &pair)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = send(&app, with_cookie("/runs/arms", "herd_dashboard=00ff")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // `next` never leaves the site.
    let (_, headers, _) = send(
        &app,
        login(&format!("token={TOKEN}&next=https%3A%2F%2Fevil.example%2F")),
    )
    .await;
    assert_eq!(headers[header::LOCATION], "/");
    let (_, headers, _) = send(
        &app,
        login(&format!("token={TOKEN}&next=%2F%2Fevil.example")),
    )
    .await;
    assert_eq!(headers[header::LOCATION], "/");
}
