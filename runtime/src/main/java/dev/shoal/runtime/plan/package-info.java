/**
 * The parallelism planner and its cost model: for a Llama model on a cluster of identical GPUs, which
 * (tp, pp, dp, micro-batch, recompute) layouts are valid, how much memory each needs per GPU, and how long
 * a training step is expected to take. Pure arithmetic: no GPU, no cluster, no Pekko.
 *
 * <p>Legend (Korthikanti et al. 2022 letters where they exist): s sequence length (T), b micro-batch
 * size, h model dim (C), a query heads (NH), k key/value width (kvHeads · head size), f FFN dim (F), V
 * vocabulary, L layers, t tensor-parallel size, p pipeline stages, d data-parallel size, m micro-batches
 * per step per pipeline (grad_accum). Sizes named {@code ...Bytes} are bytes, {@code ...Elems} elements,
 * {@code ...Seconds} seconds, {@code ...Flops} floating-point operations, bandwidths bytes per second.
 *
 * <p>Units: GiB = 2³⁰ bytes (what GPU memory is sold in), GB = 10⁹ bytes (what link bandwidth and
 * parameter counts are quoted in).
 */
package dev.shoal.runtime.plan;
