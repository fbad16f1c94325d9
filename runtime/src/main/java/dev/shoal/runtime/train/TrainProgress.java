// The training progress line on stderr, redrawn after each step (at most ~4 times a second):
//   train [########..........] step 40/100 loss 3.214 | 18.2k tok/s | ETA 12s
// Guarantees: a null stream draws nothing; the ETA uses the steps of this process only (a resumed run
// does not count the restored steps as fast ones).
package dev.shoal.runtime.train;

import java.io.PrintStream;
import java.util.Locale;

/** Not thread-safe: the trainer's loop calls it. */
public final class TrainProgress implements AutoCloseable {
    private final PrintStream out;
    private final long total;
    private final long first;
    private final long startNanos = System.nanoTime();
    private long lastDraw;
    private long step;
    private double loss = Double.NaN;
    private double tokensPerSecond;

    /** Steps [first, total) are to run. */
    public TrainProgress(PrintStream out, long first, long total) {
        this.out = out;
        this.first = first;
        this.total = Math.max(1, total);
        this.step = first;
    }

    public void update(long stepsDone, double stepLoss, double tokPerSec) {
        step = stepsDone;
        loss = stepLoss;
        tokensPerSecond = tokPerSec;
        long now = System.nanoTime();
        if (out != null && (now - lastDraw > 250_000_000L || stepsDone == total)) {
            lastDraw = now;
            draw();
        }
    }

    private void draw() {
        int width = 20;
        int filled = (int) (width * Math.min(step, total) / total);
        double secs = (System.nanoTime() - startNanos) / 1e9;
        long ran = step - first;
        String eta = ran > 0 && step < total ? fmtSecs(secs / ran * (total - step)) : "-";
        out.printf(
                Locale.ROOT,
                "\rtrain [%s%s] step %d/%d loss %.4f | %s tok/s | ETA %s   ",
                "#".repeat(filled),
                ".".repeat(width - filled),
                step,
                total,
                loss,
                tokensPerSecond >= 1000
                        ? String.format(Locale.ROOT, "%.1fk", tokensPerSecond / 1000)
                        : String.format(Locale.ROOT, "%.0f", tokensPerSecond),
                eta);
        out.flush();
    }

    static String fmtSecs(double s) {
        if (s < 60) return String.format(Locale.ROOT, "%.0fs", s);
        if (s < 3600) return String.format(Locale.ROOT, "%dm%02ds", (long) s / 60, (long) s % 60);
        return String.format(Locale.ROOT, "%dh%02dm", (long) s / 3600, ((long) s % 3600) / 60);
    }

    @Override
    public void close() {
        if (out == null) return;
        draw();
        out.println();
        out.flush();
    }
}
