// One tensor's header entry in a safetensors file: name, dtype, shape and its byte range relative
// to the start of the data section. Guarantees: the range length equals prod(shape)·dtype size.
package dev.shoal.runtime.hf;

import java.util.Arrays;

public record SafetensorsEntry(String name, SafetensorsDType dtype, long[] shape, long begin, long end) {
    public SafetensorsEntry {
        shape = shape.clone();
        long n = HostTensor.elems(shape);
        if (begin < 0 || end - begin != n * dtype.bytes) {
            throw new IllegalArgumentException("tensor '" + name + "': data_offsets [" + begin + ", " + end
                    + ") hold " + (end - begin) + " bytes but shape " + Arrays.toString(shape) + " in " + dtype
                    + " needs " + n * dtype.bytes);
        }
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int i) {
        return shape[i];
    }

    public long elems() {
        return HostTensor.elems(shape);
    }

    public long byteLength() {
        return end - begin;
    }

    /** Elements in one slice along dimension 0 (1 for a scalar or a 1-D tensor). */
    public long rowElems() {
        long n = 1;
        for (int i = 1; i < shape.length; i++) n *= shape[i];
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SafetensorsEntry e
                && name.equals(e.name)
                && dtype == e.dtype
                && Arrays.equals(shape, e.shape)
                && begin == e.begin
                && end == e.end;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape) + " @[" + begin + ", " + end + ")";
    }
}
