//! `/login`: the form that trades the dashboard's token for a session cookie, shown again
//! with a message (and a 401) after a wrong token.

use maud::{Markup, html};

use super::layout;

pub fn page(next: &str, error: Option<&str>) -> Markup {
    let body = html! {
        @if let Some(e) = error {
            p.err { (e) }
        }
        p { "This dashboard needs its token (" code { "HERD_TOKEN" } ")." }
        form.inline method="post" action="/login" {
            input type="hidden" name="next" value=(next);
            label { "token" input type="password" name="token" autocomplete="current-password" autofocus required; }
            button type="submit" { "sign in" }
        }
        p.muted { "Scripts can send " code { "Authorization: Bearer TOKEN" } " instead." }
    };
    layout("sign in", body, false)
}
