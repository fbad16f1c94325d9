// An untyped JavaCPP pointer at an absolute address (host or device) with position 0, so that copies
// and native calls see exactly that address: typed pointers add position·sizeof, which this avoids.
// Guarantees: owns nothing; limit and capacity are the byte length.
package dev.shoal.runtime.backend;

import dev.shoal.runtime.tensor.Tensor;
import org.bytedeco.javacpp.Pointer;

public final class RawPointer extends Pointer {
    public RawPointer(long address, long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative byte length " + bytes);
        }
        this.address = address;
        this.position = 0;
        this.limit = bytes;
        this.capacity = bytes;
    }

    /** The memory of a host tensor (its first element, its bytes). */
    public static RawPointer of(Tensor t) {
        return new RawPointer(t.address(), t.bytes());
    }

    @Override
    public int sizeof() {
        return 1;
    }
}
