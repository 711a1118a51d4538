//! The docker sandbox against the real engine: isolation (network, filesystem, environment,
//! process and memory limits), interrupts, state, host calls, the warm pool and cleanup.
//! Builds the image first (idempotent; cached after the first run).

mod common;

use std::time::Duration;

use common::{TestHost, containers_of, docker_config, ensure_image, run, run_ok, worker_id};
use herd_sandbox::{SandboxProvider, TaskLabels, remove_orphans};

fn task(name: &str) -> TaskLabels {
    TaskLabels {
        sweep: "test-sweep".into(),
        task: name.into(),
    }
}

async fn provider(test: &str, pool: u32) -> (SandboxProvider, String) {
    let image = ensure_image().await;
    let worker = worker_id(test);
    let p = SandboxProvider::new(&docker_config(pool), &worker)
        .await
        .expect("docker provider");
    assert_eq!(p.kind(), "docker");
    assert_eq!(p.image(), image);
    (p, worker)
}

#[tokio::test]
async fn isolation_network_filesystem_environment_user() {
    // SAFETY: set at the start of this test; nothing else reads this variable.
    unsafe { std::env::set_var("HERD_TEST_FAKE_SECRET", "sk-docker-do-not-leak") };
    let (p, _) = provider("isolation", 0).await;
    let mut s = p.acquire(task("isolation"), false).await.unwrap();
    assert_eq!(s.workspace(), "/workspace");
    assert_eq!(s.info().kind, "docker");

    let net = run(
        &mut s,
        "import urllib.request\nurllib.request.urlopen('http://deb.debian.org/', timeout=5)",
    )
    .await;
    assert!(net.error.is_some(), "network reached: {:?}", net.result);
    let ifaces = run_ok(
        &mut s,
        "import socket\nsorted(name for _, name in socket.if_nameindex())",
    )
    .await;
    assert_eq!(ifaces.result.as_deref(), Some("['lo']"));

    let outside = run(&mut s, "open('/usr/evil.txt', 'w').write('x')").await;
    let refused = outside
        .error
        .expect("write outside /workspace succeeded")
        .evalue;
    // gVisor refuses it with EACCES where runc says EROFS; both keep the root unwritten.
    let under_gvisor = common::test_runtime().as_deref() == Some("runsc");
    assert!(
        refused.contains("Read-only") || (under_gvisor && refused.contains("Permission denied")),
        "{refused}"
    );
    run_ok(
        &mut s,
        "open('/workspace/ok.txt', 'w').write('fine')\nopen('/tmp/scratch', 'w').write('ok')",
    )
    .await;

    let env = run_ok(&mut s, "import os\n(os.getuid(), 'sk-docker-do-not-leak' in repr(dict(os.environ)), sorted(os.environ))").await;
    let text = env.result.unwrap();
    assert!(text.starts_with("(1000, False,"), "{text}");
    assert!(!text.contains("HERD_TEST_FAKE_SECRET"), "{text}");

    let sci = run_ok(&mut s, "import numpy as np, pandas as pd, scipy, sympy, docx, pptx, openpyxl, bs4\nint(np.arange(4).sum()) + len(pd.DataFrame({'a': [1, 2]}))").await;
    assert_eq!(sci.result.as_deref(), Some("8"));
    s.close().await;
    p.shutdown().await;
}

#[tokio::test]
async fn sandboxes_run_under_the_configured_runtime() {
    let (p, _) = provider("runtime", 0).await;
    let mut s = p.acquire(task("runtime"), false).await.unwrap();
    let v = run_ok(&mut s, "open('/proc/version').read().strip()").await;
    let seen = v.result.unwrap();
    let host = std::fs::read_to_string("/proc/version").unwrap();
    match common::test_runtime().as_deref() {
        // gVisor answers with its own kernel, which calls itself Linux 4.4.0.
        Some("runsc") => assert!(
            seen.contains("Linux version 4.4.0") && !seen.contains(host.trim()),
            "not under gVisor: {seen}"
        ),
        _ => assert!(
            seen.contains(host.trim()),
            "runc shares the host kernel: {seen}"
        ),
    }
    s.close().await;
    p.shutdown().await;
}

#[tokio::test]
async fn fork_bomb_is_stopped_by_the_process_limit() {
    let (p, _) = provider("forkbomb", 0).await;
    let mut s = p.acquire(task("forkbomb"), false).await.unwrap();
    let host = TestHost::default();
    let out = s
        .run_cell(
            "import os\nwhile True:\n    os.fork()",
            Duration::from_secs(20),
            &host,
        )
        .await
        .unwrap();
    let e = out.error.expect("the fork bomb must fail");
    if common::test_runtime().as_deref() == Some("runsc") {
        // gVisor has no pids cgroup limit of its own: its sentry runs out and the kernel
        // dies; herd restarts it, so the session goes on (its state is lost, as reported).
        assert!(
            e.ename == "BlockingIOError" || e.ename == "TimeoutError" || e.ename == "KernelDied",
            "{e:?}"
        );
    } else {
        assert!(
            e.ename == "BlockingIOError" || e.ename == "TimeoutError",
            "{e:?}"
        );
        assert!(out.restarted.is_none(), "{:?}", out.restarted);
    }
    assert_eq!(
        run_ok(&mut s, "'still alive'").await.result.as_deref(),
        Some("'still alive'")
    );
    s.close().await;
    p.shutdown().await;
}

#[tokio::test]
async fn memory_hog_is_killed_and_reported() {
    let (p, _) = provider("oom", 0).await;
    let mut s = p.acquire(task("oom"), false).await.unwrap();
    run_ok(&mut s, "before = 1").await;
    let out = run(&mut s, "hog = ' ' * (1024 * 1024 * 1024)").await;
    let why = out.restarted.expect("the kernel must have been restarted");
    assert!(why.contains("memory limit"), "{why}");
    assert_eq!(out.error.unwrap().ename, "MemoryError");
    // a fresh kernel: works, and the old state is gone
    assert_eq!(
        run(&mut s, "before").await.error.unwrap().ename,
        "NameError"
    );
    assert_eq!(run_ok(&mut s, "3 * 3").await.result.as_deref(), Some("9"));
    s.close().await;
    p.shutdown().await;
}

#[tokio::test]
async fn infinite_loop_is_interrupted_and_the_session_goes_on() {
    let (p, _) = provider("timeout", 0).await;
    let mut s = p.acquire(task("timeout"), false).await.unwrap();
    run_ok(&mut s, "kept = [1, 2]").await;
    let host = TestHost::default();
    let out = s
        .run_cell("while True:\n    pass", Duration::from_secs(1), &host)
        .await
        .unwrap();
    assert!(out.timed_out);
    assert!(out.restarted.is_none());
    let out = s
        .run_cell("import time\ntime.sleep(60)", Duration::from_secs(1), &host)
        .await
        .unwrap();
    assert!(out.timed_out);
    assert_eq!(
        run_ok(&mut s, "kept").await.result.as_deref(),
        Some("[1, 2]")
    );
    // a cell that ignores the interrupt: the container is replaced, the session goes on
    let stubborn =
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass";
    let out = s
        .run_cell(stubborn, Duration::from_secs(1), &host)
        .await
        .unwrap();
    assert!(out.timed_out);
    assert!(out.restarted.expect("a restart").contains("time limit"));
    assert_eq!(run(&mut s, "kept").await.error.unwrap().ename, "NameError");
    assert_eq!(
        run_ok(&mut s, "'next'").await.result.as_deref(),
        Some("'next'")
    );
    s.close().await;
    p.shutdown().await;
}

#[tokio::test]
async fn state_persists_within_a_session_never_across() {
    let (p, _) = provider("state", 1).await;
    let mut a = p.acquire(task("a"), false).await.unwrap();
    let mut b = p.acquire(task("b"), false).await.unwrap();
    run_ok(
        &mut a,
        "only_in_a = 7\nopen('/workspace/a.txt', 'w').write('a')",
    )
    .await;
    assert_eq!(
        run_ok(&mut a, "only_in_a * 6").await.result.as_deref(),
        Some("42")
    );
    assert_eq!(
        run(&mut b, "only_in_a").await.error.unwrap().ename,
        "NameError"
    );
    assert_eq!(
        run_ok(&mut b, "import os\nos.path.exists('/workspace/a.txt')")
            .await
            .result
            .as_deref(),
        Some("False")
    );
    a.close().await;
    b.close().await;
    p.shutdown().await;
}

#[tokio::test]
async fn host_calls_and_files_round_trip() {
    let (p, _) = provider("host", 0).await;
    let mut s = p.acquire(task("host"), false).await.unwrap();
    s.define_host_functions(&["echo".into(), "fail".into()])
        .await
        .unwrap();
    let host = TestHost::default();
    let out = s
        .run_cell("echo({'q': 1}, k=2)['echoed']", common::CELL_TIMEOUT, &host)
        .await
        .unwrap();
    assert_eq!(
        out.result.as_deref(),
        Some("{'args': [{'q': 1}], 'kwargs': {'k': 2}}")
    );
    let out = s
        .run_cell("fail('x')", common::CELL_TIMEOUT, &host)
        .await
        .unwrap();
    let e = out.error.unwrap();
    assert_eq!(e.ename, "HostCallError");
    assert!(e.evalue.contains("quota exceeded"));
    let path = s.put_file("in.csv", b"a\n1\n").await.unwrap();
    assert_eq!(path, "/workspace/in.csv");
    let out = run_ok(
        &mut s,
        "import pandas as pd\nint(pd.read_csv('/workspace/in.csv')['a'].sum())",
    )
    .await;
    assert_eq!(out.result.as_deref(), Some("1"));
    // The kernel starts without `site` (a cheaper start) yet finds the image's packages,
    // namespace packages included.
    let out = run_ok(
        &mut s,
        "import sys, matplotlib, mpl_toolkits.mplot3d, scipy, bs4\nsys.flags.no_site",
    )
    .await;
    assert_eq!(out.result.as_deref(), Some("1"));
    s.close().await;
    p.shutdown().await;
}

#[tokio::test]
async fn pool_serves_fresh_containers_and_everything_is_removed() {
    let (p, worker) = provider("pool", 1).await;
    assert_eq!(p.wait_pool(1, Duration::from_secs(120)).await, 1);
    let pooled = p.containers();
    assert_eq!(pooled.len(), 1);
    let mut s = p.acquire(task("pooled-task"), false).await.unwrap();
    assert_eq!(run_ok(&mut s, "print(1)").await.output, "1\n");
    // the pool refills with a different container; the used one is never handed out again
    assert_eq!(p.wait_pool(1, Duration::from_secs(120)).await, 1);
    let mut s2 = p.acquire(task("second"), false).await.unwrap();
    assert_eq!(run(&mut s2, "print(1)").await.output, "1\n");
    let live = p.containers();
    assert!(live.contains(&pooled[0]));
    s.close().await;
    assert!(
        !containers_of(&worker).await.contains(&pooled[0]),
        "closed session left its container"
    );
    // dropping a session without close still removes its container
    assert_eq!(p.wait_pool(1, Duration::from_secs(120)).await, 1);
    let pooled_now = p.pooled_ids();
    let s2_id = p
        .containers()
        .into_iter()
        .find(|id| !pooled_now.contains(id))
        .expect("s2's container");
    assert!(containers_of(&worker).await.contains(&s2_id));
    drop(s2);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !containers_of(&worker).await.contains(&s2_id),
        "dropped session left its container"
    );
    p.shutdown().await;
    assert!(
        containers_of(&worker).await.is_empty(),
        "containers left after shutdown"
    );
    assert!(p.acquire(task("late"), false).await.is_err());
}

#[tokio::test]
async fn remove_orphans_cleans_up_after_a_crashed_worker() {
    let (p, worker) = provider("crash", 0).await;
    let s = p.acquire(task("crashing"), false).await.unwrap();
    // simulate a crash: nothing runs its cleanup
    std::mem::forget(s);
    std::mem::forget(p);
    assert_eq!(containers_of(&worker).await.len(), 1);
    assert_eq!(remove_orphans(&worker).await.unwrap(), 1);
    assert!(containers_of(&worker).await.is_empty());
}
