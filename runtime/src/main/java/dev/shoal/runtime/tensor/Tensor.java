// A CPU float32 tensor whose elements live off-heap, row-major and contiguous.
// Guarantees: storage is a JavaCPP FloatPointer (never a float[]), indexed with long so a tensor may
// exceed 2^31 elements; views (slices of the leading dimension, reshapes) share storage without a
// copy and keep the owning allocation alive (memory is freed by close() on the owner, or by JavaCPP's
// deallocator once no tensor over it is reachable); every index is bounds-checked on get/set/read/write.
package dev.shoal.runtime.tensor;

import java.lang.reflect.Field;
import java.util.Arrays;
import java.util.Objects;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

public final class Tensor implements AutoCloseable {
    /** Storage shared by a tensor and all its views; freed once, by {@link #close()} on the owner. */
    private static final class Storage {
        final FloatPointer base; // the allocation (or the wrapped external memory), positioned at 0
        final long capacityElems;
        final boolean owned; // true when this class allocated the memory and may free it
        final Object keepAlive; // e.g. the external Pointer a wrapped tensor points into
        boolean freed;

        Storage(FloatPointer base, long capacityElems, boolean owned, Object keepAlive) {
            this.base = base;
            this.capacityElems = capacityElems;
            this.owned = owned;
            this.keepAlive = keepAlive;
        }
    }

    /**
     * An untyped pointer at an absolute address with position 0. Pointer.memset/memcpy add a pointer's
     * position in BYTES, so element-positioned FloatPointers must not be passed to them directly.
     */
    private static final class RawPointer extends Pointer {
        RawPointer(long address, long bytes) {
            this.address = address;
            this.position = 0;
            this.limit = bytes;
            this.capacity = bytes;
        }
    }

    private Pointer raw() {
        return new RawPointer(address(), bytes());
    }

    private final Storage storage;
    private final long offsetElems; // first element of this tensor inside storage
    private final int[] shape;
    private final long numel;
    private final FloatPointer ptr; // positioned at offsetElems, limit offsetElems + numel
    private final long addr; // native address of element 0

    /** Element access goes straight to memory; every index is checked against numel first. */
    private static final sun.misc.Unsafe U = unsafe();

    private static sun.misc.Unsafe unsafe() {
        try {
            Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            return (sun.misc.Unsafe) f.get(null);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("sun.misc.Unsafe is needed for off-heap tensor access", e);
        }
    }

    private Tensor(Storage storage, long offsetElems, int[] shape) {
        this.storage = storage;
        this.offsetElems = offsetElems;
        this.shape = shape.clone();
        this.numel = numel(shape);
        if (offsetElems < 0 || offsetElems + numel > storage.capacityElems) {
            throw new IllegalArgumentException("view " + Arrays.toString(shape) + " at element " + offsetElems
                    + " does not fit storage of " + storage.capacityElems + " elements");
        }
        FloatPointer p = new FloatPointer(storage.base);
        p.position(offsetElems).limit(offsetElems + numel);
        this.ptr = p;
        this.addr = storage.base.address() + offsetElems * Float.BYTES;
    }

    /** Number of elements of a shape; every dimension must be >= 0. */
    public static long numel(int... shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** A new zero-filled tensor. */
    public static Tensor zeros(int... shape) {
        long n = numel(shape);
        FloatPointer base = new FloatPointer(Math.max(1, n));
        if (base.isNull()) {
            throw new OutOfMemoryError(
                    "could not allocate " + (n * Float.BYTES) + " bytes off-heap for tensor " + Arrays.toString(shape));
        }
        Pointer.memset(base, 0, Math.max(1, n) * Float.BYTES);
        return new Tensor(new Storage(base, Math.max(1, n), true, null), 0, shape);
    }

    /** A new tensor holding a copy of {@code values} (tests and small constants). */
    public static Tensor of(float[] values, int... shape) {
        if (numel(shape) != values.length) {
            throw new IllegalArgumentException(
                    values.length + " values do not fill shape " + Arrays.toString(shape) + " (" + numel(shape) + ")");
        }
        Tensor t = zeros(shape);
        t.ptr.put(values, 0, values.length);
        return t;
    }

    /**
     * A tensor over memory someone else owns (e.g. a memory-mapped safetensors file), starting {@code
     * byteOffset} bytes after {@code memory}'s current position. No copy; never freed by this class.
     */
    public static Tensor wrap(Pointer memory, long byteOffset, int... shape) {
        if (byteOffset % Float.BYTES != 0) {
            throw new IllegalArgumentException("float32 tensor must start at a multiple of 4 bytes, got " + byteOffset);
        }
        long n = numel(shape);
        long startBytes = memory.position() * memory.sizeof() + byteOffset;
        // Re-derive a float view whose element 0 is the requested byte.
        FloatPointer view = new FloatPointer(new RawPointer(memory.address() + startBytes, n * Float.BYTES));
        view.position(0).limit(n).capacity(n);
        return new Tensor(new Storage(view, n, false, memory), 0, shape);
    }

    public int rank() {
        return shape.length;
    }

    public int[] shape() {
        return shape.clone();
    }

    public int dim(int axis) {
        return shape[axis < 0 ? shape.length + axis : axis];
    }

    public long numel() {
        return numel;
    }

    public long bytes() {
        return numel * Float.BYTES;
    }

    /** Element {@code i} of the flattened (row-major) tensor. */
    public float get(long i) {
        return U.getFloat(addr + Objects.checkIndex(i, numel) * Float.BYTES);
    }

    public void set(long i, float v) {
        U.putFloat(addr + Objects.checkIndex(i, numel) * Float.BYTES, v);
    }

    public void add(long i, float v) {
        long a = addr + Objects.checkIndex(i, numel) * Float.BYTES;
        U.putFloat(a, U.getFloat(a) + v);
    }

    private static final long FLOAT_ARRAY_BASE = U.arrayBaseOffset(float[].class);

    /**
     * Copies n elements starting at element off into dst[dstOff..] (a bulk memory copy: ops use it to
     * work on a row in a heap scratch array, where the JIT can vectorize their loops).
     */
    public void read(long off, float[] dst, int dstOff, int n) {
        Objects.checkFromIndexSize(off, n, numel);
        Objects.checkFromIndexSize(dstOff, n, dst.length);
        U.copyMemory(
                null,
                addr + off * Float.BYTES,
                dst,
                FLOAT_ARRAY_BASE + (long) dstOff * Float.BYTES,
                (long) n * Float.BYTES);
    }

    /** Copies src[srcOff..srcOff+n) into n elements starting at element off. */
    public void write(long off, float[] src, int srcOff, int n) {
        Objects.checkFromIndexSize(off, n, numel);
        Objects.checkFromIndexSize(srcOff, n, src.length);
        U.copyMemory(
                src,
                FLOAT_ARRAY_BASE + (long) srcOff * Float.BYTES,
                null,
                addr + off * Float.BYTES,
                (long) n * Float.BYTES);
    }

    /** Element at a full multi-index, e.g. {@code at(b, t, c)}. */
    public float at(int... index) {
        return get(flatIndex(index));
    }

    public long flatIndex(int... index) {
        if (index.length != shape.length) {
            throw new IllegalArgumentException(
                    "index " + Arrays.toString(index) + " has rank " + index.length + ", tensor " + describe());
        }
        long flat = 0;
        for (int d = 0; d < shape.length; d++) {
            if (index[d] < 0 || index[d] >= shape[d]) {
                throw new IndexOutOfBoundsException("index " + Arrays.toString(index) + " outside " + describe());
            }
            flat = flat * shape[d] + index[d];
        }
        return flat;
    }

    /** The storage as a FloatPointer positioned at element 0 of this tensor (for BLAS: its position counts elements). */
    public FloatPointer pointer() {
        return ptr;
    }

    /** Native address of element 0. */
    public long address() {
        return addr;
    }

    /** Rows [start, end) of the leading dimension, as a view (no copy). */
    public Tensor slice(int start, int end) {
        if (shape.length == 0 || start < 0 || end > shape[0] || start > end) {
            throw new IndexOutOfBoundsException("slice [" + start + ", " + end + ") of " + describe());
        }
        int[] s = shape.clone();
        s[0] = end - start;
        return new Tensor(storage, offsetElems + (long) start * rowElems(), s);
    }

    /** Row {@code i} of the leading dimension with that dimension dropped, as a view. */
    public Tensor select(int i) {
        if (shape.length == 0 || i < 0 || i >= shape[0]) {
            throw new IndexOutOfBoundsException("select " + i + " of " + describe());
        }
        return new Tensor(storage, offsetElems + (long) i * rowElems(), Arrays.copyOfRange(shape, 1, shape.length));
    }

    /** The same elements under another shape with the same element count, as a view. */
    public Tensor view(int... newShape) {
        if (numel(newShape) != numel) {
            throw new IllegalArgumentException(
                    "cannot view " + describe() + " as " + Arrays.toString(newShape) + ": element counts differ");
        }
        return new Tensor(storage, offsetElems, newShape);
    }

    /** A view of {@code count} flat elements starting at flat element {@code start}, as a 1-D tensor. */
    public Tensor flatRange(long start, int count) {
        if (start < 0 || count < 0 || start + count > numel) {
            throw new IndexOutOfBoundsException("flat range [" + start + ", " + (start + count) + ") of " + describe());
        }
        return new Tensor(storage, offsetElems + start, new int[] {count});
    }

    /** Elements per step of the leading dimension. */
    public long rowElems() {
        if (shape.length == 0) {
            return 1;
        }
        return shape[0] == 0 ? 0 : numel / shape[0];
    }

    public void zero() {
        if (numel > 0) {
            Pointer.memset(raw(), 0, bytes());
        }
    }

    public void fill(float v) {
        for (long i = 0; i < numel; i++) {
            set(i, v);
        }
    }

    /** Copies all elements of {@code src} (same element count) into this tensor. */
    public void copyFrom(Tensor src) {
        if (src.numel != numel) {
            throw new IllegalArgumentException("copy " + src.describe() + " into " + describe() + ": sizes differ");
        }
        if (numel > 0) {
            Pointer.memcpy(raw(), src.raw(), bytes());
        }
    }

    /** A fresh owning copy. */
    public Tensor copy() {
        Tensor t = zeros(shape);
        t.copyFrom(this);
        return t;
    }

    /** Copy to the heap (tests, small tensors; at most 2^31-1 elements). */
    public float[] toArray() {
        if (numel > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException(describe() + " is too large for a Java array");
        }
        float[] a = new float[(int) numel];
        ptr.get(a, 0, a.length);
        return a;
    }

    public boolean sameShape(Tensor o) {
        return Arrays.equals(shape, o.shape);
    }

    /** Throws naming {@code what} unless this tensor's shape is exactly {@code expected}. */
    public Tensor requireShape(String what, int... expected) {
        if (!Arrays.equals(shape, expected)) {
            throw new IllegalArgumentException(
                    what + ": expected shape " + Arrays.toString(expected) + ", got " + Arrays.toString(shape));
        }
        return this;
    }

    public String describe() {
        return "tensor" + Arrays.toString(shape);
    }

    @Override
    public String toString() {
        return describe();
    }

    /** Frees the allocation when this tensor owns it; views and wrapped tensors free nothing. */
    @Override
    public void close() {
        synchronized (storage) {
            if (storage.owned && !storage.freed && offsetElems == 0 && numel == storage.capacityElems) {
                storage.freed = true;
                storage.base.close();
            }
        }
    }
}
