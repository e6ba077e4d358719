//! The `embed` job: sentence embeddings with a BERT-family model (candle-transformers'
//! BERT, the `tokenizers` crate), mean pooling over the attention mask, L2 normalisation.

use std::path::{Path, PathBuf};

use candle_core::{D, DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde::Serialize;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::RuntimeError;
use crate::bert::{Bert, Config};
use crate::dataset::read_texts;
use crate::job::{EmbedSpec, Inputs, Limits, Phase, Summary};
use crate::output::{OutputWriter, Sha256Hex};
use crate::tensorfile::{read_bounded, read_checked};
use crate::{Ctx, Produced};

/// Config files are small; anything bigger is not a config.
const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// Bounds the attention scores, `batch × heads × len²`, whatever the config claims.
const MAX_ATTENTION_HEADS: usize = 256;
const MAX_HIDDEN_LAYERS: usize = 256;

/// The name of the embeddings tensor in `embeddings.safetensors`.
pub const EMBEDDINGS_TENSOR: &str = "embeddings";

/// A loaded sentence-embedding model: BERT weights, its tokenizer and its limits. Loading
/// checks every file; the provider can keep one loaded per model and reuse it.
pub struct EmbeddingModel {
    model: Bert,
    tokenizer: Tokenizer,
    tokenizer_path: PathBuf,
    config: Config,
    /// The longest input the model takes, special tokens included.
    max_length: usize,
    digests: ModelDigests,
}

/// SHA-256 of each model file, recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct ModelDigests {
    config_sha256: String,
    tokenizer_sha256: String,
    weights_sha256: String,
}

impl std::fmt::Debug for EmbeddingModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddingModel")
            .field("hidden_size", &self.config.hidden_size)
            .field("layers", &self.config.num_hidden_layers)
            .field("max_length", &self.max_length)
            .finish_non_exhaustive()
    }
}

impl EmbeddingModel {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir`.
    pub fn load(dir: &Path, device: &Device, limits: &Limits) -> Result<Self, RuntimeError> {
        let config_path = dir.join("config.json");
        let config_bytes = read_bounded(&config_path, "model config (config.json)", MAX_CONFIG_BYTES)?;
        let config = parse_config(&config_path, &config_bytes)?;

        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer_bytes =
            read_bounded(&tokenizer_path, "tokenizer (tokenizer.json)", limits.max_model_bytes)?;
        let mut tokenizer = Tokenizer::from_bytes(&tokenizer_bytes)
            .map_err(|e| RuntimeError::Tokenizer { path: tokenizer_path.clone(), reason: e.to_string() })?;
        // Batches are padded here, per batch; the file's own fixed padding would waste work.
        // Truncation is set per job, from the job's max_length.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| RuntimeError::Tokenizer { path: tokenizer_path.clone(), reason: e.to_string() })?;

        let max_length = model_max_length(dir, &config)?;

        let weights_path = dir.join("model.safetensors");
        let weights = read_checked(&weights_path, limits.max_model_bytes)?;
        let weights_sha256 = weights.sha256;
        let vb = VarBuilder::from_buffered_safetensors(weights.bytes, DType::F32, device)
            .map_err(|e| RuntimeError::safetensors(&weights_path, e.to_string()))?;
        let model = Bert::load(vb, &config).map_err(|e| RuntimeError::ModelMismatch(e.to_string()))?;

        Ok(Self {
            model,
            tokenizer,
            tokenizer_path,
            config,
            max_length,
            digests: ModelDigests {
                config_sha256: Sha256Hex::digest(&config_bytes),
                tokenizer_sha256: Sha256Hex::digest(&tokenizer_bytes),
                weights_sha256,
            },
        })
    }

    /// The embedding width.
    pub fn dim(&self) -> usize {
        self.config.hidden_size
    }

    /// The longest input the model takes, special tokens included.
    pub fn max_length(&self) -> usize {
        self.max_length
    }
}

/// Only BERT-family encoders; anything else is refused before its weights are read.
fn parse_config(path: &Path, bytes: &[u8]) -> Result<Config, RuntimeError> {
    let unsupported = |reason: String| RuntimeError::UnsupportedModel { path: path.to_owned(), reason };
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| unsupported(format!("not JSON: {e}")))?;
    let model_type = value.get("model_type").and_then(|v| v.as_str());
    let architectures: Vec<&str> = value
        .get("architectures")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let is_bert = match model_type {
        Some(t) => t == "bert",
        None => architectures.iter().any(|a| a.starts_with("Bert")),
    };
    if !is_bert {
        return Err(unsupported(format!(
            "model_type {model_type:?}, architectures {architectures:?}: only BERT (model_type \"bert\") is supported"
        )));
    }
    let config: Config =
        serde_json::from_value(value).map_err(|e| unsupported(format!("BERT config: {e}")))?;
    let sizes = [
        ("hidden_size", config.hidden_size),
        ("num_attention_heads", config.num_attention_heads),
        ("num_hidden_layers", config.num_hidden_layers),
        ("intermediate_size", config.intermediate_size),
        ("vocab_size", config.vocab_size),
        ("max_position_embeddings", config.max_position_embeddings),
        ("type_vocab_size", config.type_vocab_size),
    ];
    if config.position_embedding_type != "absolute" {
        return Err(unsupported(format!(
            "position_embedding_type {:?}: only \"absolute\" is supported",
            config.position_embedding_type
        )));
    }
    if let Some((name, _)) = sizes.iter().find(|(_, v)| *v == 0) {
        return Err(unsupported(format!("{name} is 0")));
    }
    if config.num_attention_heads > MAX_ATTENTION_HEADS || config.num_hidden_layers > MAX_HIDDEN_LAYERS {
        return Err(unsupported(format!(
            "{} attention heads and {} layers is over the supported {MAX_ATTENTION_HEADS} and {MAX_HIDDEN_LAYERS}",
            config.num_attention_heads, config.num_hidden_layers
        )));
    }
    if !config.hidden_size.is_multiple_of(config.num_attention_heads) {
        return Err(unsupported(format!(
            "hidden_size {} is not a multiple of num_attention_heads {}",
            config.hidden_size, config.num_attention_heads
        )));
    }
    Ok(config)
}

/// sentence-transformers' `max_seq_length` when the folder has its config (that is what its
/// reference embeddings use), else the model's position-embedding count.
fn model_max_length(dir: &Path, config: &Config) -> Result<usize, RuntimeError> {
    let path = dir.join("sentence_bert_config.json");
    let from_st = if path.is_file() {
        let bytes = read_bounded(&path, "sentence-transformers config", MAX_CONFIG_BYTES)?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            RuntimeError::UnsupportedModel { path: path.clone(), reason: format!("not JSON: {e}") }
        })?;
        value.get("max_seq_length").and_then(serde_json::Value::as_u64).and_then(|n| usize::try_from(n).ok())
    } else {
        None
    };
    Ok(from_st.unwrap_or(config.max_position_embeddings).min(config.max_position_embeddings))
}

/// What `manifest.json` says about an embed run.
#[derive(Serialize)]
struct Manifest<'a> {
    job: &'static str,
    file: &'static str,
    tensor: &'static str,
    dtype: &'static str,
    rows: usize,
    dim: usize,
    pooling: &'static str,
    normalization: &'static str,
    max_length: usize,
    batch_size: usize,
    text_field: &'a str,
    dataset_sha256: &'a str,
    model: &'a ModelDigests,
    truncated_rows: Vec<Truncated>,
}

/// A row that was cut to `max_length` tokens.
#[derive(Serialize)]
struct Truncated {
    row: usize,
    tokens: usize,
}

/// One row, tokenized.
struct Encoded {
    ids: Vec<u32>,
    type_ids: Vec<u32>,
}

pub(crate) fn run(
    ctx: &Ctx<'_>,
    spec: &EmbedSpec,
    inputs: &Inputs,
    out_dir: &Path,
) -> Result<Produced, RuntimeError> {
    let model_dir =
        inputs.model.as_deref().ok_or(RuntimeError::InvalidSpec("embed needs a model folder".into()))?;
    ctx.report(Phase::Loading, 0, 1, None);
    let model = EmbeddingModel::load(model_dir, &ctx.device, ctx.limits)?;
    embed_with(ctx, &model, spec, inputs, out_dir)
}

/// Runs `embed` with an already loaded model.
pub(crate) fn embed_with(
    ctx: &Ctx<'_>,
    model: &EmbeddingModel,
    spec: &EmbedSpec,
    inputs: &Inputs,
    out_dir: &Path,
) -> Result<Produced, RuntimeError> {
    spec.check(ctx.limits)?;
    let max_length =
        spec.max_length.unwrap_or(model.max_length).min(model.max_length).min(ctx.limits.max_tokens);
    if max_length < 2 {
        return Err(RuntimeError::InvalidSpec(format!(
            "max_length {max_length} leaves no room for text between the special tokens"
        )));
    }
    let attention_bytes = [spec.batch_size, model.config.num_attention_heads, max_length, max_length, 4]
        .iter()
        .try_fold(1u64, |acc, &n| acc.checked_mul(n as u64))
        .unwrap_or(u64::MAX);
    if attention_bytes > ctx.limits.max_attention_bytes {
        return Err(RuntimeError::LimitExceeded {
            what: "attention scores per batch (bytes); lower batch_size or max_length",
            actual: attention_bytes,
            limit: ctx.limits.max_attention_bytes,
        });
    }
    let texts = read_texts(&inputs.dataset, &spec.text_field, ctx.limits)?;
    ctx.check()?;

    let (encoded, truncated) = tokenize(model, &texts.rows, max_length)?;
    ctx.check()?;

    let rows = encoded.len();
    let dim = model.dim();
    let mut out = vec![0f32; rows * dim];
    // Similar lengths share a batch so little is padded; the order is a function of the
    // inputs alone, which keeps the result deterministic.
    let mut order: Vec<usize> = (0..rows).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(encoded[i].ids.len()));
    ctx.report(Phase::Embedding, 0, rows as u64, None);
    let mut done = 0usize;
    for batch in order.chunks(spec.batch_size) {
        let vectors = embed_batch(model, &ctx.device, batch.iter().map(|&i| &encoded[i]))?;
        for (&row, vector) in batch.iter().zip(vectors.chunks_exact(dim)) {
            out[row * dim..(row + 1) * dim].copy_from_slice(vector);
        }
        done += batch.len();
        ctx.report(Phase::Embedding, done as u64, rows as u64, None);
        ctx.check()?;
    }

    ctx.report(Phase::Writing, 0, 1, None);
    let mut writer = OutputWriter::new(out_dir)?;
    let file = "embeddings.safetensors";
    writer.write(file, &crate::safetensors_f32(&[(EMBEDDINGS_TENSOR, &[rows, dim], &out)], None)?)?;
    let mut warnings = Vec::new();
    if !truncated.is_empty() {
        let shown: Vec<String> = truncated.iter().take(10).map(|t| t.row.to_string()).collect();
        warnings.push(format!(
            "{} row(s) were longer than {max_length} tokens and were truncated (rows {}{}); see manifest.json",
            truncated.len(),
            shown.join(", "),
            if truncated.len() > shown.len() { ", …" } else { "" }
        ));
    }
    let truncated_rows = truncated.len() as u64;
    writer.write_json(
        "manifest.json",
        &Manifest {
            job: "embed",
            file,
            tensor: EMBEDDINGS_TENSOR,
            dtype: "F32",
            rows,
            dim,
            pooling: "mean",
            normalization: "l2",
            max_length,
            batch_size: spec.batch_size,
            text_field: &spec.text_field,
            dataset_sha256: &texts.sha256,
            model: &model.digests,
            truncated_rows: truncated,
        },
    )?;
    Ok(Produced {
        writer,
        summary: Summary::Embed { rows: rows as u64, dim: dim as u64, truncated_rows },
        warnings,
    })
}

/// Tokenizes every row, cut to `max_length` tokens; returns the encodings and the rows
/// that were cut with their full length.
fn tokenize(
    model: &EmbeddingModel,
    rows: &[String],
    max_length: usize,
) -> Result<(Vec<Encoded>, Vec<Truncated>), RuntimeError> {
    let tokenizer_err = |e: tokenizers::Error| RuntimeError::Tokenizer {
        path: model.tokenizer_path.clone(),
        reason: e.to_string(),
    };
    let mut tokenizer = model.tokenizer.clone();
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
            direction: TruncationDirection::Right,
        }))
        .map_err(tokenizer_err)?;
    let encodings = tokenizer
        .encode_batch(rows.iter().map(String::as_str).collect::<Vec<_>>(), true)
        .map_err(tokenizer_err)?;
    let mut encoded = Vec::with_capacity(rows.len());
    let mut truncated = Vec::new();
    for (row, encoding) in encodings.into_iter().enumerate() {
        if !encoding.get_overflowing().is_empty() {
            // Only the rows that were cut are tokenized again, to report their full length.
            let full = model.tokenizer.encode(rows[row].as_str(), true).map_err(tokenizer_err)?;
            truncated.push(Truncated { row, tokens: full.len() });
        }
        let ids = encoding.get_ids().to_vec();
        let type_ids = encoding.get_type_ids().to_vec();
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= model.config.vocab_size) {
            return Err(RuntimeError::ModelMismatch(format!(
                "the tokenizer produced token id {id}, past the model's vocab_size {}",
                model.config.vocab_size
            )));
        }
        if let Some(&t) = type_ids.iter().find(|&&t| t as usize >= model.config.type_vocab_size) {
            return Err(RuntimeError::ModelMismatch(format!(
                "the tokenizer produced token type {t}, past the model's type_vocab_size {}",
                model.config.type_vocab_size
            )));
        }
        encoded.push(Encoded { ids, type_ids });
    }
    Ok((encoded, truncated))
}

/// Embeds one batch; returns `batch × dim` values, row-major, in the batch's order.
fn embed_batch<'a>(
    model: &EmbeddingModel,
    device: &Device,
    batch: impl ExactSizeIterator<Item = &'a Encoded> + Clone,
) -> Result<Vec<f32>, RuntimeError> {
    let n = batch.len();
    let len = batch.clone().map(|e| e.ids.len()).max().unwrap_or(0).max(1);
    let pad = u32::try_from(model.config.pad_token_id).unwrap_or(0);
    let mut ids = Vec::with_capacity(n * len);
    let mut type_ids = Vec::with_capacity(n * len);
    let mut mask = Vec::with_capacity(n * len);
    for e in batch {
        let real = e.ids.len();
        ids.extend_from_slice(&e.ids);
        ids.extend(std::iter::repeat_n(pad, len - real));
        type_ids.extend_from_slice(&e.type_ids);
        type_ids.extend(std::iter::repeat_n(0, len - real));
        mask.extend(std::iter::repeat_n(1u32, real));
        mask.extend(std::iter::repeat_n(0u32, len - real));
    }
    let ids = Tensor::from_vec(ids, (n, len), device)?;
    let type_ids = Tensor::from_vec(type_ids, (n, len), device)?;
    let mask = Tensor::from_vec(mask, (n, len), device)?;
    let hidden = model.model.forward(&ids, &type_ids, &mask)?;
    // Mean over the real tokens, as sentence-transformers' Pooling(mean) does.
    let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?;
    let mean = summed.broadcast_div(&counts)?;
    // L2 normalisation with torch.nn.functional.normalize's epsilon.
    let norms = mean.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?.clamp(1e-12f32, f32::MAX)?;
    let normalized = mean.broadcast_div(&norms)?;
    Ok(normalized.flatten_all()?.to_vec1::<f32>()?)
}
