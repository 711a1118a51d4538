//! A benchmark item, its attached files, and a loaded dataset.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use herd_core::config::BenchmarkKind;
use herd_core::task::AttachmentRef;
use sha2::{Digest, Sha256};

/// Where an attachment's bytes live.
#[derive(Clone, PartialEq)]
pub enum AttachmentData {
    /// A file on local disk (a local dataset copy or the download cache).
    File(PathBuf),
    /// Bytes held in memory (generated tables, the embedded herd-mini files).
    Bytes(Arc<[u8]>),
}

impl std::fmt::Debug for AttachmentData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttachmentData::File(p) => write!(f, "File({})", p.display()),
            AttachmentData::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
        }
    }
}

/// A file given to the agent with an item; the worker places it at `/workspace/<name>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    /// File name as the agent sees it (no directories).
    pub name: String,
    pub data: AttachmentData,
    pub size: u64,
    /// Hex sha256 of the content.
    pub sha256: String,
}

impl Attachment {
    pub(crate) fn from_bytes(name: &str, bytes: Vec<u8>) -> Attachment {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        Attachment {
            name: name.to_string(),
            size: bytes.len() as u64,
            sha256,
            data: AttachmentData::Bytes(Arc::from(bytes)),
        }
    }

    pub(crate) fn from_file(name: &str, path: &Path, bytes: &[u8]) -> Attachment {
        Attachment {
            name: name.to_string(),
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
            data: AttachmentData::File(path.to_path_buf()),
        }
    }

    /// The local path, when the attachment is a file.
    pub fn path(&self) -> Option<&Path> {
        match &self.data {
            AttachmentData::File(p) => Some(p),
            AttachmentData::Bytes(_) => None,
        }
    }

    /// The content (reads the file for file attachments).
    pub fn bytes(&self) -> std::io::Result<Vec<u8>> {
        match &self.data {
            AttachmentData::File(p) => std::fs::read(p),
            AttachmentData::Bytes(b) => Ok(b.to_vec()),
        }
    }

    /// The reference a worker receives before fetching the content.
    pub fn to_ref(&self) -> AttachmentRef {
        AttachmentRef {
            name: self.name.clone(),
            size: self.size,
            sha256: self.sha256.clone(),
        }
    }
}

/// One question of a benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Stable id within the benchmark (GAIA task_id, MATH unique_id, GPQA Record ID, …).
    pub id: String,
    /// The question text as given to the agent (without answer-format instructions).
    pub question: String,
    /// The gold answer; `None` where the benchmark withholds it (GAIA test).
    pub gold: Option<String>,
    /// Per-benchmark facts: level, subject, domain, option permutation, year, choices, …
    pub metadata: BTreeMap<String, String>,
    pub attachments: Vec<Attachment>,
    /// `test` unless the config says otherwise; `train` for train-split items.
    pub split: String,
    /// Where the item came from, as `file:line` (or `file#key`), for error reports.
    pub origin: String,
}

impl Item {
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }
}

/// A benchmark after loading and selection.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Display name (config name or kind).
    pub name: String,
    pub kind: BenchmarkKind,
    /// The subset actually loaded (`diamond`, `math500`, …).
    pub subset: String,
    /// Where the items were read from (path or `hf://` uri).
    pub source: String,
    /// Hex sha256 over every source byte read (paths, contents, attachments) plus the subset.
    pub fingerprint: String,
    /// Selected evaluation items.
    pub items: Vec<Item>,
    /// Training items from `cfg.train` (empty when not set).
    pub train_items: Vec<Item>,
    /// How many items the subset had before selection.
    pub total_items: usize,
}
