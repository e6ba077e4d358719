//! BERT's multi-head self-attention in one pass per sequence, on CPU f32.
//!
//! Written as candle ops, attention copies each of q, k and v into a head-major layout, makes
//! `batch × heads × len²` scores, scales them, adds the mask, softmaxes them in three more passes,
//! multiplies, and copies the context back to a token-major layout; and each of its
//! `batch × heads` small matrix products runs on its own while the other threads wait. Here one
//! task per sequence reads q, k and v in place from the fused projection `(batch, len, 3·hidden)`
//! (the `gemm` crate, which candle's own products use, takes any strides), keeps one `len × len`
//! score block per head, softmaxes it in place with the mask, and writes the context straight
//! into `(batch, len, hidden)`. Sequences go to candle's threads; everything within one is
//! sequential, so the result is the same bits on any number of threads.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape};
use gemm::{Parallelism, gemm};
use rayon::prelude::*;

/// The attention of every sequence of a batch, over its fused q/k/v projection.
pub(crate) struct Attention<'a> {
    /// Heads per layer.
    pub(crate) heads: usize,
    /// Width of one head.
    pub(crate) head_dim: usize,
    /// `(batch, len)` row-major: 0 for a token, the lowest f32 for padding (as transformers'
    /// `finfo(dtype).min` mask), added to every score of that key.
    pub(crate) mask: &'a [f32],
}

impl CustomOp1 for Attention<'_> {
    fn name(&self) -> &'static str {
        "bert-attention"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(values) = storage else { candle_core::bail!("bert-attention: expected f32") };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("bert-attention: the q/k/v projection is not contiguous")
        };
        let (batch, len, width) = layout.shape().dims3()?;
        let hidden = self.heads * self.head_dim;
        if width != 3 * hidden || self.mask.len() != batch * len {
            candle_core::bail!("bert-attention: {batch}×{len}×{width} does not match {} heads", self.heads);
        }
        let qkv = &values[start..end];
        let mut out = vec![0f32; batch * len * hidden];
        let scale = 1.0 / (self.head_dim as f32).sqrt();
        out.par_chunks_mut(len * hidden)
            .zip(qkv.par_chunks(len * width))
            .zip(self.mask.par_chunks(len))
            .for_each(|((out, qkv), mask)| self.sequence(out, qkv, mask, len, scale));
        Ok((CpuStorage::F32(out), Shape::from((batch, len, hidden))))
    }
}

impl Attention<'_> {
    /// One sequence: `qkv` is `(len, 3·hidden)`, `out` `(len, hidden)`.
    fn sequence(&self, out: &mut [f32], qkv: &[f32], mask: &[f32], len: usize, scale: f32) {
        let (hd, hidden) = (self.head_dim, self.heads * self.head_dim);
        let width = 3 * hidden;
        let mut scores = vec![0f32; len * len];
        for head in 0..self.heads {
            let (q, k, v) = (head * hd, hidden + head * hd, 2 * hidden + head * hd);
            // SAFETY: every pointer and stride below stays inside its slice: q, k and v are
            // `len` rows `width` apart of `hd` values from their offsets, all within `qkv`
            // (`len × width`); `scores` is `len × len`; the context is `len` rows `hidden` apart
            // of `hd` values from `head·hd`, within `out` (`len × hidden`).
            unsafe {
                // scores = scale · q kᵀ: kᵀ's element (d, t) is k[t·width + d].
                gemm(
                    len,
                    len,
                    hd,
                    scores.as_mut_ptr(),
                    1,
                    len as isize,
                    false,
                    qkv[q..].as_ptr(),
                    1,
                    width as isize,
                    qkv[k..].as_ptr(),
                    width as isize,
                    1,
                    0.0,
                    scale,
                    false,
                    false,
                    false,
                    Parallelism::None,
                );
            }
            crate::wide::wide(|| {
                for row in scores.chunks_exact_mut(len) {
                    softmax_masked(row, mask);
                }
            });
            // SAFETY: as above.
            unsafe {
                gemm(
                    len,
                    hd,
                    len,
                    out[head * hd..].as_mut_ptr(),
                    1,
                    hidden as isize,
                    false,
                    scores.as_ptr(),
                    1,
                    len as isize,
                    qkv[v..].as_ptr(),
                    1,
                    width as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    Parallelism::None,
                );
            }
        }
    }
}

/// Lanes of the row reductions: the running maxima and sums are kept in eight lanes, combined
/// in a fixed order at the end, which the compiler keeps in vector registers; the same bits on
/// every CPU and thread count.
pub(crate) const LANES: usize = 8;

/// `row + mask`, softmaxed in place (inlined into [`crate::wide::wide`]'s kernel): the max, `exp(x − max)` with [`exp`], the sum, the scale,
/// each a vectorised pass.
#[inline(always)]
fn softmax_masked(row: &mut [f32], mask: &[f32]) {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let mut rows = row.chunks_exact_mut(LANES);
    let mut masks = mask.chunks_exact(LANES);
    for (scores, masks) in rows.by_ref().zip(masks.by_ref()) {
        for ((lane, score), &m) in lanes.iter_mut().zip(scores.iter_mut()).zip(masks) {
            *score += m;
            *lane = lane.max(*score);
        }
    }
    for (score, &m) in rows.into_remainder().iter_mut().zip(masks.remainder()) {
        *score += m;
        lanes[0] = lanes[0].max(*score);
    }
    let max = lanes.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    for score in row.iter_mut() {
        *score = exp(*score - max);
    }
    let mut sums = [0f32; LANES];
    let mut rows = row.chunks_exact(LANES);
    for scores in rows.by_ref() {
        for (sum, score) in sums.iter_mut().zip(scores) {
            *sum += score;
        }
    }
    for (sum, score) in sums.iter_mut().zip(rows.remainder()) {
        *sum += score;
    }
    let inverse = 1.0 / sums.iter().sum::<f32>();
    for score in row.iter_mut() {
        *score *= inverse;
    }
}

/// `eˣ` for f32 up to `x = 88` (the softmax takes it of `x ≤ 0`), within 2 ulp of libm's:
/// `x = n·ln 2 + r` with
/// `|r| ≤ ln 2 / 2`, a degree-6 polynomial for `eʳ` (Cephes' coefficients), and `2ⁿ` put in the
/// exponent bits. Plain multiplies and adds without branches, so the compiler vectorises it and
/// no FMA changes the bits from one CPU to the next. Below −87.3 (a masked score) it is 0.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let clamped = x.clamp(-87.3, 88.0);
    // Round to nearest by adding and taking away 1.5·2²³ (no libm call, so it vectorises).
    const ROUND: f32 = 12_582_912.0;
    let n = (clamped * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = clamped - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    // 2ⁿ: n + 127 in the exponent field (n is within [−126, 127] here). Added to 2²³, the
    // integer n + 127 is the low bits of the float's mantissa; shifting the bits by 23 moves it
    // into the exponent field (and the rest out), with no float-to-int conversion.
    let scale = f32::from_bits((n + 8_388_735.0).to_bits() << 23);
    if x < -87.3 { 0.0 } else { e * scale }
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Tensor};

    use super::*;

    /// The same attention as candle ops (the path other devices take), on random projections of
    /// sequences of which some end in padding.
    #[test]
    fn matches_attention_as_candle_ops_and_ignores_padding() {
        let (batch, len, heads, hd) = (3, 7, 4, 8);
        let hidden = heads * hd;
        let qkv = Tensor::randn(0f32, 1.0, (batch, len, 3 * hidden), &Device::Cpu).unwrap();
        let real = [7usize, 4, 1];
        let mask: Vec<f32> =
            real.iter().flat_map(|&n| (0..len).map(move |t| if t < n { 0.0 } else { -f32::MAX })).collect();
        let op = Attention { heads, head_dim: hd, mask: &mask };
        let fused = qkv.apply_op1_no_bwd(&op).unwrap();

        let split = qkv.reshape((batch, len, 3 * heads, hd)).unwrap().transpose(1, 2).unwrap();
        let part = |i: usize| split.narrow(1, i * heads, heads).unwrap().contiguous().unwrap();
        let (q, k, v) = (part(0), part(1), part(2));
        let bias = Tensor::from_vec(mask, (batch, 1, 1, len), &Device::Cpu).unwrap();
        let scores = (q.matmul(&k.t().unwrap()).unwrap() / (hd as f64).sqrt()).unwrap();
        let probs = candle_nn::ops::softmax_last_dim(&scores.broadcast_add(&bias).unwrap()).unwrap();
        let reference =
            probs.matmul(&v).unwrap().transpose(1, 2).unwrap().reshape((batch, len, hidden)).unwrap();
        let worst = |a: &Tensor, b: &Tensor| {
            (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
        };
        assert!(worst(&fused, &reference) < 1e-5, "largest difference {}", worst(&fused, &reference));

        // Padded keys get no weight: the last sequence has one token, whose value is therefore
        // the context at every position.
        let only = v.get(2).unwrap().narrow(1, 0, 1).unwrap().reshape((1, hidden)).unwrap();
        let contexts = fused.get(2).unwrap();
        assert!(worst(&contexts, &only.broadcast_as((len, hidden)).unwrap()) < 1e-6);
    }

    #[test]
    fn exp_is_within_two_ulp_of_libm_and_zero_for_masked_scores() {
        let mut worst = 0u32;
        for i in -870_000..=880_000 {
            let x = i as f32 / 10_000.0;
            let (ours, libm) = (exp(x), x.exp());
            let ulp = (ours.to_bits() as i64 - libm.to_bits() as i64).unsigned_abs() as u32;
            assert!(ulp <= 2, "exp({x}) = {ours}, libm {libm}");
            worst = worst.max(ulp);
        }
        assert_eq!((exp(-f32::MAX), exp(-100.0), exp(0.0)), (0.0, 0.0, 1.0));
        assert!(worst <= 2);
    }

    #[test]
    fn softmax_matches_the_plain_one_on_odd_lengths() {
        for len in [1usize, 5, 8, 13, 37] {
            let mut row: Vec<f32> = (0..len).map(|i| ((i * 7919) % 23) as f32 / 3.0 - 4.0).collect();
            let mask: Vec<f32> =
                (0..len).map(|i| if i + 1 == len && len > 1 { -f32::MAX } else { 0.0 }).collect();
            let shifted: Vec<f32> = row.iter().zip(&mask).map(|(x, m)| x + m).collect();
            let max = shifted.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            let exps: Vec<f64> = shifted.iter().map(|&x| f64::from(x - max).exp()).collect();
            let total: f64 = exps.iter().sum();
            softmax_masked(&mut row, &mask);
            for (ours, e) in row.iter().zip(&exps) {
                assert!((f64::from(*ours) - e / total).abs() < 1e-6, "len {len}: {row:?}");
            }
        }
    }

    #[test]
    fn refuses_a_projection_that_does_not_match_its_heads() {
        let qkv = Tensor::zeros((1, 2, 10), DType::F32, &Device::Cpu).unwrap();
        let op = Attention { heads: 2, head_dim: 2, mask: &[0.0; 2] };
        let err = qkv.apply_op1_no_bwd(&op).unwrap_err().to_string();
        assert!(err.contains("does not match 2 heads"), "{err}");
    }
}
