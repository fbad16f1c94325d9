// Per-thread heap scratch rows for the element-wise ops: a row is copied in from off-heap memory with
// Tensor.read, worked on as a float[] (which the JIT vectorizes) and copied back with Tensor.write.
// Guarantees: each thread gets its own arrays, grown on demand and then reused (no per-step garbage
// once warm); slot indices let one op hold several rows at once. Not tensor storage: nothing lives here
// between op calls.
package dev.shoal.runtime.tensor;

public final class Scratch {
    private Scratch() {}

    private static final int SLOTS = 6;
    private static final ThreadLocal<float[][]> ROWS = ThreadLocal.withInitial(() -> new float[SLOTS][0]);

    /** This thread's scratch array number slot (0..5), at least n long. */
    public static float[] row(int slot, int n) {
        float[][] rows = ROWS.get();
        if (rows[slot].length < n) {
            rows[slot] = new float[Math.max(n, 1024)];
        }
        return rows[slot];
    }
}
