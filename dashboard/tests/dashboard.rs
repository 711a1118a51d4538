//! End-to-end tests of the dashboard's routes over real run directories written with
//! `herd_report::write_results`, plus a fake coordinator for the live-sweeps section.

use std::io::Write as _;
use std::path::Path;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use herd_core::ResultRecord;
use herd_core::trajectory::{CallPurpose, LlmCall, Message, Step, Trajectory};
use herd_dashboard::{DashboardOptions, router, serve};
use tower::ServiceExt as _;

const EVIL: &str = "<script>alert('pwned')</script>";

fn record(key: &str, item: &str, status: &str, correct: Option<bool>, cost: f64) -> ResultRecord {
    ResultRecord {
        sweep: "sweep-a".into(),
        task_key: key.into(),
        benchmark: "gaia".into(),
        split: "validation".into(),
        item_id: item.into(),
        backbone: "qwen".into(),
        arm: "online".into(),
        status: status.into(),
        correct,
        steps: 3,
        cost_usd: cost,
        answer: Some("42".into()),
        ..Default::default()
    }
}

fn write_trajectory(dir: &Path, key: &str, json: &[u8]) {
    let tdir = dir.join("trajectories");
    std::fs::create_dir_all(&tdir).expect("mkdir trajectories");
    let file =
        std::fs::File::create(tdir.join(format!("{key}.json.gz"))).expect("create trajectory");
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    gz.write_all(json).expect("write trajectory");
    gz.finish().expect("finish trajectory");
}

/// `root/runs/{sweep-a,sweep-b}` plus `root/outside` (a run outside the runs directory).
fn fixture() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = tmp.path().join("runs/sweep-a");
    let records = vec![
        record("k0", "item-zero", "scored", Some(true), 0.25),
        record("k1", "item-one", "scored", Some(false), 0.5),
        record("k2", "item-two", "failed", None, 0.25),
    ];
    herd_report::write_results(&a, &records, &[]).expect("write sweep-a");
    let trajectory = Trajectory {
        task_key: "k0".into(),
        attempt: 1,
        system_prompt: "You are an agent.".into(),
        task_prompt: format!("Solve {EVIL}"),
        steps: vec![Step {
            index: 0,
            thought: format!("thinking {EVIL}"),
            code: "print(\"<b>bold</b>\" if 1 < 2 else '')".into(),
            observation: format!("out {EVIL}"),
            parse_error: None,
            cell_error: false,
            exec_ms: 12,
            host_calls: vec![],
            defined: vec!["helper_fn".into()],
            called: vec![],
        }],
        llm_calls: vec![LlmCall {
            purpose: CallPurpose::Step,
            step: 0,
            messages: vec![Message {
                role: "user".into(),
                content: format!("hi {EVIL}"),
            }],
            reply: Some(format!("reply {EVIL}")),
            error: None,
            prompt_tokens: 1234,
            completion_tokens: 56,
            cost_usd: 0.0042,
            cached: false,
            latency_ms: 800,
            retries: 0,
        }],
        retrieved: vec![],
        end_reason: "submitted".into(),
        notes: vec![],
    };
    write_trajectory(&a, "k0", &serde_json::to_vec(&trajectory).expect("json"));
    herd_report::write_results(
        &tmp.path().join("runs/sweep-b"),
        &[record("b0", "item-b", "scored", Some(true), 1.0)],
        &[],
    )
    .expect("write sweep-b");
    herd_report::write_results(
        &tmp.path().join("outside"),
        &[record("x", "secret-item", "scored", None, 0.0)],
        &[],
    )
    .expect("write outside");
    write_trajectory(
        &tmp.path().join("outside"),
        "x",
        b"{\"task_key\":\"secret-trajectory\"}",
    );
    tmp
}

fn opts(tmp: &tempfile::TempDir, coordinator: Option<String>) -> DashboardOptions {
    DashboardOptions {
        runs: tmp.path().join("runs"),
        coordinator,
        token: Some(TOKEN.into()),
    }
}

const TOKEN: &str = "secret-token";

/// Sends `req`; returns the status, headers and body (lossy UTF-8).
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

/// GET with the dashboard's token as a bearer header.
async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String) {
    let req = Request::builder()
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .expect("request");
    let (status, _, body) = send(app, req).await;
    (status, body)
}

/// GET with no credentials, or with the given header.
async fn get_as(
    app: &axum::Router,
    uri: &str,
    credential: Option<(header::HeaderName, &str)>,
) -> (StatusCode, HeaderMap, String) {
    let mut req = Request::builder().uri(uri);
    if let Some((name, value)) = credential {
        req = req.header(name, value);
    }
    send(app, req.body(Body::empty()).expect("request")).await
}

#[tokio::test]
async fn index_lists_runs_with_counts_and_accuracy() {
    let tmp = fixture();
    let app = router(opts(&tmp, None));
    let (status, body) = get(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("href=\"/runs/sweep-a\""), "{body}");
    assert!(body.contains("href=\"/runs/sweep-b\""), "{body}");
    assert!(body.contains("50.0% (1/2)"), "{body}");
    assert!(body.contains("$1.00"), "{body}");
    assert!(!body.contains("outside"), "{body}");
    // No coordinator: no sweeps section and no refresh script.
    assert!(!body.contains("id=\"sweeps\""), "{body}");
    assert!(!body.contains("<script>"), "{body}");
}

#[tokio::test]
async fn a_single_run_directory_is_served_as_one_run() {
    let tmp = fixture();
    let app = router(DashboardOptions {
        runs: tmp.path().join("runs/sweep-b"),
        coordinator: None,
        token: None,
    });
    let (_, body) = get(&app, "/api/runs").await;
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["runs"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["runs"][0]["name"], "sweep-b");
    let (status, body) = get(&app, "/runs/sweep-b/tasks").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("item-b"), "{body}");
}

#[tokio::test]
async fn api_runs_has_the_right_counts() {
    let tmp = fixture();
    let app = router(opts(&tmp, None));
    let (status, body) = get(&app, "/api/runs").await;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    let runs = v["runs"].as_array().expect("runs array");
    assert_eq!(runs.len(), 2, "{v}");
    let a = &runs[0];
    assert_eq!(a["name"], "sweep-a");
    assert_eq!(a["tasks"], 3);
    assert_eq!(a["scored"], 2);
    assert_eq!(a["correct"], 1);
    assert_eq!(a["unscored"], 1);
    assert_eq!(a["accuracy"], 0.5);
    assert!(
        (a["cost_usd"].as_f64().expect("cost") - 1.0).abs() < 1e-9,
        "{a}"
    );
    assert_eq!(
        a["statuses"],
        serde_json::json!([["failed", 1], ["scored", 2]])
    );
    assert!(a["error"].is_null());
    assert_eq!(runs[1]["tasks"], 1);

    let (status, body) = get(&app, "/api/runs/sweep-a").await;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["summary"]["tasks"], 3, "{v}");
    assert_eq!(v["report"]["header"]["tasks"], 3, "{v}");
    assert_eq!(v["report"]["accuracy"][0]["correct"], 1, "{v}");
    assert_eq!(v["tasks_url"], "/api/runs/sweep-a/tasks");
    let (status, body) = get(&app, "/api/runs/sweep-a/tasks").await;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        (v["total"].as_u64(), v["matched"].as_u64()),
        (Some(3), Some(3)),
        "{v}"
    );
    let with_trajectory: Vec<&str> = v["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter(|t| t["has_trajectory"] == true)
        .filter_map(|t| t["key"].as_str())
        .collect();
    assert_eq!(with_trajectory, ["k0"]);
    let (status, body) = get(&app, "/api/runs/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("no run named `nope`"), "{body}");
}

#[tokio::test]
async fn run_page_shows_the_summary_and_links_tasks_and_downloads() {
    let tmp = fixture();
    let app = router(opts(&tmp, None));
    let (status, body) = get(&app, "/runs/sweep-a").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains("report unavailable"), "{body}");
    for part in [
        "Wilson 95%",
        "Paired comparisons",
        "Cost, tokens, steps and time",
        "Failures by kind",
        // Reuse of actions stored by earlier tasks, apart from the task's own functions.
        "calls to stored actions",
        "tasks reusing a stored action",
        "<svg",
        "href=\"/runs/sweep-a/tasks\"",
        "href=\"/runs/sweep-a/report.html\"",
        "href=\"/runs/sweep-a/results.parquet\"",
        // The form comparing this run with the others.
        "<option value=\"sweep-b\">",
    ] {
        assert!(body.contains(part), "{part} missing: {body}");
    }
    let (status, tasks) = get(&app, "/runs/sweep-a/tasks").await;
    assert_eq!(status, StatusCode::OK);
    for item in ["item-zero", "item-one", "item-two"] {
        assert!(tasks.contains(item), "{item} missing: {tasks}");
    }
    assert!(tasks.contains("href=\"/runs/sweep-a/tasks/k0\""), "{tasks}");
    // Only k0 has a trajectory.
    assert!(!tasks.contains("/tasks/k1\""), "{tasks}");
    assert!(tasks.contains("3</strong> of 3 tasks"), "{tasks}");
    let (status, report) = get(&app, "/runs/sweep-a/report").await;
    assert_eq!(status, StatusCode::OK);
    assert!(report.starts_with("<!DOCTYPE html>"), "{report}");
}

#[tokio::test]
async fn trajectory_page_escapes_model_output() {
    let tmp = fixture();
    let app = router(opts(&tmp, None));
    let (status, body) = get(&app, "/runs/sweep-a/tasks/k0").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains("<script"), "unescaped script: {body}");
    assert!(!body.contains("<b>bold</b>"), "{body}");
    assert!(
        body.contains("thinking &lt;script&gt;alert('pwned')&lt;/script&gt;"),
        "{body}"
    );
    assert!(body.contains("out &lt;script&gt;"), "{body}");
    assert!(body.contains("reply &lt;script&gt;"), "{body}");
    assert!(body.contains("if 1 &lt; 2"), "{body}");
    assert!(body.contains("1234"), "prompt tokens missing: {body}");
    assert!(body.contains("$0.0042"), "call cost missing: {body}");
    assert!(body.contains("item-zero"), "result row missing: {body}");
    let (status, _) = get(&app, "/runs/sweep-a/tasks/k1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn path_traversal_is_refused() {
    let tmp = fixture();
    let app = router(opts(&tmp, None));
    for uri in [
        "/runs/..%2f..",
        "/runs/..%2foutside",
        "/runs/%2e%2e",
        "/runs/..",
        "/runs/../outside",
        "/runs/sweep-a/tasks/..%2f..%2foutside%2ftrajectories%2fx",
        "/runs/..%2foutside/tasks/x",
        "/runs/sweep-a/tasks/%2e%2e",
        "/runs/sweep-a%00/tasks/k0",
        "/api/runs/..%2foutside",
        "/runs/%2fetc%2fpasswd",
    ] {
        let (status, body) = get(&app, uri).await;
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::BAD_REQUEST,
            "{uri} answered {status}: {body}"
        );
        assert!(!body.contains("secret"), "{uri} leaked: {body}");
    }
}

#[tokio::test]
async fn health_and_unknown_pages() {
    let tmp = fixture();
    let app = router(opts(&tmp, None));
    assert_eq!(
        get(&app, "/healthz").await,
        (StatusCode::OK, "ok".to_string())
    );
    assert_eq!(get(&app, "/nope").await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, "/runs/nope").await.0, StatusCode::NOT_FOUND);
    let (_, body) = get(&app, "/api/sweeps").await;
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert!(v["coordinator"].is_null() && v["error"].is_null(), "{v}");
}

#[tokio::test]
async fn an_unreachable_coordinator_fails_soft() {
    let tmp = fixture();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let app = router(opts(&tmp, Some(format!("http://127.0.0.1:{port}"))));
    let (status, body) = get(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("coordinator unreachable: "), "{body}");
    assert!(body.contains("sweep-a"), "runs still listed: {body}");
    assert!(body.contains("setInterval"), "no refresh script: {body}");
    let (status, body) = get(&app, "/api/sweeps").await;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert!(
        v["error"]
            .as_str()
            .expect("error")
            .starts_with("coordinator unreachable: "),
        "{v}"
    );
}

mod fake_coordinator {
    //! A control service that answers `ListSweeps` with fixed sweeps and checks the token.
    use herd_proto::v1::control_service_server::{ControlService, ControlServiceServer};
    use herd_proto::v1::*;
    use tonic::{Request, Response, Status};

    pub struct Fake;

    #[tonic::async_trait]
    impl ControlService for Fake {
        async fn submit_sweep(
            &self,
            _: Request<SubmitSweepRequest>,
        ) -> Result<Response<SubmitSweepResponse>, Status> {
            Err(Status::unimplemented("fake"))
        }
        async fn get_sweep(
            &self,
            _: Request<GetSweepRequest>,
        ) -> Result<Response<SweepStatus>, Status> {
            Err(Status::unimplemented("fake"))
        }
        async fn list_sweeps(
            &self,
            req: Request<ListSweepsRequest>,
        ) -> Result<Response<ListSweepsResponse>, Status> {
            let auth = req
                .metadata()
                .get("authorization")
                .and_then(|v| v.to_str().ok());
            if auth != Some("Bearer secret-token") {
                return Err(Status::unauthenticated("bad token"));
            }
            Ok(Response::new(ListSweepsResponse {
                sweeps: vec![SweepStatus {
                    sweep_id: "live-1234abcd".into(),
                    name: "<i>live</i>".into(),
                    state: "running".into(),
                    total: 10,
                    done: 4,
                    running: 2,
                    failed: 1,
                    queued: 4,
                    scored: 3,
                    correct: 2,
                    cost_usd: 1.5,
                    eta_secs: 125,
                    groups: vec![GroupStatus {
                        benchmark: "gaia".into(),
                        backbone: "qwen".into(),
                        arm: "online".into(),
                        total: 10,
                        done: 4,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            }))
        }
        type WatchSweepStream = tokio_stream::Empty<Result<SweepEvent, Status>>;
        async fn watch_sweep(
            &self,
            _: Request<WatchSweepRequest>,
        ) -> Result<Response<Self::WatchSweepStream>, Status> {
            Err(Status::unimplemented("fake"))
        }
        async fn cancel_sweep(
            &self,
            _: Request<CancelSweepRequest>,
        ) -> Result<Response<CancelSweepResponse>, Status> {
            Err(Status::unimplemented("fake"))
        }
    }

    /// Serves the fake on a free local port; returns its URL.
    pub async fn start() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(ControlServiceServer::new(Fake))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        format!("http://{addr}")
    }
}

#[tokio::test]
async fn live_sweeps_come_from_the_coordinator() {
    let tmp = fixture();
    let url = fake_coordinator::start().await;
    let app = router(opts(&tmp, Some(url)));
    let (status, body) = get(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains("coordinator unreachable"), "{body}");
    assert!(body.contains("live-1234abcd"), "{body}");
    assert!(
        body.contains("&lt;i&gt;live&lt;/i&gt;"),
        "sweep name not escaped: {body}"
    );
    assert!(body.contains("4/10"), "{body}");
    assert!(body.contains("66.7% (2/3)"), "{body}");
    assert!(body.contains("2m 05s"), "{body}");
    let (_, body) = get(&app, "/api/sweeps").await;
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert!(v["error"].is_null(), "{v}");
    assert_eq!(v["sweeps"][0]["done"], 4);
    assert_eq!(v["sweeps"][0]["groups"][0]["arm"], "online");

    // A wrong token is reported, not fatal.
    let mut o = opts(&tmp, v["coordinator"].as_str().map(str::to_string));
    o.token = Some("wrong".into());
    let (_, _, body) = get_as(
        &router(o),
        "/api/sweeps",
        Some((header::AUTHORIZATION, "Bearer wrong")),
    )
    .await;
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert!(
        v["error"]
            .as_str()
            .expect("error")
            .contains("Unauthenticated"),
        "{v}"
    );
}

#[tokio::test]
async fn serve_answers_on_a_real_socket_and_shuts_down() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let tmp = fixture();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, opts(&tmp, None), async move {
        let _ = stopped.await;
    }));
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("send");
    let mut reply = String::new();
    conn.read_to_string(&mut reply).await.expect("read");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.ends_with("ok"), "{reply}");
    stop.send(()).expect("signal shutdown");
    let result = tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("server stops")
        .expect("join");
    assert!(result.is_ok(), "{result:?}");
}
