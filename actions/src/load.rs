//! Turns stored actions back into Python that defines them in a fresh kernel: the imports of
//! their defining cells (aliases kept), then every function, dependencies first.

use std::collections::{BTreeMap, HashSet};

use crate::action::Action;

/// Python source defining `actions` and their imports, dependencies before dependants.
///
/// Pass the actions together with the generated actions they depend on (see
/// [`crate::ActionLibrary::with_dependencies`]); a dependency missing from the slice is noted
/// in a comment. When several versions of one name are given, the highest version is defined.
/// Each import is guarded so that one module missing in the sandbox does not stop the others
/// from loading (the function using it then fails with a `NameError` when called).
pub fn load_source(actions: &[Action]) -> String {
    let mut by_name: BTreeMap<&str, &Action> = BTreeMap::new();
    for a in actions {
        match by_name.get(a.name.as_str()) {
            Some(prev) if prev.version >= a.version => {}
            _ => {
                by_name.insert(a.name.as_str(), a);
            }
        }
    }

    // Depth-first: dependencies first, in the order the caller gave the actions.
    let mut ordered: Vec<&Action> = Vec::new();
    let mut done: HashSet<&str> = HashSet::new();
    let mut missing: Vec<String> = Vec::new();
    for a in actions {
        if let Some(chosen) = by_name.get(a.name.as_str()) {
            visit(
                chosen,
                &by_name,
                &mut done,
                &mut Vec::new(),
                &mut ordered,
                &mut missing,
            );
        }
    }

    let mut out = String::new();
    let mut seen_imports: HashSet<&str> = HashSet::new();
    for a in &ordered {
        for imp in &a.imports {
            let imp = imp.trim();
            if imp.is_empty() || !seen_imports.insert(imp) {
                continue;
            }
            out.push_str("try:\n");
            for line in imp.lines() {
                out.push_str("    ");
                out.push_str(line);
                out.push('\n');
            }
            out.push_str("except ImportError:\n    pass\n");
        }
    }
    if !out.is_empty() {
        out.push('\n');
    }
    missing.sort();
    missing.dedup();
    for m in &missing {
        out.push_str(&format!(
            "# note: generated action `{m}` is called but was not provided\n"
        ));
    }
    for a in &ordered {
        out.push_str(&format!(
            "# herd action {} ({})\n",
            a.label(),
            a.source_hash.get(..12).unwrap_or("")
        ));
        out.push_str(a.source.trim_end());
        out.push_str("\n\n");
    }
    out
}

fn visit<'a>(
    a: &'a Action,
    by_name: &BTreeMap<&str, &'a Action>,
    done: &mut HashSet<&'a str>,
    path: &mut Vec<&'a str>,
    ordered: &mut Vec<&'a Action>,
    missing: &mut Vec<String>,
) {
    if done.contains(a.name.as_str()) || path.contains(&a.name.as_str()) {
        return;
    }
    path.push(a.name.as_str());
    for dep in &a.calls_generated {
        if dep == &a.name {
            continue;
        }
        match by_name.get(dep.as_str()) {
            Some(d) => visit(d, by_name, done, path, ordered, missing),
            None => missing.push(dep.clone()),
        }
    }
    path.pop();
    done.insert(a.name.as_str());
    ordered.push(a);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::action::{action_id, source_hash};

    pub(crate) fn action(name: &str, source: &str, imports: &[&str], calls: &[&str]) -> Action {
        Action {
            id: action_id("ns", name, 1),
            namespace: "ns".into(),
            name: name.into(),
            version: 1,
            signature: "()".into(),
            returns: None,
            docstring: None,
            source: source.into(),
            imports: imports.iter().map(|s| s.to_string()).collect(),
            calls_generated: calls.iter().map(|s| s.to_string()).collect(),
            source_hash: source_hash(source),
            created_by_task: "t".into(),
            created_split: None,
            created_seq: 0,
            created_at: String::new(),
            embedder: "e".into(),
        }
    }

    #[test]
    fn keeps_import_aliases_and_orders_dependencies_first() {
        let mean = action(
            "col_mean",
            "def col_mean(xs):\n    return np.mean(xs)\n",
            &["import numpy as np"],
            &[],
        );
        let report = action(
            "report",
            "def report(xs):\n    return f'{col_mean(xs):.2f}'\n",
            &["import numpy as np", "from math import sqrt as root"],
            &["col_mean"],
        );
        let src = load_source(&[report, mean]);
        assert!(src.contains("    import numpy as np\n"), "{src}");
        assert!(src.contains("    from math import sqrt as root\n"), "{src}");
        assert_eq!(src.matches("import numpy as np").count(), 1, "{src}");
        let mean_at = src.find("def col_mean").expect("col_mean defined");
        let report_at = src.find("def report").expect("report defined");
        assert!(mean_at < report_at, "dependency must come first:\n{src}");
    }

    #[test]
    fn missing_dependency_is_noted_and_cycles_terminate() {
        let a = action("a", "def a():\n    return b()\n", &[], &["b"]);
        let b = action("b", "def b():\n    return a()\n", &[], &["a", "zzz"]);
        let src = load_source(&[a, b]);
        assert!(
            src.contains("`zzz` is called but was not provided"),
            "{src}"
        );
        assert_eq!(src.matches("def a()").count(), 1);
        assert_eq!(src.matches("def b()").count(), 1);
    }

    #[test]
    fn highest_version_wins() {
        let v1 = action("f", "def f():\n    return 1\n", &[], &[]);
        let mut v2 = action("f", "def f():\n    return 2\n", &[], &[]);
        v2.version = 2;
        let src = load_source(&[v2, v1]);
        assert!(
            src.contains("return 2") && !src.contains("return 1"),
            "{src}"
        );
    }
}
