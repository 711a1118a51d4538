//! `download_file(url)`: the worker fetches the file and returns it base64-encoded; the
//! kernel-side wrapper writes it into the task's workspace and returns the path.

use async_trait::async_trait;
use base64::Engine;
use serde_json::{Value, json};

use super::http::get_capped;
use super::{Tool, ToolArgs, ToolError, truncate_json};

const NAME: &str = "download_file";
const DOC: &str =
    "Download a file from a URL into the workspace; returns the path of the saved file.";

/// The `download_file` tool.
pub struct DownloadFile {
    client: reqwest::Client,
    max_bytes: usize,
}

impl DownloadFile {
    pub fn new(client: reqwest::Client, max_bytes: usize) -> Self {
        DownloadFile { client, max_bytes }
    }
}

/// A safe file name from a Content-Disposition header or the URL's last path segment.
pub(crate) fn file_name(url: &str, disposition: Option<&str>, content_type: &str) -> String {
    let from_header = disposition.and_then(|d| {
        d.split(';').map(str::trim).find_map(|p| {
            p.strip_prefix("filename=")
                .map(|v| v.trim_matches('"').to_string())
        })
    });
    let from_url = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.path_segments()
                .and_then(|mut s| s.next_back().map(str::to_string))
        })
        .filter(|s| !s.is_empty());
    let raw = from_header
        .or(from_url)
        .unwrap_or_else(|| "download".into());
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    name = name.trim_start_matches('.').to_string();
    if name.is_empty() {
        name = "download".into();
    }
    if !name.contains('.') {
        let ext = match content_type.split(';').next().unwrap_or("").trim() {
            "application/pdf" => ".pdf",
            "text/html" => ".html",
            "text/plain" => ".txt",
            "text/csv" => ".csv",
            "application/json" => ".json",
            "image/png" => ".png",
            "image/jpeg" => ".jpg",
            "application/zip" => ".zip",
            _ => "",
        };
        name.push_str(ext);
    }
    name.chars().take(120).collect()
}

#[async_trait]
impl Tool for DownloadFile {
    fn name(&self) -> &'static str {
        NAME
    }
    fn prompt_line(&self) -> String {
        format!("- download_file(url: str) -> str: {DOC}")
    }
    fn python_wrapper(&self) -> String {
        format!(
            r#"def download_file(url: str) -> str:
    """{DOC}"""
    reply = _herd_call("download_file", url=url)
    name = _herd_os.path.basename(reply.get("name") or "download") or "download"
    path = _herd_os.path.join(_HERD_WORKSPACE, name)
    stem, ext = _herd_os.path.splitext(path)
    n = 1
    while _herd_os.path.exists(path):
        path = f"{{stem}}_{{n}}{{ext}}"
        n += 1
    with open(path, "wb") as fh:
        fh.write(_herd_b64.b64decode(reply["base64"]))
    return path
"#
        )
    }
    async fn call(&self, args: &ToolArgs<'_>) -> Result<Value, ToolError> {
        let url = args.text(NAME, 0, "url")?.trim().to_string();
        let f = get_capped(&self.client, NAME, &url, self.max_bytes).await?;
        let name = file_name(&url, f.disposition.as_deref(), &f.content_type);
        let encoded = base64::engine::general_purpose::STANDARD.encode(&f.bytes);
        Ok(
            json!({"name": name, "bytes": f.bytes.len(), "content_type": f.content_type, "base64": encoded}),
        )
    }
    fn summarise(&self, result: &Value) -> Value {
        let mut v = result.clone();
        if let Some(o) = v.as_object_mut()
            && o.contains_key("base64")
        {
            let n = o.get("bytes").and_then(Value::as_u64).unwrap_or(0);
            o.insert(
                "base64".into(),
                Value::String(format!("<{n} bytes, not recorded>")),
            );
        }
        truncate_json(&v, 2000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe() {
        assert_eq!(
            file_name("https://x.org/a/report%201.pdf?x=1", None, ""),
            "report_201.pdf"
        );
        assert_eq!(
            file_name("https://x.org/", None, "application/pdf"),
            "download.pdf"
        );
        assert_eq!(
            file_name(
                "https://x.org/get",
                Some("attachment; filename=\"../data.csv\""),
                ""
            ),
            "_data.csv"
        );
        assert_eq!(file_name("https://x.org/..", None, ""), "download");
    }
}
