// Off-heap tensor: shapes, views that share storage, bounds checks, copies and wrapping external memory.
package dev.shoal.runtime.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.bytedeco.javacpp.BytePointer;
import org.junit.jupiter.api.Test;

class TensorTest {
    @Test
    void zerosHasShapeAndIsZero() {
        Tensor t = Tensor.zeros(2, 3, 4);
        assertEquals(24, t.numel());
        assertEquals(96, t.bytes());
        assertEquals(4, t.dim(-1));
        for (long i = 0; i < t.numel(); i++) {
            assertEquals(0f, t.get(i));
        }
    }

    @Test
    void slicesAndSelectsAreViewsWithoutCopy() {
        Tensor t = Tensor.zeros(4, 3);
        for (int i = 0; i < 12; i++) {
            t.set(i, i);
        }
        Tensor rows = t.slice(1, 3);
        assertArrayEquals(new int[] {2, 3}, rows.shape());
        assertEquals(3f, rows.get(0));
        rows.set(0, -1f);
        assertEquals(-1f, t.get(3), "a slice writes through to its parent");
        Tensor row = t.select(3);
        assertArrayEquals(new int[] {3}, row.shape());
        assertEquals(11f, row.get(2));
        assertEquals(t.address() + 9 * 4, row.address());
        Tensor v = t.view(2, 6);
        assertEquals(5f, v.at(0, 5));
        assertEquals(7f, t.view(12).flatRange(6, 3).get(1));
    }

    @Test
    void boundsAreChecked() {
        Tensor t = Tensor.zeros(2, 2);
        assertThrows(IndexOutOfBoundsException.class, () -> t.at(2, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> t.slice(1, 3));
        assertThrows(IndexOutOfBoundsException.class, () -> t.select(2).get(0));
        assertThrows(IllegalArgumentException.class, () -> t.view(3));
        assertThrows(IndexOutOfBoundsException.class, () -> t.slice(1, 2).get(2));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.requireShape("w", 2, 3));
        assertEquals("w: expected shape [2, 3], got [2, 2]", e.getMessage());
    }

    @Test
    void copyFillAndZero() {
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor b = a.copy();
        a.fill(9f);
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, b.toArray());
        b.slice(1, 2).zero();
        assertArrayEquals(new float[] {1, 2, 3, 0, 0, 0}, b.toArray());
        assertArrayEquals(new float[] {9, 9, 9, 9, 9, 9}, a.toArray());
    }

    @Test
    void wrapsExternalMemoryAtAByteOffset() {
        BytePointer bytes = new BytePointer(64);
        Tensor whole = Tensor.wrap(bytes, 0, 16);
        for (int i = 0; i < 16; i++) {
            whole.set(i, i * 0.5f);
        }
        Tensor part = Tensor.wrap(bytes, 8, 2, 3);
        assertEquals(1.0f, part.get(0));
        assertEquals(3.5f, part.at(1, 2));
        assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(bytes, 2, 2));
    }

    @Test
    void bulkReadAndWriteOfARow() {
        Tensor t = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        float[] row = new float[5];
        t.read(3, row, 1, 3);
        assertArrayEquals(new float[] {0, 4, 5, 6, 0}, row);
        row[2] = -5;
        t.slice(1, 2).write(0, row, 1, 3);
        assertEquals(-5f, t.at(1, 1));
        assertThrows(IndexOutOfBoundsException.class, () -> t.read(4, row, 0, 3));
        assertThrows(IndexOutOfBoundsException.class, () -> t.slice(0, 1).write(1, row, 0, 3));
        assertThrows(IndexOutOfBoundsException.class, () -> t.read(0, row, 3, 3));
    }

    @Test
    void flatIndexUsesLongArithmetic() {
        // 3 x 2^30 elements would overflow int; the index math must not (no allocation needed for this).
        long n = Tensor.numel(3, 1 << 30);
        assertEquals(3L << 30, n);
    }
}
