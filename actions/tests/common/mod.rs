//! Test doubles and fixtures shared by the integration tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use herd_actions::{DocstringWriter, Embedder, Result};
use herd_core::kernel::FunctionDef;
use herd_core::task::ActionAccess;

/// A deterministic bag-of-words embedder: each lower-cased word hashes into one of `dim`
/// buckets; vectors are L2-normalised. Texts sharing words are close.
pub struct HashEmbedder {
    pub id: String,
    pub dim: usize,
    pub calls: AtomicUsize,
}

impl HashEmbedder {
    pub fn new(id: &str, dim: usize) -> Arc<Self> {
        Arc::new(HashEmbedder {
            id: id.to_string(),
            dim,
            calls: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl Embedder for HashEmbedder {
    fn id(&self) -> String {
        self.id.clone()
    }
    fn dim(&self) -> usize {
        self.dim
    }
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        self.calls.fetch_add(texts.len(), Ordering::SeqCst);
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0.0f32; self.dim];
                for w in t
                    .to_lowercase()
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| w.len() > 1)
                {
                    let mut h: u64 = 1469598103934665603;
                    for b in w.bytes() {
                        h ^= b as u64;
                        h = h.wrapping_mul(1099511628211);
                    }
                    v[(h % self.dim as u64) as usize] += 1.0;
                }
                v[0] += 0.01; // never all zeros
                herd_actions::embed::l2_normalise(&mut v);
                v
            })
            .collect())
    }
}

/// Writes `Auto docstring for NAME.` and counts its calls.
#[derive(Default)]
pub struct CountingWriter {
    pub calls: AtomicUsize,
}

#[async_trait]
impl DocstringWriter for CountingWriter {
    async fn write_docstring(
        &self,
        f: &FunctionDef,
    ) -> std::result::Result<Option<String>, String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Some(format!("Auto docstring for {}.", f.name)))
    }
}

pub fn access(ns: &str, read: bool, write: bool) -> ActionAccess {
    ActionAccess {
        namespace: ns.to_string(),
        read,
        write,
    }
}

/// A FunctionDef as the kernel would report it.
pub fn fdef(
    name: &str,
    args: &str,
    doc: Option<&str>,
    body: &str,
    imports: &[&str],
    calls: &[&str],
) -> FunctionDef {
    let mut source = format!("def {name}{args}:\n");
    if let Some(d) = doc {
        source.push_str(&format!("    \"\"\"{d}\"\"\"\n"));
    }
    for line in body.lines() {
        source.push_str("    ");
        source.push_str(line);
        source.push('\n');
    }
    FunctionDef {
        name: name.to_string(),
        signature: args.to_string(),
        returns: None,
        docstring: doc.map(str::to_string),
        source,
        imports: imports.iter().map(|s| s.to_string()).collect(),
        calls: calls.iter().map(|s| s.to_string()).collect(),
    }
}
