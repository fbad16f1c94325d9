// The 128-byte ncclUniqueId as a plain Java value, so rank 0 can make it and the coordinator can
// hand it to every rank inside a protobuf or actor message (toBytes / fromBytes).
// Guarantees: always exactly 128 bytes; immutable (defensive copies); equal ids have equal bytes.
package dev.shoal.nccl;

import dev.shoal.cuda.NativeLibs;
import java.util.Arrays;
import java.util.HexFormat;
import org.bytedeco.cuda.global.nccl;
import org.bytedeco.cuda.nccl.ncclUniqueId;

public final class NcclUniqueId {
    /** NCCL_UNIQUE_ID_BYTES. */
    public static final int BYTES = 128;

    private final byte[] bytes;

    private NcclUniqueId(byte[] bytes) {
        this.bytes = bytes;
    }

    /** A fresh id from ncclGetUniqueId (the caller becomes the bootstrap root of the group). */
    public static NcclUniqueId generate() {
        NativeLibs.require(NativeLibs.Lib.NCCL);
        try (ncclUniqueId id = new ncclUniqueId()) {
            int rc = nccl.ncclGetUniqueId(id);
            if (rc != nccl.ncclSuccess) {
                throw new dev.shoal.comm.CommException(
                        dev.shoal.comm.CommException.Kind.NATIVE_ERROR,
                        "ncclGetUniqueId failed: " + NcclCommunicator.errorText(rc, null));
            }
            byte[] b = new byte[BYTES];
            id.internal().capacity(BYTES).get(b);
            return new NcclUniqueId(b);
        }
    }

    /** Rebuilds an id from the 128 bytes another rank sent. */
    public static NcclUniqueId fromBytes(byte[] bytes) {
        if (bytes == null || bytes.length != BYTES) {
            throw new IllegalArgumentException("an NCCL unique id has " + BYTES + " bytes, got "
                    + (bytes == null ? "null" : bytes.length + " bytes"));
        }
        return new NcclUniqueId(bytes.clone());
    }

    /** The 128 raw bytes (a copy). */
    public byte[] toBytes() {
        return bytes.clone();
    }

    /** A native ncclUniqueId holding these bytes; the caller closes it. */
    ncclUniqueId toNative() {
        ncclUniqueId id = new ncclUniqueId();
        id.internal().capacity(BYTES).put(bytes);
        return id;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NcclUniqueId other && Arrays.equals(bytes, other.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    /** Short fingerprint for logs: the first 8 bytes in hex. */
    @Override
    public String toString() {
        return "NcclUniqueId[" + HexFormat.of().formatHex(bytes, 0, 8) + "…]";
    }
}
