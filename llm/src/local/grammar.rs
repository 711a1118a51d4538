//! GBNF grammars that force the local model to answer with the requested JSON object.
//!
//! A flat object schema (string/number/integer/boolean properties, e.g. `{thought, code}`)
//! becomes an exact grammar with its keys in `required` order; anything else falls back
//! to "any JSON object".

use serde_json::Value;

const COMMON_RULES: &str = r#"string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] ) )* "\""
integer ::= "-"? ( "0" | [1-9] [0-9]{0,17} )
number ::= integer ( "." [0-9]{1,17} )? ( [eE] [-+]? [0-9]{1,3} )?
boolean ::= "true" | "false"
ws ::= [ \t\n]{0,8}
"#;

const ANY_JSON_RULES: &str = r#"value ::= object | array | string | number | boolean | "null"
object ::= "{" ws ( string ws ":" ws value ws ( "," ws string ws ":" ws value ws )* )? "}"
array ::= "[" ws ( value ws ( "," ws value ws )* )? "]"
"#;

/// A GBNF grammar (root rule `root`) for replies matching `schema`.
pub fn grammar_for_schema(schema: &Value) -> String {
    match flat_object_fields(schema) {
        Some(fields) if !fields.is_empty() => {
            let mut root = String::from("root ::= \"{\" ws");
            for (i, (name, rule)) in fields.iter().enumerate() {
                if i > 0 {
                    root.push_str(" \",\" ws");
                }
                let key_json =
                    serde_json::to_string(name).unwrap_or_else(|_| format!("\"{name}\""));
                root.push_str(&format!(
                    " {} ws \":\" ws {rule} ws",
                    gbnf_literal(&key_json)
                ));
            }
            root.push_str(" \"}\"\n");
            format!("{root}{COMMON_RULES}")
        }
        _ => format!("root ::= object\n{ANY_JSON_RULES}{COMMON_RULES}"),
    }
}

/// The `(name, rule)` pairs of a flat object schema, in `required` order, or `None`.
fn flat_object_fields(schema: &Value) -> Option<Vec<(String, &'static str)>> {
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        return None;
    }
    let props = schema.get("properties")?.as_object()?;
    let mut order: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    for k in props.keys() {
        if !order.contains(k) {
            order.push(k.clone());
        }
    }
    order
        .into_iter()
        .map(|name| {
            let rule = match props.get(&name)?.get("type")?.as_str()? {
                "string" => "string",
                "integer" => "integer",
                "number" => "number",
                "boolean" => "boolean",
                _ => return None,
            };
            Some((name, rule))
        })
        .collect()
}

/// A GBNF string literal for `text`.
fn gbnf_literal(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn thought_code_schema_gives_an_ordered_object_grammar() {
        let g = grammar_for_schema(&json!({
            "type": "object",
            "properties": {"thought": {"type": "string"}, "code": {"type": "string"}},
            "required": ["thought", "code"],
            "additionalProperties": false
        }));
        let root = g.lines().next().unwrap();
        assert_eq!(
            root,
            r#"root ::= "{" ws "\"thought\"" ws ":" ws string ws "," ws "\"code\"" ws ":" ws string ws "}""#
        );
        assert!(g.contains("string ::="));
    }

    #[test]
    fn nested_schemas_fall_back_to_any_object() {
        let g = grammar_for_schema(&json!({
            "type": "object",
            "properties": {"a": {"type": "array"}}
        }));
        assert!(g.starts_with("root ::= object"));
    }
}
