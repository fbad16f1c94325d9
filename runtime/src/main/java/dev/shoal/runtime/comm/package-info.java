/**
 * CPU backends of the collective API ({@link dev.shoal.comm.Communicator}).
 *
 * <ul>
 *   <li>{@link dev.shoal.runtime.comm.InJvmWorld}: ranks are threads of one JVM; collectives read
 *       and write each other's off-heap buffers directly.
 *   <li>{@link dev.shoal.runtime.comm.TcpTransport}: ranks in different processes; ring
 *       reduce-scatter/all-gather over one TCP connection per pair of ranks, pipelined in 256 KiB
 *       segments (a segment is forwarded as soon as it has arrived and been reduced).
 * </ul>
 *
 * <p>Both pass {@code CommunicatorConformance}, the suite every backend (NCCL included) runs.
 * Counts are elements of the given {@link dev.shoal.comm.DType}; sizes in bytes are named so.
 */
package dev.shoal.runtime.comm;
