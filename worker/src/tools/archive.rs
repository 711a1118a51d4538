//! `find_archived_url(url, date)`: the Wayback Machine's availability API, asked for the
//! snapshot closest to a date. The API base is overridable (`HERD_WAYBACK_URL`).

use async_trait::async_trait;
use serde_json::Value;

use super::retry::{self, ToolRetry};
use super::{Tool, ToolArgs, ToolError, text_wrapper};

const NAME: &str = "find_archived_url";
const DOC: &str = "Find the Wayback Machine snapshot of a URL closest to a date (YYYYMMDD); returns the snapshot's address.";

/// The `find_archived_url` tool.
pub struct FindArchivedUrl {
    client: reqwest::Client,
    base_url: String,
}

impl FindArchivedUrl {
    pub fn new(client: reqwest::Client, base_url: String) -> Self {
        FindArchivedUrl { client, base_url }
    }
}

/// `YYYYMMDD` from `YYYY-MM-DD`, `YYYY/MM/DD` or `YYYYMMDD[hhmmss]`.
fn normalise_date(date: &str) -> Option<String> {
    let digits: String = date.chars().filter(char::is_ascii_digit).collect();
    (digits.len() >= 4
        && digits.len() <= 14
        && date
            .chars()
            .all(|c| c.is_ascii_digit() || "-/ :T".contains(c)))
    .then_some(digits)
}

#[async_trait]
impl Tool for FindArchivedUrl {
    fn name(&self) -> &'static str {
        NAME
    }
    fn prompt_line(&self) -> String {
        format!("- find_archived_url(url: str, date: str) -> str: {DOC}")
    }
    fn python_wrapper(&self) -> String {
        text_wrapper(NAME, &[("url", "str", None), ("date", "str", None)], DOC)
    }
    async fn call(&self, args: &ToolArgs<'_>) -> Result<Value, ToolError> {
        let url = args.text(NAME, 0, "url")?;
        let date_in = args.text(NAME, 1, "date")?;
        let date = normalise_date(&date_in).ok_or_else(|| ToolError::BadArg {
            tool: NAME,
            arg: "date",
            problem: format!("`{date_in}` is not a date like 20190315"),
        })?;
        let endpoint = format!("{}/wayback/available", self.base_url.trim_end_matches('/'));
        let req_url = reqwest::Url::parse_with_params(
            &endpoint,
            &[("url", url.as_str()), ("timestamp", date.as_str())],
        )
        .map_err(|e| ToolError::Failed {
            tool: NAME,
            message: format!("bad Wayback URL `{endpoint}`: {e}"),
        })?;
        let (resp, _) = retry::send(NAME, &endpoint, &ToolRetry::default(), || {
            self.client.get(req_url.clone())
        })
        .await;
        let resp = resp?;
        let v: Value = resp.json().await.map_err(|e| ToolError::Http {
            tool: NAME,
            url: endpoint.clone(),
            message: format!("reply is not JSON: {e}"),
        })?;
        let closest = v.pointer("/archived_snapshots/closest");
        let available = closest
            .and_then(|c| c.get("available"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let snap = closest.and_then(|c| c.get("url")).and_then(Value::as_str);
        match (available, snap) {
            (true, Some(snap)) => {
                let ts = closest
                    .and_then(|c| c.get("timestamp"))
                    .and_then(Value::as_str)
                    .unwrap_or("unknown");
                Ok(Value::String(format!(
                    "Closest archived copy of {url} to {date}: {snap} (captured {ts}). Open it with visit_page."
                )))
            }
            _ => Ok(Value::String(format!(
                "No archived copy of {url} was found near {date}."
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_normalised() {
        assert_eq!(normalise_date("2019-03-15").as_deref(), Some("20190315"));
        assert_eq!(normalise_date("20190315").as_deref(), Some("20190315"));
        assert_eq!(normalise_date("March 2019"), None);
    }
}
