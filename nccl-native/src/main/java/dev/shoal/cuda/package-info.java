/**
 * The CUDA layer of Shoal through JavaCPP (bytedeco {@code cuda} presets): {@link dev.shoal.cuda.NativeLibs}
 * (the one availability check every entry point runs first), devices, streams, events, the caching
 * {@link dev.shoal.cuda.DeviceMemoryPool}, typed {@link dev.shoal.cuda.DeviceBuffer}s, pinned host
 * memory and the row-major cuBLAS wrapper {@link dev.shoal.cuda.CublasGemm}.
 *
 * <p>Units: {@code bytes} are bytes, {@code elems} are elements of a {@link dev.shoal.comm.DType}.
 * Matrices are row-major; a GEMM is C[M×N] = op(A)[M×K]·op(B)[K×N]. Device addresses travel as
 * {@link dev.shoal.cuda.DevicePtr} (a JavaCPP Pointer whose limit and capacity count bytes).
 *
 * <p>The presets are built for CUDA 13.1; the machines run the system's CUDA 13.0 libraries, found
 * through {@code LD_LIBRARY_PATH} with {@code -Dorg.bytedeco.javacpp.pathsFirst=true}. Functions
 * new in 13.1 must not be called (their symbols bind lazily and are absent in 13.0).
 */
package dev.shoal.cuda;
