//! A BERT encoder (the architecture of all-MiniLM-L6-v2 and other sentence-transformers
//! models) as plain candle code: `Config`, `Bert::load(vb, &config)`, `forward`.
//!
//! It follows Hugging Face's `BertModel` and reads the same weight names. It differs from
//! candle-transformers' BERT where the CPU time goes: the exact (erf) GELU runs as a
//! branch-free rational approximation that the compiler vectorises, over candle's threads,
//! where candle calls libm's scalar `erff` per element on one thread (a fifth of the CPU time of
//! a MiniLM forward pass); query, key and value are one projection; and on CPU the attention is
//! one pass per sequence ([`Attention`]) instead of a dozen candle ops, whose small per-head
//! products left a core idle, and each linear layer is one product that starts from its bias and
//! residual ([`Dense`]) instead of three passes (profiled with `perf` on an AVX2-only EPYC:
//! 113 → 131–144 sentences/s, 0.73× → 0.85–0.91× PyTorch in `./scripts/bench-embed.sh`). The
//! layer norms and the GELU then run in those products' epilogues, on each row while it is in
//! cache, and the softmax takes a vectorised `exp` instead of libm's scalar one; these
//! element-wise kernels run on AVX registers where there are some ([`crate::wide`]), with the
//! same bits as on SSE (profiled on an AVX-512 EPYC: +11 % on the AVX2 path, +19 % with
//! AVX-512; 1.28× and 2.05× PyTorch). GELU stays within 1e-6 of erf and `exp` within 2 ulp of
//! libm's, neither needs a CPU feature, and nothing depends on the thread count, so outputs
//! stay bit-identical across runs.

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder, embedding, layer_norm, linear};
use serde::Deserialize;

use crate::{
    attention::Attention,
    dense::{Dense, Epilogue},
};

/// The parts of a Hugging Face BERT `config.json` the encoder reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Config {
    pub(crate) vocab_size: usize,
    pub(crate) hidden_size: usize,
    pub(crate) num_hidden_layers: usize,
    pub(crate) num_attention_heads: usize,
    pub(crate) intermediate_size: usize,
    pub(crate) hidden_act: HiddenAct,
    pub(crate) max_position_embeddings: usize,
    pub(crate) type_vocab_size: usize,
    pub(crate) layer_norm_eps: f64,
    #[serde(default)]
    pub(crate) pad_token_id: usize,
    #[serde(default = "absolute")]
    pub(crate) position_embedding_type: String,
}

fn absolute() -> String {
    "absolute".to_owned()
}

/// The feed-forward activations BERT checkpoints use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum HiddenAct {
    /// Exact GELU, `x·Φ(x)`.
    Gelu,
    /// GELU's tanh approximation.
    #[serde(alias = "gelu_new", alias = "gelu_pytorch_tanh")]
    GeluApproximate,
    Relu,
}

/// The encoder: embeddings, then `num_hidden_layers` transformer layers.
pub(crate) struct Bert {
    word: Embedding,
    position: Embedding,
    token_type: Embedding,
    embeddings_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    head_dim: usize,
    act: HiddenAct,
}

struct Layer {
    /// Query, key and value as one `(3·hidden, hidden)` projection: one matrix product per layer
    /// instead of three.
    qkv: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
    /// The four projections as [`Dense`] ops, made once at load, for the CPU f32 path.
    cpu: Projections,
}

struct Projections {
    qkv: Dense,
    attention_out: Dense,
    intermediate: Dense,
    output: Dense,
}

impl Bert {
    /// Loads the weights, with or without the `bert.` prefix of checkpoints that carry a
    /// task head; every shape is checked against `config`.
    pub(crate) fn load(vb: VarBuilder<'_>, config: &Config) -> Result<Self> {
        let vb =
            if vb.contains_tensor("bert.embeddings.word_embeddings.weight") { vb.pp("bert") } else { vb };
        let (h, eps) = (config.hidden_size, config.layer_norm_eps);
        let e = vb.pp("embeddings");
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let l = vb.pp(format!("encoder.layer.{i}"));
                let a = l.pp("attention");
                let parts = ["self.query", "self.key", "self.value"].map(|name| linear(h, h, a.pp(name)));
                let [query, key, value] = parts;
                let (query, key, value) = (query?, key?, value?);
                let weight = Tensor::cat(&[query.weight(), key.weight(), value.weight()], 0)?;
                let biases = [query.bias(), key.bias(), value.bias()];
                let bias = match biases {
                    [Some(q), Some(k), Some(v)] => Some(Tensor::cat(&[q, k, v], 0)?),
                    _ => None,
                };
                let qkv = Linear::new(weight, bias);
                let attention_out = linear(h, h, a.pp("output.dense"))?;
                let intermediate = linear(h, config.intermediate_size, l.pp("intermediate.dense"))?;
                let output = linear(config.intermediate_size, h, l.pp("output.dense"))?;
                let attention_norm = layer_norm(h, eps, a.pp("output.LayerNorm"))?;
                let output_norm = layer_norm(h, eps, l.pp("output.LayerNorm"))?;
                let activation = match config.hidden_act {
                    HiddenAct::Gelu => Epilogue::GeluErf,
                    HiddenAct::GeluApproximate | HiddenAct::Relu => Epilogue::None,
                };
                let cpu = Projections {
                    qkv: dense(&qkv, Epilogue::None)?,
                    attention_out: dense(&attention_out, normalized(&attention_norm, eps)?)?,
                    intermediate: dense(&intermediate, activation)?,
                    output: dense(&output, normalized(&output_norm, eps)?)?,
                };
                Ok(Layer { qkv, attention_out, attention_norm, intermediate, output, output_norm, cpu })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            word: embedding(config.vocab_size, h, e.pp("word_embeddings"))?,
            position: embedding(config.max_position_embeddings, h, e.pp("position_embeddings"))?,
            token_type: embedding(config.type_vocab_size, h, e.pp("token_type_embeddings"))?,
            embeddings_norm: layer_norm(h, eps, e.pp("LayerNorm"))?,
            layers,
            heads: config.num_attention_heads,
            head_dim: h / config.num_attention_heads,
            act: config.hidden_act,
        })
    }

    /// `ids`, `type_ids`, `mask`: `(batch, len)` u32, the mask 1 for real tokens.
    /// Returns the last hidden states, `(batch, len, hidden)`.
    pub(crate) fn forward(&self, ids: &Tensor, type_ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (b, len) = ids.dims2()?;
        let positions = Tensor::arange(0u32, len as u32, ids.device())?;
        let x = self
            .word
            .forward(ids)?
            .add(&self.token_type.forward(type_ids)?)?
            .broadcast_add(&self.position.forward(&positions)?)?;
        let mut x = self.embeddings_norm.forward(&x)?;
        // Padding gets the lowest score, as transformers' `finfo(dtype).min` mask does.
        let bias = ((mask.to_dtype(DType::F32)? - 1.0)? * f64::from(f32::MAX))?;
        let fused = x.device().is_cpu() && x.dtype() == DType::F32;
        let bias = match fused {
            true => Bias::Rows(bias.flatten_all()?.to_vec1::<f32>()?),
            false => Bias::Tensor(bias.reshape((b, 1, 1, len))?),
        };
        for layer in &self.layers {
            x = self.layer(layer, &x, &bias)?;
        }
        Ok(x)
    }

    fn layer(&self, l: &Layer, x: &Tensor, bias: &Bias) -> Result<Tensor> {
        let Bias::Rows(mask) = bias else { return self.layer_as_candle_ops(l, x, bias) };
        let qkv = l.cpu.qkv.forward(x, None)?;
        let op = Attention { heads: self.heads, head_dim: self.head_dim, mask };
        let context = qkv.apply_op1_no_bwd(&op)?;
        // The layer norms and the exact GELU run in the products' epilogues.
        let x = l.cpu.attention_out.forward(&context, Some(x))?;
        let inner = l.cpu.intermediate.forward(&x, None)?;
        let inner = match l.cpu.intermediate.epilogue {
            Epilogue::GeluErf => inner,
            _ => self.activation(&inner)?,
        };
        l.cpu.output.forward(&inner, Some(&x))
    }

    /// A layer as candle ops, where [`Dense`] and [`Attention`] do not run (another device or dtype).
    fn layer_as_candle_ops(&self, l: &Layer, x: &Tensor, bias: &Bias) -> Result<Tensor> {
        let Bias::Tensor(bias) = bias else { candle_core::bail!("a CPU mask on another device") };
        let qkv = l.qkv.forward(x)?;
        let context = self.attention(&qkv, bias)?;
        let x = l.attention_norm.forward(&(l.attention_out.forward(&context)? + x)?)?;
        let inner = self.activation(&l.intermediate.forward(&x)?)?;
        l.output_norm.forward(&(l.output.forward(&inner)? + x)?)
    }

    fn activation(&self, inner: &Tensor) -> Result<Tensor> {
        match self.act {
            // On CPU f32 the exact GELU runs in the intermediate product's epilogue instead.
            HiddenAct::Gelu => inner.gelu_erf(),
            HiddenAct::GeluApproximate => inner.gelu(),
            HiddenAct::Relu => inner.relu(),
        }
    }

    /// Attention as candle ops, where [`Attention`] does not run (another device or dtype).
    fn attention(&self, qkv: &Tensor, bias: &Tensor) -> Result<Tensor> {
        let (b, len, width) = qkv.dims3()?;
        // (batch, len, 3·heads, head_dim) → (batch, 3·heads, len, head_dim); q, k, v its thirds.
        let qkv = qkv.reshape((b, len, 3 * self.heads, self.head_dim))?.transpose(1, 2)?;
        let part = |i: usize| qkv.narrow(1, i * self.heads, self.heads)?.contiguous();
        let (q, k, v) = (part(0)?, part(1)?, part(2)?);
        let scores = (q.matmul(&k.t()?)? / (self.head_dim as f64).sqrt())?.broadcast_add(bias)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        probs.matmul(&v)?.transpose(1, 2)?.reshape((b, len, width / 3))
    }
}

/// `layer` as a [`Dense`] followed by `epilogue`, its bias read out to the host once.
fn dense(layer: &Linear, epilogue: Epilogue) -> Result<Dense> {
    let bias = match layer.bias() {
        Some(bias) => bias.to_vec1::<f32>()?,
        None => vec![0.0; layer.weight().dim(0)?],
    };
    Ok(Dense { weight: layer.weight().clone(), bias, epilogue })
}

/// `norm` as a [`Dense`] epilogue (a BERT layer norm always has its shift).
fn normalized(norm: &LayerNorm, eps: f64) -> Result<Epilogue> {
    let beta = match norm.bias() {
        Some(beta) => beta.to_vec1::<f32>()?,
        None => vec![0.0; norm.weight().dim(0)?],
    };
    Ok(Epilogue::LayerNorm { gamma: norm.weight().to_vec1::<f32>()?, beta, eps: eps as f32 })
}

/// The padding mask as each attention takes it: rows for [`Attention`] on CPU, a
/// `(batch, 1, 1, len)` tensor for candle's ops elsewhere.
enum Bias {
    Rows(Vec<f32>),
    Tensor(Tensor),
}

/// erf for f32 as a rational function of x on [-4, 4] (beyond it erf is ±1 in f32), the
/// approximation Eigen and XLA use; plain multiplies and adds, so no FMA changes the bits
/// from one CPU to the next.
#[inline(always)]
pub(crate) fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    p = x2 * p + -2.101_024e-6;
    p = x2 * p + -5.692_506_4e-5;
    p = x2 * p + -7.349_906e-4;
    p = x2 * p + -2.954_600_1e-3;
    p = x2 * p + -1.609_603_3e-2;
    p *= x;
    let mut q = x2 * -1.456_607_2e-5 + -2.133_740_6e-4;
    q = x2 * q + -1.682_827e-3;
    q = x2 * q + -7.373_329e-3;
    q = x2 * q + -1.426_474e-2;
    p / q
}

#[cfg(test)]
mod tests {
    use super::erf;

    #[test]
    fn erf_is_within_a_micro_of_libm() {
        let mut worst = 0f64;
        for i in -60_000..=60_000 {
            let x = i as f32 / 10_000.0;
            let exact = libm_erf(f64::from(x));
            worst = worst.max((f64::from(erf(x)) - exact).abs());
        }
        assert!(worst < 1e-6, "max error {worst}");
    }

    /// erf in f64 from its series (|x| < 3) and its continued fraction (beyond).
    fn libm_erf(x: f64) -> f64 {
        let (s, a) = (x.signum(), x.abs());
        if a < 3.0 {
            let (mut term, mut sum, mut n) = (a, a, 0.0);
            while term.abs() > 1e-17 * sum.abs() {
                n += 1.0;
                term *= -a * a / n;
                sum += term / (2.0 * n + 1.0);
            }
            s * sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            let mut f = 0.0;
            for k in (1..60).rev() {
                f = (k as f64 / 2.0) / (a + f);
            }
            s * (1.0 - (-a * a).exp() / std::f64::consts::PI.sqrt() / (a + f))
        }
    }
}
