// Packs kernel arguments for cuLaunchKernel: a native array of 8-byte value slots plus the
// void** array that points at them.
// Guarantees: one reusable buffer per thread (no allocation per launch); each value sits in its own
// 8-byte slot at the natural offset, so ints, floats, longs and device pointers all pass by value.
package dev.shoal.cuda.kernels;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerPointer;

/** Argument list for one kernel launch; obtain with {@link #begin()}, fill in declaration order. */
public final class KernelArgs {
    /** Most arguments any Shoal kernel takes. */
    public static final int MAX_ARGS = 32;

    private static final ThreadLocal<KernelArgs> PER_THREAD = ThreadLocal.withInitial(KernelArgs::new);

    private final BytePointer values; // MAX_ARGS slots of 8 bytes
    private final PointerPointer<BytePointer> slots; // void*[MAX_ARGS] -> values + 8*i
    private int count;

    KernelArgs() {
        values = new BytePointer(8L * MAX_ARGS);
        values.fill(0);
        slots = new PointerPointer<>(MAX_ARGS);
        for (int i = 0; i < MAX_ARGS; i++) {
            slots.put(i, values.getPointer(8L * i));
        }
    }

    /** The calling thread's argument buffer, emptied. Valid until the next {@code begin()} on this thread. */
    public static KernelArgs begin() {
        KernelArgs a = PER_THREAD.get();
        a.count = 0;
        return a;
    }

    private long nextOffset() {
        if (count == MAX_ARGS) {
            throw new IllegalStateException("more than " + MAX_ARGS + " kernel arguments");
        }
        return 8L * count++;
    }

    /** A device pointer (0 passes a null pointer). */
    public KernelArgs ptr(long deviceAddress) {
        values.putLong(nextOffset(), deviceAddress);
        return this;
    }

    /** A 32-bit int argument. */
    public KernelArgs i32(int v) {
        long off = nextOffset();
        values.putLong(off, 0L);
        values.putInt(off, v);
        return this;
    }

    /** A 64-bit integer argument (the kernels' {@code i64}). */
    public KernelArgs i64(long v) {
        values.putLong(nextOffset(), v);
        return this;
    }

    /** A 32-bit float argument. */
    public KernelArgs f32(float v) {
        long off = nextOffset();
        values.putLong(off, 0L);
        values.putFloat(off, v);
        return this;
    }

    /** Number of arguments packed so far. */
    public int count() {
        return count;
    }

    /** The void** array for cuLaunchKernel. */
    PointerPointer<BytePointer> kernelParams() {
        return slots;
    }

    /** Address of slot {@code i}'s value (for tests). */
    long slotAddress(int i) {
        return slots.get(i).address();
    }

    /** Address where slot {@code i}'s value lives (for tests). */
    long valueAddress(int i) {
        return values.address() + 8L * i;
    }

    /** Raw 8 bytes of slot {@code i} as a long (for tests). */
    long rawSlot(int i) {
        return values.getLong(8L * i);
    }
}
