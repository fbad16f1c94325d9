// Element types that travel through collectives and live in tensors.
// Guarantees: byte sizes are exact; names match the safetensors/NCCL spelling in lower case.
package dev.shoal.comm;

public enum DType {
    F32(4),
    BF16(2),
    F16(2);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** Size of one element in bytes. */
    public int bytes() {
        return bytes;
    }

    /** Bytes needed for {@code elems} elements of this type. */
    public long bytesFor(long elems) {
        return elems * bytes;
    }
}
