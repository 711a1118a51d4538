//! Task prompts per benchmark (the question plus its answer-format instructions and the
//! attached files), and the answer-format rules used by the post-loop reformulation call.

use herd_core::config::BenchmarkKind;

use crate::item::Item;
use crate::loaders::gpqa::LETTERS;

const GAIA_RULES: &str = "Give your final answer as a number, OR as few words as possible, OR a comma-separated list of numbers and/or strings. \
For a number: write only the digits, with no thousands separators and no units such as $ or %, unless the question asks for them. \
For a string: no articles and no abbreviations (e.g. write city names in full), and write digits as numerals unless told otherwise. \
For a list: apply the number or string rule to each element, separated by commas.";

/// The prompt a worker gives the agent: question, answer format, attached files.
pub fn task_prompt(kind: BenchmarkKind, item: &Item) -> String {
    let mut p = String::new();
    match kind {
        BenchmarkKind::Gaia => {
            p.push_str(item.question.trim());
            p.push_str("\n\n");
            p.push_str(GAIA_RULES);
        }
        BenchmarkKind::Math => {
            p.push_str(item.question.trim());
            p.push_str("\n\nSolve the problem. Give the final answer in simplest exact form (fractions, radicals and \\pi rather than decimals unless the problem asks otherwise), inside \\boxed{}, e.g. \\boxed{\\frac{3}{4}}.");
        }
        BenchmarkKind::Aime => {
            p.push_str(item.question.trim());
            p.push_str("\n\nThe answer is an integer between 0 and 999 inclusive. Give it as a plain integer inside \\boxed{}, e.g. \\boxed{25}.");
        }
        BenchmarkKind::Gpqa => {
            p.push_str(item.question.trim());
            p.push_str("\n\n");
            for l in LETTERS {
                let key = format!("option_{}", l.to_ascii_lowercase());
                p.push_str(&format!("{l}) {}\n", item.meta(&key).unwrap_or("").trim()));
            }
            p.push_str("\nChoose the single best option. End your final answer with a line of the form `Answer: X`, where X is one of A, B, C, D.");
        }
        BenchmarkKind::Tabmwp => {
            p.push_str(item.question.trim());
            let choices: Option<Vec<String>> = item
                .meta("choices")
                .and_then(|c| serde_json::from_str(c).ok());
            if let Some(ch) = choices {
                p.push_str("\n\nOptions:\n");
                for (i, c) in ch.iter().enumerate() {
                    let letter = (b'A' + i as u8) as char;
                    p.push_str(&format!("({letter}) {c}\n"));
                }
                p.push_str("\nAnswer with the text of the correct option, exactly as written.");
            } else {
                p.push_str("\n\nAnswer with just the final value: a number (decimals are fine; fractions like 3/4 are fine) or a short text, without units.");
            }
            if let Some(u) = item.meta("unit") {
                p.push_str(&format!(" The unit is {u}; do not write it."));
            }
        }
        BenchmarkKind::HerdMini => {
            p.push_str(item.question.trim());
            p.push_str("\n\nAnswer with just the final value: a number without units or thousands separators, or a single word or short phrase.");
        }
    }
    if !item.attachments.is_empty() {
        p.push_str("\n\nAttached files (available in the sandbox at these paths):\n");
        for a in &item.attachments {
            p.push_str(&format!("- /workspace/{}\n", a.name));
        }
        if kind == BenchmarkKind::Tabmwp {
            p.push_str(
                "The table above is also in /workspace/table.csv (load it with pandas.read_csv).\n",
            );
        }
    }
    p.trim_end().to_string()
}

/// Answer-format rules for the post-loop reformulation call, per benchmark.
pub fn reformulation_prompt(kind: BenchmarkKind) -> Option<String> {
    let rules = match kind {
        BenchmarkKind::Gaia => GAIA_RULES.to_string(),
        BenchmarkKind::Math => {
            "Return only the final answer as a LaTeX expression inside \\boxed{}, in simplest exact form (e.g. \\boxed{\\frac{\\sqrt{3}}{2}}); no words, no units.".into()
        }
        BenchmarkKind::Aime => "Return only the final answer: one integer from 0 to 999, inside \\boxed{} (e.g. \\boxed{25}).".into(),
        BenchmarkKind::Gpqa => "Return only `Answer: X` where X is the letter (A, B, C or D) of the chosen option.".into(),
        BenchmarkKind::Tabmwp => {
            "Return only the final answer: for multiple choice, the exact text of the chosen option; otherwise the number (no units, no $ sign, no thousands separators) or the short text answer.".into()
        }
        BenchmarkKind::HerdMini => "Return only the final answer: a plain number (no units, no thousands separators) or a single word or short phrase.".into(),
    };
    Some(rules)
}
