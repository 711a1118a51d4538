//! A paged text browser, one per task: `visit_page(url, page)` fetches and converts a page
//! to text and shows it in pages of about 4,000 characters; `find_on_page(text)` searches
//! the page last visited.

use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;
use serde_json::Value;

use super::http::get_capped;
use super::{Tool, ToolArgs, ToolError, html_to_text, text_wrapper};

/// Characters per page shown by `visit_page`.
pub const PAGE_CHARS: usize = 4000;
const MAX_MATCHES: usize = 10;

/// The page last visited by one task.
#[derive(Debug, Default)]
pub struct BrowserState {
    url: Option<String>,
    pages: Vec<String>,
}

impl BrowserState {
    pub fn current_url(&self) -> Option<&str> {
        self.url.as_deref()
    }
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }
}

/// Splits text into pages of about `size` characters, preferring line breaks.
fn paginate(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut pages = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        let mut end = (start + size).min(chars.len());
        if end < chars.len()
            && let Some(nl) = chars[start..end].iter().rposition(|c| *c == '\n')
            && nl > size / 2
        {
            end = start + nl + 1;
        }
        pages.push(chars[start..end].iter().collect());
        start = end;
    }
    if pages.is_empty() {
        pages.push(String::new());
    }
    pages
}

fn show_page(url: &str, pages: &[String], page: usize) -> String {
    format!(
        "Address: {url}\nPage {page} of {}\n\n{}",
        pages.len(),
        pages[page - 1]
    )
}

/// The `visit_page` tool.
pub struct VisitPage {
    client: reqwest::Client,
    state: Arc<Mutex<BrowserState>>,
    max_bytes: usize,
}

impl VisitPage {
    pub fn new(client: reqwest::Client, state: Arc<Mutex<BrowserState>>, max_bytes: usize) -> Self {
        VisitPage {
            client,
            state,
            max_bytes,
        }
    }
}

const VISIT: &str = "visit_page";
const VISIT_DOC: &str =
    "Open a web page as text, shown in pages of about 4000 characters; `page` picks which one.";

#[async_trait]
impl Tool for VisitPage {
    fn name(&self) -> &'static str {
        VISIT
    }
    fn prompt_line(&self) -> String {
        format!("- visit_page(url: str, page: int = 1) -> str: {VISIT_DOC}")
    }
    fn python_wrapper(&self) -> String {
        text_wrapper(
            VISIT,
            &[("url", "str", None), ("page", "int", Some("1"))],
            VISIT_DOC,
        )
    }
    async fn call(&self, args: &ToolArgs<'_>) -> Result<Value, ToolError> {
        let url = args.text(VISIT, 0, "url")?.trim().to_string();
        let page = args.uint(VISIT, 1, "page")?.unwrap_or(1).max(1) as usize;
        let cached = {
            let st = self.state.lock();
            (st.url.as_deref() == Some(url.as_str())).then(|| st.pages.clone())
        };
        let pages = match cached {
            Some(p) => p,
            None => {
                let f = get_capped(&self.client, VISIT, &url, self.max_bytes).await?;
                let ct = f.content_type.as_str();
                let text = if ct.contains("html") || ct.contains("xml") || ct.is_empty() {
                    let body = String::from_utf8_lossy(&f.bytes);
                    if ct.is_empty() && !body.trim_start().starts_with('<') {
                        body.into_owned()
                    } else {
                        html_to_text(&body)
                    }
                } else if ct.starts_with("text/")
                    || ct.contains("json")
                    || ct.contains("javascript")
                {
                    String::from_utf8_lossy(&f.bytes).into_owned()
                } else {
                    return Ok(Value::String(format!(
                        "{url} serves `{ct}` ({} bytes), not a web page. Use download_file(url) and then inspect_file_as_text(path).",
                        f.bytes.len()
                    )));
                };
                let pages = paginate(&text, PAGE_CHARS);
                let mut st = self.state.lock();
                st.url = Some(url.clone());
                st.pages = pages.clone();
                pages
            }
        };
        if page > pages.len() {
            return Err(ToolError::BadArg {
                tool: VISIT,
                arg: "page",
                problem: format!("is {page} but {url} has only {} page(s)", pages.len()),
            });
        }
        Ok(Value::String(show_page(&url, &pages, page)))
    }
}

/// The `find_on_page` tool.
pub struct FindOnPage {
    state: Arc<Mutex<BrowserState>>,
}

impl FindOnPage {
    pub fn new(state: Arc<Mutex<BrowserState>>) -> Self {
        FindOnPage { state }
    }
}

const FIND: &str = "find_on_page";
const FIND_DOC: &str = "Find text (case-insensitive) on the page last opened with visit_page; shows each match with its page number.";

#[async_trait]
impl Tool for FindOnPage {
    fn name(&self) -> &'static str {
        FIND
    }
    fn prompt_line(&self) -> String {
        format!("- find_on_page(text: str) -> str: {FIND_DOC}")
    }
    fn python_wrapper(&self) -> String {
        text_wrapper(FIND, &[("text", "str", None)], FIND_DOC)
    }
    async fn call(&self, args: &ToolArgs<'_>) -> Result<Value, ToolError> {
        let needle = args.text(FIND, 0, "text")?;
        if needle.trim().is_empty() {
            return Err(ToolError::BadArg {
                tool: FIND,
                arg: "text",
                problem: "is empty".into(),
            });
        }
        let st = self.state.lock();
        let Some(url) = st.url.clone() else {
            return Err(ToolError::Failed {
                tool: FIND,
                message: "no page is open; call visit_page(url) first".into(),
            });
        };
        let needle_l = needle.to_lowercase();
        let mut found = Vec::new();
        let mut total = 0usize;
        for (i, p) in st.pages.iter().enumerate() {
            let lower = p.to_lowercase();
            // Lower-casing can change byte lengths; search and cut on the lower-cased text.
            for (pos, _) in lower.match_indices(&needle_l) {
                total += 1;
                if found.len() < MAX_MATCHES {
                    let chars: Vec<char> = lower[..pos].chars().collect();
                    let before: String = chars[chars.len().saturating_sub(150)..].iter().collect();
                    let after: String = lower[pos..]
                        .chars()
                        .take(needle_l.chars().count() + 150)
                        .collect();
                    found.push(
                        format!("- page {}: …{}{}…", i + 1, before, after).replace('\n', " "),
                    );
                }
            }
        }
        if total == 0 {
            return Ok(Value::String(format!(
                "`{needle}` was not found on {url} ({} page(s)).",
                st.pages.len()
            )));
        }
        let mut out = format!("{total} match(es) for `{needle}` on {url}:\n");
        out.push_str(&found.join("\n"));
        if total > found.len() {
            out.push_str(&format!("\n({} more not shown)", total - found.len()));
        }
        Ok(Value::String(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cover_the_text_without_loss() {
        let text: String = (0..3000).map(|i| format!("w{i} ")).collect::<String>() + "\nend";
        let pages = paginate(&text, PAGE_CHARS);
        assert!(pages.len() >= 4);
        assert_eq!(pages.concat(), text);
        assert!(pages.iter().all(|p| p.chars().count() <= PAGE_CHARS));
        assert_eq!(paginate("", 10), vec![String::new()]);
    }
}
