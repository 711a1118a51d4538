//! Test support shared by herd's crates: real services started for one test and torn down
//! after it. Today that is a throwaway Qdrant server ([`QdrantServer`]); the binary comes
//! from the herd cache, where `scripts/setup-qdrant.sh` installs it.

mod qdrant;

pub use qdrant::{QdrantEndpoint, QdrantServer, qdrant_bin};
