//! The conversation sent each step, kept inside the backbone's context window: when it
//! would not fit, the oldest observations are shortened first.

use herd_core::trajectory::Message;

/// One earlier step as the conversation shows it.
#[derive(Debug, Clone)]
pub(crate) struct Turn {
    /// What the assistant said (`{thought, code}` as JSON, or the raw unparseable reply).
    pub assistant: String,
    /// The observation, already cut to the observation budget.
    pub observation: String,
}

/// Characters per token used to estimate a prompt's size.
const CHARS_PER_TOKEN: f64 = 3.5;
/// Per-message overhead of chat templates, in tokens.
const MESSAGE_OVERHEAD: u64 = 4;
/// How much of an observation is kept when it is shortened for context.
const SHORT_OBSERVATION_CHARS: usize = 300;

/// Estimated prompt tokens of a conversation (≈ characters / 3.5).
pub fn estimate_tokens(messages: &[Message]) -> u64 {
    let chars: usize = messages.iter().map(|m| m.content.chars().count()).sum();
    (chars as f64 / CHARS_PER_TOKEN).ceil() as u64 + MESSAGE_OVERHEAD * messages.len() as u64
}

/// An observation shortened to save context, saying so.
pub fn shorten_observation(obs: &str) -> String {
    let n = obs.chars().count();
    if n <= SHORT_OBSERVATION_CHARS {
        return obs.to_string();
    }
    let head: String = obs.chars().take(SHORT_OBSERVATION_CHARS).collect();
    format!(
        "{head}\n[... observation shortened to save context: {} of {n} characters dropped ...]",
        n - SHORT_OBSERVATION_CHARS
    )
}

/// The user message that shows the model what a cell did.
pub(crate) fn observation_message(observation: &str) -> String {
    format!("Observation:\n{observation}")
}

/// Builds the messages for the next call. `budget_tokens` is what the prompt may use;
/// returns the messages and how many observations had to be shortened.
/// `examples` go between the system prompt and the task (an example exchange, or nothing).
pub(crate) fn build_messages(
    system: &str,
    examples: &[Message],
    task: &str,
    turns: &[Turn],
    budget_tokens: u64,
) -> (Vec<Message>, usize) {
    let mut msgs = Vec::with_capacity(2 + examples.len() + 2 * turns.len());
    msgs.push(Message {
        role: "system".into(),
        content: system.to_string(),
    });
    msgs.extend_from_slice(examples);
    msgs.push(Message {
        role: "user".into(),
        content: task.to_string(),
    });
    for t in turns {
        msgs.push(Message {
            role: "assistant".into(),
            content: t.assistant.clone(),
        });
        msgs.push(Message {
            role: "user".into(),
            content: observation_message(&t.observation),
        });
    }
    let mut shortened = 0;
    let mut estimate = estimate_tokens(&msgs);
    for (i, turn) in turns.iter().enumerate() {
        if estimate <= budget_tokens {
            break;
        }
        let idx = 2 + examples.len() + 2 * i + 1;
        let before = msgs[idx].content.chars().count();
        let short = observation_message(&shorten_observation(&turn.observation));
        let after = short.chars().count();
        if after < before {
            msgs[idx].content = short;
            shortened += 1;
            estimate = estimate_tokens(&msgs);
        }
    }
    (msgs, shortened)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(i: usize, len: usize) -> Turn {
        Turn {
            assistant: format!("{{\"thought\":\"t{i}\",\"code\":\"c{i}\"}}"),
            observation: format!("obs{i}:") + &"x".repeat(len),
        }
    }

    #[test]
    fn oldest_observations_are_shortened_first() {
        let turns: Vec<Turn> = (0..4).map(|i| turn(i, 3500)).collect();
        let (full, n) = build_messages("sys", &[], "task", &turns, 1_000_000);
        assert_eq!(n, 0);
        let full_est = estimate_tokens(&full);
        // Room for roughly two full observations: the two oldest must go first.
        let (msgs, n) = build_messages("sys", &[], "task", &turns, full_est - 1500);
        assert_eq!(n, 2);
        assert!(msgs[3].content.contains("shortened to save context"));
        assert!(msgs[5].content.contains("shortened to save context"));
        assert!(!msgs[7].content.contains("shortened"));
        assert!(!msgs[9].content.contains("shortened"));
        assert!(estimate_tokens(&msgs) <= full_est - 1500);
        assert!(msgs[3].content.starts_with("Observation:\nobs0:"));
    }

    #[test]
    fn examples_sit_between_the_system_prompt_and_the_task_and_are_never_shortened() {
        let ex = vec![
            Message {
                role: "user".into(),
                content: "example task".into(),
            },
            Message {
                role: "assistant".into(),
                content: "x".repeat(4000),
            },
        ];
        let turns: Vec<Turn> = (0..2).map(|i| turn(i, 3500)).collect();
        let (full, _) = build_messages("sys", &ex, "task", &turns, 1_000_000);
        let roles: Vec<&str> = full.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(
            roles,
            [
                "system",
                "user",
                "assistant",
                "user",
                "assistant",
                "user",
                "assistant",
                "user"
            ]
        );
        assert_eq!(full[3].content, "task");
        let (msgs, n) = build_messages("sys", &ex, "task", &turns, estimate_tokens(&full) - 500);
        assert_eq!(n, 1);
        assert_eq!(msgs[2].content, "x".repeat(4000));
        assert!(msgs[5].content.contains("shortened to save context"));
        assert!(!msgs[7].content.contains("shortened"));
    }
}
