// A float32 tensor in host memory for checkpoint I/O: a shape and an off-heap JavaCPP FloatPointer
// holding prod(shape) row-major elements from the pointer's position. Deliberately not the engine's
// tensor type, so checkpoint I/O does not depend on the engine.
package dev.shoal.runtime.hf;

import java.util.Arrays;
import org.bytedeco.javacpp.FloatPointer;

public record HostTensor(long[] shape, FloatPointer data) {
    public HostTensor {
        shape = shape.clone();
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
        }
        long n = elems(shape);
        if (data == null) throw new IllegalArgumentException("no data for shape " + Arrays.toString(shape));
        long avail = data.capacity() - data.position();
        if (data.capacity() > 0 && avail < n) {
            throw new IllegalArgumentException(
                    "shape " + Arrays.toString(shape) + " needs " + n + " floats but the pointer holds " + avail);
        }
    }

    /** A fresh zeroed off-heap tensor of this shape. */
    public static HostTensor allocate(long... shape) {
        long n = elems(shape);
        FloatPointer p = new FloatPointer(Math.max(1, n));
        p.zero();
        return new HostTensor(shape, p);
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public long elems() {
        return elems(shape);
    }

    public float get(long i) {
        return data.get(i);
    }

    public static long elems(long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    @Override
    public String toString() {
        return "HostTensor" + Arrays.toString(shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof HostTensor h && Arrays.equals(shape, h.shape) && data.equals(h.data);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(shape) * 31 + data.hashCode();
    }
}
