// A reusable barrier for the ranks of one in-JVM group that can be aborted and times out.
// A waiter first spins for up to SPIN_NANOS on the (volatile) generation, then parks on the condition:
// when the ranks arrive close together (every collective ends with a barrier) the hand-off costs a
// cache-line transfer instead of a futex wake-up and a reschedule; when they do not, the spin is short.
// Guarantees: await() returns only when every rank of this generation arrived; abort() wakes every
// waiter with CommException(ABORTED); a timeout aborts the group and names the ranks that never came.
package dev.shoal.runtime.comm;

import dev.shoal.comm.CommException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

final class GroupBarrier {
    private final int parties;
    private final long timeoutNanos;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition tripped = lock.newCondition();
    private final boolean[] arrived;
    private int waiting;
    private volatile long generation; // written under lock, read by spinning waiters without it

    /** How long a waiter spins before it parks. */
    static final long SPIN_NANOS = 20_000;

    private volatile CommException broken;

    GroupBarrier(int parties, long timeoutMillis) {
        this.parties = parties;
        this.timeoutNanos = TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        this.arrived = new boolean[parties];
    }

    /** Waits for all ranks; {@code what} names the operation in error messages. */
    void await(int rank, String what) {
        long gen;
        lock.lock();
        try {
            throwIfBroken();
            gen = generation;
            arrived[rank] = true;
            if (++waiting == parties) {
                java.util.Arrays.fill(arrived, false);
                waiting = 0;
                generation = gen + 1;
                tripped.signalAll();
                return;
            }
        } finally {
            lock.unlock();
        }
        // Spin briefly: the last rank usually arrives within microseconds.
        long spinStart = System.nanoTime();
        while (generation == gen && broken == null && System.nanoTime() - spinStart < SPIN_NANOS) {
            Thread.onSpinWait();
        }
        if (generation != gen) {
            return;
        }
        lock.lock();
        try {
            long left = timeoutNanos - (System.nanoTime() - spinStart);
            while (gen == generation) {
                throwIfBroken();
                if (left <= 0) {
                    List<Integer> missing = new ArrayList<>();
                    for (int r = 0; r < parties; r++) if (!arrived[r]) missing.add(r);
                    breakWith(new CommException(
                            CommException.Kind.TIMEOUT,
                            what + ": rank " + rank + " waited " + TimeUnit.NANOSECONDS.toMillis(timeoutNanos)
                                    + " ms for ranks " + missing + " of " + parties));
                    throwIfBroken();
                }
                try {
                    left = tripped.awaitNanos(left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    breakWith(new CommException(
                            CommException.Kind.ABORTED, what + ": rank " + rank + " was interrupted"));
                }
            }
        } finally {
            lock.unlock();
        }
    }

    void breakWith(CommException e) {
        lock.lock();
        try {
            if (broken == null) broken = e;
            tripped.signalAll();
        } finally {
            lock.unlock();
        }
    }

    CommException broken() {
        return broken;
    }

    private void throwIfBroken() {
        CommException b = broken;
        if (b != null) throw new CommException(b.kind(), b.detail(), b);
    }
}
