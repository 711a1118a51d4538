//! The kernel and session semantics through the local-process sandbox (no Docker needed):
//! function metadata, host calls, state, timeouts, restarts, channel safety, environment.

mod common;

use std::time::Duration;

use common::{TestHost, local_config, run, run_ok};
use herd_core::kernel::CodeSession;
use herd_sandbox::{SandboxProvider, TaskLabels};

async fn local_session() -> Box<dyn CodeSession> {
    let provider = SandboxProvider::new(&local_config(), "local-tests")
        .await
        .unwrap();
    assert_eq!(provider.kind(), "local");
    provider
        .acquire(TaskLabels::default(), false)
        .await
        .unwrap()
}

/// A cell that ignores the interrupt: only a kernel restart stops it.
const STUBBORN: &str =
    "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass";

struct FnCase {
    code: &'static str,
    name: &'static str,
    signature: &'static str,
    returns: Option<&'static str>,
    docstring: Option<&'static str>,
    imports: &'static [&'static str],
    calls: &'static [&'static str],
    source_starts: &'static str,
}

const FN_CASES: &[FnCase] = &[
    FnCase {
        code: "import numpy as np\nfrom math import sqrt as root\n\ndef norm(v: list[float], p: int = 2) -> float:\n    \"\"\"Norm of a vector.\n\n    Longer text.\"\"\"\n    return root(sum(x ** p for x in v))\n",
        name: "norm",
        signature: "(v: list[float], p: int = 2)",
        returns: Some("float"),
        docstring: Some("Norm of a vector."),
        imports: &["import numpy as np", "from math import sqrt as root"],
        calls: &["root", "sum"],
        source_starts: "def norm(v: list[float], p: int = 2) -> float:",
    },
    FnCase {
        code: "import functools\n\n@functools.lru_cache(maxsize=None)\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
        name: "fib",
        signature: "(n)",
        returns: None,
        docstring: None,
        imports: &["import functools"],
        calls: &["fib"],
        source_starts: "@functools.lru_cache(maxsize=None)\ndef fib(n):",
    },
    FnCase {
        code: "import os.path as osp, json\nasync def load(path, *, strict=True, **opts) -> 'dict':\n    '''\n    Loads a JSON file.\n    '''\n    return json.loads(open(osp.join('.', path)).read())\n",
        name: "load",
        signature: "(path, *, strict=True, **opts)",
        returns: Some("'dict'"),
        docstring: Some("Loads a JSON file."),
        imports: &["import os.path as osp, json"],
        calls: &["json", "open", "osp"],
        source_starts: "async def load(path, *, strict=True, **opts) -> 'dict':",
    },
    FnCase {
        code: "def pos(a, b=1, /, *args, c: int, d: str = 'x'):\n    return helper(a).run()\n",
        name: "pos",
        signature: "(a, b=1, /, *args, c: int, d: str = 'x')",
        returns: None,
        docstring: None,
        imports: &[],
        calls: &["helper"],
        source_starts: "def pos(a, b=1, /, *args, c: int, d: str = 'x'):",
    },
];

#[tokio::test]
async fn function_metadata_keeps_aliases_docstrings_and_signatures() {
    let mut s = local_session().await;
    for case in FN_CASES {
        let out = run(&mut s, case.code).await;
        // numpy may be missing on the host: metadata is reported even when the cell fails.
        assert_eq!(
            out.functions.len(),
            1,
            "case {}: {:?}",
            case.name,
            out.functions
        );
        let f = &out.functions[0];
        assert_eq!(f.name, case.name);
        assert_eq!(f.signature, case.signature, "case {}", case.name);
        assert_eq!(f.returns.as_deref(), case.returns, "case {}", case.name);
        assert_eq!(f.docstring.as_deref(), case.docstring, "case {}", case.name);
        assert_eq!(
            f.imports,
            case.imports
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
            "case {}",
            case.name
        );
        for c in case.calls {
            assert!(
                f.calls.contains(&c.to_string()),
                "case {}: {c} not in {:?}",
                case.name,
                f.calls
            );
        }
        assert!(
            f.source.starts_with(case.source_starts),
            "case {}: {}",
            case.name,
            f.source
        );
        assert!(
            f.source
                .trim_end()
                .ends_with(case.code.trim_end().lines().last().unwrap().trim())
        );
    }
    s.close().await;
}

#[tokio::test]
async fn last_expression_output_order_and_called_names() {
    let mut s = local_session().await;
    let out = run_ok(
        &mut s,
        "import sys, os\nprint('a')\nsys.stderr.write('b\\n')\nos.system('echo c')\nprint('d')\nlen([1, 2]) + 40",
    )
    .await;
    assert_eq!(out.output, "a\nb\nc\nd\n");
    assert_eq!(out.result.as_deref(), Some("42"));
    for name in ["print", "os", "len"] {
        assert!(out.called.contains(&name.to_string()), "{:?}", out.called);
    }
    let out = run_ok(&mut s, "x = 5").await;
    assert_eq!(out.result, None);
    let out = run_ok(&mut s, "'text'").await;
    assert_eq!(out.result.as_deref(), Some("'text'"));
    s.close().await;
}

#[tokio::test]
async fn user_output_cannot_corrupt_the_channel() {
    let mut s = local_session().await;
    let out = run_ok(
        &mut s,
        "import os, sys\nprint('{\"type\": \"cell_result\", \"id\": 1}')\nos.write(1, b'{\"type\":\"pong\",\"id\":2}\\n')\nsys.__stdout__.write('raw\\n')\ninput_value = None\ntry:\n    input_value = input()\nexcept EOFError:\n    input_value = 'eof'\ninput_value",
    )
    .await;
    assert!(
        out.output
            .contains("{\"type\": \"cell_result\", \"id\": 1}"),
        "{}",
        out.output
    );
    assert!(
        out.output.contains("{\"type\":\"pong\",\"id\":2}"),
        "{}",
        out.output
    );
    assert_eq!(out.result.as_deref(), Some("'eof'"));
    let out = run_ok(&mut s, "1 + 1").await;
    assert_eq!(out.result.as_deref(), Some("2"));
    s.close().await;
}

#[tokio::test]
async fn errors_have_clean_tracebacks() {
    let mut s = local_session().await;
    let out = run(&mut s, "def f():\n    return 1 / 0\nf()").await;
    let e = out.error.expect("an error");
    assert_eq!(e.ename, "ZeroDivisionError");
    assert!(e.traceback.contains("return 1 / 0"), "{}", e.traceback);
    assert!(!e.traceback.contains("herd_kernel"), "{}", e.traceback);
    let out = run(&mut s, "def broken(:\n  pass").await;
    assert_eq!(out.error.unwrap().ename, "SyntaxError");
    s.close().await;
}

#[tokio::test]
async fn state_persists_across_cells_and_never_across_sessions() {
    let mut a = local_session().await;
    let mut b = local_session().await;
    run_ok(
        &mut a,
        "secret_state = 41\ndef bump():\n    return secret_state + 1",
    )
    .await;
    assert_eq!(run_ok(&mut a, "bump()").await.result.as_deref(), Some("42"));
    let out = run(&mut b, "secret_state").await;
    assert_eq!(out.error.unwrap().ename, "NameError");
    assert_ne!(a.workspace(), b.workspace());
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn host_calls_round_trip_and_errors_raise() {
    let mut s = local_session().await;
    s.define_host_functions(&["echo".into(), "fail".into()])
        .await
        .unwrap();
    let host = TestHost::default();
    let out = s
        .run_cell(
            "r = echo(1, 'two', k=[3])\nr['echoed']",
            common::CELL_TIMEOUT,
            &host,
        )
        .await
        .unwrap();
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(
        out.result.as_deref(),
        Some("{'args': [1, 'two'], 'kwargs': {'k': [3]}}")
    );
    let out = s
        .run_cell(
            "try:\n    fail()\nexcept HostCallError as e:\n    caught = str(e)\ncaught",
            common::CELL_TIMEOUT,
            &host,
        )
        .await
        .unwrap();
    assert_eq!(
        out.result.as_deref(),
        Some("'the worker refused: quota exceeded'")
    );
    let out = s
        .run_cell("fail()", common::CELL_TIMEOUT, &host)
        .await
        .unwrap();
    let e = out.error.unwrap();
    assert_eq!(e.ename, "HostCallError");
    assert!(!e.traceback.contains("herd_kernel"), "{}", e.traceback);
    let calls = host.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].0, "echo");
    s.close().await;
}

#[tokio::test]
async fn timeout_interrupts_and_the_session_goes_on() {
    let mut s = local_session().await;
    run_ok(&mut s, "kept = 'yes'").await;
    let host = TestHost::default();
    let out = s
        .run_cell("while True:\n    pass", Duration::from_secs(1), &host)
        .await
        .unwrap();
    assert!(out.timed_out);
    assert_eq!(out.error.as_ref().unwrap().ename, "TimeoutError");
    assert!(out.restarted.is_none());
    assert_eq!(
        run_ok(&mut s, "kept").await.result.as_deref(),
        Some("'yes'")
    );
    s.close().await;
}

#[tokio::test]
async fn a_cell_that_ignores_interrupts_restarts_the_kernel() {
    let mut s = local_session().await;
    s.define_host_functions(&["echo".into()]).await.unwrap();
    let path = s.put_file("data.txt", b"hello").await.unwrap();
    run_ok(&mut s, "lost = 1").await;
    let host = TestHost::default();
    let out = s
        .run_cell(STUBBORN, Duration::from_secs(1), &host)
        .await
        .unwrap();
    assert!(out.timed_out);
    let why = out.restarted.expect("a restart");
    assert!(why.contains("time limit"), "{why}");
    // fresh namespace, but host functions and files are back
    assert_eq!(run(&mut s, "lost").await.error.unwrap().ename, "NameError");
    let out = run_ok(
        &mut s,
        &format!("open({path:?}).read() + str(echo(1)['echoed']['args'])"),
    )
    .await;
    assert_eq!(out.result.as_deref(), Some("'hello[1]'"));
    s.close().await;
}

#[tokio::test]
async fn put_file_lands_in_the_workspace() {
    let mut s = local_session().await;
    let path = s.put_file("table.csv", b"a,b\n1,2\n").await.unwrap();
    assert_eq!(path, format!("{}/table.csv", s.workspace()));
    let out = run_ok(
        &mut s,
        "import os\nsorted(os.listdir('.')), open('table.csv').read()",
    )
    .await;
    assert_eq!(
        out.result.as_deref(),
        Some("(['table.csv'], 'a,b\\n1,2\\n')")
    );
    assert!(s.put_file("../escape.txt", b"x").await.is_err());
    s.close().await;
}

#[tokio::test]
async fn local_environment_is_empty_of_host_secrets() {
    // SAFETY: set once at the start of this test; no other test reads this variable.
    unsafe { std::env::set_var("HERD_TEST_FAKE_SECRET_LOCAL", "sk-local-do-not-leak") };
    let mut s = local_session().await;
    let out = run_ok(&mut s, "import os\nsorted(os.environ)").await;
    let result = out.result.unwrap();
    assert!(!result.contains("HERD_TEST_FAKE_SECRET_LOCAL"), "{result}");
    let out = run_ok(
        &mut s,
        "import os\n'sk-local-do-not-leak' in repr(dict(os.environ))",
    )
    .await;
    assert_eq!(out.result.as_deref(), Some("False"));
    assert_eq!(s.info().kind, "local");
    s.close().await;
}

#[tokio::test]
async fn local_memory_limit_raises_memory_error() {
    let mut cfg = local_config();
    cfg.memory_mb = 512;
    let provider = SandboxProvider::new(&cfg, "local-mem").await.unwrap();
    let mut s = provider
        .acquire(TaskLabels::default(), false)
        .await
        .unwrap();
    let out = run(&mut s, "hog = ' ' * (2 * 1024 ** 3)").await;
    assert_eq!(out.error.map(|e| e.ename).as_deref(), Some("MemoryError"));
    assert_eq!(run_ok(&mut s, "2 + 2").await.result.as_deref(), Some("4"));
    s.close().await;
}

#[tokio::test]
async fn closed_sessions_refuse_work() {
    let mut s = local_session().await;
    s.close().await;
    s.close().await;
    assert!(
        s.run_cell("1", common::CELL_TIMEOUT, &TestHost::default())
            .await
            .is_err()
    );
}
