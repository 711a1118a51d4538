//! Comparison handlers: arms within a run (`/runs/{name}/compare?base=ARM&arms=A2,A3`) and
//! runs against a base run (`/compare?base=RUN&runs=R2,R3`), as pages and as JSON, with the
//! flipped-item lists paged by `page` and `per`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use maud::{Markup, html};
use serde::Serialize;

use super::api::ApiError;
use super::{AppState, Pairs, Shared, blocking, find_run, param, task_set};
use crate::compare::{Flip, FlipRow, Pairing, Side, pair};
use crate::error::DashboardError;
use crate::format::{href, url_segment};
use crate::pages::compare::{CompareView, PairSection};
use crate::pages::html as render;
use crate::runs::{self, RunDir};
use crate::tasks::{DEFAULT_PER_PAGE, Facet, MAX_PER_PAGE, TaskSet};

/// Most sides compared with one base at once.
const MAX_OTHERS: usize = 16;

/// What a comparison asks for.
struct Params {
    base: Option<String>,
    others: Vec<String>,
    page: usize,
    per: usize,
}

impl Params {
    /// `base`, the others under `others_key` (repeated, or comma-separated), `page`, `per`.
    fn parse(pairs: &[(String, String)], others_key: &str) -> Result<Self, DashboardError> {
        let mut others: Vec<String> = Vec::new();
        for (_, v) in pairs.iter().filter(|(k, _)| k == others_key) {
            for o in v.split(',').map(str::trim).filter(|o| !o.is_empty()) {
                if !others.iter().any(|x| x == o) {
                    others.push(o.to_string());
                }
            }
        }
        if others.len() > MAX_OTHERS {
            return Err(DashboardError::BadQuery(format!(
                "at most {MAX_OTHERS} {others_key} at once"
            )));
        }
        let number = |key: &str, default: usize| -> Result<usize, DashboardError> {
            match param(pairs, key) {
                None => Ok(default),
                Some(v) => v.parse::<usize>().ok().filter(|&n| n >= 1).ok_or_else(|| {
                    DashboardError::BadQuery(format!("`{key}={v}` must be a whole number ≥ 1"))
                }),
            }
        };
        Ok(Params {
            base: param(pairs, "base").map(str::to_string),
            others,
            page: number("page", 1)?,
            per: number("per", DEFAULT_PER_PAGE)?.min(MAX_PER_PAGE),
        })
    }

    /// The query pairs of this comparison at page `page`.
    fn pairs(&self, others_key: &'static str, page: usize) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(b) = &self.base {
            out.push(("base", b.clone()));
        }
        if !self.others.is_empty() {
            out.push((others_key, self.others.join(",")));
        }
        if self.per != DEFAULT_PER_PAGE {
            out.push(("per", self.per.to_string()));
        }
        if page != 1 {
            out.push(("page", page.to_string()));
        }
        out
    }
}

/// One computed pair with what its lists need.
struct Computed {
    pairing: Arc<Pairing>,
    base_set: Arc<TaskSet>,
    other_set: Arc<TaskSet>,
    base_url: String,
    other_url: String,
}

/// The pages every list needs, and the page shown (clamped).
fn paging(computed: &[Computed], params: &Params) -> (usize, usize) {
    let longest = computed
        .iter()
        .map(|c| c.pairing.fixed.len().max(c.pairing.broken.len()))
        .max()
        .unwrap_or(0);
    let pages = longest.div_ceil(params.per).max(1);
    (params.page.min(pages), pages)
}

fn rows(c: &Computed, which: Flip, start: usize, per: usize) -> Vec<FlipRow> {
    c.pairing
        .flip_rows(which, &c.base_set, &c.other_set, start, per)
}

#[derive(Serialize)]
struct PairJson {
    #[serde(flatten)]
    pairing: Pairing,
    fixed: Vec<FlipRow>,
    broken: Vec<FlipRow>,
}

#[derive(Serialize)]
pub struct CompareReply {
    base: Option<String>,
    others: Vec<String>,
    page: usize,
    pages: usize,
    per: usize,
    pairs: Vec<PairJson>,
}

fn reply(computed: &[Computed], params: &Params) -> CompareReply {
    let (page, pages) = paging(computed, params);
    let start = (page - 1) * params.per;
    CompareReply {
        base: params.base.clone(),
        others: params.others.clone(),
        page,
        pages,
        per: params.per,
        pairs: computed
            .iter()
            .map(|c| PairJson {
                pairing: (*c.pairing).clone(),
                fixed: rows(c, Flip::Fixed, start, params.per),
                broken: rows(c, Flip::Broken, start, params.per),
            })
            .collect(),
    }
}

fn view_page(
    title: String,
    intro: Markup,
    computed: &[Computed],
    params: &Params,
    link: &dyn Fn(usize) -> String,
    across_runs: bool,
) -> Html<String> {
    let (page, pages) = paging(computed, params);
    let start = (page - 1) * params.per;
    let sections = computed
        .iter()
        .map(|c| PairSection {
            pairing: c.pairing.clone(),
            base_url: c.base_url.clone(),
            other_url: c.other_url.clone(),
            fixed: rows(c, Flip::Fixed, start, params.per),
            broken: rows(c, Flip::Broken, start, params.per),
        })
        .collect();
    render(crate::pages::compare::page(&CompareView {
        title,
        intro,
        sections,
        page,
        pages,
        per: params.per,
        link,
        across_runs,
    }))
}

// ---- arms within one run ----

/// The arms of `set` compared as `params` asks: base against each other (all other arms
/// when none are named).
fn compare_arms(
    state: &AppState,
    run: &RunDir,
    params: &Params,
) -> Result<(Vec<String>, Vec<Computed>), DashboardError> {
    let set = task_set(state, run)?;
    let arms = set.facet_values(Facet::Arm);
    let known = |a: &str| -> Result<(), DashboardError> {
        if arms.iter().any(|x| x == a) {
            Ok(())
        } else {
            Err(DashboardError::BadQuery(format!(
                "run `{}` has no arm `{a}` (its arms: {})",
                run.name,
                arms.join(", ")
            )))
        }
    };
    let Some(base) = params.base.as_deref() else {
        return Ok((arms, Vec::new()));
    };
    known(base)?;
    let others: Vec<String> = if params.others.is_empty() {
        arms.iter().filter(|a| *a != base).cloned().collect()
    } else {
        params
            .others
            .iter()
            .filter(|a| *a != base)
            .cloned()
            .collect()
    };
    let url = format!("/runs/{}", url_segment(&run.name));
    let mut computed = Vec::new();
    for other in &others {
        known(other)?;
        let pairing = set.cached_pairing(&format!("arms\0{base}\0{other}"), || {
            pair(
                Side {
                    set: &set,
                    arm: Some(base),
                },
                Side {
                    set: &set,
                    arm: Some(other),
                },
                false,
                (base.to_string(), other.clone()),
            )
        });
        computed.push(Computed {
            pairing,
            base_set: set.clone(),
            other_set: set.clone(),
            base_url: url.clone(),
            other_url: url.clone(),
        });
    }
    Ok((arms, computed))
}

fn arms_form(run: &str, arms: &[String], params: &Params) -> Markup {
    let action = format!("/runs/{}/compare", url_segment(run));
    let base = params.base.as_deref();
    html! {
        nav.links { a href={ "/runs/" (url_segment(run)) } { "back to run " (run) } }
        @if arms.len() < 2 {
            p { "This run has " (arms.len()) " arm; comparing arms needs two." }
        }
        form.inline method="get" action=(action) {
            label { "base arm"
                select name="base" {
                    @for a in arms { option value=(a) selected[Some(a.as_str()) == base] { (a) } }
                }
            }
            label { "against (none ticked: every other arm)"
                span {
                    @for a in arms {
                        label style="display:inline" {
                            input type="checkbox" name="arms" value=(a) checked[params.others.contains(a)];
                            " " (a) " "
                        }
                    }
                }
            }
            label { "per page" input type="number" name="per" min="1" max=(MAX_PER_PAGE) value=(params.per); }
            button type="submit" { "compare" }
        }
    }
}

pub async fn arms_page(
    State(state): State<Shared>,
    Path(name): Path<String>,
    Query(pairs): Pairs,
) -> Result<Html<String>, DashboardError> {
    let params = Params::parse(&pairs, "arms")?;
    let run = find_run(&state, name).await?;
    let st = state.clone();
    blocking("comparing arms", move || {
        let (arms, computed) = compare_arms(&st, &run, &params)?;
        let list = format!("/runs/{}/compare", url_segment(&run.name));
        let link = |n: usize| href(&list, &params.pairs("arms", n));
        Ok(view_page(
            format!("arms of {}", run.name),
            arms_form(&run.name, &arms, &params),
            &computed,
            &params,
            &link,
            false,
        ))
    })
    .await
}

pub async fn arms_json(
    State(state): State<Shared>,
    Path(name): Path<String>,
    Query(pairs): Pairs,
) -> Result<Json<CompareReply>, ApiError> {
    let params = Params::parse(&pairs, "arms")?;
    let run = find_run(&state, name).await?;
    let st = state.clone();
    let r = blocking("comparing arms", move || {
        let (_, computed) = compare_arms(&st, &run, &params)?;
        Ok(reply(&computed, &params))
    })
    .await?;
    Ok(Json(r))
}

// ---- runs against a base run ----

fn compare_runs(
    state: &AppState,
    params: &Params,
) -> Result<(Vec<String>, Vec<Computed>), DashboardError> {
    let all: Vec<String> = runs::discover(&state.root)?
        .into_iter()
        .map(|r| r.name)
        .collect();
    let Some(base_name) = params.base.as_deref() else {
        return Ok((all, Vec::new()));
    };
    let base = runs::find(&state.root, base_name)?;
    let base_set = task_set(state, &base)?;
    let mut computed = Vec::new();
    for other_name in params.others.iter().filter(|o| *o != base_name) {
        let other = runs::find(&state.root, other_name)?;
        let other_set = task_set(state, &other)?;
        let pairing = state.cache.pairing(&base_set, &other_set, || {
            pair(
                Side {
                    set: &base_set,
                    arm: None,
                },
                Side {
                    set: &other_set,
                    arm: None,
                },
                true,
                (base.name.clone(), other.name.clone()),
            )
        });
        computed.push(Computed {
            pairing,
            base_set: base_set.clone(),
            other_set,
            base_url: format!("/runs/{}", url_segment(&base.name)),
            other_url: format!("/runs/{}", url_segment(&other.name)),
        });
    }
    Ok((all, computed))
}

fn runs_form(all: &[String], params: &Params) -> Markup {
    let base = params.base.as_deref();
    html! {
        form.inline method="get" action="/compare" {
            label { "base run"
                select name="base" {
                    @for r in all { option value=(r) selected[Some(r.as_str()) == base] { (r) } }
                }
            }
            label { "against"
                select name="runs" multiple size=(all.len().clamp(2, 6)) {
                    @for r in all { option value=(r) selected[params.others.contains(r)] { (r) } }
                }
            }
            label { "per page" input type="number" name="per" min="1" max=(MAX_PER_PAGE) value=(params.per); }
            button type="submit" { "compare" }
        }
        @if params.base.is_some() && params.others.is_empty() {
            p.muted { "Pick one or more runs to compare with the base." }
        }
    }
}

pub async fn runs_page(
    State(state): State<Shared>,
    Query(pairs): Pairs,
) -> Result<Html<String>, DashboardError> {
    let params = Params::parse(&pairs, "runs")?;
    for name in params.base.iter().chain(&params.others) {
        runs::check_name("run name", name)?;
    }
    let st = state.clone();
    blocking("comparing runs", move || {
        let (all, computed) = compare_runs(&st, &params)?;
        let link = |n: usize| href("/compare", &params.pairs("runs", n));
        Ok(view_page(
            "compare runs".to_string(),
            runs_form(&all, &params),
            &computed,
            &params,
            &link,
            true,
        ))
    })
    .await
}

pub async fn runs_json(
    State(state): State<Shared>,
    Query(pairs): Pairs,
) -> Result<Json<CompareReply>, ApiError> {
    let params = Params::parse(&pairs, "runs")?;
    for name in params.base.iter().chain(&params.others) {
        runs::check_name("run name", name)?;
    }
    let st = state.clone();
    let r = blocking("comparing runs", move || {
        let (_, computed) = compare_runs(&st, &params)?;
        Ok(reply(&computed, &params))
    })
    .await?;
    Ok(Json(r))
}
