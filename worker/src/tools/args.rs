//! Arguments of a host call, tolerant of how the kernel sends them: a JSON object of named
//! arguments, `{"args": [...], "kwargs": {...}}`, a positional array, or a single value.

use serde_json::Value;

use super::ToolError;

/// A host call's arguments.
#[derive(Debug, Clone, Copy)]
pub struct ToolArgs<'a>(&'a Value);

impl<'a> ToolArgs<'a> {
    pub fn new(v: &'a Value) -> Self {
        ToolArgs(v)
    }

    /// The argument at position `idx` or named `name`.
    pub fn get(&self, idx: usize, name: &str) -> Option<&'a Value> {
        let v = self.0;
        let found = match v {
            Value::Object(o) => {
                if let Some(x) = o.get(name) {
                    Some(x)
                } else {
                    let kw = o.get("kwargs").and_then(|k| k.get(name));
                    kw.or_else(|| {
                        o.get("args")
                            .and_then(|a| a.as_array())
                            .and_then(|a| a.get(idx))
                    })
                }
            }
            Value::Array(a) => a.get(idx),
            Value::Null => None,
            scalar => (idx == 0).then_some(scalar),
        };
        found.filter(|x| !x.is_null())
    }

    /// A required text argument (numbers are accepted and written as text).
    pub fn text(
        &self,
        tool: &'static str,
        idx: usize,
        name: &'static str,
    ) -> Result<String, ToolError> {
        match self.get(idx, name) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            Some(Value::Bool(b)) => Ok(b.to_string()),
            Some(_) => Err(ToolError::BadArg {
                tool,
                arg: name,
                problem: "must be a string".into(),
            }),
            None => Err(ToolError::MissingArg { tool, arg: name }),
        }
    }

    /// An optional positive integer argument.
    pub fn uint(
        &self,
        tool: &'static str,
        idx: usize,
        name: &'static str,
    ) -> Result<Option<u64>, ToolError> {
        match self.get(idx, name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                        .map(|f| f as u64)
                })
                .map(Some)
                .ok_or_else(|| ToolError::BadArg {
                    tool,
                    arg: name,
                    problem: format!("must be a non-negative integer, got {n}"),
                }),
            Some(Value::String(s)) => {
                s.trim()
                    .parse::<u64>()
                    .map(Some)
                    .map_err(|_| ToolError::BadArg {
                        tool,
                        arg: name,
                        problem: format!("must be an integer, got `{s}`"),
                    })
            }
            Some(_) => Err(ToolError::BadArg {
                tool,
                arg: name,
                problem: "must be an integer".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_every_argument_shape() {
        for v in [
            json!({"url": "u", "page": 2}),
            json!(["u", 2]),
            json!({"args": ["u"], "kwargs": {"page": 2}}),
        ] {
            let a = ToolArgs::new(&v);
            assert_eq!(a.text("t", 0, "url").unwrap(), "u");
            assert_eq!(a.uint("t", 1, "page").unwrap(), Some(2));
        }
        let v = json!("only");
        assert_eq!(ToolArgs::new(&v).text("t", 0, "q").unwrap(), "only");
        let v = json!({});
        assert_eq!(
            ToolArgs::new(&v).text("t", 0, "q").unwrap_err().to_string(),
            "t: missing argument `q`"
        );
    }
}
