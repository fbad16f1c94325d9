// The collective API every backend implements: NCCL on GPUs, an in-JVM shared-memory backend
// for ranks that are threads, and a TCP backend for ranks in different processes.
//
// Buffers are off-heap (JavaCPP Pointer: host memory for CPU backends, device memory for NCCL).
// Counts are in elements of the given DType, never bytes. A call blocks until this rank's part
// is done (CPU backends) or is enqueued on the communicator's stream (NCCL; see synchronize()).
//
// Guarantees: every rank of the group must make the same calls in the same order; a dead peer,
// abort() or a timeout surfaces as CommException, never as a hang.
package dev.shoal.comm;

import org.bytedeco.javacpp.Pointer;

public interface Communicator extends AutoCloseable {

    /** This rank's index within the group, 0 ≤ rank < size. */
    int rank();

    /** Number of ranks in the group. */
    int size();

    /** Mesh epoch this communicator was built for; a stale epoch is never reused. */
    long epoch();

    /** In place: buf[i] = op over ranks of buf[i], on every rank. */
    void allReduce(Pointer buf, long elems, DType dtype, ReduceOp op);

    /**
     * send holds size()·recvElems elements; rank r receives op-reduced chunk r into recv
     * (recvElems elements).
     */
    void reduceScatter(Pointer send, Pointer recv, long recvElems, DType dtype, ReduceOp op);

    /** send holds sendElems elements; recv receives size()·sendElems, rank r's chunk at r·sendElems. */
    void allGather(Pointer send, Pointer recv, long sendElems, DType dtype);

    /** In place: every rank's buf becomes root's buf. */
    void broadcast(Pointer buf, long elems, DType dtype, int root);

    /** Point-to-point send to peer (a rank of this group); matched by recv on the peer. */
    void send(Pointer buf, long elems, DType dtype, int peer);

    /** Point-to-point receive from peer (a rank of this group). */
    void recv(Pointer buf, long elems, DType dtype, int peer);

    /** Returns when every rank of the group has reached the barrier. */
    void barrier();

    /** Waits until every operation issued so far is complete (a no-op for synchronous backends). */
    default void synchronize() {}

    /**
     * Breaks the communicator: every blocked or later call on any rank of this process fails with
     * CommException(ABORTED). Safe to call from any thread, more than once.
     */
    void abort(String reason);

    /** Releases resources; an open operation fails as if aborted. */
    @Override
    void close();
}
