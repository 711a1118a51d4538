//! `herd run` with its output piped, as in CI or `| tee`: no ANSI colour in either stream,
//! plain progress lines instead of bars, and a closing summary whose counts a scripted
//! model fixes in advance (scored, correct, out of budget, timed out, paired differences).

use std::path::Path;
use std::time::Duration;

use herd_tests::*;

/// Every task on `fake`: a cell that submits nothing, then the answer `888` (right only for
/// mini-arith-01, "37 × 24"). Every task on `stalled`: a model that answers after a minute,
/// past the 10 s wall time. Arm `short` has one step (out of steps before it can answer);
/// `long` and `long2` have three.
fn sweep(d: &Path, fake_url: &str, stalled_url: &str) -> std::path::PathBuf {
    let backbones = format!(
        "{}\n{}",
        fake_backbone(fake_url),
        fake_backbone(stalled_url).replace("name = \"fake\"", "name = \"stalled\"")
    );
    let arms = [
        arm_text("short", "off").replace("max_steps = 3", "max_steps = 1"),
        arm_text("long", "off"),
        arm_text("long2", "off"),
    ]
    .concat();
    let text = sweep_text(
        "piped",
        "ids = [\"mini-arith-01\", \"mini-arith-02\"]",
        &backbones,
        &arms,
        "local",
    )
    .replace("wall_time_secs = 120", "wall_time_secs = 10");
    let p = d.join("piped.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// The summary row of `backbone` × `arm`, from `done` on.
fn row<'a>(summary: &'a str, backbone: &str, arm: &str) -> Vec<&'a str> {
    summary
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|w| w.len() > 3 && w[1] == backbone && w[2] == arm)
        .unwrap_or_else(|| panic!("no row for {backbone} × {arm}: {summary}"))[3..]
        .to_vec()
}

#[test]
fn piped_output_has_no_colour_plain_progress_and_an_honest_summary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fake = FakeModel::script(
        vec![Duration::from_millis(20)],
        vec![
            "print('thinking')".to_string(),
            "submit_final_answer('888')".to_string(),
        ],
    );
    let stalled = FakeModel::start(Duration::from_secs(60), "888");
    let sweep = sweep(d, &fake.url, &stalled.url);
    let out = d.join("out");
    // Not `--no-progress`: the plain lines must come from stdout and stderr being pipes.
    let (ok, stdout, stderr) = herd(
        &[
            "run",
            sweep.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--workers",
            "4",
        ],
        &[("RUST_LOG", "info"), ("NO_COLOR", "")],
    );
    assert!(ok, "herd run failed: {stderr}");

    assert!(
        !stdout.contains("\x1b["),
        "ANSI escapes in stdout: {stdout:?}"
    );
    assert!(
        !stderr.contains("\x1b["),
        "ANSI escapes in stderr: {stderr:?}"
    );
    assert!(
        stderr.contains(" INFO "),
        "the logs were on (so colour had a chance to show): {stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("herd: progress ") && l.contains("/12 done · ")),
        "plain progress lines: {stderr}"
    );
    assert!(
        stderr.contains("herd: progress 12/12 done · 0 running · 2 correct of 4 scored"),
        "a last progress line with the final counts: {stderr}"
    );

    let closing = stdout
        .lines()
        .find(|l| l.starts_with("sweep ") && l.contains("tasks done"))
        .unwrap_or_else(|| panic!("no closing line in: {stdout}"));
    assert!(
        closing.contains(
            "12/12 tasks done · 4 scored (2 correct) · 2 out of budget · 6 timed out · \
             accuracy 50.0% of scored, 16.7% of all"
        ),
        "{closing}"
    );
    // done scored correct budget timeout failed acc/scored acc/all cost
    for arm in ["long", "long2"] {
        assert_eq!(
            row(&stdout, "fake", arm)[..8],
            ["2/2", "2", "1", "0", "0", "0", "50.0%", "50.0%"],
            "{stdout}"
        );
    }
    assert_eq!(
        row(&stdout, "fake", "short")[..8],
        ["2/2", "0", "0", "2", "0", "0", "–", "0.0%"],
        "{stdout}"
    );
    for arm in ["short", "long", "long2"] {
        assert_eq!(
            row(&stdout, "stalled", arm)[..8],
            ["2/2", "0", "0", "0", "2", "0", "–", "0.0%"],
            "{stdout}"
        );
    }
    // Paired differences from the report's statistics, on the items both sides scored.
    assert!(
        stdout.contains(
            "  herd-mini · fake: long − long2: Δ +0.0 pts [+0.0, +0.0] · 2 pairs · p 1.0000"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "  herd-mini · fake: long − short: no pair with both sides scored (2 matched items)"
        ),
        "{stdout}"
    );
}
