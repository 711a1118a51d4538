//! all-MiniLM-L6-v2 on the CPU with candle: BERT, mean pooling over the attention mask,
//! L2 normalisation. Batches are padded to their longest item and truncated at 256 tokens.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::{Embedder, l2_normalise};
use crate::error::{ActionError, Result};

/// Model id recorded in namespaces built with this embedder.
pub const MINILM_ID: &str = "sentence-transformers/all-MiniLM-L6-v2";
const MAX_TOKENS: usize = 256;
const BATCH: usize = 32;

/// `${HERD_MODELS:-$HOME/.cache/herd/models}/all-minilm-l6-v2`, where
/// `scripts/fetch-embedder.sh` installs the model.
pub fn default_model_dir() -> PathBuf {
    let base = std::env::var_os("HERD_MODELS")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/herd/models")))
        .unwrap_or_else(|| PathBuf::from(".cache/herd/models"));
    base.join("all-minilm-l6-v2")
}

struct Inner {
    model: BertModel,
    tokenizer: Tokenizer,
    hidden: usize,
}

/// The local sentence embedder (384 dimensions).
#[derive(Clone)]
pub struct MiniLmEmbedder {
    inner: Arc<Inner>,
    dir: PathBuf,
}

impl std::fmt::Debug for MiniLmEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLmEmbedder")
            .field("dir", &self.dir)
            .finish()
    }
}

impl MiniLmEmbedder {
    /// Loads from [`default_model_dir`].
    pub fn load_default() -> Result<Self> {
        Self::load(&default_model_dir())
    }

    /// Loads `model.safetensors`, `config.json` and `tokenizer.json` from `dir`. Blocking
    /// (reads ~90 MB); call it from `spawn_blocking` in async code.
    pub fn load(dir: &Path) -> Result<Self> {
        for file in ["model.safetensors", "config.json", "tokenizer.json"] {
            let path = dir.join(file);
            if !path.is_file() {
                return Err(ActionError::EmbedderMissing { path });
            }
        }
        let load_err = |message: String| ActionError::EmbedderLoad {
            path: dir.to_path_buf(),
            message,
        };
        let config_path = dir.join("config.json");
        let config_text = std::fs::read_to_string(&config_path)
            .map_err(|e| ActionError::io("read", &config_path, e))?;
        let config: Config = serde_json::from_str(&config_text)
            .map_err(|e| load_err(format!("config.json: {e}")))?;
        let weights = dir.join("model.safetensors");
        // SAFETY: the file is memory-mapped read-only; herd never writes model files while running.
        let vb =
            unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, &Device::Cpu) }
                .map_err(|e| load_err(format!("model.safetensors: {e}")))?;
        let model =
            BertModel::load(vb, &config).map_err(|e| load_err(format!("BERT weights: {e}")))?;

        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| load_err(format!("tokenizer.json: {e}")))?;
        // The shipped tokenizer pads and truncates to a fixed 128; pad per batch instead and
        // truncate at the model's 256-token limit.
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_id: config.pad_token_id as u32,
            pad_token: "[PAD]".into(),
            ..PaddingParams::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| load_err(format!("tokenizer truncation: {e}")))?;
        Ok(MiniLmEmbedder {
            inner: Arc::new(Inner {
                model,
                tokenizer,
                hidden: config.hidden_size,
            }),
            dir: dir.to_path_buf(),
        })
    }

    /// Embeds synchronously (CPU-bound; async callers use [`Embedder::embed`]).
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(BATCH) {
            out.extend(
                self.inner
                    .embed_batch(chunk)
                    .map_err(|message| ActionError::Embed {
                        embedder: MINILM_ID.into(),
                        message,
                    })?,
            );
        }
        Ok(out)
    }
}

impl Inner {
    fn embed_batch(&self, texts: &[String]) -> std::result::Result<Vec<Vec<f32>>, String> {
        if texts.is_empty() {
            return Ok(vec![]);
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| format!("tokenizing: {e}"))?;
        let len = encodings
            .iter()
            .map(|e| e.get_ids().len())
            .max()
            .unwrap_or(0);
        let n = encodings.len();
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for e in &encodings {
            ids.extend(e.get_ids().iter().map(|&x| x as i64));
            mask.extend(e.get_attention_mask().iter().map(|&x| x as i64));
            // BatchLongest padding makes every row `len` long; guard anyway.
            for _ in e.get_ids().len()..len {
                ids.push(0);
                mask.push(0);
            }
        }
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let device = Device::Cpu;
            let ids = Tensor::from_vec(ids, (n, len), &device)?;
            let mask = Tensor::from_vec(mask, (n, len), &device)?;
            let types = ids.zeros_like()?;
            let hidden = self.model.forward(&ids, &types, Some(&mask))?; // (n, len, h)
            let maskf = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (n, len, 1)
            let summed = hidden.broadcast_mul(&maskf)?.sum(1)?; // (n, h)
            let counts = maskf.sum(1)?.clamp(1e-9, f32::MAX)?; // (n, 1)
            let mean = summed.broadcast_div(&counts)?;
            mean.to_vec2::<f32>()
        };
        let mut vectors = run().map_err(|e| format!("inference: {e}"))?;
        for v in &mut vectors {
            if v.len() != self.hidden {
                return Err(format!(
                    "model returned dim {}, config says {}",
                    v.len(),
                    self.hidden
                ));
            }
            l2_normalise(v);
        }
        Ok(vectors)
    }
}

#[async_trait]
impl Embedder for MiniLmEmbedder {
    fn id(&self) -> String {
        MINILM_ID.to_string()
    }

    fn dim(&self) -> usize {
        self.inner.hidden
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let this = self.clone();
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || this.embed_blocking(&texts))
            .await
            .map_err(|e| ActionError::join("local embedding", e))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::cosine;

    #[test]
    fn missing_model_names_the_fetch_script() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = MiniLmEmbedder::load(dir.path()).expect_err("no model there");
        let msg = err.to_string();
        assert!(msg.contains("scripts/fetch-embedder.sh"), "{msg}");
        assert!(msg.contains("model.safetensors"), "{msg}");
    }

    /// Needs the model (`scripts/fetch-embedder.sh`).
    #[tokio::test]
    async fn embeds_unit_vectors_and_similar_texts_are_closer() {
        let e = MiniLmEmbedder::load_default().expect("run scripts/fetch-embedder.sh first");
        assert_eq!(e.dim(), 384);
        let long = "word ".repeat(600);
        let texts: Vec<String> = vec![
            "Compute the average of a list of numbers.".into(),
            "Return the arithmetic mean of the values.".into(),
            "Download a web page and return its HTML.".into(),
            long,
        ];
        let v = e.embed(&texts).await.expect("embed");
        assert_eq!(v.len(), 4);
        for x in &v {
            assert_eq!(x.len(), 384);
            let n: f32 = x.iter().map(|a| a * a).sum::<f32>().sqrt();
            assert!((n - 1.0).abs() < 1e-4, "norm {n}");
        }
        assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]) + 0.2);
        // Padding to the batch's longest item must not change a text's vector.
        let alone = e.embed(&texts[..1]).await.expect("embed");
        assert!(
            cosine(&alone[0], &v[0]) > 0.9999,
            "{}",
            cosine(&alone[0], &v[0])
        );
    }
}
