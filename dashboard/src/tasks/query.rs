//! What a task table asks for, parsed from (and written back to) URL query pairs:
//! facet filters, a search, a sort column and direction, and a page. Every view is a
//! deep link: [`TaskQuery::pairs`] gives back the parameters that reproduce it.

use serde::Serialize;

/// Rows per page when the URL does not say.
pub const DEFAULT_PER_PAGE: usize = 50;
/// Most rows per page.
pub const MAX_PER_PAGE: usize = 500;

/// A column tasks can be filtered on, with its values offered (and counted) as a facet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Facet {
    Status,
    Correct,
    Benchmark,
    Split,
    Backbone,
    Arm,
    Level,
    Subject,
    End,
    Error,
}

/// Number of facets.
pub const FACETS: usize = 10;

impl Facet {
    pub const ALL: [Facet; FACETS] = [
        Facet::Status,
        Facet::Correct,
        Facet::Benchmark,
        Facet::Split,
        Facet::Backbone,
        Facet::Arm,
        Facet::Level,
        Facet::Subject,
        Facet::End,
        Facet::Error,
    ];

    /// The URL parameter.
    pub fn param(self) -> &'static str {
        match self {
            Facet::Status => "status",
            Facet::Correct => "correct",
            Facet::Benchmark => "benchmark",
            Facet::Split => "split",
            Facet::Backbone => "backbone",
            Facet::Arm => "arm",
            Facet::Level => "level",
            Facet::Subject => "subject",
            Facet::End => "end",
            Facet::Error => "error",
        }
    }

    /// The label on the form.
    pub fn label(self) -> &'static str {
        match self {
            Facet::End => "end reason",
            Facet::Error => "error kind",
            f => f.param(),
        }
    }

    /// The value that selects tasks without one (`none` for `correct`: not graded).
    pub fn none_value(self) -> &'static str {
        match self {
            Facet::Correct => "none",
            _ => "(none)",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    fn from_param(p: &str) -> Option<Facet> {
        Facet::ALL.into_iter().find(|f| f.param() == p)
    }
}

/// A column the table can be sorted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SortKey {
    /// The run's own row order (the default).
    Row,
    Item,
    Key,
    Epoch,
    Steps,
    Calls,
    Tokens,
    Cost,
    Wall,
    Attempts,
    Seq,
    Facet(Facet),
}

impl SortKey {
    const PLAIN: [(SortKey, &'static str); 11] = [
        (SortKey::Row, "row"),
        (SortKey::Item, "item"),
        (SortKey::Key, "key"),
        (SortKey::Epoch, "epoch"),
        (SortKey::Steps, "steps"),
        (SortKey::Calls, "calls"),
        (SortKey::Tokens, "tokens"),
        (SortKey::Cost, "cost"),
        (SortKey::Wall, "wall"),
        (SortKey::Attempts, "attempts"),
        (SortKey::Seq, "seq"),
    ];

    /// The `sort` parameter's value.
    pub fn param(self) -> &'static str {
        match self {
            SortKey::Facet(f) => f.param(),
            k => Self::PLAIN
                .iter()
                .find(|(p, _)| *p == k)
                .map_or("row", |(_, n)| n),
        }
    }

    pub fn parse(s: &str) -> Option<SortKey> {
        Self::PLAIN
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(k, _)| *k)
            .or_else(|| Facet::from_param(s).map(SortKey::Facet))
    }

    /// Every accepted value, for error messages.
    pub fn names() -> Vec<&'static str> {
        let mut v: Vec<&str> = Self::PLAIN.iter().map(|(_, n)| *n).collect();
        v.extend(Facet::ALL.iter().map(|f| f.param()));
        v
    }
}

/// One task table view: filters, search, sort and page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskQuery {
    /// The wanted value per facet (indexed by [`Facet::index`]); `None` = any.
    pub filters: [Option<String>; FACETS],
    /// Free-text search (every word must appear in the task's text).
    pub q: Option<String>,
    pub sort: SortKey,
    pub desc: bool,
    /// 1-based.
    pub page: usize,
    pub per: usize,
}

impl Default for TaskQuery {
    fn default() -> Self {
        TaskQuery {
            filters: Default::default(),
            q: None,
            sort: SortKey::Row,
            desc: false,
            page: 1,
            per: DEFAULT_PER_PAGE,
        }
    }
}

impl TaskQuery {
    /// Parses URL query pairs. Unknown parameters are ignored and empty values mean "not
    /// set" (a GET form submits every field); a bad `sort`, `dir`, `page` or `per` is an
    /// error naming it. `per` is clamped to 1..=500.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<Self, String> {
        let mut q = TaskQuery::default();
        for (k, v) in pairs {
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            match k.as_str() {
                "q" => q.q = Some(v.chars().take(super::search::MAX_QUERY_CHARS).collect()),
                "sort" => {
                    q.sort = SortKey::parse(v).ok_or_else(|| {
                        format!(
                            "`sort={v}` is not a column; use one of {}",
                            SortKey::names().join(", ")
                        )
                    })?
                }
                "dir" => {
                    q.desc = match v {
                        "asc" => false,
                        "desc" => true,
                        _ => return Err(format!("`dir={v}` must be `asc` or `desc`")),
                    }
                }
                "page" => {
                    q.page = v
                        .parse::<usize>()
                        .ok()
                        .filter(|&p| p >= 1)
                        .ok_or_else(|| format!("`page={v}` must be a whole number ≥ 1"))?
                }
                "per" => {
                    q.per = v
                        .parse::<usize>()
                        .map_err(|_| format!("`per={v}` must be a whole number"))?
                        .clamp(1, MAX_PER_PAGE)
                }
                other => {
                    if let Some(f) = Facet::from_param(other) {
                        q.filters[f.index()] = Some(v.to_string());
                    }
                }
            }
        }
        Ok(q)
    }

    pub fn filter(&self, f: Facet) -> Option<&str> {
        self.filters[f.index()].as_deref()
    }

    /// The parameters that reproduce this view (defaults left out).
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for f in Facet::ALL {
            if let Some(v) = self.filter(f) {
                out.push((f.param(), v.to_string()));
            }
        }
        if let Some(q) = &self.q {
            out.push(("q", q.clone()));
        }
        if self.sort != SortKey::Row {
            out.push(("sort", self.sort.param().to_string()));
        }
        if self.desc {
            out.push(("dir", "desc".to_string()));
        }
        if self.per != DEFAULT_PER_PAGE {
            out.push(("per", self.per.to_string()));
        }
        if self.page != 1 {
            out.push(("page", self.page.to_string()));
        }
        out
    }

    /// This view at another page.
    pub fn at_page(&self, page: usize) -> Self {
        TaskQuery {
            page: page.max(1),
            ..self.clone()
        }
    }

    /// This view sorted by `key`: ascending, or flipped when already sorted by it; back
    /// to the first page.
    pub fn sorted_by(&self, key: SortKey) -> Self {
        TaskQuery {
            sort: key,
            desc: self.sort == key && !self.desc,
            page: 1,
            ..self.clone()
        }
    }

    /// What selects the rows (filters and search), for caching a filtered set.
    pub(crate) fn selection_key(&self) -> String {
        let mut key = String::new();
        for v in &self.filters {
            key.push_str(v.as_deref().unwrap_or("\u{1}"));
            key.push('\0');
        }
        if let Some(q) = &self.q {
            key.push_str(&super::search::normalize_query(q));
        }
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_and_writes_back_the_same_view() {
        let q = TaskQuery::from_pairs(&pairs(&[
            ("status", "scored"),
            ("correct", "false"),
            ("arm", ""),
            ("q", " needle "),
            ("sort", "cost"),
            ("dir", "desc"),
            ("page", "3"),
            ("per", "9999"),
            ("utm", "x"),
        ]))
        .expect("parse");
        assert_eq!(q.filter(Facet::Status), Some("scored"));
        assert_eq!(q.filter(Facet::Arm), None);
        assert_eq!(q.q.as_deref(), Some("needle"));
        assert_eq!(
            (q.sort, q.desc, q.page, q.per),
            (SortKey::Cost, true, 3, 500)
        );
        let back: Vec<(String, String)> = q
            .pairs()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(TaskQuery::from_pairs(&back).expect("reparse"), q);
        assert!(!q.sorted_by(SortKey::Cost).desc);
        assert_eq!(q.sorted_by(SortKey::Item).page, 1);
        assert_eq!(
            TaskQuery::from_pairs(&pairs(&[("sort", "level")]))
                .expect("facet sort")
                .sort,
            SortKey::Facet(Facet::Level)
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        for (k, v) in [("sort", "nope"), ("dir", "up"), ("page", "0"), ("per", "x")] {
            let err = TaskQuery::from_pairs(&pairs(&[(k, v)])).expect_err(k);
            assert!(err.contains(k), "{err}");
        }
    }
}
