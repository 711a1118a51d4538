//! The action store as the loop needs it: retrieve by query, store a successful cell's
//! functions, and tell generated actions apart. The worker adapts the real store to it.

use async_trait::async_trait;
use herd_core::kernel::FunctionDef;
use serde::{Deserialize, Serialize};

/// A stored action as the prompt lists it and the kernel loads it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ActionView {
    pub name: String,
    /// Argument list with its parentheses, e.g. `(x: int, y: float = 1.0)`.
    pub signature: String,
    pub returns: Option<String>,
    pub docstring: Option<String>,
    /// Python source that defines the function in a fresh kernel (its imports included).
    pub source_to_load: String,
}

/// The action store, seen from one task.
#[async_trait]
pub trait ActionSource: Send + Sync {
    /// The `k` actions most relevant to `query`.
    async fn retrieve(&self, query: &str, k: usize) -> Result<Vec<ActionView>, String>;
    /// Stores the functions of a cell that ran without error; returns how many were new.
    async fn store(&self, fns: &[FunctionDef], step: u32) -> Result<u32, String>;
    /// Generated actions in the namespace now.
    async fn library_size(&self) -> u64;
    /// Whether `name` is a generated action of the namespace.
    fn is_generated(&self, name: &str) -> bool;
}

/// The action store of an arm with `accumulation = off`: nothing is retrievable and
/// nothing is written.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoActions;

#[async_trait]
impl ActionSource for NoActions {
    async fn retrieve(&self, _query: &str, _k: usize) -> Result<Vec<ActionView>, String> {
        Ok(Vec::new())
    }
    async fn store(&self, _fns: &[FunctionDef], _step: u32) -> Result<u32, String> {
        Ok(0)
    }
    async fn library_size(&self) -> u64 {
        0
    }
    fn is_generated(&self, _name: &str) -> bool {
        false
    }
}
