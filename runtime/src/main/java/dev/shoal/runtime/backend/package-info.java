/**
 * The Llama-3 training step written once against a tensor backend: {@link
 * dev.shoal.runtime.backend.BackendLlama} (fp32 master weights, gradients and AdamW state; activations in
 * the backend's compute type) over {@link dev.shoal.runtime.backend.TensorBackend}, implemented by {@code
 * dev.shoal.runtime.cuda.CudaOps} on a GPU (bf16 compute) and by {@link dev.shoal.runtime.backend.CpuBackend}
 * on the host (fp32 compute: off-heap memory, OpenBLAS and the CPU engine's ops, multi-threaded).
 *
 * <ul>
 *   <li>Shapes use the legend of {@code dev.shoal.runtime.ops}: B batch, T sequence, N = B·T tokens, C model
 *       dim, V vocabulary, F FFN dim, NH query heads, NKV key/value heads, hd = C / NH, kvDim = NKV·hd.
 *   <li>Buffers are plain {@code long} addresses (device or host); every field comment gives shape and
 *       element type. "act" buffers hold the compute type (bf16 or fp32); statistics (rstd, LSE, per-row
 *       losses) are fp32.
 *   <li>Parameters sit in one flat buffer in Hugging Face order ({@link
 *       dev.shoal.runtime.backend.ParamLayout}), the same as {@code LlamaModel.flatParams()}; weights are
 *       [out, in] and y = x·Wᵀ.
 *   <li>Parameter gradients accumulate (+=) in fp32; activation gradients are assigned.
 * </ul>
 */
package dev.shoal.runtime.backend;
