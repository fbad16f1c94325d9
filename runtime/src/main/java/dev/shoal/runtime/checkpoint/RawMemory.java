// Untyped views of native memory by absolute address, for bulk copies between off-heap tensors,
// host snapshots and memory-mapped files. Guarantees: a view has position 0 and the given byte
// length, so JavaCPP's memcpy and asByteBuffer see exactly [address, address + bytes).
package dev.shoal.runtime.checkpoint;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

final class RawMemory extends Pointer {
    private RawMemory(long address, long bytes) {
        this.address = address;
        this.position = 0;
        this.limit = bytes;
        this.capacity = bytes;
    }

    /** Copies bytes from src to dst (native addresses; the ranges must not overlap). */
    static void copy(long dstAddress, long srcAddress, long bytes) {
        if (bytes > 0) {
            Pointer.memcpy(new RawMemory(dstAddress, bytes), new RawMemory(srcAddress, bytes), bytes);
        }
    }

    /** A little-endian ByteBuffer over [address, address + bytes); bytes must be < 2^31. */
    static ByteBuffer buffer(long address, int bytes) {
        BytePointer p = new BytePointer(new RawMemory(address, bytes));
        p.position(0).limit(bytes).capacity(bytes);
        return p.asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The native address of a direct buffer's current position. */
    static long address(ByteBuffer direct) {
        BytePointer p = new BytePointer(direct);
        return p.address() + p.position();
    }
}
