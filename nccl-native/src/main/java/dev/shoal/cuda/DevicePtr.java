// A raw device address as a JavaCPP Pointer, so device memory can be handed to cuBLAS, NCCL and
// kernel launches. It owns nothing: freeing is the job of whoever allocated the address.
// Guarantees: address() is the device address; limit and capacity are the byte length.
package dev.shoal.cuda;

import org.bytedeco.javacpp.Pointer;

public final class DevicePtr extends Pointer {

    /** Wraps {@code bytes} of device memory at {@code address}. */
    public DevicePtr(long address, long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("negative byte length " + bytes);
        this.address = address;
        this.position = 0;
        this.limit = bytes;
        this.capacity = bytes;
    }

    /** Positions, limit and capacity of a DevicePtr count bytes. */
    @Override
    public int sizeof() {
        return 1;
    }

    /** Byte length of the region behind {@code p}: exact for DevicePtr, capacity·sizeof for typed
     * pointers, -1 when unknown (capacity 0). */
    public static long regionBytes(Pointer p) {
        if (p instanceof DevicePtr d) return d.bytes();
        return p.capacity() > 0 ? p.capacity() * (long) p.sizeof() : -1;
    }

    /** Length in bytes of the region this pointer covers. */
    public long bytes() {
        return capacity;
    }

    /** A view {@code offsetBytes} into this region, {@code bytes} long; bounds-checked. */
    public DevicePtr slice(long offsetBytes, long bytes) {
        if (offsetBytes < 0 || bytes < 0 || offsetBytes + bytes > capacity) {
            throw new IndexOutOfBoundsException(
                    "slice [" + offsetBytes + ", +" + bytes + ") outside device region of " + capacity + " bytes");
        }
        return new DevicePtr(address + offsetBytes, bytes);
    }

    @Override
    public String toString() {
        return String.format("DevicePtr[0x%x, %d bytes]", address, capacity);
    }
}
