//! A BERT linear layer on CPU f32 as one pass: the destination starts as the bias (plus the
//! residual the layer's output is added to, for the two projections a layer norm follows) and
//! the `gemm` crate — the kernels candle's own products run — accumulates `x·Wᵀ` into it. Candle
//! would zero the destination, multiply, then add the bias and the residual in two more passes
//! over it. The split of the work over threads is gemm's, over rows and columns only, so the
//! result is the same bits on any number of threads.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use gemm::{Parallelism, gemm};

/// `x·Wᵀ + b`, and `x·Wᵀ + b + residual`, with `W` `(out, in)`.
pub(crate) struct Dense {
    /// The weight, `(out, in)`: what [`Dense::forward`] hands the op as its second input.
    pub(crate) weight: Tensor,
    /// The bias, `out` values.
    pub(crate) bias: Vec<f32>,
}

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
        Ok((CpuStorage::F32(dst), Shape::from((batch, len, out))))
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
        let dense = Dense { weight, bias: bias.to_vec1().unwrap() };
        let expected = linear.forward(&x).unwrap();
        assert!(worst(&dense.forward(&x, None).unwrap(), &expected) < 1e-4);
        let with_residual = dense.forward(&x, Some(&residual)).unwrap();
        assert!(worst(&with_residual, &(expected + residual).unwrap()) < 1e-4);
    }

    #[test]
    fn refuses_an_input_that_does_not_fit_its_weight() {
        let cpu = Device::Cpu;
        let dense = Dense { weight: Tensor::zeros((4, 8), DType::F32, &cpu).unwrap(), bias: vec![0.0; 4] };
        let x = Tensor::zeros((1, 2, 6), DType::F32, &cpu).unwrap();
        let err = dense.forward(&x, None).unwrap_err().to_string();
        assert!(err.contains("does not fit a 4×8 weight"), "{err}");
        let wrong_residual = Tensor::zeros((1, 2, 3), DType::F32, &cpu).unwrap();
        let x = Tensor::zeros((1, 2, 8), DType::F32, &cpu).unwrap();
        assert!(dense.forward(&x, Some(&wrong_residual)).is_err());
    }
}
