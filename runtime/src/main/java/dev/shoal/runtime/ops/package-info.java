/**
 * The Llama-3 training ops on the CPU, one small final class per op with static {@code forward} and
 * {@code backward} (llm.c style). Conventions shared by every op:
 *
 * <ul>
 *   <li>Shapes use this legend: B batch size, T sequence length, N = B·T rows (tokens), C model dim,
 *       V vocabulary size, F FFN (hidden) dim, NH query heads, NKV key/value heads (NH % NKV == 0),
 *       G = NH / NKV query heads per KV head, hd = C / NH head size, kvDim = NKV · hd.
 *   <li>Activations are row-major: {@code [B, T, C]} is the same memory as {@code [N, C]}; a head's
 *       slice of a query row is the hd floats at column h·hd.
 *   <li>Weights use the Hugging Face layout, e.g. a linear layer's weight is {@code [out, in]} and
 *       computes y = x·Wᵀ.
 *   <li>Gradients are named {@code dX}. Gradients of parameters accumulate ({@code +=}) so micro-batches
 *       can add up; gradients of activations are assigned ({@code =}) unless the method says it
 *       accumulates (a fan-out, where the branches' gradients sum).
 *   <li>Every op takes a {@link dev.shoal.runtime.tensor.Compute}: the GEMM for matmuls and the pool
 *       for element-wise loops. Ops allocate no tensors; callers own every buffer.
 * </ul>
 */
package dev.shoal.runtime.ops;
