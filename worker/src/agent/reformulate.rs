//! Answer reformulation after the loop: one counted call asks for `FINAL ANSWER: …` in the
//! benchmark's format; when the model says it cannot tell, a counted follow-up asks for its
//! best guess. Failures keep the submitted answer.

use std::sync::LazyLock;

use herd_core::trajectory::{CallPurpose, Message};
use regex::Regex;

use super::run::Run;

/// Format rules used when the benchmark gives none (GAIA's conventions).
const DEFAULT_RULES: &str = "- A number: digits only, no thousands separators, no units or currency signs unless the question asks for them.\n- A string: as few words as possible, no articles, no abbreviations, digits written as digits.\n- A list: comma-separated, each element following the rules above.";

static FINAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)final\s+answer\s*:").expect("final answer regex"));
static CANNOT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(unable to (determine|tell|answer|find)|cannot (be )?(determined|determine|tell|answer|find)|can't (determine|tell)|not enough information|insufficient (information|data)|no way to (know|tell)|i (do not|don't) know|^unknown$|^n/?a$|^none$)")
        .expect("cannot regex")
});

/// The answer after `FINAL ANSWER:` (its first line), or `None` when the marker is missing.
pub(crate) fn extract_final_answer(reply: &str) -> Option<String> {
    let m = FINAL.find_iter(reply).last()?;
    let rest = reply[m.end()..].trim();
    let line = rest.lines().next().unwrap_or("").trim();
    let line = line.trim_matches(|c| c == '*' || c == '`').trim();
    (!line.is_empty()).then(|| line.to_string())
}

/// Whether an extracted answer says the model could not tell.
pub(crate) fn says_cannot_tell(answer: &str) -> bool {
    CANNOT.is_match(answer.trim())
}

impl Run<'_> {
    /// Reformulates `raw`; returns the answer to report.
    pub(super) async fn reformulate(&mut self, raw: &str) -> String {
        let rules = self.reformulation.unwrap_or(DEFAULT_RULES).to_string();
        let last_thought = self
            .trajectory
            .steps
            .last()
            .map(|s| s.thought.clone())
            .unwrap_or_default();
        let step = self.trajectory.steps.len() as u32;
        let mut messages = vec![
            Message {
                role: "system".into(),
                content: "You rewrite an agent's final answer so that it matches the answer format a benchmark requires. Do not solve the task again; only restate the agent's answer in the required format.".into(),
            },
            Message {
                role: "user".into(),
                content: format!(
                    "Task:\n{}\n\nThe agent's last reasoning:\n{}\n\nThe agent's submitted answer:\n{}\n\nRequired format:\n{}\n\nEnd your reply with one line `FINAL ANSWER: <answer>`. If the answer cannot be determined from the above, say so on that line.",
                    self.spec.prompt.trim(),
                    last_thought.trim(),
                    raw.trim(),
                    rules.trim()
                ),
            },
        ];
        let first = match self
            .chat(CallPurpose::Reformulate, step, messages.clone(), None)
            .await
        {
            Ok(r) => r.content,
            Err(e) => {
                self.trajectory.notes.push(format!(
                    "reformulation failed, the submitted answer is kept: {e}"
                ));
                return raw.to_string();
            }
        };
        let Some(answer) = extract_final_answer(&first) else {
            self.trajectory.notes.push(
                "reformulation reply had no `FINAL ANSWER:` line; the submitted answer is kept"
                    .into(),
            );
            return raw.to_string();
        };
        if !says_cannot_tell(&answer) {
            return answer;
        }
        messages.push(Message {
            role: "assistant".into(),
            content: first,
        });
        messages.push(Message {
            role: "user".into(),
            content: "Even if you are not sure, give your single best guess in the required format, as one line `FINAL ANSWER: <answer>`.".into(),
        });
        match self
            .chat(CallPurpose::ReformulateFollowUp, step, messages, None)
            .await
        {
            Ok(r) => match extract_final_answer(&r.content) {
                Some(guess) if !says_cannot_tell(&guess) => guess,
                _ => {
                    self.trajectory.notes.push("the best-guess follow-up gave no usable answer; the submitted answer is kept".into());
                    raw.to_string()
                }
            },
            Err(e) => {
                self.trajectory.notes.push(format!(
                    "best-guess follow-up failed, the submitted answer is kept: {e}"
                ));
                raw.to_string()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extraction_and_cannot_tell() {
        assert_eq!(
            extract_final_answer("Reasoning...\nFINAL ANSWER: 42\n").as_deref(),
            Some("42")
        );
        assert_eq!(
            extract_final_answer("final answer: **Paris**").as_deref(),
            Some("Paris")
        );
        assert_eq!(extract_final_answer("no marker"), None);
        assert!(says_cannot_tell("Unable to determine"));
        assert!(says_cannot_tell(
            "The answer cannot be determined from the information given"
        ));
        assert!(!says_cannot_tell("17"));
        assert!(!says_cannot_tell("Unknown Pleasures"));
    }
}
