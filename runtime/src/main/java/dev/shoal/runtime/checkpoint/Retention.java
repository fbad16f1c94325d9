// Which committed checkpoints to keep: the newest keepLast, plus every one whose step is a multiple
// of keepEvery (0: none), and always the newest. Guarantees: keepLast >= 1, keepEvery >= 0.
package dev.shoal.runtime.checkpoint;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;

public record Retention(int keepLast, long keepEvery) {
    public Retention {
        if (keepLast < 1 || keepEvery < 0) {
            throw new IllegalArgumentException("retention needs keep_last >= 1 and keep_every >= 0, got keep_last "
                    + keepLast + ", keep_every " + keepEvery);
        }
    }

    /** Keep everything. */
    public static final Retention ALL = new Retention(Integer.MAX_VALUE, 0);

    /** Of these committed steps, the ones to delete. */
    public Set<Long> toDelete(List<Long> committedSteps) {
        TreeSet<Long> sorted = new TreeSet<>(committedSteps);
        TreeSet<Long> delete = new TreeSet<>();
        int rank = 0; // 0 = newest
        for (long s : sorted.descendingSet()) {
            boolean keep = rank < keepLast || (keepEvery > 0 && s % keepEvery == 0);
            if (!keep) delete.add(s);
            rank++;
        }
        return delete;
    }
}
