//! Server-rendered pages as maud templates: text from results, trajectories or the
//! coordinator is escaped by construction. This module holds the page frame and small
//! pieces the pages share; each page lives in its own module.

pub mod compare;
pub mod index;
pub mod live;
pub mod login;
pub mod run;
pub mod summary;
pub mod tasks;
pub mod trajectory;

use axum::response::Html;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::format::url_segment;

pub(crate) use summary::summary_section;
pub(crate) use tasks::task_table;

/// A rendered page as an axum response body.
pub fn html(markup: Markup) -> Html<String> {
    Html(markup.into_string())
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#222}\
a{color:#0645ad}h1 a{color:inherit;text-decoration:none}\
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:13px}\
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}\
th{background:#f3f3f3}td.n,th.n{text-align:right}th a{color:inherit}\
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:600}\
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:6px;white-space:pre-wrap;word-break:break-word;max-height:40em;overflow:auto;font-size:12px}\
.err,.partial{color:#b00}.ok{color:#070}.muted,.note{color:#666;font-size:13px}.note{max-width:60em}\
.step{border-left:3px solid #ccd;padding-left:10px;margin:1em 0}\
.bar{display:inline-block;width:120px;height:9px;background:#eee;vertical-align:middle}\
.bar span{display:block;height:9px;background:#5a8}\
.charts svg{margin:0 1em 1em 0;border:1px solid #eee;max-width:100%;height:auto}\
form.filters{display:flex;flex-wrap:wrap;gap:6px 14px;align-items:end;margin:0.5em 0;font-size:13px}\
form.filters label{display:flex;flex-direction:column}\
form.inline{display:inline-flex;gap:8px;align-items:end;flex-wrap:wrap;font-size:13px;margin:0 0 1em}\
form.inline label{display:flex;flex-direction:column}\
.pager{margin:0.5em 0;font-size:14px}.pager a,.pager span{margin-right:1em}\
nav.links a{margin-right:1em}td.clip{max-width:22em;overflow-wrap:anywhere}";

/// Replaces the `#runs` and `#sweeps` sections with fresh copies of this page every 2 s.
const REFRESH_JS: &str = "setInterval(function(){fetch(location.href,{cache:'no-store'}).then(function(r){return r.text()}).then(function(t){\
var d=new DOMParser().parseFromString(t,'text/html');['runs','sweeps'].forEach(function(id){\
var n=d.getElementById(id),o=document.getElementById(id);if(n&&o){o.replaceWith(n)}})}).catch(function(){})},2000);";

/// A whole page: the title, `body`, and with `refresh` the auto-refresh script.
pub fn layout(title: &str, body: Markup, refresh: bool) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width";
                title { (title) " · herd" }
                style { (PreEscaped(CSS)) }
            }
            body {
                h1 { a href="/" { "herd" } " · " (title) }
                (body)
                @if refresh {
                    script { (PreEscaped(REFRESH_JS)) }
                }
            }
        }
    }
}

/// The page an error ends a request with.
pub fn error_page(status: &str, message: &str) -> Markup {
    layout(
        status,
        html! {
            p.err { (message) }
            p { a href="/" { "back to the run list" } }
        },
        false,
    )
}

/// `yes` / `no` / a dash for a task's grade.
pub fn correct_cell(c: Option<bool>) -> Markup {
    html! {
        @match c {
            Some(true) => span.ok { "yes" },
            Some(false) => span.err { "no" },
            None => "—",
        }
    }
}

/// A link to a task's trajectory under `base` (`{base}/tasks/{key}`), or "none".
pub fn trajectory_link(base: &str, key: &str, has: bool, text: &str) -> Markup {
    html! {
        @if has {
            a href={ (base) "/tasks/" (url_segment(key)) } { (text) }
        } @else {
            span.muted title="no trajectory" { "none" }
        }
    }
}

/// Previous / next links for page `page` of `pages`; `link(n)` is page n's URL.
pub fn pager(page: usize, pages: usize, link: impl Fn(usize) -> String) -> Markup {
    html! {
        div.pager {
            @if page > 1 {
                a href=(link(1)) { "« first" }
                a href=(link(page - 1)) rel="prev" { "‹ prev" }
            }
            span { "page " (page) " of " (pages) }
            @if page < pages {
                a href=(link(page + 1)) rel="next" { "next ›" }
                a href=(link(pages)) { "last »" }
            }
        }
    }
}
