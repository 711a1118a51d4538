//! Text embedders for action docstrings: one trait, a local CPU model (all-MiniLM-L6-v2 via
//! candle, offline) and an OpenAI-compatible `/embeddings` endpoint.

mod minilm;
mod openai;

pub use minilm::{MINILM_ID, MiniLmEmbedder, default_model_dir};
pub use openai::{OpenAiEmbedder, OpenAiEmbedderConfig};

use async_trait::async_trait;

use crate::error::Result;

/// Turns texts into vectors. All vectors of one embedder have the same dimension.
#[async_trait]
pub trait Embedder: Send + Sync {
    /// Model id recorded with every namespace built with this embedder.
    fn id(&self) -> String;
    fn dim(&self) -> usize;
    /// One vector per text, in order.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>>;
}

/// Scales `v` to unit length (left as is when it is all zeros).
pub fn l2_normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Cosine similarity of two vectors (0 when either is all zeros).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}
