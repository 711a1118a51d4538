//! The Python defined into the kernel before the first step: thin wrappers that forward
//! `submit_final_answer`, `get_relevant_tools` and the user tools to the worker through the
//! sandbox's host-call primitive, kernel-side helpers, and the actions loaded so far.

use crate::tools::ToolBox;

/// The one host function the loop declares (`CodeSession::define_host_functions`). The
/// prelude's wrappers call it as `__herd_host__(name, kwargs)`; the kernel's stub forwards
/// `{"args": [name, kwargs], "kwargs": {}}` and the loop's host unwraps the real call.
pub const HOST_CALL_PRIMITIVE: &str = "__herd_host__";

const CORE: &str = r#"import base64 as _herd_b64
import os as _herd_os


class _HerdText(str):
    """Text shown as itself when it is a cell's last value."""

    def __repr__(self):
        return str(self)


def _herd_call(_herd_name, **kwargs):
    return __PRIMITIVE__(_herd_name, kwargs)


def submit_final_answer(answer) -> None:
    """Submit the final answer; the task ends when this cell finishes without error."""
    _herd_call("submit_final_answer", answer=answer if isinstance(answer, str) else str(answer))


def get_relevant_tools(query: str, k: int = __K__) -> str:
    """List and load previously written functions relevant to `query`."""
    reply = _herd_call("get_relevant_tools", query=str(query), k=int(k)) or {}
    for _herd_src in reply.get("sources", []):
        try:
            exec(_herd_src, globals())
        except Exception as exc:
            print(f"[a retrieved function could not be loaded: {type(exc).__name__}: {exc}]")
    return _HerdText(reply.get("text", ""))
"#;

/// The prelude cell: host-call wrappers, the enabled tools, and `sources` to load.
pub(crate) fn prelude(
    tools: &ToolBox,
    workspace: &str,
    retrieval_k: u32,
    sources: &[String],
) -> String {
    let mut py = CORE
        .replace("__PRIMITIVE__", HOST_CALL_PRIMITIVE)
        .replace("__K__", &retrieval_k.to_string());
    py.push_str(&format!("\n_HERD_WORKSPACE = {}\n", python_str(workspace)));
    py.push_str("_herd_os.makedirs(_HERD_WORKSPACE, exist_ok=True)\n");
    for w in tools.python_wrappers() {
        py.push_str("\n\n");
        py.push_str(&w);
    }
    if !sources.is_empty() {
        py.push_str("\n\n_herd_sources = [\n");
        for s in sources {
            py.push_str("    ");
            py.push_str(&python_str(s));
            py.push_str(",\n");
        }
        py.push_str("]\nfor _herd_src in _herd_sources:\n    try:\n        exec(_herd_src, globals())\n    except Exception as exc:\n        print(f\"[a listed function could not be loaded: {type(exc).__name__}: {exc}]\")\ndel _herd_sources\n");
    }
    py
}

/// A Python string literal for `s` (JSON string syntax is valid Python for these escapes).
pub(crate) fn python_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "''".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the prelude in a real python3 (when there is one) against a fake primitive.
    #[test]
    fn prelude_is_valid_python_and_loads_sources() {
        let Ok(out) = std::process::Command::new("python3")
            .arg("--version")
            .output()
        else {
            eprintln!("python3 not found; skipping");
            return;
        };
        if !out.status.success() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        let tools = ToolBox::kernel_helpers_only();
        let src =
            "def triple(x: int) -> int:\n    \"\"\"Triple x.\"\"\"\n    return 3 * x\n".to_string();
        let mut script = String::from(
            "calls = []\ndef __herd_host__(name, args):\n    calls.append((name, args))\n    if name == 'get_relevant_tools':\n        return {'text': '- half(x: int) -> float: Half.', 'sources': ['def half(x):\\n    return x / 2\\n']}\n    return None\n",
        );
        script.push_str(&prelude(&tools, ws.to_str().unwrap(), 5, &[src]));
        script.push_str("\nassert triple(2) == 6\nsubmit_final_answer(42)\nassert calls[-1] == ('submit_final_answer', {'answer': '42'})\nt = get_relevant_tools('halve')\nassert repr(t) == '- half(x: int) -> float: Half.'\nassert calls[-1][1]['k'] == 5\nassert half(3) == 1.5\n");
        script.push_str(&format!(
            "open({}, 'w').write('a,b\\n1,2\\n')\nprint(inspect_file_as_text({}))\n",
            python_str(&ws.join("t.csv").display().to_string()),
            python_str(&ws.join("t.csv").display().to_string())
        ));
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("a,b") || stdout.contains("a\tb"),
            "{stdout}"
        );
    }
}
