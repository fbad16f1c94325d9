// Splits the GPU time of a stretch of stream work into phases (GEMM, attention, the rest) by
// recording a CUDA event before every op: the interval from one mark to the next belongs to the op
// that started it. Events are reused across runs, so only the first run allocates them.
// Guarantees: attribute() is plain arithmetic on the event times (tested without a GPU); the phases
// add up to the time from the first mark to finish().
package dev.shoal.runtime.cuda;

import dev.shoal.cuda.CudaEvent;
import dev.shoal.cuda.CudaStream;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

public final class PhaseProfiler implements AutoCloseable {
    /** What an op is, for the breakdown. */
    public enum Kind {
        GEMM,
        ATTENTION,
        OTHER
    }

    private final List<CudaEvent> events = new ArrayList<>();
    private final List<Kind> kinds = new ArrayList<>();
    private int used;

    /** Forgets the marks of the previous run (the events are kept for reuse). */
    public void reset() {
        used = 0;
        kinds.clear();
    }

    /** Records the start of an op of this kind on the stream. */
    public void mark(Kind kind, CudaStream stream) {
        event(used++).record(stream);
        kinds.add(kind);
    }

    /** Records the end of the last op; then {@link #totalsMs()} can be read. */
    public void finish(CudaStream stream) {
        event(used++).record(stream);
    }

    private CudaEvent event(int i) {
        while (events.size() <= i) {
            events.add(CudaEvent.create(true));
        }
        return events.get(i);
    }

    /** Milliseconds per kind of the last run (waits for its end). */
    public Map<Kind, Double> totalsMs() {
        if (used < 2 || kinds.size() != used - 1) {
            throw new IllegalStateException("profiler has " + kinds.size() + " marks and " + used + " events: call"
                    + " finish() after the profiled work");
        }
        double[] at = new double[used];
        for (int i = 1; i < used; i++) {
            at[i] = CudaEvent.elapsedMs(events.get(0), events.get(i));
        }
        return attribute(kinds, at);
    }

    /**
     * Time per kind: op i (of kinds.get(i)) owns the interval [at[i], at[i+1]); at has one more entry
     * than kinds (the finish time). Times are from any common origin.
     */
    public static Map<Kind, Double> attribute(List<Kind> kinds, double[] at) {
        if (at.length != kinds.size() + 1) {
            throw new IllegalArgumentException(
                    kinds.size() + " marks need " + (kinds.size() + 1) + " times, got " + at.length);
        }
        Map<Kind, Double> out = new EnumMap<>(Kind.class);
        for (Kind k : Kind.values()) {
            out.put(k, 0.0);
        }
        for (int i = 0; i < kinds.size(); i++) {
            out.merge(kinds.get(i), at[i + 1] - at[i], Double::sum);
        }
        return out;
    }

    @Override
    public void close() {
        for (CudaEvent e : events) {
            e.close();
        }
        events.clear();
    }
}
