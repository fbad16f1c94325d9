// Views of off-heap host memory (JavaCPP Pointers) as NIO buffers, plus the element conversions
// the CPU collective backends need. No copies: a view reads and writes the native memory itself.
// Guarantees: a view starts at pointer.address() + position·sizeof, as JavaCPP's native calls do.
package dev.shoal.runtime.comm;

import dev.shoal.comm.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

public final class HostMemory {
    private HostMemory() {}

    /** A BytePointer at a raw address, so that asByteBuffer() spans exactly {@code bytes}. */
    private static final class Raw extends BytePointer {
        Raw(long address, long bytes) {
            super((Pointer) null);
            this.address = address;
            this.limit = bytes;
            this.capacity = bytes;
        }
    }

    /** Start address of the data a pointer designates, honouring its position. */
    public static long address(Pointer p) {
        return p.address() + p.position() * p.sizeof();
    }

    /** Native-order view of {@code bytes} bytes at {@code address} (bytes ≤ Integer.MAX_VALUE). */
    public static ByteBuffer view(long address, long bytes) {
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a single view is limited to 2 GiB, asked for " + bytes + " bytes");
        }
        if (bytes == 0) return ByteBuffer.allocateDirect(0);
        return new Raw(address, bytes).asByteBuffer().order(ByteOrder.nativeOrder());
    }

    /** View of elements [offsetElems, offsetElems + elems) of a buffer of the given dtype. */
    public static ByteBuffer view(long address, DType dtype, long offsetElems, long elems) {
        return view(address + dtype.bytesFor(offsetElems), dtype.bytesFor(elems));
    }

    public static void copy(long dstAddress, long srcAddress, long bytes) {
        if (bytes == 0 || dstAddress == srcAddress) return;
        Pointer.memcpy(new Raw(dstAddress, bytes), new Raw(srcAddress, bytes), bytes);
    }

    /** Off-heap scratch memory that grows on demand and is reused across calls. */
    public static final class Scratch implements AutoCloseable {
        private BytePointer mem;
        private long bytes;

        public long address(long needBytes) {
            if (needBytes > bytes) {
                if (mem != null) mem.close();
                bytes = Math.max(needBytes, bytes * 2);
                mem = new BytePointer(bytes);
            }
            return mem == null ? 0 : mem.address();
        }

        @Override
        public void close() {
            if (mem != null) mem.close();
            mem = null;
            bytes = 0;
        }
    }
}
