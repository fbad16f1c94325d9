/**
 * CPU tensors and the kernels under the ops: {@link dev.shoal.runtime.tensor.Tensor} (off-heap float32,
 * row-major, long-indexed), {@link dev.shoal.runtime.tensor.Gemm} (row-major SGEMM; OpenBLAS or a
 * plain-Java reference) and {@link dev.shoal.runtime.tensor.Parallel} (a fixed pool for element-wise loops).
 */
package dev.shoal.runtime.tensor;
