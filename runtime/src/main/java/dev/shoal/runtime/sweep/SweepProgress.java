// One progress line over the whole grid, redrawn on stderr a few times a second:
//   sweep [#########...........] 45% | point 5/12 almr0.2_lr0.002_s300 step 120/300 | ETA 4m10s
// Progress counts optimizer steps over all points (every step of a grid costs the same: same model,
// batch and sequence length). Points running at once (a cluster sweep) are listed with their steps:
//   sweep [####................] 22% | 3 running: #1 12/20 #2 9/20 #3 4/20 of 8 points | ETA 1m05s
// Guarantees: a null stream draws nothing; the ETA uses only the steps run by
// this process (skipped and resumed steps do not make it optimistic); clearLine() makes room for a note.
package dev.shoal.runtime.sweep;

import java.io.PrintStream;
import java.util.Locale;

/** Thread-safe. */
public final class SweepProgress implements AutoCloseable {
    private final PrintStream out;
    private final long totalSteps;
    private final int totalPoints;
    private final long startNanos = System.nanoTime();
    private final Thread drawer;
    private volatile boolean alive = true;

    private long stepsBefore; // steps of points finished or skipped
    private long ranBefore; // steps this process ran in finished points
    private final java.util.Map<Integer, Running> running = new java.util.TreeMap<>(); // by point index

    /** A point that is running: its index (1-based), id, steps, where it started and how far it is. */
    private static final class Running {
        final int index;
        final String id;
        final long total;
        long start = -1; // the first report: where a resumed run started
        long done;

        Running(int index, String id, long total) {
            this.index = index;
            this.id = id;
            this.total = total;
        }

        long ran() {
            return Math.max(0, done - Math.max(0, start));
        }
    }

    public SweepProgress(PrintStream out, long totalSteps, int totalPoints) {
        this.out = out;
        this.totalSteps = Math.max(1, totalSteps);
        this.totalPoints = totalPoints;
        if (out == null) {
            drawer = null;
            return;
        }
        drawer = new Thread(this::loop, "sweep-progress");
        drawer.setDaemon(true);
        drawer.start();
    }

    /** A point that needs no run (already recorded). */
    public synchronized void skipped(long steps) {
        stepsBefore += steps;
    }

    /** A point starts (index 1-based); several may run at once. */
    public synchronized void start(int index, String id, long steps) {
        running.put(index, new Running(index, id, steps));
    }

    /** Steps done so far in point {@code index} (the first report tells where a resumed run started). */
    public synchronized void stepsDone(int index, long done) {
        Running r = running.get(index);
        if (r == null) return;
        if (r.start < 0) r.start = done;
        r.done = Math.max(r.done, done);
    }

    /** Point {@code index} ended (done or failed). */
    public synchronized void finish(int index) {
        Running r = running.remove(index);
        if (r == null) return;
        stepsBefore += r.total;
        ranBefore += r.ran();
    }

    /** Erases the bar's line (so a note printed next starts clean); the drawer redraws it soon. */
    public synchronized void clearLine() {
        if (out == null) return;
        out.print("\r\033[K");
        out.flush();
    }

    private void loop() {
        while (alive) {
            synchronized (this) {
                draw();
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void draw() {
        long inFlight = 0, ran = ranBefore;
        for (Running r : running.values()) {
            inFlight += r.done;
            ran += r.ran();
        }
        long done = Math.min(totalSteps, stepsBefore + inFlight);
        double secs = (System.nanoTime() - startNanos) / 1e9;
        String eta = ran > 0 && done < totalSteps ? fmtSecs(secs / ran * (totalSteps - done)) : "-";
        int width = 20;
        int filled = (int) (width * done / totalSteps);
        String point;
        if (running.isEmpty()) {
            point = "";
        } else if (running.size() == 1) {
            Running r = running.values().iterator().next();
            point = String.format(
                    Locale.ROOT, " | point %d/%d %s step %d/%d", r.index, totalPoints, r.id, r.done, r.total);
        } else {
            StringBuilder b = new StringBuilder(String.format(Locale.ROOT, " | %d running:", running.size()));
            for (Running r : running.values())
                b.append(String.format(Locale.ROOT, " #%d %d/%d", r.index, r.done, r.total));
            b.append(String.format(Locale.ROOT, " of %d points", totalPoints));
            point = b.toString();
        }
        out.printf(
                Locale.ROOT,
                "\rsweep [%s%s] %3d%%%s | ETA %s   ",
                "#".repeat(filled),
                ".".repeat(width - filled),
                100 * done / totalSteps,
                point,
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
        if (drawer == null) return;
        alive = false;
        drawer.interrupt();
        try {
            drawer.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (this) {
            draw();
        }
        out.println();
        out.flush();
    }
}
