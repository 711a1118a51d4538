//! The worker side of the kernel's host calls during one task: `submit_final_answer`,
//! `get_relevant_tools` (lists actions and hands their sources to the kernel to load) and
//! the user tools. Every call is recorded for the trajectory.

use std::collections::HashSet;

use async_trait::async_trait;
use herd_core::kernel::HostCalls;
use herd_core::trajectory::HostCallRecord;
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::actions::ActionSource;
use super::prelude::HOST_CALL_PRIMITIVE;
use super::prompt::action_line;
use super::run::Clock;
use crate::tools::{ToolArgs, ToolBox, truncate_json};

pub(crate) const SUBMIT: &str = "submit_final_answer";
pub(crate) const RETRIEVE: &str = "get_relevant_tools";
const MAX_K: u64 = 50;

/// What the host calls of one cell did.
#[derive(Debug, Default)]
pub(crate) struct CellHostReport {
    pub records: Vec<HostCallRecord>,
    /// The last answer submitted during the cell.
    pub submitted: Option<String>,
    /// User tools called (host side), in order.
    pub tool_calls: Vec<String>,
}

#[derive(Debug, Default)]
struct HostState {
    cell: CellHostReport,
    /// Actions whose source the kernel has been given, with that source.
    loaded: Vec<(String, String)>,
    loaded_names: HashSet<String>,
    /// Every action name retrieved, in first-seen order.
    retrieved: Vec<String>,
}

/// The [`HostCalls`] of one task.
pub(crate) struct AgentHost<'a> {
    tools: &'a ToolBox,
    actions: &'a dyn ActionSource,
    clock: &'a dyn Clock,
    read: bool,
    default_k: u32,
    state: Mutex<HostState>,
}

impl<'a> AgentHost<'a> {
    pub fn new(
        tools: &'a ToolBox,
        actions: &'a dyn ActionSource,
        clock: &'a dyn Clock,
        read: bool,
        default_k: u32,
    ) -> Self {
        AgentHost {
            tools,
            actions,
            clock,
            read,
            default_k,
            state: Mutex::new(HostState::default()),
        }
    }

    /// Names a retrieved action must not take (they would shadow the host functions).
    fn reserved(&self, name: &str) -> bool {
        name == SUBMIT || name == RETRIEVE || self.tools.has(name) || name.starts_with("_herd")
    }

    /// Marks actions as loaded (listed in the prompt and defined by the prelude).
    pub fn preload(&self, views: &[super::actions::ActionView]) -> Vec<String> {
        let mut st = self.state.lock();
        let mut names = Vec::new();
        for v in views {
            if self.reserved(&v.name) || !st.loaded_names.insert(v.name.clone()) {
                continue;
            }
            st.loaded.push((v.name.clone(), v.source_to_load.clone()));
            st.retrieved.push(v.name.clone());
            names.push(v.name.clone());
        }
        names
    }

    /// Takes what the last cell's host calls did.
    pub fn take_cell(&self) -> CellHostReport {
        std::mem::take(&mut self.state.lock().cell)
    }

    /// Sources of every action loaded so far (to load again after a kernel restart).
    pub fn loaded_sources(&self) -> Vec<String> {
        self.state
            .lock()
            .loaded
            .iter()
            .map(|(_, s)| s.clone())
            .collect()
    }

    pub fn is_loaded(&self, name: &str) -> bool {
        self.state.lock().loaded_names.contains(name)
    }

    /// Every action name retrieved or listed so far.
    pub fn retrieved(&self) -> Vec<String> {
        self.state.lock().retrieved.clone()
    }

    async fn retrieve(&self, args: &ToolArgs<'_>) -> Result<Value, String> {
        let query = args.text(RETRIEVE, 0, "query").map_err(|e| e.to_string())?;
        let k = args
            .uint(RETRIEVE, 1, "k")
            .map_err(|e| e.to_string())?
            .unwrap_or(self.default_k as u64)
            .clamp(1, MAX_K);
        if !self.read {
            return Ok(json!({
                "text": "Stored functions are not available in this run; write the function you need.",
                "sources": []
            }));
        }
        let views = self
            .actions
            .retrieve(&query, k as usize)
            .await
            .map_err(|e| format!("get_relevant_tools: the action store failed: {e}"))?;
        let views: Vec<_> = views
            .into_iter()
            .filter(|v| !self.reserved(&v.name))
            .collect();
        if views.is_empty() {
            return Ok(
                json!({"text": format!("No stored function matches `{query}`; write a new one."), "sources": []}),
            );
        }
        let mut lines = Vec::with_capacity(views.len());
        let mut sources = Vec::new();
        {
            let mut st = self.state.lock();
            for v in &views {
                lines.push(action_line(v));
                if st.loaded_names.insert(v.name.clone()) {
                    st.loaded.push((v.name.clone(), v.source_to_load.clone()));
                    st.retrieved.push(v.name.clone());
                    sources.push(v.source_to_load.clone());
                }
            }
        }
        let text = format!(
            "Functions now defined in the interpreter:\n{}",
            lines.join("\n")
        );
        Ok(json!({"text": text, "sources": sources}))
    }
}

/// The real call inside a call of the host-call primitive, if it is one.
fn unwrap_primitive(name: &str, args: &Value) -> Option<(String, Value)> {
    if name != HOST_CALL_PRIMITIVE {
        return None;
    }
    let positional = match args {
        Value::Array(a) => a.as_slice(),
        Value::Object(o) => o
            .get("args")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice),
        _ => &[],
    };
    let kwargs = args.get("kwargs");
    let real = positional
        .first()
        .or_else(|| kwargs.and_then(|k| k.get("name")))
        .and_then(Value::as_str)?
        .to_string();
    let inner = positional
        .get(1)
        .or_else(|| kwargs.and_then(|k| k.get("args")))
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    Some((real, inner))
}

fn answer_text(v: Option<&Value>) -> Result<String, String> {
    match v {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Ok(other.to_string()),
        None => Err("submit_final_answer: missing argument `answer`".into()),
    }
}

#[async_trait]
impl HostCalls for AgentHost<'_> {
    async fn call(&self, name: &str, args: Value) -> Result<Value, String> {
        let t0 = self.clock.now();
        // The prelude's wrappers call the primitive as `__herd_host__(name, kwargs)`; the
        // kernel's stub sends that as `{"args": [name, kwargs], "kwargs": {}}`.
        let (name, args) = match unwrap_primitive(name, &args) {
            Some((n, a)) => (n, a),
            None => (name.to_string(), args),
        };
        let name = name.as_str();
        let targs = ToolArgs::new(&args);
        let result = if name == SUBMIT {
            answer_text(targs.get(0, "answer")).map(|a| {
                self.state.lock().cell.submitted = Some(a);
                Value::Null
            })
        } else if name == RETRIEVE {
            self.retrieve(&targs).await
        } else if self.tools.get(name).is_some() {
            self.state.lock().cell.tool_calls.push(name.to_string());
            self.tools.call(name, &args).await
        } else {
            Err(format!("no host function named `{name}`"))
        };
        let ms = self.clock.now().saturating_duration_since(t0).as_millis() as u64;
        let recorded = match &result {
            Ok(v) if name == RETRIEVE => {
                Ok(json!({"text": v.get("text").cloned().unwrap_or(Value::Null)}))
            }
            Ok(v) => Ok(self.tools.summarise(name, v)),
            Err(e) => Err(e.clone()),
        };
        tracing::debug!(host_call = name, ms, ok = result.is_ok(), "host call");
        self.state.lock().cell.records.push(HostCallRecord {
            name: name.to_string(),
            args: truncate_json(&args, 300),
            result: recorded,
            ms,
        });
        result
    }
}
