/**
 * Parallel training on top of the CPU engine: tensor parallelism (Megatron column/row-parallel layers,
 * vocab-parallel embedding and cross-entropy, applied through {@link dev.shoal.runtime.model.TpHooks}),
 * data parallelism (bucketed gradient all-reduce, or ZeRO-1 optimizer sharding) and the per-rank
 * training step that combines them.
 *
 * <p>Legend, as in {@code dev.shoal.runtime.ops}: B batch, T sequence length, N = B·T, C model dim, V
 * vocabulary, F FFN dim, NH / NKV query / key-value heads, hd head size. A trailing {@code l} means
 * "the part held by this TP rank" (Vl = V / tp rows, Fl = F / tp, NHl = NH / tp). P is the number of
 * parameter elements one rank holds (its flat buffer), S = ceil(P / dp) its ZeRO-1 shard.
 *
 * <p>Mesh order follows {@link dev.shoal.comm.ParallelDims}: TP fastest, then DP, then PP.
 */
package dev.shoal.runtime.parallel;
