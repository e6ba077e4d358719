//! Element-wise kernels (the softmax, the layer norm, the exact GELU) on the widest plain vector
//! registers the CPU has. The crate is built for baseline x86-64, whose SSE registers hold four
//! f32; [`wide`] runs a kernel compiled with AVX as well (eight), chosen at run time. Only the
//! width changes: the same IEEE multiplies, adds, divides and square roots in the same order
//! per value (no FMA is enabled, so none is fused), hence the same bits with or without AVX.

/// Runs `kernel`, compiled with AVX when the CPU has it.
#[inline]
pub(crate) fn wide<R>(kernel: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU has AVX, checked just above.
            return unsafe { with_avx(kernel) };
        }
    }
    kernel()
}

/// `kernel` inlined into a function compiled with AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[inline(never)]
unsafe fn with_avx<R>(kernel: impl FnOnce() -> R) -> R {
    kernel()
}

#[cfg(test)]
mod tests {
    use super::wide;

    #[test]
    fn the_wide_kernel_gives_the_same_bits() {
        let values: Vec<f32> = (0..10_000).map(|i| (i as f32 * 0.731).sin() * 9.0).collect();
        let kernel = || {
            values
                .iter()
                .map(|&x| crate::dense::gelu_erf(x) + crate::attention::exp(x.min(0.0)))
                .map(f32::to_bits)
                .collect::<Vec<_>>()
        };
        assert_eq!(wide(kernel), kernel());
    }
}
