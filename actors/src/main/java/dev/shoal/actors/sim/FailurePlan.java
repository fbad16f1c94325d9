// The simulated cluster's clock and its failures, shared by every SimStepRunner of one run.
//
// The clock: the job's simulated time. Each step round (mesh epoch, step) adds the cost model's step
// time and its checkpoint write once, when its first rank starts it (rounds never overlap: the
// coordinator sends step s + 1 only after every rank finished s). An interruption stops the clock at
// the failure time T (the rest of that round is lost work) and it restarts when the first step of a
// later mesh epoch starts, after adding the simulated detection time, the control plane's WALL time
// from the coordinator noticing the loss (or from the kill, if that was not seen) to that step, and the
// simulated checkpoint reload.
//
// The failures: fixed node losses (the first run of step k kills n nodes of the mesh) and random ones
// (exponential gaps on the simulated clock at a given rate, one node each), the victims drawn with a
// seeded Random from the mesh's nodes in name order. Steps wait until the simulator arms the plan
// (once its spare nodes are registered), so a loss always finds its spares, and the steps after a
// held step wait until the simulator has applied that step's event (add nodes, fail the coordinator). A victim's ranks
// hang in that round (never
// answer) until their worker is stopped; the simulator takes the victims from kills() and stops
// their node. A coordinator failover is opened by the simulator (interrupt) and closed the same way.
//
// Guarantees: the clock only moves forward; a round is priced once whatever the number of ranks; the
// same seed and scenario give the same failure steps and victims; every interruption is closed by
// the first step of a later epoch, and its wall-clock phases come from the runners' own timestamps.
package dev.shoal.actors.sim;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;

public final class FailurePlan {

    /** One interruption and what it cost; wall times are System.nanoTime(), 0 until known. */
    public static final class Interruption {
        public final String kind; // "node-loss" or "coordinator"
        public final long epoch; // the mesh that was lost
        public final long step; // the step running when it happened
        public final double simAt; // simulated seconds at the failure
        public final double lostRoundSeconds; // simulated work of the interrupted round
        public final List<String> nodes; // the nodes that died
        public final long killNanos;
        public long noticedNanos; // the coordinator published RECOVERING (or, after a failover, answered)
        public long resumeEpoch;
        public long firstJoinNanos; // the first rank of the new mesh got JoinMesh
        public long lastJoinNanos; // the last rank of the new mesh joined
        public long resumedNanos; // the first rank started the first step of the new mesh
        public long resumedStep;
        public double gapSeconds; // simulated seconds the job stood still (detection + control + reload)

        Interruption(String kind, long epoch, long step, double simAt, double lost, List<String> nodes, long kill) {
            this.kind = kind;
            this.epoch = epoch;
            this.step = step;
            this.simAt = simAt;
            this.lostRoundSeconds = lost;
            this.nodes = List.copyOf(nodes);
            this.killNanos = kill;
        }

        /** When the control plane's clock starts: the coordinator noticed, else the kill. */
        public long startNanos() {
            return noticedNanos > 0 ? noticedNanos : killNanos;
        }

        @Override
        public String toString() {
            return kind + " of " + nodes + " at step " + step + " (epoch " + epoch + ")";
        }
    }

    private record Loss(int step, int nodes) {}

    private final double detectionSeconds;
    private final double ratePerSecond; // random interruptions per simulated second (0: none)
    private final Random random;
    private final List<Loss> fixed = new ArrayList<>(); // not yet fired
    private final Map<Long, Set<String>> meshNodes = new HashMap<>();
    private final Map<Long, long[]> joins = new HashMap<>(); // epoch -> {first start, last end}
    private final Map<Long, Double> reloadSeconds = new HashMap<>();
    private final List<Interruption> closed = new ArrayList<>();
    private final ConcurrentLinkedQueue<String> kills = new ConcurrentLinkedQueue<>();
    private double clock;
    private final Map<Long, Double> useful = new HashMap<>(); // step → its compute time when it last completed
    private double nextRandom = Double.POSITIVE_INFINITY;
    private long roundEpoch = -1, roundStep = -1;
    private Set<String> victims = Set.of();
    private Interruption open;
    private long rounds; // rounds started
    private long lastEpoch;
    private boolean armed;
    private final java.util.TreeSet<Long> holds = new java.util.TreeSet<>(); // steps whose successors wait
    private long waitingSince; // a rank has waited since (nanoTime), 0: none
    private long heldNanos; // wall time the steps stood waiting for arm() or release()

    /** No failures: the clock only. */
    public FailurePlan() {
        this(0, 0, 1);
    }

    /** @param ratePerSecond random node losses per simulated second; 0 for none */
    public FailurePlan(double detectionSeconds, double ratePerSecond, long seed) {
        this.detectionSeconds = detectionSeconds;
        this.ratePerSecond = ratePerSecond;
        this.random = new Random(seed);
        if (ratePerSecond > 0) nextRandom = gap();
    }

    /** The plan of {@code sc}: its fixed node losses and its MTBF (the last one, if several). */
    public static FailurePlan of(Scenario sc) {
        double rate = 0;
        long seed = 1;
        for (Scenario.Event e : sc.events()) {
            if (e instanceof Scenario.Mtbf m) {
                rate = m.ratePerSecond(sc.world());
                seed = m.seed();
            } else if (e instanceof Scenario.LoseNodes l) {
                seed = l.seed();
            }
        }
        FailurePlan p = new FailurePlan(sc.detectionSeconds(), rate, seed);
        for (Scenario.Event e : sc.events()) {
            if (e instanceof Scenario.LoseNodes l) p.fixed.add(new Loss(l.atStep(), l.nodes()));
        }
        return p;
    }

    private double gap() {
        return -Math.log(1 - random.nextDouble()) / ratePerSecond;
    }

    /** A rank of {@code node} joined mesh {@code epoch}; it took startNanos..endNanos. */
    synchronized void joined(long epoch, String node, long startNanos, long endNanos, double reload) {
        meshNodes.computeIfAbsent(epoch, e -> new TreeSet<>()).add(node);
        long[] j = joins.computeIfAbsent(epoch, e -> new long[] {Long.MAX_VALUE, 0});
        j[0] = Math.min(j[0], startNanos);
        j[1] = Math.max(j[1], endNanos);
        reloadSeconds.merge(epoch, reload, Math::max);
    }

    /**
     * A rank of {@code node} starts step {@code step} of mesh {@code epoch}, which takes {@code seconds}
     * (with its checkpoint write); true when this node dies in this round (the rank must hang).
     */
    synchronized boolean step(long epoch, long step, String node, double seconds) throws InterruptedException {
        return step(epoch, step, node, seconds, seconds);
    }

    /**
     * As above; {@code usefulSeconds} is the step's own compute time (no checkpoint write): what the step
     * counts as useful work once it completes (goodput), at the layout it ran on.
     */
    synchronized boolean step(long epoch, long step, String node, double seconds, double usefulSeconds)
            throws InterruptedException {
        // The first step waits for the spare nodes; a step after a held one waits for its event.
        while (!armed || (!holds.isEmpty() && step > holds.first())) {
            if (waitingSince == 0) waitingSince = System.nanoTime();
            wait();
        }
        if (waitingSince != 0) {
            heldNanos += System.nanoTime() - waitingSince;
            waitingSince = 0;
        }
        if (epoch != roundEpoch || step != roundStep) startRound(epoch, step, seconds, usefulSeconds);
        return victims.contains(node);
    }

    private void startRound(long epoch, long step, double seconds, double usefulSeconds) {
        long now = System.nanoTime();
        roundEpoch = epoch;
        roundStep = step;
        victims = Set.of();
        rounds++;
        lastEpoch = Math.max(lastEpoch, epoch);
        if (open != null && epoch > open.epoch) {
            // The first step after the interruption: the job stood still until now.
            open.resumeEpoch = epoch;
            open.resumedNanos = now;
            open.resumedStep = step;
            long[] j = joins.get(epoch);
            if (j != null) {
                open.firstJoinNanos = j[0];
                open.lastJoinNanos = j[1];
            }
            open.gapSeconds =
                    detectionSeconds + (now - open.startNanos()) / 1e9 + reloadSeconds.getOrDefault(epoch, 0.0);
            clock += open.gapSeconds;
            closed.add(open);
            open = null;
            if (ratePerSecond > 0) nextRandom = clock + gap();
        }
        double start = clock, end = clock + seconds;
        int dying = 0;
        double at = 0;
        if (open == null) {
            for (int i = 0; i < fixed.size(); i++) {
                if (fixed.get(i).step() == step) {
                    dying = fixed.remove(i).nodes();
                    at = start + seconds / 2;
                    break;
                }
            }
            if (dying == 0 && nextRandom < end) {
                dying = 1;
                at = Math.max(start, nextRandom);
            }
        }
        if (dying == 0) {
            clock = end;
            useful.put(step, usefulSeconds); // a step redone later (after a loss) counts once, as last run
            return;
        }
        List<String> mesh = new ArrayList<>(meshNodes.getOrDefault(epoch, Set.of()));
        List<String> dead = new ArrayList<>();
        for (int i = 0; i < dying && !mesh.isEmpty(); i++) dead.add(mesh.remove(random.nextInt(mesh.size())));
        victims = new HashSet<>(dead);
        clock = at;
        nextRandom = Double.POSITIVE_INFINITY;
        open = new Interruption("node-loss", epoch, step, at, at - start, dead, now);
        kills.addAll(dead);
    }

    /** From now on node losses may fire (the simulator arms the plan once its spare nodes are registered). */
    synchronized void arm() {
        armed = true;
        notifyAll();
    }

    /** Steps after {@code step} wait until {@link #release(long)}: the simulator acts between the two. */
    synchronized void hold(long step) {
        holds.add(step);
    }

    synchronized void release(long step) {
        holds.remove(step);
        notifyAll();
    }

    /** Wall seconds the steps stood waiting for the simulator (spares, held events): not control-plane time. */
    public synchronized double heldSeconds() {
        return (heldNanos + (waitingSince == 0 ? 0 : System.nanoTime() - waitingSince)) / 1e9;
    }

    /** The simulator took the coordinator's host down during the current round. */
    synchronized Interruption interrupt(String kind) {
        if (open != null) return open; // one interruption at a time: it shares this one's downtime
        open = new Interruption(kind, lastEpoch, roundStep, clock, 0, List.of(), System.nanoTime());
        nextRandom = Double.POSITIVE_INFINITY;
        return open;
    }

    /** The coordinator noticed the open interruption (the first notice counts). */
    synchronized void noticed(long nanos) {
        if (open != null && open.noticedNanos == 0 && nanos >= open.killNanos) open.noticedNanos = nanos;
    }

    /** The next node to stop, or null. */
    String nextKill() {
        return kills.poll();
    }

    /** {first JoinMesh received, last joinMesh returned} of mesh {@code epoch} (nanoTime), or null. */
    public synchronized long[] joinWindow(long epoch) {
        long[] j = joins.get(epoch);
        return j == null ? null : j.clone();
    }

    /** The compute time of every completed step, once each, at the layout it last ran on. */
    public synchronized double usefulSeconds() {
        return useful.values().stream().mapToDouble(Double::doubleValue).sum();
    }

    public synchronized double clock() {
        return clock;
    }

    public synchronized long rounds() {
        return rounds;
    }

    /** Every interruption closed by a later mesh's first step, in order. */
    public synchronized List<Interruption> interruptions() {
        return Collections.unmodifiableList(new ArrayList<>(closed));
    }

    /** The interruption not yet closed (the job ended or failed before resuming), or null. */
    public synchronized Interruption open() {
        return open;
    }

    public double detectionSeconds() {
        return detectionSeconds;
    }
}
