// The multi-process mode of `shoal train --procs N`: one child JVM per rank of the (tp, pp, dp) mesh, on
// 127.0.0.1, talking over the TCP backend (RankProcess + TcpMesh). Rank 0's stdout and stderr are
// streamed to the caller as they come (notes, progress); the other ranks write rank-R.log in the
// rendezvous folder checkpoint_dir/.ranks-NNNN/ (with each rank's address and pid).
// Guarantees: when any rank exits non-zero the others are killed and the run fails naming the rank that
// failed first (a rank that only saw a peer break, exit 3, is blamed only when no other rank failed),
// with its error line and where the logs are; a user mistake of rank 0 (exit 2) comes back as a
// JobConfigException with its one line; the children are killed when this JVM exits (Ctrl-C), and each
// child also stops by itself when its stdin (a pipe from this JVM) closes, so even a kill -9 of the
// launcher leaves no rank training; the
// rendezvous folder is removed after a clean run and kept (with the logs) after a failure.
package dev.shoal.runtime.train;

import dev.shoal.comm.ParallelDims;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/** Stateless. */
public final class MeshLauncher {
    private MeshLauncher() {}

    /** Name prefix of the rendezvous folder in checkpoint_dir (rank-R.addr, rank-R.pid, rank-R.log). */
    public static final String RANKS_PREFIX = ".ranks-";

    /** How long after a "peer failed" exit the launcher waits for the rank that failed first to show. */
    static final long BLAME_GRACE_MS = 3000;

    /**
     * Runs the job with one JVM per rank; returns rank 0's result. steps overrides train.steps when not
     * null; out gets rank 0's stdout, err its stderr (progress, unless quiet).
     */
    public static Trainer.Result run(
            Path config,
            ParallelDims dims,
            boolean zero1,
            boolean resume,
            Long steps,
            boolean quiet,
            PrintStream out,
            PrintStream err)
            throws IOException, InterruptedException {
        // The rendezvous folder (addresses, pids, rank logs) sits in checkpoint_dir, next to the run.
        Path ckptDir = JobConfigReader.load(config).checkpointDir();
        Files.createDirectories(ckptDir);
        Path rdv = Files.createTempDirectory(ckptDir, RANKS_PREFIX);
        List<Process> procs = new ArrayList<>();
        Thread killer = new Thread(() -> procs.forEach(Process::destroyForcibly), "shoal-kill-ranks");
        Runtime.getRuntime().addShutdownHook(killer);
        List<Thread> pumps = new ArrayList<>();
        ErrorFilter rank0Err = new ErrorFilter(err);
        boolean ok = false;
        try {
            for (int r = 0; r < dims.world(); r++) {
                ProcessBuilder pb = new ProcessBuilder(command(config, rdv, dims, r, zero1, resume, steps, quiet));
                if (r == 0) {
                    Process p = pb.start();
                    procs.add(p);
                    pumps.add(pump(p.getInputStream(), out::write, out::flush));
                    pumps.add(pump(p.getErrorStream(), rank0Err::write, err::flush));
                } else {
                    pb.redirectErrorStream(true);
                    pb.redirectOutput(rdv.resolve("rank-" + r + ".log").toFile());
                    procs.add(pb.start());
                }
            }
            // Wait for every rank; on the first failure, find the rank to blame and kill the rest.
            long firstPeerFailure = -1;
            while (true) {
                int culprit = -1, peerFailed = -1;
                boolean allDone = true;
                for (int r = 0; r < procs.size(); r++) {
                    Process p = procs.get(r);
                    if (p.isAlive()) {
                        allDone = false;
                    } else if (p.exitValue() == RankProcess.EXIT_PEER_FAILED) {
                        if (peerFailed < 0) peerFailed = r;
                    } else if (p.exitValue() != 0 && culprit < 0) {
                        culprit = r;
                    }
                }
                if (culprit < 0 && peerFailed >= 0) {
                    long now = System.currentTimeMillis();
                    if (firstPeerFailure < 0) firstPeerFailure = now;
                    if (now - firstPeerFailure > BLAME_GRACE_MS || allDone) culprit = peerFailed;
                }
                if (culprit >= 0) {
                    procs.forEach(Process::destroyForcibly);
                    for (Process p : procs) p.waitFor();
                    for (Thread t : pumps) t.join(2000);
                    throw failure(culprit, procs.get(culprit).exitValue(), dims, rdv, rank0Err.lastError());
                }
                if (allDone) break;
                Thread.sleep(20);
            }
            for (Thread t : pumps) t.join();
            Path result = RankProcess.resultFile(rdv);
            if (!Files.isRegularFile(result)) {
                throw new MeshRun.RankFailure("rank 0 exited without leaving its result in " + rdv, null);
            }
            Trainer.Result r = RankProcess.readResult(result);
            ok = true;
            return r;
        } finally {
            procs.forEach(Process::destroyForcibly);
            try {
                Runtime.getRuntime().removeShutdownHook(killer);
            } catch (IllegalStateException e) {
                // the JVM is shutting down: the hook runs anyway
            }
            if (ok) deleteTree(rdv);
        }
    }

    private static RuntimeException failure(int rank, int code, ParallelDims dims, Path rdv, String rank0Error)
            throws IOException {
        String line = rank == 0 ? rank0Error : lastErrorLine(rdv.resolve("rank-" + rank + ".log"));
        if (code == 2 && line != null) {
            return new JobConfigException(line); // a user mistake: every rank finds the same one
        }
        ParallelDims.Coord c = dims.coord(rank);
        return new MeshRun.RankFailure(
                "rank " + rank + " (tp " + c.tp() + ", pp " + c.pp() + ", dp " + c.dp() + ") exited with code " + code
                        + (code == 137 || code == 9 ? " (killed)" : "") + (line == null ? "" : ": " + line)
                        + "; rank logs in " + rdv,
                null);
    }

    /** The "error: " line of a rank's log (without the prefix), else its last non-blank line, else null. */
    private static String lastErrorLine(Path log) throws IOException {
        if (!Files.isRegularFile(log)) return null;
        List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
        for (String l : lines) if (l.startsWith("error: ")) return l.substring(7);
        for (int i = lines.size() - 1; i >= 0; i--)
            if (!lines.get(i).isBlank()) return lines.get(i).strip();
        return null;
    }

    private static List<String> command(
            Path config,
            Path rdv,
            ParallelDims dims,
            int rank,
            boolean zero1,
            boolean resume,
            Long steps,
            boolean quiet) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("-Xmx")
                    || a.startsWith("-Xms")
                    || a.startsWith("-Dorg.bytedeco")
                    || a.startsWith("-XX:MaxDirectMemorySize")
                    || a.startsWith("--enable-native-access")
                    || a.startsWith("--add-opens")) {
                cmd.add(a);
            }
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), RankProcess.class.getName()));
        cmd.addAll(List.of("--config", config.toAbsolutePath().toString(), "--rendezvous", rdv.toString()));
        cmd.addAll(List.of("--rank", Integer.toString(rank)));
        cmd.addAll(List.of("--tp", Integer.toString(dims.tp()), "--pp", Integer.toString(dims.pp())));
        cmd.addAll(List.of("--dp", Integer.toString(dims.dp())));
        if (zero1) cmd.add("--zero1");
        if (resume) cmd.add("--resume");
        if (quiet) cmd.add("--quiet");
        cmd.add("--watch-stdin");
        if (steps != null) cmd.addAll(List.of("--steps", Long.toString(steps)));
        return cmd;
    }

    interface Sink {
        void write(byte[] b, int off, int len) throws IOException;
    }

    private static Thread pump(InputStream in, Sink sink, Runnable flush) {
        Thread t = new Thread(
                () -> {
                    byte[] buf = new byte[8192];
                    try (in) {
                        int n;
                        while ((n = in.read(buf)) > 0) {
                            sink.write(buf, 0, n);
                            flush.run();
                        }
                    } catch (IOException e) {
                        // the child is gone; nothing more to stream
                    }
                },
                "shoal-rank0-pump");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Passes rank 0's stderr through, except its "error: " lines, which the launcher reports itself. */
    static final class ErrorFilter {
        private static final String PREFIX = "error: ";
        private final PrintStream to;
        private final StringBuilder line = new StringBuilder(); // the current line while it may be an error line
        private boolean holding = true; // at a line start, or inside a possible error line
        private String lastError;

        ErrorFilter(PrintStream to) {
            this.to = to;
        }

        synchronized void write(byte[] b, int off, int len) {
            String s = new String(b, off, len, StandardCharsets.UTF_8);
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                if (holding) {
                    if (c == '\n' || c == '\r') {
                        if (line.toString().startsWith(PREFIX)) {
                            if (lastError == null) lastError = line.substring(PREFIX.length());
                        } else {
                            to.print(line);
                            to.print(c);
                        }
                        line.setLength(0);
                        continue;
                    }
                    line.append(c);
                    String sofar = line.toString();
                    if (!sofar.startsWith(PREFIX) && !PREFIX.startsWith(sofar)) {
                        to.print(sofar);
                        line.setLength(0);
                        holding = false;
                    }
                } else {
                    to.print(c);
                    if (c == '\n' || c == '\r') holding = true;
                }
            }
        }

        synchronized String lastError() {
            return lastError != null ? lastError : line.toString().startsWith(PREFIX) ? line.substring(7) : null;
        }
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path x : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(x);
        }
    }
}
