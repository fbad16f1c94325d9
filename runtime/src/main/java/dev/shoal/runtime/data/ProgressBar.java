// A one-line progress bar for long jobs, redrawn on stderr a few times a second: done/total MB, rate, ETA.
package dev.shoal.runtime.data;

import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/** Thread-safe: workers call {@link #add}; a daemon thread draws. A null stream draws nothing. */
public final class ProgressBar implements AutoCloseable {

    private final PrintStream out;
    private final String label;
    private final long total;
    private final AtomicLong done = new AtomicLong();
    private final long startNanos = System.nanoTime();
    private final Thread drawer;
    private volatile boolean running = true;

    public ProgressBar(PrintStream out, String label, long total) {
        this.out = out;
        this.label = label;
        this.total = Math.max(1, total);
        if (out == null) {
            drawer = null;
            return;
        }
        drawer = new Thread(this::loop, "progress-" + label);
        drawer.setDaemon(true);
        drawer.start();
    }

    public void add(long amount) {
        done.addAndGet(amount);
    }

    private void loop() {
        while (running) {
            draw();
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private synchronized void draw() {
        long d = Math.min(done.get(), total);
        double secs = Math.max(1e-9, (System.nanoTime() - startNanos) / 1e9);
        double rate = d / secs;
        int width = 30;
        int filled = (int) (width * d / total);
        String eta = rate > 0 && d < total ? String.format(Locale.ROOT, "%.0fs", (total - d) / rate) : "-";
        out.printf(
                Locale.ROOT,
                "\r%s [%s%s] %3d%% %.1f/%.1f MB %.2f MB/s ETA %s   ",
                label,
                "#".repeat(filled),
                ".".repeat(width - filled),
                (int) (100 * d / total),
                d / 1e6,
                total / 1e6,
                rate / 1e6,
                eta);
        out.flush();
    }

    @Override
    public void close() {
        if (drawer == null) return;
        running = false;
        drawer.interrupt();
        try {
            drawer.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        draw();
        out.println();
        out.flush();
    }
}
