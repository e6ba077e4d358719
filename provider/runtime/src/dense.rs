//! A BERT linear layer on CPU f32 as one pass: the destination starts as the bias (plus the
//! residual the layer's output is added to, for the two projections a layer norm follows) and
//! the `gemm` crate — the kernels candle's own products run — accumulates `x·Wᵀ` into it. Candle
//! would zero the destination, multiply, then add the bias and the residual in two more passes
//! over it. What follows the product in BERT — the exact GELU after the intermediate
//! projection, the layer norm after the two projections with a residual — runs on each row
//! while it is still in cache ([`Epilogue`]), instead of a pass (and a tensor) of its own. The
//! split of the work over threads is gemm's, over rows and columns only, and each row's epilogue
//! is computed in one fixed order, so the result is the same bits on any number of threads.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use gemm::{Parallelism, gemm};
use rayon::prelude::*;

use crate::wide::wide;

/// What is applied to each output row after the product.
pub(crate) enum Epilogue {
    /// Nothing.
    None,
    /// The exact GELU, `0.5·x·(1 + erf(x/√2))`.
    GeluErf,
    /// Layer norm over the row: `(x − mean)/√(var + eps)·gamma + beta`.
    LayerNorm {
        /// The scale, `out` values.
        gamma: Vec<f32>,
        /// The shift, `out` values.
        beta: Vec<f32>,
        /// Added to the variance.
        eps: f32,
    },
}

/// `x·Wᵀ + b`, and `x·Wᵀ + b + residual`, with `W` `(out, in)`, then its [`Epilogue`].
pub(crate) struct Dense {
    /// The weight, `(out, in)`: what [`Dense::forward`] hands the op as its second input.
    pub(crate) weight: Tensor,
    /// The bias, `out` values.
    pub(crate) bias: Vec<f32>,
    /// What each output row goes through last.
    pub(crate) epilogue: Epilogue,
}

/// Output values one thread takes at a time in an epilogue.
const EPILOGUE_CHUNK: usize = 16 * 1024;

impl Dense {
    /// `x·Wᵀ + b` over `x` `(batch, len, in)`; with `residual` (`(batch, len, out)`), plus it.
    pub(crate) fn forward(&self, x: &Tensor, residual: Option<&Tensor>) -> Result<Tensor> {
        match residual {
            None => x.apply_op2_no_bwd(&self.weight, self),
            Some(residual) => x.apply_op3_no_bwd(&self.weight, residual, self),
        }
    }

    fn run(
        &self,
        x: (&CpuStorage, &Layout),
        w: (&CpuStorage, &Layout),
        init: Option<&[f32]>,
    ) -> Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(x_values), CpuStorage::F32(w_values)) = (x.0, w.0) else {
            candle_core::bail!("dense: expected f32")
        };
        let (Some((xs, xe)), Some((ws, we))) = (x.1.contiguous_offsets(), w.1.contiguous_offsets()) else {
            candle_core::bail!("dense: inputs are not contiguous")
        };
        let (batch, len, width) = x.1.shape().dims3()?;
        let (out, w_width) = w.1.shape().dims2()?;
        if w_width != width || self.bias.len() != out || init.is_some_and(|r| r.len() != batch * len * out) {
            candle_core::bail!("dense: {batch}×{len}×{width} input does not fit a {out}×{w_width} weight");
        }
        let rows = batch * len;
        let mut dst = match init {
            Some(residual) => residual.to_vec(),
            None => vec![0f32; rows * out],
        };
        for row in dst.chunks_exact_mut(out) {
            for (value, bias) in row.iter_mut().zip(&self.bias) {
                *value += bias;
            }
        }
        let threads = candle_core::utils::get_num_threads();
        let parallelism = if threads > 1 { Parallelism::Rayon(threads) } else { Parallelism::None };
        // SAFETY: dst is rows × out row-major, x rows × width row-major, and Wᵀ's element
        // (k, j) is w[j·width + k]: every access stays inside its slice.
        unsafe {
            gemm(
                rows,
                out,
                width,
                dst.as_mut_ptr(),
                1,
                out as isize,
                true,
                x_values[xs..xe].as_ptr(),
                1,
                width as isize,
                w_values[ws..we].as_ptr(),
                width as isize,
                1,
                1.0,
                1.0,
                false,
                false,
                false,
                parallelism,
            );
        }
        self.finish(&mut dst, out)?;
        Ok((CpuStorage::F32(dst), Shape::from((batch, len, out))))
    }

    /// Applies the epilogue to `dst`'s rows of `out` values, over candle's threads.
    fn finish(&self, dst: &mut [f32], out: usize) -> Result<()> {
        match &self.epilogue {
            Epilogue::None => {}
            Epilogue::GeluErf => dst.par_chunks_mut(EPILOGUE_CHUNK).for_each(|chunk| {
                wide(|| {
                    for value in chunk {
                        *value = gelu_erf(*value);
                    }
                })
            }),
            Epilogue::LayerNorm { gamma, beta, eps } => {
                if gamma.len() != out || beta.len() != out {
                    candle_core::bail!("dense: a layer norm of {} values after {out} outputs", gamma.len());
                }
                let rows_per_task = (EPILOGUE_CHUNK / out).max(1);
                dst.par_chunks_mut(rows_per_task * out).for_each(|rows| {
                    wide(|| {
                        for row in rows.chunks_exact_mut(out) {
                            layer_norm(row, gamma, beta, *eps);
                        }
                    })
                });
            }
        }
        Ok(())
    }
}

/// `0.5·x·(1 + erf(x/√2))`.
#[inline(always)]
pub(crate) fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + crate::bert::erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// Lanes of the row sums, as the attention's softmax keeps them.
use crate::attention::LANES;

/// Sums `f` of each of `values` over [`LANES`] lanes, then the lanes in order.
#[inline(always)]
fn lane_sum(values: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [0f32; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in chunks.by_ref() {
        for (lane, &value) in lanes.iter_mut().zip(chunk) {
            *lane += f(value);
        }
    }
    for (lane, &value) in lanes.iter_mut().zip(chunks.remainder()) {
        *lane += f(value);
    }
    lanes.iter().sum()
}

/// Layer norm of one row in place: the mean, then the variance around it (two passes, as
/// PyTorch's CPU kernel, rather than E[x²] − E[x]², which loses digits).
#[inline(always)]
fn layer_norm(row: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let n = row.len() as f32;
    let mean = lane_sum(row, |x| x) / n;
    let var = lane_sum(row, |x| (x - mean) * (x - mean)) / n;
    let inv = 1.0 / (var + eps).sqrt();
    for ((x, &g), &b) in row.iter_mut().zip(gamma).zip(beta) {
        *x = (*x - mean) * inv * g + b;
    }
}

impl CustomOp2 for Dense {
    fn name(&self) -> &'static str {
        "bert-dense"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        xl: &Layout,
        w: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.run((x, xl), (w, wl), None)
    }
}

impl CustomOp3 for Dense {
    fn name(&self) -> &'static str {
        "bert-dense-residual"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        xl: &Layout,
        w: &CpuStorage,
        wl: &Layout,
        r: &CpuStorage,
        rl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(residual) = r else { candle_core::bail!("dense: expected f32") };
        let Some((rs, re)) = rl.contiguous_offsets() else {
            candle_core::bail!("dense: residual is not contiguous")
        };
        self.run((x, xl), (w, wl), Some(&residual[rs..re]))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Module};
    use candle_nn::Linear;

    use super::*;

    fn worst(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
    }

    #[test]
    fn matches_candles_linear_with_and_without_the_residual() {
        let cpu = Device::Cpu;
        let weight = Tensor::randn(0f32, 1.0, (24, 40), &cpu).unwrap();
        let bias = Tensor::randn(0f32, 1.0, 24, &cpu).unwrap();
        let x = Tensor::randn(0f32, 1.0, (3, 5, 40), &cpu).unwrap();
        let residual = Tensor::randn(0f32, 1.0, (3, 5, 24), &cpu).unwrap();
        let linear = Linear::new(weight.clone(), Some(bias.clone()));
        let dense = Dense { weight, bias: bias.to_vec1().unwrap(), epilogue: Epilogue::None };
        let expected = linear.forward(&x).unwrap();
        assert!(worst(&dense.forward(&x, None).unwrap(), &expected) < 1e-4);
        let with_residual = dense.forward(&x, Some(&residual)).unwrap();
        assert!(worst(&with_residual, &(expected + residual).unwrap()) < 1e-4);
    }

    #[test]
    fn the_gelu_and_layer_norm_epilogues_match_candles_ops() {
        let cpu = Device::Cpu;
        let weight = Tensor::randn(0f32, 1.0, (384, 96), &cpu).unwrap();
        let bias = Tensor::randn(0f32, 1.0, 384, &cpu).unwrap();
        let x = Tensor::randn(0f32, 1.0, (2, 7, 96), &cpu).unwrap();
        let residual = Tensor::randn(0f32, 1.0, (2, 7, 384), &cpu).unwrap();
        let linear = Linear::new(weight.clone(), Some(bias.clone()));
        let product = linear.forward(&x).unwrap();

        let gelu =
            Dense { weight: weight.clone(), bias: bias.to_vec1().unwrap(), epilogue: Epilogue::GeluErf };
        assert!(worst(&gelu.forward(&x, None).unwrap(), &product.gelu_erf().unwrap()) < 1e-4);

        let gamma = Tensor::randn(1f32, 0.1, 384, &cpu).unwrap();
        let beta = Tensor::randn(0f32, 0.1, 384, &cpu).unwrap();
        let norm = candle_nn::LayerNorm::new(gamma.clone(), beta.clone(), 1e-12);
        let expected = norm.forward(&(&product + &residual).unwrap()).unwrap();
        let epilogue = Epilogue::LayerNorm {
            gamma: gamma.to_vec1().unwrap(),
            beta: beta.to_vec1().unwrap(),
            eps: 1e-12,
        };
        let fused = Dense { weight, bias: bias.to_vec1().unwrap(), epilogue };
        assert!(worst(&fused.forward(&x, Some(&residual)).unwrap(), &expected) < 1e-4);
    }

    #[test]
    fn refuses_an_input_that_does_not_fit_its_weight() {
        let cpu = Device::Cpu;
        let dense = Dense {
            weight: Tensor::zeros((4, 8), DType::F32, &cpu).unwrap(),
            bias: vec![0.0; 4],
            epilogue: Epilogue::None,
        };
        let x = Tensor::zeros((1, 2, 6), DType::F32, &cpu).unwrap();
        let err = dense.forward(&x, None).unwrap_err().to_string();
        assert!(err.contains("does not fit a 4×8 weight"), "{err}");
        let wrong_residual = Tensor::zeros((1, 2, 3), DType::F32, &cpu).unwrap();
        let x = Tensor::zeros((1, 2, 8), DType::F32, &cpu).unwrap();
        assert!(dense.forward(&x, Some(&wrong_residual)).is_err());
    }
}
