//! herd's shared action store: generated Python functions become embedded, versioned,
//! deduplicated actions in per-arm namespaces (embedded qdrant-edge or a Qdrant server),
//! retrievable by later tasks under the arm's accumulation mode.
//!
//! Entry point for other crates: [`ActionLibrary`] (over an [`ActionStore`] and an
//! [`Embedder`]). Pure helpers: [`prompt_line`], [`load_source`], [`measure::UsageTracker`].

pub mod action;
pub mod bench;
pub mod embed;
pub mod error;
pub mod library;
pub mod load;
pub mod measure;
pub mod store;

pub use action::{Action, embed_text, normalise_source, prompt_line, source_hash};
pub use bench::{BenchOptions, bench_retrieval};
pub use embed::{Embedder, MiniLmEmbedder, OpenAiEmbedder, OpenAiEmbedderConfig};
pub use error::{ActionError, Result};
pub use library::{
    ActionLibrary, AddReport, DocstringWriter, ImportReport, LibraryRequest, LibraryResponse,
    Phase, RetrievedAction, SkipDocstrings, TaskOrigin, TaskStart, access_for,
};
pub use load::load_source;
pub use measure::{StepUsage, UsageTotals, UsageTracker};
pub use store::{
    ActionFilter, ActionStore, EdgeStore, EdgeStoreOptions, EmbedderSpec, NamespaceMeta,
    ScoredAction, ServerStore, StoredAction,
};
