/**
 * The NCCL backend of {@link dev.shoal.comm.Communicator}: {@link dev.shoal.nccl.NcclUniqueId} (128
 * bytes that travel in messages), the non-blocking, watchdog-guarded
 * {@link dev.shoal.nccl.NcclCommunicator}, and the {@link dev.shoal.nccl.GpuBench} benchmark main.
 *
 * <p>Every buffer handed to an NCCL communicator is a device address on that communicator's GPU;
 * operations are enqueued on its stream and {@code synchronize()} waits for them. Failures surface as
 * {@link dev.shoal.comm.CommException} with the rank, group size, epoch and operation in the message.
 */
package dev.shoal.nccl;
