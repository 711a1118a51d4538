//! Browser tests of the web dashboard: headless Chromium driven over WebDriver.
//!
//! [`Browser::start`] runs Debian's `chromedriver` on a free loopback port (installed with
//! `scripts/setup-browser.sh`; a missing one fails the test, naming the script), opens a
//! headless Chromium session with a fresh profile and gives blocking helpers over
//! [fantoccini]: navigate, wait for an element or a text, fill and submit forms, and take
//! screenshots into the artifacts directory ([`artifacts_dir`]). When a test panics, the
//! browser's drop saves a screenshot and the page's HTML there too. Everything talks to
//! loopback only: the dashboard, chromedriver, and a browser whose host names resolve to
//! nothing.
//!
//! The browser console is read from chromedriver ([`Browser::console`],
//! [`Browser::assert_no_js_errors`]) and saved beside a failure's screenshot.
//!
//! [`Dashboard`] starts `herd dashboard` over a runs directory; [`fixture_record`],
//! [`write_run`] and [`trajectory_with`] write the run directories it shows.
//! [`RunDashboard`] runs a whole sweep with `herd run --dashboard`, for its live pages.

use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use herd_core::ResultRecord;
use herd_core::trajectory::{Step, Trajectory};

use crate::{Proc, free_port, spawn_herd, workspace_root};

/// The fix named when the browser or its driver is missing.
const SETUP: &str = "scripts/setup-browser.sh";

/// The browser window's size: screenshots have this size.
pub const WINDOW: (u32, u32) = (1280, 900);

/// Where screenshots and failure dumps go: `$HERD_TEST_ARTIFACTS` (relative to the
/// workspace root) if set, else `<target dir>/test-artifacts/browser/`, the target dir being
/// the one this test executable was built in (`$CARGO_TARGET_DIR` or `target`).
pub fn artifacts_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HERD_TEST_ARTIFACTS").filter(|d| !d.is_empty()) {
        return workspace_root().join(dir);
    }
    // target/<profile>/deps/<test executable> → target
    let target = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("test-artifacts/browser")
}

/// `name` as found on `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A file-name-safe version of `s`.
fn file_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The last `n` lines of a file, for failure messages.
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A headless Chromium session through a chromedriver of its own; both end on drop (after
/// a failure screenshot if the test is panicking).
pub struct Browser {
    client: Option<Client>,
    rt: tokio::runtime::Runtime,
    driver: Child,
    driver_log: PathBuf,
    /// chromedriver's loopback port (for the console log, which WebDriver lacks).
    driver_port: u16,
    /// Every console entry read so far (written to `console.log` on a failure).
    console_seen: std::cell::RefCell<Vec<ConsoleEntry>>,
    /// This test's artifacts: `artifacts_dir()/<test>/`.
    dir: PathBuf,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session for the test `test` (the name of
    /// its artifacts directory). Panics, naming `scripts/setup-browser.sh`, when chromedriver
    /// or Chromium is not installed.
    pub fn start(test: &str) -> Browser {
        let driver_bin = on_path("chromedriver").unwrap_or_else(|| {
            panic!(
                "chromedriver is not on PATH: the browser tests drive headless Chromium through \
                 it. Install both with {SETUP} (Debian's chromium and chromium-driver)."
            )
        });
        let chromium = on_path("chromium")
            .or_else(|| on_path("chromium-browser"))
            .unwrap_or_else(|| {
                panic!("chromium is not on PATH: install it (and chromedriver) with {SETUP}")
            });
        // A fresh directory: no screenshot or failure dump of an earlier run stays beside
        // this run's.
        let dir = artifacts_dir().join(file_name(test));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let profile = tempfile::Builder::new()
            .prefix("herd-chromium-")
            .tempdir()
            .expect("a temporary browser profile");
        let driver_log = dir.join("chromedriver.log");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");

        // A port picked by binding :0 can be taken again before chromedriver binds it: try a
        // few times.
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port();
            let mut driver = match Command::new(&driver_bin)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", driver_log.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            {
                Ok(c) => c,
                Err(e) => panic!("cannot start {}: {e} (see {SETUP})", driver_bin.display()),
            };
            match Self::await_driver(&mut driver, port) {
                Ok(()) => {}
                Err(e) => {
                    let _ = driver.kill();
                    let _ = driver.wait();
                    last_error = e;
                    continue;
                }
            }
            let caps = capabilities(&chromium, profile.path());
            let client = rt.block_on(async {
                tokio::time::timeout(
                    Duration::from_secs(30),
                    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                        .capabilities(caps)
                        .connect(&format!("http://127.0.0.1:{port}")),
                )
                .await
            });
            let client = match client {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    let _ = driver.kill();
                    let _ = driver.wait();
                    panic!(
                        "chromedriver could not start Chromium ({}): {e}\nchromedriver log \
                         ({}):\n{}",
                        chromium.display(),
                        driver_log.display(),
                        tail(&driver_log, 30)
                    );
                }
                Err(_) => {
                    let _ = driver.kill();
                    let _ = driver.wait();
                    panic!(
                        "Chromium did not start within 30 s\nchromedriver log ({}):\n{}",
                        driver_log.display(),
                        tail(&driver_log, 30)
                    );
                }
            };
            let browser = Browser {
                client: Some(client),
                rt,
                driver,
                driver_log,
                driver_port: port,
                console_seen: Default::default(),
                dir,
                _profile: profile,
            };
            browser.block_on(async {
                let c = browser.client();
                c.update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
                    Some(Duration::from_secs(10)),
                    Some(Duration::from_secs(20)),
                    Some(Duration::ZERO),
                ))
                .await
                .expect("set the WebDriver timeouts");
            });
            return browser;
        }
        panic!(
            "chromedriver did not start: {last_error}\nits log ({}):\n{}",
            driver_log.display(),
            tail(&driver_log, 30)
        );
    }

    /// Waits for a chromedriver to accept connections on `port`.
    fn await_driver(driver: &mut Child, port: u16) -> Result<(), String> {
        let end = Instant::now() + Duration::from_secs(15);
        while Instant::now() < end {
            if let Ok(Some(status)) = driver.try_wait() {
                return Err(format!("chromedriver exited at start ({status})"));
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("chromedriver did not listen within 15 s".into())
    }

    /// The WebDriver client, for what the helpers do not cover (run it with [`block_on`]).
    ///
    /// [`block_on`]: Browser::block_on
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("browser session")
    }

    /// Runs a future on the browser's runtime.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// This test's artifacts directory.
    pub fn artifacts(&self) -> &Path {
        &self.dir
    }

    /// Opens `url` (waiting for the page to load).
    pub fn goto(&self, url: &str) {
        self.block_on(self.client().goto(url))
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.block_on(self.client().current_url())
            .map(|u| u.to_string())
            .unwrap_or_else(|e| panic!("cannot read the current URL: {e}"))
    }

    /// The current URL's path and query (`/runs/x/tasks?arm=a`).
    pub fn path_and_query(&self) -> String {
        let url = self
            .block_on(self.client().current_url())
            .unwrap_or_else(|e| panic!("cannot read the current URL: {e}"));
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// The page's HTML as the browser has it now.
    pub fn source(&self) -> String {
        self.block_on(self.client().source()).unwrap_or_default()
    }

    /// Polls `f` (every 100 ms) until it returns `Some`, or panics after `timeout` naming
    /// `what` and the current URL.
    pub fn poll<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut f: impl FnMut(&Browser) -> Option<T>,
    ) -> T {
        let end = Instant::now() + timeout;
        loop {
            if let Some(v) = f(self) {
                return v;
            }
            if Instant::now() >= end {
                let url = self
                    .block_on(self.client().current_url())
                    .map(|u| u.to_string())
                    .unwrap_or_else(|e| format!("(unknown: {e})"));
                panic!("timed out after {timeout:?} waiting for {what} (page: {url})");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The elements matching `css` now (none if the page is changing).
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        self.block_on(self.client().find_all(Locator::Css(css)))
            .unwrap_or_default()
    }

    /// How many elements match `css` now.
    pub fn count(&self, css: &str) -> usize {
        self.find_all(css).len()
    }

    /// Waits until an element matches `css`; returns the first.
    pub fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        self.poll(&format!("an element matching `{css}`"), timeout, |b| {
            b.block_on(b.client().find(Locator::Css(css))).ok()
        })
    }

    /// The visible text of the first element matching `css` (waiting up to 10 s for it).
    pub fn text(&self, css: &str) -> String {
        self.poll(
            &format!("the text of `{css}`"),
            Duration::from_secs(10),
            |b| {
                b.block_on(async {
                    let e = b.client().find(Locator::Css(css)).await.ok()?;
                    e.text().await.ok()
                })
            },
        )
    }

    /// Waits until the first element matching `css` shows text containing `text`; returns
    /// that element's text.
    pub fn wait_text_contains(&self, css: &str, text: &str, timeout: Duration) -> String {
        let mut last = None;
        let found = {
            let end = Instant::now() + timeout;
            loop {
                let now = self.block_on(async {
                    let e = self.client().find(Locator::Css(css)).await.ok()?;
                    e.text().await.ok()
                });
                if let Some(t) = &now
                    && t.contains(text)
                {
                    break now;
                }
                last = now;
                if Instant::now() >= end {
                    break None;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        };
        found.unwrap_or_else(|| {
            panic!(
                "timed out after {timeout:?} waiting for `{css}` to contain {text:?} (page: {}); \
                 it showed: {}",
                self.url(),
                match last {
                    Some(t) => format!("{t:?}"),
                    None => "no such element".into(),
                }
            )
        })
    }

    /// Waits until the current URL's path and query satisfy `ok`; returns them.
    pub fn wait_path(&self, what: &str, timeout: Duration, ok: impl Fn(&str) -> bool) -> String {
        self.poll(what, timeout, |b| {
            let url = b.block_on(b.client().current_url()).ok()?;
            let pq = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_string(),
            };
            ok(&pq).then_some(pq)
        })
    }

    /// Clicks the first element matching `css` (waiting up to 10 s for it).
    pub fn click(&self, css: &str) {
        let e = self.wait_for(css, Duration::from_secs(10));
        self.block_on(e.click())
            .unwrap_or_else(|err| panic!("cannot click `{css}`: {err}"));
    }

    /// Replaces the value of the form field named `name` with `value`: a `<select>` chooses
    /// the option with that value, any other field is cleared and typed into.
    pub fn set_field(&self, name: &str, value: &str) {
        let css = format!("[name=\"{name}\"]");
        let e = self.wait_for(&css, Duration::from_secs(10));
        let tag = self.block_on(e.tag_name()).unwrap_or_default();
        let result = if tag.eq_ignore_ascii_case("select") {
            self.block_on(e.select_by_value(value))
        } else {
            self.block_on(async {
                e.clear().await?;
                e.send_keys(value).await
            })
        };
        result.unwrap_or_else(|err| panic!("cannot set the field `{name}` to {value:?}: {err}"));
    }

    /// Types `text` into the field named `name` and presses Enter.
    pub fn type_and_enter(&self, name: &str, text: &str) {
        self.set_field(name, text);
        let e = self.wait_for(&format!("[name=\"{name}\"]"), Duration::from_secs(10));
        self.block_on(e.send_keys(&char::from(fantoccini::key::Key::Enter).to_string()))
            .unwrap_or_else(|err| panic!("cannot press Enter in `{name}`: {err}"));
    }

    /// Submits the form holding the field named `field` as a user would: by clicking its
    /// submit button, or (a form without one) by asking the form to submit itself.
    pub fn submit_form_of(&self, field: &str) {
        let form = format!("form:has([name=\"{field}\"])");
        let button = format!(
            "{form} button:not([type=button]):not([type=reset]), {form} input[type=submit]"
        );
        if self.count(&button) > 0 {
            self.click(&button);
            return;
        }
        let e = self.wait_for(&format!("[name=\"{field}\"]"), Duration::from_secs(10));
        let arg = serde_json::to_value(&e).expect("element as JSON");
        self.block_on(
            self.client()
                .execute("arguments[0].form.requestSubmit()", vec![arg]),
        )
        .unwrap_or_else(|err| panic!("cannot submit the form of `{field}`: {err}"));
    }

    /// Runs `script` (a function body; `return` gives the result) in the page; returns its
    /// result as JSON.
    pub fn js(&self, script: &str) -> serde_json::Value {
        self.block_on(self.client().execute(script, vec![]))
            .unwrap_or_else(|e| panic!("cannot run the script {script:?}: {e}"))
    }

    /// The browser console's entries since the last call (page errors, `console.*` calls,
    /// failed loads), read from chromedriver's log endpoint.
    pub fn console(&self) -> Vec<ConsoleEntry> {
        let new = self
            .read_console(self.client())
            .unwrap_or_else(|e| panic!("{e}"));
        self.console_seen.borrow_mut().extend(new.iter().cloned());
        new
    }

    /// The script errors among the console's new entries: uncaught exceptions and
    /// `console.error` calls.
    pub fn js_errors(&self) -> Vec<ConsoleEntry> {
        self.console()
            .into_iter()
            .filter(ConsoleEntry::is_script_error)
            .collect()
    }

    /// Panics listing them when the page logged script errors since the last look.
    pub fn assert_no_js_errors(&self, when: &str) {
        let errors = self.js_errors();
        assert!(
            errors.is_empty(),
            "script errors {when} (page: {}):\n{}",
            self.url(),
            errors
                .iter()
                .map(ConsoleEntry::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    /// `POST /session/{id}/se/log {"type":"browser"}` on chromedriver.
    fn read_console(&self, client: &Client) -> Result<Vec<ConsoleEntry>, String> {
        let session = self
            .block_on(client.session_id())
            .map_err(|e| format!("no browser session id: {e}"))?
            .ok_or("no browser session")?;
        let url = format!(
            "http://127.0.0.1:{}/session/{session}/se/log",
            self.driver_port
        );
        let body = self.block_on(async {
            let client =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build_http::<axum::body::Body>();
            let req = axum::http::Request::post(&url)
                .header("content-type", "application/json")
                .body(axum::body::Body::from(r#"{"type":"browser"}"#))
                .map_err(|e| e.to_string())?;
            let resp = tokio::time::timeout(Duration::from_secs(10), client.request(req))
                .await
                .map_err(|_| "chromedriver's log endpoint did not answer in 10 s".to_string())?
                .map_err(|e| format!("cannot read the browser console: {e}"))?;
            axum::body::to_bytes(axum::body::Body::new(resp.into_body()), 16 << 20)
                .await
                .map_err(|e| format!("cannot read the browser console: {e}"))
        })?;
        let json: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| format!("chromedriver's log is not JSON ({e})"))?;
        let entries = json["value"]
            .as_array()
            .ok_or_else(|| format!("chromedriver's log endpoint answered {json}"))?;
        Ok(entries
            .iter()
            .map(|e| ConsoleEntry {
                level: e["level"].as_str().unwrap_or_default().to_string(),
                source: e["source"].as_str().unwrap_or_default().to_string(),
                message: e["message"].as_str().unwrap_or_default().to_string(),
            })
            .collect())
    }

    /// Saves a PNG of the viewport as `<artifacts>/<name>.png`; returns its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .block_on(self.client().screenshot())
            .unwrap_or_else(|e| panic!("cannot take the screenshot {name}: {e}"));
        let path = self.dir.join(format!("{}.png", file_name(name)));
        std::fs::write(&path, png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }

    /// On a failure: the page's screenshot and HTML, best effort, never panicking.
    fn save_failure(&self, client: &Client) {
        let saved = self.rt.block_on(async {
            let shot = tokio::time::timeout(Duration::from_secs(5), client.screenshot()).await;
            let html = tokio::time::timeout(Duration::from_secs(5), client.source()).await;
            let url = tokio::time::timeout(Duration::from_secs(5), client.current_url()).await;
            (shot, html, url)
        });
        let mut notes = Vec::new();
        if let (Ok(Ok(png)), path) = (saved.0, self.dir.join("failure.png"))
            && std::fs::write(&path, png).is_ok()
        {
            notes.push(path.display().to_string());
        }
        if let (Ok(Ok(html)), path) = (saved.1, self.dir.join("failure.html"))
            && std::fs::write(&path, html).is_ok()
        {
            notes.push(path.display().to_string());
        }
        // The console, best effort: what was read before and what is new.
        let mut console = self.console_seen.borrow().clone();
        console.extend(self.read_console(client).unwrap_or_default());
        let path = self.dir.join("console.log");
        let text: Vec<String> = console.iter().map(ConsoleEntry::to_string).collect();
        if std::fs::write(&path, text.join("\n")).is_ok() {
            notes.push(path.display().to_string());
        }
        let url = match saved.2 {
            Ok(Ok(u)) => u.to_string(),
            _ => "unknown".into(),
        };
        eprintln!(
            "browser: the test failed on {url}; saved {} (chromedriver log: {})",
            if notes.is_empty() {
                "nothing".to_string()
            } else {
                notes.join(", ")
            },
            self.driver_log.display()
        );
    }
}

/// One entry of the browser console.
#[derive(Debug, Clone)]
pub struct ConsoleEntry {
    /// `SEVERE`, `WARNING`, `INFO`, `DEBUG`.
    pub level: String,
    /// `javascript` (uncaught exceptions), `console-api`, `network`, …
    pub source: String,
    pub message: String,
}

impl ConsoleEntry {
    /// An uncaught exception or a `console.error` call.
    pub fn is_script_error(&self) -> bool {
        self.source == "javascript" || (self.source == "console-api" && self.level == "SEVERE")
    }
}

impl std::fmt::Display for ConsoleEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}] {}", self.level, self.source, self.message)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            if std::thread::panicking() {
                self.save_failure(&client);
            }
            let _ = self.rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(5), client.close()).await
            });
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The session's capabilities: headless Chromium with a fresh profile, as root (no
/// sandbox), no GPU, no background traffic, and host names resolving to nothing so that
/// only IP-literal loopback URLs load.
fn capabilities(chromium: &Path, profile: &Path) -> fantoccini::wd::Capabilities {
    let args = vec![
        "--headless=new".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        format!("--window-size={},{}", WINDOW.0, WINDOW.1),
        format!("--user-data-dir={}", profile.display()),
        "--no-first-run".into(),
        "--no-default-browser-check".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-extensions".into(),
        "--disable-default-apps".into(),
        "--metrics-recording-only".into(),
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1".into(),
    ];
    let caps = serde_json::json!({
        "browserName": "chrome",
        "pageLoadStrategy": "normal",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": args,
        },
        // The console log, for `Browser::console`.
        "goog:loggingPrefs": { "browser": "ALL" },
    });
    match caps {
        serde_json::Value::Object(m) => m,
        _ => unreachable!("an object"),
    }
}

/// A `herd dashboard` process on a loopback port the OS chose, killed when dropped.
pub struct Dashboard {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub url: String,
    pub proc: Proc,
}

impl Dashboard {
    /// Starts `herd dashboard --runs RUNS` (with `HERD_TOKEN=token` if given), logging to
    /// `dir/dashboard.log`, and waits until it listens.
    pub fn start(dir: &Path, runs: &Path, token: Option<&str>) -> Dashboard {
        let mut env = vec![("HERD_COORDINATOR", "")];
        if let Some(t) = token {
            env.push(("HERD_TOKEN", t));
        }
        let mut proc = spawn_herd(
            dir,
            "dashboard",
            &[
                "dashboard",
                "--runs",
                runs.to_str().expect("utf-8 path"),
                "--listen",
                "127.0.0.1:0",
            ],
            &env,
        );
        // It prints `herd: dashboard on http://ADDR` once it listens.
        let end = Instant::now() + Duration::from_secs(30);
        let url = loop {
            let log = proc.log_text();
            if let Some(rest) = log.split("dashboard on ").nth(1)
                && let Some(url) = rest.split_whitespace().next()
            {
                break url.trim_end_matches('/').to_string();
            }
            if let Ok(Some(status)) = proc.child.try_wait() {
                panic!("herd dashboard exited ({status}) before listening:\n{log}");
            }
            if Instant::now() >= end {
                proc.kill();
                panic!("herd dashboard did not listen within 30 s:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "the dashboard must listen on loopback, not {url}"
        );
        Dashboard { url, proc }
    }

    /// `url` + `path` (`path` starting with `/`).
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

/// A finished task's result row for a dashboard fixture: benchmark `herd-mini`, backbone
/// `fake`, run in Docker (so the pages carry no UNISOLATED banner).
pub fn fixture_record(
    sweep: &str,
    key: &str,
    item: &str,
    arm: &str,
    status: &str,
    correct: Option<bool>,
) -> ResultRecord {
    ResultRecord {
        sweep: sweep.into(),
        task_key: key.into(),
        benchmark: "herd-mini".into(),
        split: "test".into(),
        item_id: item.into(),
        level: Some("1".into()),
        subject: Some("arithmetic".into()),
        backbone: "fake".into(),
        arm: arm.into(),
        accumulation: if arm == "off" { "off" } else { "online" }.into(),
        status: status.into(),
        correct,
        score: correct.map(|c| if c { 1.0 } else { 0.0 }),
        answer: Some("42".into()),
        extracted_answer: Some("42".into()),
        gold_answer: Some("42".into()),
        scorer: "exact".into(),
        end_reason: if status == "scored" {
            "submitted"
        } else {
            status
        }
        .into(),
        steps: 2,
        llm_calls: 2,
        prompt_tokens: 200,
        completion_tokens: 40,
        cost_usd: 0.01,
        wall_ms: 1500,
        sandbox_kind: "docker".into(),
        attempts: 1,
        error_kind: (status == "failed").then(|| "model".into()),
        error_message: (status == "failed").then(|| "the model endpoint refused".into()),
        ..Default::default()
    }
}

/// A one-step trajectory of `key` whose thought, code and observation carry `text`.
pub fn trajectory_with(key: &str, text: &str) -> Trajectory {
    Trajectory {
        task_key: key.into(),
        attempt: 1,
        system_prompt: "You are an agent.".into(),
        task_prompt: format!("Solve task {key}."),
        steps: vec![Step {
            index: 0,
            thought: format!("Thinking about {text}."),
            code: format!("print({text:?})"),
            observation: text.into(),
            parse_error: None,
            cell_error: false,
            exec_ms: 5,
            host_calls: vec![],
            defined: vec![],
            called: vec![],
        }],
        end_reason: "submitted".into(),
        ..Default::default()
    }
}

/// Writes the run directory `runs/name`: `results.parquet` from `records` and
/// `trajectories/<key>.json.gz` for each trajectory. Returns its path.
pub fn write_run(
    runs: &Path,
    name: &str,
    records: &[ResultRecord],
    trajectories: &[Trajectory],
) -> PathBuf {
    let dir = runs.join(name);
    herd_report::write_results(&dir, records, &[])
        .unwrap_or_else(|e| panic!("cannot write the run {name}: {e}"));
    for t in trajectories {
        // Where herd writes them (herd_report::load_trajectory reads them back).
        let tdir = dir.join("trajectories");
        std::fs::create_dir_all(&tdir).expect("mkdir trajectories");
        let path = tdir.join(format!("{}.json.gz", t.task_key));
        let file = std::fs::File::create(&path).expect("create trajectory");
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        serde_json::to_writer(&mut gz, t).expect("write trajectory");
        gz.flush().expect("flush trajectory");
        gz.finish().expect("finish trajectory");
    }
    dir
}

/// `herd run SWEEP --out OUT --workers N --no-progress --dashboard 127.0.0.1:0`: a whole
/// sweep in one process, serving its live dashboard (until SIGINT once the sweep ended).
pub struct RunDashboard {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub url: String,
    pub sweep_id: String,
    pub proc: Proc,
}

impl RunDashboard {
    /// Starts the run, logging to `dir/run.log`, and waits until it prints
    /// `herd: dashboard on http://ADDR/sweeps/ID`.
    pub fn start(dir: &Path, sweep: &Path, out: &Path, workers: u32) -> RunDashboard {
        let workers = workers.to_string();
        let mut proc = spawn_herd(
            dir,
            "run",
            &[
                "run",
                sweep.to_str().expect("utf-8 path"),
                "--out",
                out.to_str().expect("utf-8 path"),
                "--workers",
                &workers,
                "--no-progress",
                "--dashboard",
                "127.0.0.1:0",
            ],
            &[],
        );
        let end = Instant::now() + Duration::from_secs(60);
        let page = loop {
            let log = proc.log_text();
            if let Some(rest) = log.split("herd: dashboard on ").nth(1)
                && let Some(url) = rest.split_whitespace().next()
            {
                break url.to_string();
            }
            if let Ok(Some(status)) = proc.child.try_wait() {
                panic!("herd run exited ({status}) before serving its dashboard:\n{log}");
            }
            if Instant::now() >= end {
                proc.kill();
                panic!("herd run served no dashboard within 60 s:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let (url, sweep_id) = page
            .split_once("/sweeps/")
            .unwrap_or_else(|| panic!("`herd: dashboard on {page}` names no sweep page"));
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "the dashboard must listen on loopback, not {url}"
        );
        RunDashboard {
            url: url.to_string(),
            sweep_id: sweep_id.to_string(),
            proc,
        }
    }

    /// `url` + `path` (`path` starting with `/`).
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// The sweep's live page.
    pub fn sweep_page(&self) -> String {
        self.at(&format!("/sweeps/{}", self.sweep_id))
    }
}
