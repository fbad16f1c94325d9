/**
 * The Llama-3 training step on one CUDA GPU: {@link dev.shoal.runtime.cuda.CudaLlama} (bf16 compute, fp32
 * master weights, gradients and AdamW state) written against {@link dev.shoal.runtime.cuda.GpuOps}, whose
 * real implementation {@link dev.shoal.runtime.cuda.CudaOps} enqueues cuBLAS GEMMs and the NVRTC kernels of
 * {@code dev.shoal.cuda.kernels} on one stream. {@link dev.shoal.runtime.cuda.CudaLayerBench} times a stack
 * of Llama-3-8B-shaped layers.
 *
 * <ul>
 *   <li>Shapes use the legend of {@code dev.shoal.runtime.ops}: B batch, T sequence, N = B·T tokens, C model
 *       dim, V vocabulary, F FFN dim, NH query heads, NKV key/value heads, hd = C / NH, kvDim = NKV·hd.
 *   <li>Device buffers are plain {@code long} addresses; every field comment gives shape and element type.
 *       Activations and their gradients are bf16, statistics (rstd, LSE, per-row losses) fp32.
 *   <li>Parameters sit in one flat buffer in Hugging Face order ({@link dev.shoal.runtime.cuda.ParamLayout}),
 *       the same as {@code LlamaModel.flatParams()}; weights are [out, in] and y = x·Wᵀ.
 *   <li>Parameter gradients accumulate (+=) in fp32; activation gradients are assigned.
 * </ul>
 */
package dev.shoal.runtime.cuda;
