// The part of one global tensor a tensor shard holds (see package-info): a box rows [r0, r1) ×
// columns [c0, c1) of the global [rows, cols] tensor and, inside the box taken row-major, the elements
// [f0, f1). Guarantees: a Region that exists lies inside its tensor and is non-empty; segments() lists
// its elements as ascending runs of the global tensor's row-major order, each with the position of
// its first element in the region's own data, so two regions are matched by a linear merge.
package dev.shoal.runtime.checkpoint;

import dev.shoal.proto.v1.checkpoint.TensorShard;
import java.util.Arrays;

record Region(long rows, long cols, long r0, long r1, long c0, long c1, long f0, long f1) {

    Region {
        if (rows < 1 || cols < 1 || r0 < 0 || r1 > rows || r0 >= r1 || c0 < 0 || c1 > cols || c0 >= c1) {
            throw new IllegalArgumentException("box rows [" + r0 + ", " + r1 + ") × cols [" + c0 + ", " + c1
                    + ") is not a non-empty part of a [" + rows + ", " + cols + "] tensor");
        }
        long boxElems = (r1 - r0) * (c1 - c0);
        if (f0 < 0 || f1 > boxElems || f0 >= f1) {
            throw new IllegalArgumentException("flat range [" + f0 + ", " + f1 + ") is not a non-empty part of the "
                    + boxElems + "-element box rows [" + r0 + ", " + r1 + ") × cols [" + c0 + ", " + c1 + ")");
        }
    }

    /** The whole box. */
    static Region box(long rows, long cols, long r0, long r1, long c0, long c1) {
        return new Region(rows, cols, r0, r1, c0, c1, 0, (r1 - r0) * (c1 - c0));
    }

    /** A global shape as [rows, cols]: a 1-D tensor [n] is one row of n. */
    static long[] matrix(long[] globalShape) {
        if (globalShape.length == 1) return new long[] {1, globalShape[0]};
        if (globalShape.length == 2) return globalShape.clone();
        throw new IllegalArgumentException(
                "checkpoint tensors are 1-D or 2-D, got shape " + Arrays.toString(globalShape));
    }

    static Region of(TensorShard s) {
        long[] m = matrix(
                s.getGlobalShapeList().stream().mapToLong(Long::longValue).toArray());
        return new Region(
                m[0],
                m[1],
                s.getRowStart(),
                s.getRowEnd(),
                s.getColStart(),
                s.getColEnd(),
                s.getFlatStart(),
                s.getFlatEnd());
    }

    long elems() {
        return f1 - f0;
    }

    long bytes() {
        return elems() * Float.BYTES;
    }

    /**
     * The region as runs of global row-major elements: triples {globalStart, globalEnd, dataStart} in
     * ascending order, flattened into one array.
     */
    long[] segments() {
        long w = c1 - c0;
        if (c0 == 0 && c1 == cols) {
            // Whole rows: the box is one run of the global tensor.
            long g = r0 * cols + f0;
            return new long[] {g, g + (f1 - f0), 0};
        }
        // A column slice: one run per box row that the flat range touches.
        long firstRow = f0 / w, lastRow = (f1 - 1) / w;
        long[] out = new long[(int) (3 * (lastRow - firstRow + 1))];
        int k = 0;
        for (long i = firstRow; i <= lastRow; i++) {
            long a = Math.max(f0, i * w), b = Math.min(f1, (i + 1) * w); // box-flat run in row i
            long g = (r0 + i) * cols + c0 + (a - i * w);
            out[k++] = g;
            out[k++] = g + (b - a);
            out[k++] = a - f0;
        }
        return out;
    }

    /**
     * Calls copy(srcDataElem, dstDataElem, elems) for every run of elements that src and dst share
     * (both regions of the same tensor); returns the elements shared.
     */
    static long overlap(Region dst, Region src, RunCopier copy) throws java.io.IOException {
        if (dst.rows != src.rows || dst.cols != src.cols) {
            throw new IllegalArgumentException("regions of different tensors: [" + dst.rows + ", " + dst.cols + "] vs ["
                    + src.rows + ", " + src.cols + "]");
        }
        if (dst.r1 <= src.r0 || src.r1 <= dst.r0 || dst.c1 <= src.c0 || src.c1 <= dst.c0) return 0;
        long[] a = dst.segments(), b = src.segments();
        int i = 0, j = 0;
        long shared = 0;
        while (i < a.length && j < b.length) {
            long lo = Math.max(a[i], b[j]), hi = Math.min(a[i + 1], b[j + 1]);
            if (lo < hi) {
                copy.run(b[j + 2] + (lo - b[j]), a[i + 2] + (lo - a[i]), hi - lo);
                shared += hi - lo;
            }
            if (a[i + 1] <= b[j + 1]) i += 3;
            else j += 3;
        }
        return shared;
    }

    @FunctionalInterface
    interface RunCopier {
        void run(long srcElem, long dstElem, long elems) throws java.io.IOException;
    }
}
