// The data audit (issue 8, proof 7): every sample of every committed step is consumed exactly once,
// in the planned order, whatever failures, recoveries and DP changes the run went through.
//
// Writing: each rank appends to its own text file (Log, one per worker, audit-<worker>.log) a `join`
// line when it joins a mesh (epoch, rank, tp, pp, dp, start step) and a `step` line after each step it
// trained (epoch, rank, step, its DP replica and dp, the global rows [from, from + n) of the step it
// got, and a 64-bit hash of the input ids it fed (first stage) and of the target ids it scored (last
// stage); "-" where its stage uses neither).
//
// Checking (check): a mesh epoch e that started at step S_e replaces every earlier epoch's steps from
// S_e on (the coordinator restarts from the last committed checkpoint, which is S_e − 1). So the step s
// that ended up in the final weights is the one trained by the newest epoch with S_e ≤ s that trained
// it; the steps of other epochs were rolled back. For every step 1..N check() proves: that epoch's
// every rank recorded s exactly once; its dp replicas hold rows [d·B/dp, (d+1)·B/dp), tiling the
// global batch [0, B) exactly once (the global batch is kept whatever dp); each replica's input and
// target hashes equal the hashes of the sampler's planned rows of that step (the planned tokens, in the
// planned order); the winning epochs never go backwards in s. Over all committed steps, each sample
// (source, sequence number) is consumed exactly once and every source's sequences 0..k−1 are all there
// (nothing skipped), k matching the closed-form count of the sampler.
//
// Guarantees: a log line is written whole and flushed to the OS before the step is reported (a kill -9
// loses nothing written); check() reports every problem it finds, each naming the step and epoch.
package dev.shoal.runtime.data;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.IntBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

public final class DataAudit {
    private DataAudit() {}

    /** A rank joined mesh {@code epoch} of dims tp × pp × dp, starting at step {@code start}. */
    public record Join(long epoch, int rank, int tp, int pp, int dp, long start) {}

    /**
     * A rank trained step {@code step} (counted from 1) of mesh {@code epoch} on rows [from, from + rows)
     * of the global batch, as DP replica {@code replica} of {@code dp}; hashes of its input and target
     * ids, null where its pipeline stage uses none.
     */
    public record Consumed(
            long epoch, int rank, long step, int replica, int dp, int from, int rows, Long inputs, Long targets) {}

    /** What check() proved: the steps, the samples, and how many rank-steps were rolled back. */
    public record Report(long steps, long samples, Map<Long, Long> stepsByEpoch, long rolledBackRankSteps) {
        @Override
        public String toString() {
            return "data audit: " + steps + " steps, " + samples + " samples each consumed once in planned order"
                    + " (steps per mesh epoch " + stepsByEpoch + "; " + rolledBackRankSteps
                    + " rank-steps rolled back)";
        }
    }

    // ---------------------------------------------------------------- hashing

    private static final long FNV_OFFSET = 0xcbf29ce484222325L, FNV_PRIME = 0x100000001b3L;

    /** 64-bit FNV-1a over ids [pos0, pos0 + len) of each of {@code n} rows of {@code t1} ids. */
    static long hash(IntBuffer ids, int n, int t1, int pos0, int len) {
        long h = FNV_OFFSET;
        for (int r = 0; r < n; r++) {
            for (int p = pos0; p < pos0 + len; p++) h = mix(h, ids.get(r * t1 + p));
        }
        return h;
    }

    /** The same hash over rows[from..from + n) of a [B][T + 1] array. */
    static long hash(int[][] rows, int from, int n, int pos0, int len) {
        long h = FNV_OFFSET;
        for (int r = from; r < from + n; r++) {
            for (int p = pos0; p < pos0 + len; p++) h = mix(h, rows[r][p]);
        }
        return h;
    }

    private static long mix(long h, int v) {
        for (int b = 0; b < 4; b++) {
            h ^= (v >>> (8 * b)) & 0xff;
            h *= FNV_PRIME;
        }
        return h;
    }

    // ---------------------------------------------------------------- the per-rank log

    /** One worker's audit file; thread-safe; every line is flushed when written. */
    public static final class Log implements AutoCloseable {
        private final Path file;
        private final BufferedWriter out;

        private Log(Path file) throws IOException {
            this.file = file;
            this.out = Files.newBufferedWriter(
                    file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        }

        /** Opens (appends to) dir/audit-<worker>.log; the worker id is made file-name safe. */
        public static Log open(Path dir, String worker) throws IOException {
            Files.createDirectories(dir);
            return new Log(dir.resolve("audit-" + worker.replaceAll("[^A-Za-z0-9._-]", "_") + ".log"));
        }

        public Path file() {
            return file;
        }

        public synchronized void join(long epoch, int rank, int tp, int pp, int dp, long start) {
            line("join " + epoch + " " + rank + " " + tp + " " + pp + " " + dp + " " + start);
        }

        /**
         * Records that this rank trained {@code step} on rows [from, from + n) of {@code rows} ([B][T + 1]),
         * having fed their inputs (positions 0..T−1) when {@code inputs} and scored their targets (1..T)
         * when {@code targets}.
         */
        public synchronized void consumed(
                long epoch,
                int rank,
                long step,
                int replica,
                int dp,
                int[][] rows,
                int from,
                int n,
                boolean inputs,
                boolean targets,
                int seqLen) {
            String in = inputs ? Long.toHexString(hash(rows, from, n, 0, seqLen)) : "-";
            String tg = targets ? Long.toHexString(hash(rows, from, n, 1, seqLen)) : "-";
            line("step " + epoch + " " + rank + " " + step + " " + replica + " " + dp + " " + from + " " + n + " " + in
                    + " " + tg);
        }

        private void line(String s) {
            try {
                out.write(s);
                out.newLine();
                out.flush();
            } catch (IOException e) {
                throw new UncheckedIOException("data audit " + file + ": " + e.getMessage(), e);
            }
        }

        @Override
        public synchronized void close() {
            try {
                out.close();
            } catch (IOException ignored) {
                // every line was flushed when written
            }
        }
    }

    /** Every audit-*.log under dir. A torn last line (a killed writer) is ignored. */
    public static List<Object> read(Path dir) throws IOException {
        List<Object> records = new ArrayList<>();
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.getFileName().toString().matches("audit-.*\\.log"))
                    .sorted()
                    .toList();
        }
        for (Path f : files) {
            for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
                String[] w = line.trim().split(" ");
                try {
                    if (w[0].equals("join") && w.length == 7) {
                        records.add(new Join(
                                Long.parseLong(w[1]),
                                Integer.parseInt(w[2]),
                                Integer.parseInt(w[3]),
                                Integer.parseInt(w[4]),
                                Integer.parseInt(w[5]),
                                Long.parseLong(w[6])));
                    } else if (w[0].equals("step") && w.length == 10) {
                        records.add(new Consumed(
                                Long.parseLong(w[1]),
                                Integer.parseInt(w[2]),
                                Long.parseLong(w[3]),
                                Integer.parseInt(w[4]),
                                Integer.parseInt(w[5]),
                                Integer.parseInt(w[6]),
                                Integer.parseInt(w[7]),
                                w[8].equals("-") ? null : Long.parseUnsignedLong(w[8], 16),
                                w[9].equals("-") ? null : Long.parseUnsignedLong(w[9], 16)));
                    }
                } catch (NumberFormatException e) {
                    // a line cut short by a kill: not a record
                }
            }
        }
        return records;
    }

    // ---------------------------------------------------------------- the check

    /**
     * Proves the audit of a run of {@code steps} steps against the sampler's plan (see the header).
     *
     * @throws IllegalStateException naming every problem found
     */
    public static Report check(List<Object> records, MixtureSampler sampler, long steps) {
        int b = sampler.spec().globalBatch(), t = sampler.spec().seqLen();
        Map<Long, Join> meshes = new TreeMap<>(); // epoch -> its join (rank 0's view; all must agree)
        Map<Long, Map<Long, List<Consumed>>> byStep = new HashMap<>(); // step -> epoch -> records
        List<String> problems = new ArrayList<>();
        for (Object o : records) {
            if (o instanceof Join j) {
                Join was = meshes.putIfAbsent(j.epoch(), j);
                if (was != null
                        && (was.start() != j.start()
                                || was.tp() != j.tp()
                                || was.pp() != j.pp()
                                || was.dp() != j.dp())) {
                    problems.add("epoch " + j.epoch() + ": ranks " + was.rank() + " and " + j.rank()
                            + " joined different meshes (" + was + " vs " + j + ")");
                }
            } else if (o instanceof Consumed c) {
                byStep.computeIfAbsent(c.step(), k -> new TreeMap<>())
                        .computeIfAbsent(c.epoch(), k -> new ArrayList<>())
                        .add(c);
            }
        }
        Map<Long, Long> stepsByEpoch = new TreeMap<>();
        long rolledBack = 0, samples = 0, lastWinner = -1;
        Map<Integer, Set<Long>> seen = new HashMap<>(); // source -> sequence numbers consumed
        for (long s = 1; s <= steps; s++) {
            Map<Long, List<Consumed>> tried = byStep.getOrDefault(s, Map.of());
            long winner = -1;
            for (long e : tried.keySet()) {
                Join j = meshes.get(e);
                if (j == null) {
                    problems.add("step " + s + ": epoch " + e + " trained it but no rank recorded joining that mesh");
                } else if (j.start() <= s && e > winner) {
                    winner = e;
                }
            }
            // A newer epoch that started at or before s but never trained s means s was lost.
            final long step = s;
            for (Join j : meshes.values()) {
                if (j.epoch() > winner && j.start() <= s && !tried.containsKey(j.epoch()) && winner >= 0) {
                    boolean later = byStep.entrySet().stream()
                            .anyMatch(en -> en.getKey() > step && en.getValue().containsKey(j.epoch()));
                    if (later) {
                        problems.add("step " + s + ": epoch " + j.epoch() + " started at step " + j.start()
                                + " and trained later steps, but never step " + s);
                    }
                }
            }
            for (Map.Entry<Long, List<Consumed>> en : tried.entrySet()) {
                if (en.getKey() != winner) rolledBack += en.getValue().size();
            }
            if (winner < 0) {
                problems.add("step " + s + ": no mesh trained it");
                continue;
            }
            if (winner < lastWinner) {
                problems.add("step " + s + ": trained by epoch " + winner + " after step " + (s - 1)
                        + " was trained by the newer epoch " + lastWinner);
            }
            lastWinner = winner;
            stepsByEpoch.merge(winner, 1L, Long::sum);
            Join mesh = meshes.get(winner);
            int world = mesh.tp() * mesh.pp() * mesh.dp(), per = b / mesh.dp();
            Map<Integer, Consumed> byRank = new HashMap<>();
            for (Consumed c : tried.get(winner)) {
                if (byRank.put(c.rank(), c) != null) {
                    problems.add("step " + s + ": rank " + c.rank() + " of epoch " + winner + " trained it twice");
                }
            }
            if (byRank.size() != world) {
                problems.add("step " + s + ": " + byRank.size() + " of the " + world + " ranks of epoch " + winner
                        + " recorded it");
            }
            // Each replica: its rows of the planned global batch, the planned tokens in the planned order.
            for (int d = 0; d < mesh.dp(); d++) {
                MixtureSampler.Batch plan = sampler.rows(s - 1, d * per, per, true);
                long in = hash(plan.tokens(), per, t + 1, 0, t), tg = hash(plan.tokens(), per, t + 1, 1, t);
                boolean fed = false, scored = false;
                for (Consumed c : byRank.values()) {
                    if (c.replica() != d) continue;
                    if (c.dp() != mesh.dp() || c.from() != d * per || c.rows() != per) {
                        problems.add("step " + s + ", epoch " + winner + ", rank " + c.rank() + ": rows [" + c.from()
                                + ", " + (c.from() + c.rows()) + ") of dp " + c.dp() + ", planned [" + d * per + ", "
                                + (d + 1) * per + ") of dp " + mesh.dp());
                    }
                    if (c.inputs() != null) {
                        fed = true;
                        if (c.inputs() != in) {
                            problems.add("step " + s + ", epoch " + winner + ", rank " + c.rank() + " (replica " + d
                                    + "): its input ids are not the planned rows'");
                        }
                    }
                    if (c.targets() != null) {
                        scored = true;
                        if (c.targets() != tg) {
                            problems.add("step " + s + ", epoch " + winner + ", rank " + c.rank() + " (replica " + d
                                    + "): its target ids are not the planned rows'");
                        }
                    }
                }
                if (!fed || !scored) {
                    problems.add("step " + s + ", epoch " + winner + ": replica " + d + " has no rank that "
                            + (!fed ? "fed its inputs" : "scored its targets"));
                }
                for (MixtureSampler.RowAudit r : plan.audit()) {
                    samples++;
                    if (!seen.computeIfAbsent(r.source(), k -> new HashSet<>()).add(r.sourceSeq())) {
                        problems.add("step " + s + ": sample (source " + r.source() + ", sequence " + r.sourceSeq()
                                + ") consumed a second time");
                    }
                }
            }
        }
        // Nothing skipped: each source's sequences 0..k−1, k its closed-form count after `steps` steps.
        long[] counts = sampler.assigner()
                .counts(
                        Math.multiplyExact(steps, (long) b),
                        sampler.spec().sources().size());
        for (int i = 0; i < counts.length; i++) {
            Set<Long> got = seen.getOrDefault(i, Set.of());
            long max = got.stream().mapToLong(Long::longValue).max().orElse(-1);
            if (got.size() != counts[i] || max != counts[i] - 1) {
                problems.add("source " + i + ": " + got.size() + " sequences consumed (highest " + max + "), planned "
                        + counts[i] + " (0.." + (counts[i] - 1) + ")");
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalStateException("data audit failed:\n  " + String.join("\n  ", problems));
        }
        return new Report(steps, samples, stepsByEpoch, rolledBack);
    }
}
