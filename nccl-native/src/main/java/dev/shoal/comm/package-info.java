/**
 * The collective API of Shoal: {@link dev.shoal.comm.Communicator}, {@link dev.shoal.comm.ReduceOp},
 * {@link dev.shoal.comm.DType} and the mesh layout {@link dev.shoal.comm.ParallelDims}.
 *
 * <p>Backends: NCCL on GPUs (this module), and the CPU backends in {@code runtime}. All backends
 * pass one conformance suite. Counts are in elements; byte counts are named {@code bytes}.
 */
package dev.shoal.comm;
