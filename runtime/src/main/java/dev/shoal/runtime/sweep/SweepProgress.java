// One progress line over the whole grid, redrawn on stderr a few times a second:
//   sweep [#########...........] 45% | point 5/12 almr0.2_lr0.002_s300 step 120/300 | ETA 4m10s
// Progress counts optimizer steps over all points (every step of a grid costs the same: same model,
// batch and sequence length). Guarantees: a null stream draws nothing; the ETA uses only the steps run by
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
    private volatile boolean running = true;

    private long stepsBefore; // steps of points finished or skipped, plus the current point's restored steps
    private long ranBefore; // steps this process ran in finished points
    private long pointSteps; // the current point's steps done
    private long pointStart; // where the current point started (resumed checkpoint)
    private long pointTotal;
    private int pointIndex;
    private String pointId = "";

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

    /** A point starts (index 1-based). */
    public synchronized void start(int index, String id, long steps) {
        pointIndex = index;
        pointId = id;
        pointTotal = steps;
        pointSteps = 0;
        pointStart = -1;
    }

    /** Steps done so far in the current point (the first report tells where a resumed run started). */
    public synchronized void stepsDone(long done) {
        if (pointStart < 0) pointStart = done;
        pointSteps = Math.max(pointSteps, done);
    }

    /** The current point ended (done or failed). */
    public synchronized void finish() {
        stepsBefore += pointTotal;
        ranBefore += Math.max(0, pointSteps - Math.max(0, pointStart));
        pointSteps = 0;
        pointTotal = 0;
        pointStart = -1;
        pointId = "";
    }

    /** Erases the bar's line (so a note printed next starts clean); the drawer redraws it soon. */
    public synchronized void clearLine() {
        if (out == null) return;
        out.print("\r\033[K");
        out.flush();
    }

    private void loop() {
        while (running) {
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
        long done = Math.min(totalSteps, stepsBefore + pointSteps);
        long ran = ranBefore + Math.max(0, pointSteps - Math.max(0, pointStart));
        double secs = (System.nanoTime() - startNanos) / 1e9;
        String eta = ran > 0 && done < totalSteps ? fmtSecs(secs / ran * (totalSteps - done)) : "-";
        int width = 20;
        int filled = (int) (width * done / totalSteps);
        String point = pointId.isEmpty()
                ? ""
                : String.format(
                        Locale.ROOT,
                        " | point %d/%d %s step %d/%d",
                        pointIndex,
                        totalPoints,
                        pointId,
                        pointSteps,
                        pointTotal);
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
        running = false;
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
