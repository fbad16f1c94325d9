/**
 * Shoal's CUDA C kernels, compiled at start with NVRTC for the device's architecture
 * ({@link dev.shoal.cuda.kernels.KernelLibrary}), with one small launcher class per op.
 *
 * <p>Legend for shapes in this package: B batch, T sequence length, C model dim, F FFN dim, V
 * vocabulary (Vlocal: this tensor-parallel rank's shard), NH query heads, NKV key/value heads, hd
 * head dim, N rows (tokens). Activations are F32 or BF16 (raw 16-bit storage, round-to-nearest-even
 * on store); statistics, norm weights, master weights and optimizer state are fp32.
 *
 * <p>Launchers take raw device addresses ({@code long}) and a {@code CUstream_st} (null: the legacy
 * default stream), validate shapes and alignment before touching the GPU, and never allocate device
 * memory. Gradients of parameters accumulate ({@code +=}); gradients of activations are assigned.
 */
package dev.shoal.cuda.kernels;
