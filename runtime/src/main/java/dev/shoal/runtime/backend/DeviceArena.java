// The device blocks one BackendLlama owns: every alloc goes through here, in the order asked, and freeAll
// returns them all. Guarantees: allocatedBytes is the sum of the requested sizes (before any pool rounding);
// freeAll frees each block once, also after an allocation failed part way (then it frees what was made).
package dev.shoal.runtime.backend;

import java.util.ArrayList;
import java.util.List;

final class DeviceArena {
    private final TensorBackend ops;
    private final List<Long> allocations = new ArrayList<>();
    private long allocatedBytes;

    DeviceArena(TensorBackend ops) {
        this.ops = ops;
    }

    /** One ops.alloc(bytes), recorded for freeAll. */
    long alloc(long bytes) {
        long a = ops.alloc(bytes);
        allocations.add(a);
        allocatedBytes += bytes;
        return a;
    }

    /** Bytes requested so far. */
    long allocatedBytes() {
        return allocatedBytes;
    }

    /** Frees every block allocated so far, in allocation order. */
    void freeAll() {
        for (long a : allocations) {
            ops.free(a);
        }
        allocations.clear();
    }
}
