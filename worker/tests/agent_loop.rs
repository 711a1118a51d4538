//! The agent loop against a scripted model and a scripted code session.

mod agent_common;

use std::sync::Arc;
use std::time::Duration;

use agent_common::*;
use herd_core::kernel::CellOutcome;
use herd_core::outcome::EndReason;
use herd_core::trajectory::CallPurpose;
use herd_worker::agent::{ActionView, run_task};
use serde_json::json;

#[tokio::test]
async fn solves_a_task_in_three_steps() {
    let model = ScriptedModel::new(vec![
        step("look at the numbers", "a = 6\nprint(a)"),
        step("multiply", "b = a * 7\nprint(b)"),
        step("submit", "submit_final_answer(b)"),
    ]);
    let session = ScriptedSession::new(vec![
        ("a = 6\nprint(a)", ok("6\n")),
        ("b = a * 7\nprint(b)", ok("42\n")),
        ("submit_final_answer(b)", submit("42")),
    ]);
    let ran = session.ran.clone();
    let closed = session.closed.clone();
    let defined = session.defined.clone();
    let out = run_task(&spec(), deps(model.clone(), session)).await;
    assert_eq!(
        *defined.lock(),
        vec![herd_worker::agent::HOST_CALL_PRIMITIVE.to_string()]
    );
    assert_eq!(
        out.trajectory.steps[2].host_calls[0].name,
        "submit_final_answer"
    );
    assert_eq!(out.end, EndReason::Submitted);
    assert_eq!(out.answer.as_deref(), Some("42"));
    assert_eq!(out.raw_answer.as_deref(), Some("42"));
    assert_eq!(out.metrics.steps, 3);
    assert_eq!(out.metrics.llm_calls, 3);
    assert_eq!(out.trajectory.steps.len(), 3);
    // A cell that did not submit is followed by a reminder naming the steps left (20 - 2).
    assert_eq!(
        out.trajectory.steps[1].observation,
        "42\n(Not submitted yet; 18 steps left. When you have the answer, call submit_final_answer(answer).)"
    );
    assert_eq!(out.trajectory.end_reason, "submitted");
    assert_eq!(out.model_identity, "scripted-model");
    assert!(*closed.lock(), "the session must be closed");
    // The prelude ran first, then the three cells.
    let ran = ran.lock();
    assert_eq!(ran.len(), 4);
    assert!(ran[0].contains("def submit_final_answer"));
    // The third request carried both earlier steps and their observations, in order.
    let reqs = model.requests.lock();
    let last = &reqs[2].messages;
    assert_eq!(last.len(), 6);
    assert_eq!(last[0].role, "system");
    assert!(last[0].content.contains("at most 20 steps"));
    assert_eq!(last[1].content, "What is 6 times 7?");
    assert_eq!(last[2].role, "assistant");
    assert!(
        last[2]
            .content
            .contains("\"thought\":\"look at the numbers\"")
    );
    let reminder = |left: u32| {
        format!(
            "\n(Not submitted yet; {left} steps left. When you have the answer, call submit_final_answer(answer).)"
        )
    };
    assert_eq!(last[3].content, format!("Observation:\n6{}", reminder(19)));
    assert_eq!(last[5].content, format!("Observation:\n42{}", reminder(18)));
    assert!(reqs[0].json_schema.is_some());
    assert_eq!(reqs[0].seed, Some(7));
}

#[tokio::test]
async fn a_malformed_reply_is_an_observation_and_a_step() {
    let model = ScriptedModel::new(vec![
        text("I will now think about this."),
        step("ok", "submit_final_answer(42)"),
    ]);
    let session = ScriptedSession::new(vec![("submit_final_answer(42)", submit("42"))]);
    let out = run_task(&spec(), deps(model.clone(), session)).await;
    assert_eq!(out.end, EndReason::Submitted);
    assert_eq!(out.metrics.steps, 2);
    let s0 = &out.trajectory.steps[0];
    assert!(s0.parse_error.is_some());
    assert!(s0.observation.contains("could not be used"));
    let reqs = model.requests.lock();
    assert_eq!(reqs[1].messages[2].content, "I will now think about this.");
    assert!(reqs[1].messages[3].content.contains("JSON object"));
}

#[tokio::test]
async fn a_code_error_is_shown_and_the_agent_recovers() {
    let model = ScriptedModel::new(vec![
        step("divide", "1/0"),
        step("fix", "submit_final_answer(42)"),
    ]);
    let session = ScriptedSession::new(vec![
        ("1/0", error("ZeroDivisionError", "division by zero")),
        ("submit_final_answer(42)", submit("42")),
    ]);
    let out = run_task(&spec(), deps(model.clone(), session)).await;
    assert_eq!(out.end, EndReason::Submitted);
    assert!(out.trajectory.steps[0].cell_error);
    let obs = &model.requests.lock()[1].messages[3].content;
    assert!(obs.contains("ZeroDivisionError: division by zero"), "{obs}");
    assert!(obs.contains("do not repeat"));
}

#[tokio::test]
async fn a_submission_in_a_cell_that_raised_does_not_count() {
    let mut bad = submit("41");
    bad.outcome.error = error("ValueError", "late failure").outcome.error;
    let model = ScriptedModel::new(vec![
        step("t", "submit_final_answer(41); raise ValueError"),
        step("t", "submit_final_answer(42)"),
    ]);
    let session = ScriptedSession::new(vec![
        ("submit_final_answer(41); raise ValueError", bad),
        ("submit_final_answer(42)", submit("42")),
    ]);
    let out = run_task(&spec(), deps(model, session)).await;
    assert_eq!(out.end, EndReason::Submitted);
    assert_eq!(out.answer.as_deref(), Some("42"));
    assert_eq!(out.metrics.steps, 2);
    assert!(out.trajectory.steps[0].observation.contains("not accepted"));
}

#[tokio::test]
async fn the_step_limit_ends_the_task() {
    let model = ScriptedModel::new(vec![step("loop", "x = 1")]);
    let mut s = spec();
    s.limits.max_steps = 4;
    let out = run_task(&s, deps(model.clone(), ScriptedSession::new(vec![]))).await;
    assert_eq!(out.end, EndReason::StepLimit);
    assert_eq!(out.answer, None);
    assert_eq!(out.metrics.steps, 4);
    assert_eq!(model.calls(), 4);
    assert!(out.trajectory.system_prompt.contains("at most 4 steps"));
    // The arm's own limit wins.
    let mut s = spec();
    s.arm.max_steps = Some(2);
    let out = run_task(
        &s,
        deps(
            ScriptedModel::new(vec![step("loop", "x = 1")]),
            ScriptedSession::new(vec![]),
        ),
    )
    .await;
    assert_eq!(out.metrics.steps, 2);
}

#[tokio::test]
async fn token_and_cost_budgets_end_the_task() {
    let mut s = spec();
    s.limits.max_prompt_tokens = Some(250);
    let out = run_task(
        &s,
        deps(
            ScriptedModel::new(vec![step("loop", "x = 1")]),
            ScriptedSession::new(vec![]),
        ),
    )
    .await;
    assert_eq!(out.end, EndReason::PromptTokenBudget);
    assert_eq!(
        out.metrics.llm_calls, 2,
        "a third call would pass 250 prompt tokens"
    );
    assert_eq!(out.answer, None);

    let mut s = spec();
    s.limits.max_completion_tokens = Some(30);
    let out = run_task(
        &s,
        deps(
            ScriptedModel::new(vec![step("loop", "x = 1")]),
            ScriptedSession::new(vec![]),
        ),
    )
    .await;
    assert_eq!(out.end, EndReason::CompletionTokenBudget);
    assert_eq!(out.metrics.llm_calls, 1);

    let mut s = spec();
    s.limits.max_cost_usd = Some(0.0035);
    let out = run_task(
        &s,
        deps(
            ScriptedModel::new(vec![step("loop", "x = 1")]),
            ScriptedSession::new(vec![]),
        ),
    )
    .await;
    assert_eq!(out.end, EndReason::CostBudget);
    assert_eq!(out.metrics.llm_calls, 3);
    assert_eq!(out.trajectory.end_reason, "cost-budget");
}

#[tokio::test(start_paused = true)]
async fn the_wall_time_limit_ends_the_task_and_closes_the_session() {
    let model = ScriptedModel::slow(vec![step("slow", "x = 1")], Duration::from_secs(10));
    let mut s = spec();
    s.limits.wall_time_secs = 25;
    let session = ScriptedSession::new(vec![]);
    let closed = session.closed.clone();
    let out = run_task(&s, deps(model.clone(), session)).await;
    assert_eq!(out.end, EndReason::WallTime);
    assert_eq!(out.answer, None);
    assert_eq!(model.calls(), 3);
    assert_eq!(out.trajectory.steps.len(), 2);
    assert!(*closed.lock());
    assert!(
        out.metrics.wall_ms >= 25_000 && out.metrics.wall_ms < 26_000,
        "{}",
        out.metrics.wall_ms
    );
}

#[tokio::test]
async fn cancellation_ends_the_task() {
    let model = ScriptedModel::slow(vec![step("slow", "x = 1")], Duration::from_secs(3600));
    let d = deps(model, ScriptedSession::new(vec![]));
    let cancel = d.cancel.clone();
    let s = spec();
    let task = tokio::spawn(async move { run_task(&s, d).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    cancel.cancel();
    let out = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.end, EndReason::Cancelled);
}

#[tokio::test]
async fn totals_equal_the_sum_of_reported_usage_and_cache_hits_cost_nothing() {
    let mut r1 = step("a", "x = 1");
    r1.prompt_tokens = 1234;
    r1.completion_tokens = 56;
    r1.cost_usd = 0.0123;
    let mut r2 = step("b", "y = 2");
    r2.prompt_tokens = 2000;
    r2.completion_tokens = 77;
    r2.cost_usd = 0.5;
    r2.cached = true;
    let mut r3 = step("c", "submit_final_answer(1)");
    r3.prompt_tokens = 3001;
    r3.completion_tokens = 9;
    r3.cost_usd = 0.0301;
    let model = ScriptedModel::new(vec![r1, r2, r3]);
    let out = run_task(
        &spec(),
        deps(
            model,
            ScriptedSession::new(vec![("submit_final_answer(1)", submit("1"))]),
        ),
    )
    .await;
    let m = &out.metrics;
    assert_eq!(m.prompt_tokens, 1234 + 2000 + 3001);
    assert_eq!(m.completion_tokens, 56 + 77 + 9);
    assert_eq!(m.cost_usd, 0.0123 + 0.0301);
    assert_eq!(m.cached_calls, 1);
    let calls = &out.trajectory.llm_calls;
    assert!(calls[1].cached);
    assert_eq!(calls[1].cost_usd, 0.0);
    assert_eq!(
        calls.iter().map(|c| c.prompt_tokens).sum::<u64>(),
        m.prompt_tokens
    );
    assert_eq!(
        calls.iter().map(|c| c.completion_tokens).sum::<u64>(),
        m.completion_tokens
    );
    assert_eq!(calls.iter().map(|c| c.cost_usd).sum::<f64>(), m.cost_usd);
}

#[tokio::test]
async fn long_and_binary_output_is_cut_before_the_model_sees_it() {
    let b64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg".repeat(50);
    let long: String = (0..2000).map(|i| format!("row {i}\n")).collect();
    let output = format!("HEAD-MARK\n{b64}\n{long}TAIL-MARK\n");
    let model = ScriptedModel::new(vec![
        step("dump", "dump()"),
        step("done", "submit_final_answer(1)"),
    ]);
    let session = ScriptedSession::new(vec![
        ("dump()", ok(&output)),
        ("submit_final_answer(1)", submit("1")),
    ]);
    let mut s = spec();
    s.limits.observation_chars = 1000;
    let out = run_task(&s, deps(model.clone(), session)).await;
    let obs = &model.requests.lock()[1].messages[3].content;
    assert!(obs.chars().count() < 1100, "{}", obs.chars().count());
    assert!(obs.contains("HEAD-MARK") && obs.contains("TAIL-MARK"));
    assert!(obs.contains("characters cut from the middle"));
    assert!(!obs.contains("iVBORw0KGgo"));
    assert_eq!(
        &out.trajectory.steps[0].observation,
        obs.strip_prefix("Observation:\n").unwrap()
    );
}

#[tokio::test]
async fn the_oldest_observations_are_shortened_first_when_context_runs_out() {
    let big = |tag: &str| format!("{tag} {}", "z ".repeat(1500));
    let model = ScriptedModel::new(vec![
        step("1", "c1"),
        step("2", "c2"),
        step("3", "c3"),
        step("4", "c4"),
        step("5", "submit_final_answer(1)"),
    ]);
    let session = ScriptedSession::new(vec![
        ("c1", ok(&big("OBS1"))),
        ("c2", ok(&big("OBS2"))),
        ("c3", ok(&big("OBS3"))),
        ("c4", ok(&big("OBS4"))),
        ("submit_final_answer(1)", submit("1")),
    ]);
    let mut s = spec();
    // Room for the prompt and about two full observations (1/8 of the window is reserved).
    s.backbone.context_window = 3900;
    let out = run_task(&s, deps(model.clone(), session)).await;
    assert_eq!(out.end, EndReason::Submitted);
    let reqs = model.requests.lock();
    let last = &reqs[4].messages;
    let obs: Vec<&str> = last
        .iter()
        .skip(3)
        .step_by(2)
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(obs.len(), 4);
    assert!(obs[0].contains("shortened to save context") && obs[0].contains("OBS1"));
    assert!(obs[1].contains("shortened to save context"));
    assert!(
        !obs[3].contains("shortened"),
        "the newest observation stays whole"
    );
    // The trajectory keeps the full observations.
    assert!(out.trajectory.steps[0].observation.len() > 3000);
}

#[tokio::test]
async fn reformulation_asks_for_a_best_guess_when_the_model_cannot_tell() {
    let model = ScriptedModel::new(vec![
        step("done", "submit_final_answer('about 1,234 meters')"),
        text("The format is unclear.\nFINAL ANSWER: Unable to determine"),
        text("FINAL ANSWER: 1234"),
    ]);
    let session = ScriptedSession::new(vec![(
        "submit_final_answer('about 1,234 meters')",
        submit("about 1,234 meters"),
    )]);
    let mut s = spec();
    s.arm.reformulate = true;
    let mut d = deps(model.clone(), session);
    d.reformulation = Some("numbers without commas or units".into());
    let out = run_task(&s, d).await;
    assert_eq!(out.end, EndReason::Submitted);
    assert_eq!(out.raw_answer.as_deref(), Some("about 1,234 meters"));
    assert_eq!(out.answer.as_deref(), Some("1234"));
    assert_eq!(out.metrics.llm_calls, 3);
    let purposes: Vec<CallPurpose> = out.trajectory.llm_calls.iter().map(|c| c.purpose).collect();
    assert_eq!(
        purposes,
        vec![
            CallPurpose::Step,
            CallPurpose::Reformulate,
            CallPurpose::ReformulateFollowUp
        ]
    );
    assert_eq!(out.metrics.prompt_tokens, 300);
    let reqs = model.requests.lock();
    assert!(
        reqs[1].messages[1]
            .content
            .contains("numbers without commas or units")
    );
    assert!(reqs[1].messages[1].content.contains("about 1,234 meters"));
    assert_eq!(reqs[2].messages.len(), 4);
}

#[tokio::test]
async fn functions_of_clean_cells_are_stored_and_retrieval_loads_sources() {
    let mut define_ok = ok("");
    define_ok.outcome.functions = vec![function("area")];
    let mut define_bad = error("NameError", "x");
    define_bad.outcome.functions = vec![function("broken")];
    let retrieve = Cell {
        host_calls: vec![(
            "get_relevant_tools".into(),
            json!({"query": "circle area", "k": 3}),
        )],
        outcome: CellOutcome {
            called: vec!["get_relevant_tools".into()],
            ..Default::default()
        },
    };
    let mut use_it = ok("3.14");
    use_it.outcome.called = vec!["circle_area".into(), "print".into()];
    let model = ScriptedModel::new(vec![
        step("find", "get_relevant_tools('circle area', 3)"),
        step("use", "print(circle_area(1))"),
        step("define", "def area..."),
        step("define bad", "def broken..."),
        step("done", "submit_final_answer(1)"),
    ]);
    let session = ScriptedSession::new(vec![
        ("get_relevant_tools('circle area', 3)", retrieve),
        ("print(circle_area(1))", use_it),
        ("def area...", define_ok),
        ("def broken...", define_bad),
        ("submit_final_answer(1)", submit("1")),
    ]);
    let host_results = session.host_results.clone();
    let actions = Arc::new(RecordingActions {
        views: vec![ActionView {
            name: "circle_area".into(),
            signature: "(r: float)".into(),
            returns: Some("float".into()),
            docstring: Some("Area of a circle of radius r.".into()),
            source_to_load:
                "import math\ndef circle_area(r: float) -> float:\n    return math.pi * r * r\n"
                    .into(),
        }],
        size: 17,
        ..Default::default()
    });
    let mut d = deps(model, session);
    d.actions = actions.clone();
    let out = run_task(&spec(), d).await;
    assert_eq!(out.end, EndReason::Submitted);
    let r = host_results.lock()[0].clone().unwrap();
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .contains("- circle_area(r: float) -> float: Area of a circle of radius r.")
    );
    assert!(
        r["sources"][0]
            .as_str()
            .unwrap()
            .contains("def circle_area")
    );
    assert_eq!(actions.queries.lock()[0], ("circle area".to_string(), 3));
    assert_eq!(*actions.stored.lock(), vec![(3, vec!["area".to_string()])]);
    let m = &out.metrics;
    assert_eq!(m.actions_created, 1);
    assert_eq!(m.actions_retrieved, 1);
    assert_eq!(m.library_size, 17);
    assert_eq!(m.generated_calls, 1);
    // circle_area came from the library (an earlier task wrote it): a reused call.
    assert_eq!(m.reused_calls, 1);
    assert_eq!(m.actions_called, vec![("circle_area".to_string(), 1)]);
    assert_eq!(m.covered_steps, 1);
    assert_eq!(out.trajectory.retrieved, vec!["circle_area".to_string()]);
    assert_eq!(out.trajectory.steps[2].defined, vec!["area".to_string()]);
    assert_eq!(
        out.trajectory.steps[0].host_calls[0].name,
        "get_relevant_tools"
    );
}

#[tokio::test]
async fn calling_a_function_the_task_wrote_itself_is_not_reuse() {
    // Step 1 defines `triple` and calls it in the same cell; step 2 calls it again.
    let mut define_and_call = ok("21");
    define_and_call.outcome.functions = vec![function("triple")];
    define_and_call.outcome.called = vec!["triple".into(), "print".into()];
    let mut call_again = ok("30");
    call_again.outcome.called = vec!["triple".into()];
    let model = ScriptedModel::new(vec![
        step("define", "def triple...; print(triple(7))"),
        step("again", "triple(10)"),
        step("done", "submit_final_answer(30)"),
    ]);
    let session = ScriptedSession::new(vec![
        ("def triple...; print(triple(7))", define_and_call),
        ("triple(10)", call_again),
        ("submit_final_answer(30)", submit("30")),
    ]);
    // Once stored, the library knows `triple` as generated (as the real store does); it is
    // still this task's own function.
    let actions = Arc::new(RecordingActions {
        generated: vec!["triple".into()],
        ..Default::default()
    });
    let mut d = deps(model, session);
    d.actions = actions.clone();
    let out = run_task(&spec(), d).await;
    assert_eq!(out.end, EndReason::Submitted);
    assert_eq!(
        *actions.stored.lock(),
        vec![(1, vec!["triple".to_string()])]
    );
    let m = &out.metrics;
    assert_eq!(m.actions_created, 1);
    assert_eq!(m.generated_calls, 2);
    assert_eq!(m.reused_calls, 0);
    assert_eq!(m.actions_called, vec![("triple".to_string(), 2)]);
}

#[tokio::test]
async fn prompt_actions_are_listed_and_loaded_by_the_prelude() {
    let model = ScriptedModel::new(vec![step("done", "submit_final_answer(1)")]);
    let session = ScriptedSession::new(vec![("submit_final_answer(1)", submit("1"))]);
    let ran = session.ran.clone();
    let actions = Arc::new(RecordingActions {
        views: vec![ActionView {
            name: "double".into(),
            signature: "(x: int)".into(),
            returns: Some("int".into()),
            docstring: Some("Double x.".into()),
            source_to_load: "def double(x: int) -> int:\n    return 2 * x\n".into(),
        }],
        ..Default::default()
    });
    let mut s = spec();
    s.arm.prompt_actions = 5;
    let mut d = deps(model, session);
    d.actions = actions;
    let out = run_task(&s, d).await;
    assert!(
        out.trajectory
            .system_prompt
            .contains("- double(x: int) -> int: Double x.")
    );
    assert!(ran.lock()[0].contains("def double(x: int)"));
    assert_eq!(out.metrics.actions_retrieved, 1);
    // Without read access nothing is listed.
    let mut s = spec();
    s.arm.prompt_actions = 5;
    s.actions.read = false;
    let out = run_task(
        &s,
        deps(
            ScriptedModel::new(vec![step("done", "submit_final_answer(1)")]),
            ScriptedSession::new(vec![("submit_final_answer(1)", submit("1"))]),
        ),
    )
    .await;
    assert!(!out.trajectory.system_prompt.contains("double"));
}

#[tokio::test]
async fn with_the_example_exchange_the_task_message_lists_the_loaded_actions() {
    let double = ActionView {
        name: "double".into(),
        signature: "(x: int)".into(),
        returns: Some("int".into()),
        docstring: Some("Double x.".into()),
        source_to_load: "def double(x: int) -> int:\n    return 2 * x\n".into(),
    };
    let run = |exchange: bool| {
        let double = double.clone();
        async move {
            let model = ScriptedModel::new(vec![step("done", "submit_final_answer(1)")]);
            let session = ScriptedSession::new(vec![("submit_final_answer(1)", submit("1"))]);
            let mut s = spec();
            s.arm.prompt_actions = 5;
            s.backbone.example_exchange = exchange;
            let mut d = deps(model.clone(), session);
            d.actions = Arc::new(RecordingActions {
                views: vec![double],
                ..Default::default()
            });
            let out = run_task(&s, d).await;
            let messages = model.requests.lock()[0].messages.clone();
            (out, messages)
        }
    };
    let (out, messages) = run(true).await;
    let roles: Vec<&str> = messages.iter().map(|m| m.role.as_str()).collect();
    // System, two example tasks of four messages each, then the task.
    assert_eq!(roles.len(), 10, "{roles:?}");
    assert_eq!(roles[0], "system");
    let task = &messages[9].content;
    assert_eq!(task, &out.trajectory.task_prompt);
    assert!(
        task.ends_with("already loaded (call one if it does what you need):\n- double(x: int) -> int: Double x."),
        "{task}"
    );
    // The reuse example lists a function in the same form and calls it without defining it.
    assert!(
        messages[5]
            .content
            .contains("- csv_column_mean(path: str, column: str) -> float:")
    );
    assert!(
        messages[6].content.contains("csv_column_mean(") && !messages[6].content.contains("def ")
    );

    // Without the exchange the task message is the task alone; the system prompt lists it.
    let (out, messages) = run(false).await;
    assert_eq!(messages.len(), 2);
    assert!(!messages[1].content.contains("double"));
    assert!(
        out.trajectory
            .system_prompt
            .contains("- double(x: int) -> int: Double x.")
    );
}

#[tokio::test]
async fn attachments_are_named_with_their_workspace_path() {
    let mut s = spec();
    s.attachments = vec![herd_core::task::AttachmentRef {
        name: "data.xlsx".into(),
        size: 10,
        sha256: "x".into(),
    }];
    let model = ScriptedModel::new(vec![step("done", "submit_final_answer(1)")]);
    let out = run_task(
        &s,
        deps(
            model,
            ScriptedSession::new(vec![("submit_final_answer(1)", submit("1"))]),
        ),
    )
    .await;
    assert!(out.trajectory.task_prompt.contains("/workspace/data.xlsx"));
}

#[tokio::test]
async fn a_missing_docstring_is_written_by_a_counted_call() {
    let mut f = function("helper");
    f.docstring = None;
    let mut define = ok("");
    define.outcome.functions = vec![f];
    let model = ScriptedModel::new(vec![
        step("define", "def helper..."),
        text("\"Return the input unchanged.\""),
        step("done", "submit_final_answer(1)"),
    ]);
    let session = ScriptedSession::new(vec![
        ("def helper...", define),
        ("submit_final_answer(1)", submit("1")),
    ]);
    let actions = Arc::new(RecordingActions::default());
    let mut d = deps(model, session);
    d.actions = actions.clone();
    let out = run_task(&spec(), d).await;
    assert_eq!(out.end, EndReason::Submitted);
    assert_eq!(
        *actions.docstrings.lock(),
        vec![Some("Return the input unchanged.".to_string())]
    );
    assert_eq!(out.metrics.llm_calls, 3);
    assert_eq!(out.trajectory.llm_calls[1].purpose, CallPurpose::Docstring);
    assert_eq!(out.metrics.prompt_tokens, 300);
}
