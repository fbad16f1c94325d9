// Ring collective cost, the α–β model nccl-tests' bus bandwidth is defined by. For a buffer of S bytes
// over n ranks, each rank sends (and receives):
//   all-reduce      2(n−1)/n · S   in 2(n−1) steps  (reduce-scatter then all-gather)
//   reduce-scatter   (n−1)/n · S   in  (n−1) steps  (S = the full, unreduced buffer)
//   all-gather       (n−1)/n · S   in  (n−1) steps  (S = the full, gathered buffer)
//   send/recv            S          in  1 step
// and the time is bytes sent / bus bandwidth + steps · per-step latency.
// Guarantees: a group of one rank costs nothing; sizes must be >= 0.
package dev.shoal.runtime.plan;

public final class Collectives {
    private Collectives() {}

    public static double allReduceBytes(int n, double bytes) {
        check(n, bytes);
        return 2.0 * (n - 1) / n * bytes;
    }

    public static double reduceScatterBytes(int n, double bytes) {
        check(n, bytes);
        return (double) (n - 1) / n * bytes;
    }

    public static double allGatherBytes(int n, double bytes) {
        check(n, bytes);
        return (double) (n - 1) / n * bytes;
    }

    public static double allReduceSeconds(int n, double bytes, Cluster.Link link) {
        return n == 1 ? 0 : allReduceBytes(n, bytes) / link.bytesPerSec() + 2.0 * (n - 1) * link.latencySeconds();
    }

    public static double reduceScatterSeconds(int n, double bytes, Cluster.Link link) {
        return n == 1 ? 0 : reduceScatterBytes(n, bytes) / link.bytesPerSec() + (n - 1) * link.latencySeconds();
    }

    public static double allGatherSeconds(int n, double bytes, Cluster.Link link) {
        return n == 1 ? 0 : allGatherBytes(n, bytes) / link.bytesPerSec() + (n - 1) * link.latencySeconds();
    }

    public static double sendSeconds(double bytes, Cluster.Link link) {
        check(2, bytes);
        return bytes / link.bytesPerSec() + link.latencySeconds();
    }

    private static void check(int n, double bytes) {
        if (n < 1 || !(bytes >= 0)) {
            throw new IllegalArgumentException(
                    "collective needs n >= 1 ranks and bytes >= 0, got n " + n + ", " + bytes + " bytes");
        }
    }
}
