/**
 * The CUDA implementation of the tensor backend: {@link dev.shoal.runtime.cuda.CudaOps} enqueues cuBLAS
 * GEMMs (bf16 in, fp32 accumulate) and the NVRTC kernels of {@code dev.shoal.cuda.kernels} on one stream,
 * for the backend-neutral Llama step {@link dev.shoal.runtime.backend.BackendLlama}.
 * {@link dev.shoal.runtime.cuda.CudaLayerBench} times a stack of Llama-3-8B-shaped layers;
 * {@link dev.shoal.runtime.cuda.PhaseProfiler} splits a step's GPU time into GEMM, attention and the rest.
 */
package dev.shoal.runtime.cuda;
