//! The user tools against a local HTTP server (pages, files, a fake Wayback API and a fake
//! SearxNG), and how missing configuration keeps a tool out of the prompt.

mod agent_common;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::Query;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use base64::Engine;
use herd_worker::tools::{PAGE_CHARS, SearchKind, ToolEnv, ToolSettings, was_warned};
use serde_json::{Value, json};

fn long_page() -> String {
    let mut body = String::from(
        "<html><head><title>Long page</title><script>var hidden = 1;</script></head><body>",
    );
    for i in 0..600 {
        body.push_str(&format!(
            "<p>Paragraph {i} talks about topic {}.</p>",
            i % 7
        ));
    }
    body.push_str("<p>The secret number is 8675309.</p></body></html>");
    body
}

async fn serve() -> SocketAddr {
    let app = Router::new()
        .route("/long", get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], long_page()) }))
        .route("/file.bin", get(|| async { ([(header::CONTENT_TYPE, "application/octet-stream")], vec![0u8, 1, 2, 255, 254]) }))
        .route(
            "/report",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/pdf"), (header::CONTENT_DISPOSITION, "attachment; filename=\"annual report.pdf\"")],
                    b"%PDF-1.4 fake".to_vec(),
                )
            }),
        )
        .route("/missing", get(|| async { (axum::http::StatusCode::NOT_FOUND, "nope").into_response() }))
        .route(
            "/wayback/available",
            get(|Query(q): Query<std::collections::HashMap<String, String>>| async move {
                let url = q.get("url").cloned().unwrap_or_default();
                let ts = q.get("timestamp").cloned().unwrap_or_default();
                if url.contains("gone.example") {
                    return axum::Json(json!({"url": url, "archived_snapshots": {}}));
                }
                axum::Json(json!({
                    "url": url,
                    "archived_snapshots": {"closest": {
                        "status": "200", "available": true,
                        "url": format!("http://web.archive.org/web/{ts}120000/{url}"),
                        "timestamp": format!("{ts}120000")
                    }}
                }))
            }),
        )
        .route(
            "/search",
            get(|Query(q): Query<std::collections::HashMap<String, String>>| async move {
                let query = q.get("q").cloned().unwrap_or_default();
                assert_eq!(q.get("format").map(String::as_str), Some("json"));
                axum::Json(json!({"results": [
                    {"title": format!("About {query}"), "url": "https://a.example/1", "content": "first snippet"},
                    {"title": "Second", "url": "https://b.example/2", "content": "second snippet"}
                ]}))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn settings(addr: SocketAddr) -> ToolSettings {
    ToolSettings {
        search_kind: SearchKind::Searxng,
        search_url: Some(format!("http://{addr}")),
        wayback_url: format!("http://{addr}"),
        ..ToolSettings::default()
    }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

#[tokio::test]
async fn visit_page_pages_and_find_on_page_searches() {
    let addr = serve().await;
    let tools = ToolEnv::new(settings(addr)).unwrap().toolbox();
    let url = format!("http://{addr}/long");
    let p1 = tools
        .call("visit_page", &json!({"url": url}))
        .await
        .unwrap();
    let p1 = s(&p1);
    assert!(
        p1.starts_with(&format!("Address: {url}\nPage 1 of ")),
        "{}",
        &p1[..80]
    );
    assert!(p1.contains("Title: Long page"));
    assert!(p1.contains("Paragraph 0 talks about topic 0."));
    assert!(!p1.contains("var hidden"));
    assert!(!p1.contains("<p>"));
    let pages: usize = p1
        .split("Page 1 of ")
        .nth(1)
        .unwrap()
        .split('\n')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(pages >= 5, "{pages}");
    assert!(p1.chars().count() <= PAGE_CHARS + 200);
    let last = tools
        .call("visit_page", &json!({"url": url, "page": pages}))
        .await
        .unwrap();
    assert!(s(&last).contains("8675309"));
    assert!(!s(&last).contains("Paragraph 0 talks"));
    let err = tools
        .call("visit_page", &json!([url, pages + 1]))
        .await
        .unwrap_err();
    assert!(err.contains("has only"), "{err}");

    let found = tools
        .call("find_on_page", &json!({"text": "SECRET NUMBER"}))
        .await
        .unwrap();
    assert!(
        s(&found).contains(&format!("page {pages}")),
        "{}",
        s(&found)
    );
    assert!(s(&found).contains("8675309"));
    let none = tools
        .call("find_on_page", &json!({"text": "not there at all"}))
        .await
        .unwrap();
    assert!(s(&none).contains("was not found"));

    let missing = tools
        .call(
            "visit_page",
            &json!({"url": format!("http://{addr}/missing")}),
        )
        .await
        .unwrap_err();
    assert!(missing.contains("404"), "{missing}");
    // A fresh task's toolbox has its own browser.
    let other = ToolEnv::new(settings(addr)).unwrap().toolbox();
    assert!(
        other
            .call("find_on_page", &json!({"text": "x"}))
            .await
            .unwrap_err()
            .contains("no page is open")
    );
}

#[tokio::test]
async fn download_returns_the_bytes_for_the_kernel_to_save() {
    let addr = serve().await;
    let tools = ToolEnv::new(settings(addr)).unwrap().toolbox();
    let r = tools
        .call(
            "download_file",
            &json!({"url": format!("http://{addr}/file.bin")}),
        )
        .await
        .unwrap();
    assert_eq!(r["name"], "file.bin");
    assert_eq!(r["bytes"], 5);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s(&r["base64"]))
        .unwrap();
    assert_eq!(bytes, vec![0u8, 1, 2, 255, 254]);
    let rec = tools.summarise("download_file", &r);
    assert!(s(&rec["base64"]).contains("not recorded"));
    let r = tools
        .call(
            "download_file",
            &json!({"url": format!("http://{addr}/report")}),
        )
        .await
        .unwrap();
    assert_eq!(r["name"], "annual_report.pdf");
    let wrapper = tools.python_wrappers().join("\n");
    assert!(wrapper.contains("def download_file(url: str) -> str:"));
    assert!(wrapper.contains("b64decode"));
}

#[tokio::test]
async fn archived_url_lookup_uses_the_wayback_api() {
    let addr = serve().await;
    let tools = ToolEnv::new(settings(addr)).unwrap().toolbox();
    let r = tools
        .call(
            "find_archived_url",
            &json!({"url": "example.com/page", "date": "2019-03-15"}),
        )
        .await
        .unwrap();
    assert!(
        s(&r).contains("http://web.archive.org/web/20190315120000/example.com/page"),
        "{}",
        s(&r)
    );
    let r = tools
        .call("find_archived_url", &json!(["gone.example", "20200101"]))
        .await
        .unwrap();
    assert!(s(&r).contains("No archived copy"));
    let e = tools
        .call("find_archived_url", &json!(["x.org", "last spring"]))
        .await
        .unwrap_err();
    assert!(e.contains("not a date"));
}

#[tokio::test]
async fn web_search_uses_the_configured_searxng() {
    let addr = serve().await;
    let tools = ToolEnv::new(settings(addr)).unwrap().toolbox();
    let r = tools
        .call("web_search", &json!({"query": "rust async"}))
        .await
        .unwrap();
    assert!(
        s(&r).contains("1. About rust async\n   https://a.example/1\n   first snippet"),
        "{}",
        s(&r)
    );
    assert!(
        tools
            .prompt_lines()
            .iter()
            .any(|l| l.starts_with("- web_search(query: str) -> str:"))
    );
}

#[tokio::test]
async fn a_missing_search_key_leaves_web_search_out_with_one_warning() {
    let cfg = ToolSettings {
        search_kind: SearchKind::Brave,
        search_api_key: None,
        ..ToolSettings::default()
    };
    let env = ToolEnv::new(cfg.clone()).unwrap();
    let tools = env.toolbox();
    assert!(!tools.names().contains(&"web_search"));
    assert!(
        !tools
            .prompt_lines()
            .iter()
            .any(|l| l.contains("web_search"))
    );
    assert!(
        !tools
            .python_wrappers()
            .iter()
            .any(|w| w.contains("def web_search"))
    );
    assert!(tools.names().contains(&"visit_page"));
    assert!(
        tools
            .prompt_lines()
            .iter()
            .any(|l| l.starts_with("- inspect_file_as_text(path: str)"))
    );
    assert!(
        !tools.names().contains(&"visual_qa"),
        "vision is not configured either"
    );
    assert!(was_warned("web_search"));
    // Building again does not crash and keeps the tool out.
    let again = ToolEnv::new(cfg).unwrap().toolbox();
    assert!(!again.names().contains(&"web_search"));
    // A Brave key enables it.
    let keyed = ToolSettings {
        search_kind: SearchKind::Brave,
        search_api_key: Some("k".into()),
        ..ToolSettings::default()
    };
    assert!(
        ToolEnv::new(keyed)
            .unwrap()
            .toolbox()
            .names()
            .contains(&"web_search")
    );
}

#[tokio::test]
async fn the_agent_prompt_lists_only_configured_tools() {
    use agent_common::*;
    use herd_worker::agent::run_task;
    use std::sync::Arc;
    let tools = Arc::new(ToolEnv::new(ToolSettings::default()).unwrap().toolbox());
    let model = ScriptedModel::new(vec![step("done", "submit_final_answer(1)")]);
    let session = ScriptedSession::new(vec![("submit_final_answer(1)", submit("1"))]);
    let ran = session.ran.clone();
    let mut d = deps(model, session);
    d.tools = tools.clone();
    let out = run_task(&spec(), d).await;
    let p = &out.trajectory.system_prompt;
    assert!(p.contains("- visit_page(url: str, page: int = 1) -> str:"));
    assert!(p.contains("- inspect_file_as_text(path: str) -> str:"));
    assert!(p.contains("- get_relevant_tools(query: str, k: int = 10) -> str:"));
    assert!(!p.contains("web_search"));
    assert!(ran.lock()[0].contains("def visit_page(url: str, page: int = 1) -> str:"));
    // An arm without user actions gets none of them.
    let mut s = spec();
    s.arm.user_actions = false;
    let mut d = deps(
        ScriptedModel::new(vec![step("done", "submit_final_answer(1)")]),
        ScriptedSession::new(vec![("submit_final_answer(1)", submit("1"))]),
    );
    d.tools = tools;
    let out = run_task(&s, d).await;
    assert!(!out.trajectory.system_prompt.contains("visit_page"));
}

/// A vision server that checks the image arrives as a data URL and reports usage.
async fn serve_vision() -> SocketAddr {
    let app = Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(|axum::Json(body): axum::Json<Value>| async move {
            let url = body
                .pointer("/messages/0/content/1/image_url/url")
                .and_then(Value::as_str)
                .unwrap_or("");
            assert!(url.starts_with("data:image/png;base64,"), "{url}");
            axum::Json(json!({
                "choices": [{"message": {"role": "assistant", "content": "a red square"}}],
                "usage": {"prompt_tokens": 1200, "completion_tokens": 5, "total_tokens": 1205}
            }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn vision_task(
    addr: SocketAddr,
    max_cost_usd: Option<f64>,
) -> (herd_core::task::TaskSpec, herd_worker::agent::AgentDeps) {
    use agent_common::*;
    use herd_core::kernel::CellOutcome;
    let tools = ToolEnv::new(ToolSettings {
        vision_base_url: Some(format!("http://{addr}/v1")),
        vision_model: Some("vis-1".into()),
        vision_prompt_per_mtok: 2.0,
        vision_completion_per_mtok: 10.0,
        ..ToolSettings::default()
    })
    .unwrap()
    .toolbox();
    let image = base64::engine::general_purpose::STANDARD.encode([137u8, 80, 78, 71, 1, 2, 3]);
    let look = Cell {
        host_calls: vec![(
            "__herd_host__".into(),
            json!({"args": ["visual_qa", {"image_base64": image, "mime": "image/png", "question": "What colour?"}], "kwargs": {}}),
        )],
        outcome: CellOutcome {
            output: "a red square".into(),
            called: vec!["visual_qa".into()],
            ..Default::default()
        },
    };
    let model = ScriptedModel::new(vec![step("look", "look()"), step("done", "finish()")]);
    let session = ScriptedSession::new(vec![("look()", look), ("finish()", submit("red"))]);
    let mut d = deps(model, session);
    d.tools = std::sync::Arc::new(tools);
    let mut spec = spec();
    spec.limits.max_cost_usd = max_cost_usd;
    (spec, d)
}

#[tokio::test]
async fn visual_qa_calls_count_in_the_task_totals_and_budgets() {
    use herd_core::trajectory::CallPurpose;
    let addr = serve_vision().await;
    let (spec, d) = vision_task(addr, None);
    let out = herd_worker::agent::run_task(&spec, d).await;
    assert_eq!(out.answer.as_deref(), Some("red"), "{:?}", out.error);
    // Two step calls (100 + 20 tokens, $0.001 each) and one vision call (1200 + 5 tokens at
    // $2 / $10 per million).
    let m = &out.metrics;
    assert_eq!(m.llm_calls, 3);
    assert_eq!(m.prompt_tokens, 2 * 100 + 1200);
    assert_eq!(m.completion_tokens, 2 * 20 + 5);
    let vision_cost = (1200.0 * 2.0 + 5.0 * 10.0) / 1e6;
    assert!(
        (m.cost_usd - (0.002 + vision_cost)).abs() < 1e-12,
        "{}",
        m.cost_usd
    );
    let calls: Vec<_> = out
        .trajectory
        .llm_calls
        .iter()
        .filter(|c| c.purpose == CallPurpose::Vision)
        .collect();
    assert_eq!(calls.len(), 1);
    let v = calls[0];
    assert_eq!((v.step, v.prompt_tokens, v.completion_tokens), (1, 1200, 5));
    assert_eq!(v.reply.as_deref(), Some("a red square"));
    assert!(v.messages[0].content.contains("What colour?"));
    assert!(
        !v.messages[0].content.contains("iVBORw") && v.messages[0].content.contains("image/png"),
        "the image itself is never recorded: {}",
        v.messages[0].content
    );

    // The vision call's cost counts towards the cost budget: $0.001 + $0.00245 > $0.003.
    let (spec, d) = vision_task(addr, Some(0.003));
    let out = herd_worker::agent::run_task(&spec, d).await;
    assert_eq!(out.end, herd_core::outcome::EndReason::CostBudget);
    assert_eq!(out.metrics.steps, 1);
}
