// A half-open range [begin, end) of byte offsets in a file; used to report which bytes a read touched.
package dev.shoal.runtime.hf;

public record ByteRange(long begin, long end) {
    public ByteRange {
        if (begin < 0 || end < begin) {
            throw new IllegalArgumentException("byte range [" + begin + ", " + end + ") is not valid");
        }
    }

    public long length() {
        return end - begin;
    }

    public boolean overlaps(ByteRange o) {
        return begin < o.end && o.begin < end;
    }

    @Override
    public String toString() {
        return "[" + begin + ", " + end + ")";
    }
}
