// The peak FLOP/s of one CPU rank, for MFU: shoal.node.cpu-peak-flops when set (> 0), else measured
// once per JVM: the best of several single-thread OpenBLAS SGEMMs of 384 × 384 × 384 (2·384³ FLOPs
// each), times the rank's compute threads (shoal.node.threads-per-rank). A measured peak is what this
// machine's GEMM reaches now, not a datasheet number: on a loaded machine it is lower, so MFU reads
// higher; the source string says which one a number is.
// Guarantees: the measurement runs at most once per JVM (about 0.1–0.3 s), on the caller's thread, with
// off-heap tensors; a peak is positive and finite, or the configured value is refused naming the key.
package dev.shoal.actors.node;

import com.typesafe.config.Config;
import dev.shoal.runtime.tensor.OpenBlasGemm;
import dev.shoal.runtime.tensor.Parallel;
import dev.shoal.runtime.tensor.Tensor;

final class CpuPeak {
    static final String KEY = "shoal.node.cpu-peak-flops";
    private static final int N = 384;
    private static final int REPEATS = 5;

    private static volatile double measuredPerThread; // 0: not yet

    private CpuPeak() {}

    /** The peak of one CPU rank under {@code config}. */
    static DeviceDiscovery.Peak of(Config config) {
        int threads = config.hasPath("shoal.node.threads-per-rank") ? config.getInt("shoal.node.threads-per-rank") : 1;
        double configured = config.hasPath(KEY) ? config.getDouble(KEY) : 0;
        if (configured < 0 || Double.isNaN(configured) || Double.isInfinite(configured)) {
            throw new IllegalArgumentException(KEY + " must be >= 0 FLOP/s (0: measure), got " + configured);
        }
        if (configured > 0) return new DeviceDiscovery.Peak(configured, "configured (" + KEY + ")");
        double perThread = measuredPerThread();
        return new DeviceDiscovery.Peak(
                perThread * Math.max(1, threads),
                String.format(
                        java.util.Locale.ROOT,
                        "measured: 1-thread OpenBLAS SGEMM %.1f GFLOP/s × %d thread(s)",
                        perThread / 1e9,
                        Math.max(1, threads)));
    }

    /** FLOP/s of one thread's SGEMM on this machine, measured on first use. */
    static synchronized double measuredPerThread() {
        if (measuredPerThread > 0) return measuredPerThread;
        double best = 0;
        try (Parallel one = new Parallel(1);
                Tensor a = Tensor.zeros(N, N); // [N, N]
                Tensor b = Tensor.zeros(N, N); // [N, N]
                Tensor c = Tensor.zeros(N, N)) { // [N, N]
            OpenBlasGemm gemm = new OpenBlasGemm(one);
            a.fill(0.5f);
            b.fill(0.25f);
            for (int r = 0; r < REPEATS; r++) {
                long t0 = System.nanoTime();
                gemm.matmul(false, false, 1f, a, b, 0f, c);
                double s = (System.nanoTime() - t0) / 1e9;
                if (s > 0) best = Math.max(best, 2.0 * N * N * N / s);
            }
            if (!(c.get(0) == 0.5f * 0.25f * N)) throw new IllegalStateException("SGEMM check failed: " + c.get(0));
        }
        if (!(best > 0) || Double.isInfinite(best)) throw new IllegalStateException("CPU peak measurement failed");
        measuredPerThread = best;
        return best;
    }
}
