// One rank of a multi-process `shoal train --procs N` run, as its own JVM (started by the CLI, not typed
// by users): binds a TcpTransport on 127.0.0.1, publishes its port in the rendezvous folder, waits for
// every rank's (it also leaves its pid there, rank-R.pid), forms its TP/DP/PP groups (TcpMesh), and runs the shared
// TrainLoop with a RankTrainer;
// rank 0 is the writer (notes on stdout, progress on stderr, metrics, checkpoints) and leaves its result
// in rank-0.result.json for the launcher to summarise.
// Usage: RankProcess --config FILE --rendezvous DIR --rank R --tp T --pp P --dp D [--zero1] [--resume]
//        [--steps N] [--quiet] [--watch-stdin]   (the last: stop when stdin closes, i.e. the launcher died)
// Exit codes: 0 done; 1 a failure of this rank; 2 a user mistake (one "error: " line); 3 a peer failed
// (a collective broke), so the launcher can name the rank that failed first.
package dev.shoal.runtime.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.shoal.comm.CommException;
import dev.shoal.comm.ParallelDims;
import dev.shoal.runtime.comm.TcpTransport;
import dev.shoal.runtime.hf.HfFormatException;
import dev.shoal.runtime.parallel.RankComms;
import dev.shoal.runtime.parallel.TcpMesh;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

public final class RankProcess {
    private RankProcess() {}

    public static final int EXIT_PEER_FAILED = 3;
    /** How long a rank waits for the others to publish their addresses and join the groups. */
    public static final long RENDEZVOUS_MS = 120_000;

    static final ObjectMapper JSON = new ObjectMapper();

    /** The result file rank 0 leaves in the rendezvous folder. */
    public static Path resultFile(Path rendezvous) {
        return rendezvous.resolve("rank-0.result.json");
    }

    public static void main(String[] args) {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(System.err, true, StandardCharsets.UTF_8);
        int code;
        try {
            code = run(args, out, err);
        } catch (JobConfigException | HfFormatException e) {
            err.println("error: " + e.getMessage());
            code = 2;
        } catch (CommException e) {
            err.println("error: a peer failed: " + e.getMessage());
            code = EXIT_PEER_FAILED;
        } catch (Throwable e) {
            err.println("error: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            code = 1;
        }
        out.flush();
        err.flush();
        System.exit(code);
    }

    static int run(String[] args, PrintStream out, PrintStream err) throws Exception {
        Map<String, String> a = parse(args);
        if (a.containsKey("--watch-stdin")) {
            watchLauncher(err);
        }
        Path config = Path.of(need(a, "--config"));
        Path rdv = Path.of(need(a, "--rendezvous"));
        int rank = Integer.parseInt(need(a, "--rank"));
        ParallelDims dims = ParallelDims.of(
                Integer.parseInt(need(a, "--tp")),
                Integer.parseInt(need(a, "--pp")),
                Integer.parseInt(need(a, "--dp")));
        boolean zero1 = a.containsKey("--zero1"), resume = a.containsKey("--resume"), quiet = a.containsKey("--quiet");
        JobConfig job = JobConfigReader.load(config);
        if (a.containsKey("--steps")) job = job.withSteps(Long.parseLong(a.get("--steps")));
        boolean lead = rank == 0;
        Files.writeString(
                rdv.resolve("rank-" + rank + ".pid"),
                Long.toString(ProcessHandle.current().pid()));
        try (TcpTransport transport = TcpTransport.bind(new InetSocketAddress("127.0.0.1", 0))) {
            List<InetSocketAddress> addrs = rendezvous(rdv, rank, dims.world(), transport.address());
            RankComms comms = TcpMesh.forRank(transport, addrs, dims, rank, 1, MeshRun.COLLECTIVE_TIMEOUT_MS);
            try {
                RankTrainer.Options o = RankTrainer.Options.of(job, dims)
                        .withZero1(zero1)
                        .withThreads(Math.max(1, job.threads() / dims.world()))
                        .withLog(lead ? out::println : null);
                try (RankTrainer rt = new RankTrainer(job, dims, comms, o)) {
                    Trainer.Result r = TrainLoop.run(
                            job,
                            rt.asEngine(),
                            lead,
                            resume,
                            Long.MAX_VALUE,
                            lead ? out::println : null,
                            lead && !quiet ? err : null);
                    if (lead) writeResult(resultFile(rdv), r);
                }
            } finally {
                comms.tp().close();
                comms.dp().close();
                comms.pp().close();
            }
        }
        return 0;
    }

    /**
     * The launcher holds our stdin open and never writes to it: end of input means it is gone (even by
     * kill -9), so this rank stops instead of training on as an orphan.
     */
    private static void watchLauncher(PrintStream err) {
        Thread t = new Thread(
                () -> {
                    try {
                        while (System.in.read() >= 0) {
                            // nothing is ever sent; keep reading until the pipe closes
                        }
                    } catch (IOException e) {
                        // a broken pipe means the same
                    }
                    err.println("error: the launcher is gone; stopping");
                    err.flush();
                    Runtime.getRuntime().halt(1);
                },
                "launcher-watch");
        t.setDaemon(true);
        t.start();
    }

    /** Publishes this rank's address (atomically) and waits for every rank's. */
    static List<InetSocketAddress> rendezvous(Path dir, int rank, int world, InetSocketAddress mine)
            throws IOException, InterruptedException {
        Path tmp = dir.resolve("rank-" + rank + ".addr.tmp");
        Files.writeString(tmp, Integer.toString(mine.getPort()));
        Files.move(tmp, dir.resolve("rank-" + rank + ".addr"), StandardCopyOption.ATOMIC_MOVE);
        List<InetSocketAddress> addrs = new ArrayList<>();
        long deadline = System.currentTimeMillis() + RENDEZVOUS_MS;
        for (int r = 0; r < world; r++) {
            Path f = dir.resolve("rank-" + r + ".addr");
            while (!Files.exists(f)) {
                if (System.currentTimeMillis() > deadline) {
                    throw new IOException("rank " + r + " never published its address in " + dir + " within "
                            + RENDEZVOUS_MS / 1000 + " s");
                }
                Thread.sleep(20);
            }
            addrs.add(new InetSocketAddress(
                    "127.0.0.1", Integer.parseInt(Files.readString(f).trim())));
        }
        return addrs;
    }

    static void writeResult(Path file, Trainer.Result r) throws IOException {
        Map<String, Object> m = new HashMap<>();
        m.put("startStep", r.startStep());
        m.put("endStep", r.endStep());
        m.put("lastLoss", Double.isNaN(r.lastLoss()) ? null : r.lastLoss());
        m.put("lastValLoss", r.lastValLoss());
        m.put(
                "lastCheckpoint",
                r.lastCheckpoint() == null ? null : r.lastCheckpoint().toString());
        m.put("metricsFile", r.metricsFile().toString());
        m.put("seconds", r.seconds());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        JSON.writeValue(tmp.toFile(), m);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
    }

    /** The result rank 0 left, as the Trainer would have returned it. */
    @SuppressWarnings("unchecked")
    public static Trainer.Result readResult(Path file) throws IOException {
        Map<String, Object> m = JSON.readValue(file.toFile(), Map.class);
        Map<String, Double> val = null;
        if (m.get("lastValLoss") != null) {
            val = new java.util.LinkedHashMap<>();
            for (Map.Entry<String, Object> e : ((Map<String, Object>) m.get("lastValLoss")).entrySet()) {
                val.put(e.getKey(), ((Number) e.getValue()).doubleValue());
            }
        }
        return new Trainer.Result(
                ((Number) m.get("startStep")).longValue(),
                ((Number) m.get("endStep")).longValue(),
                m.get("lastLoss") == null ? Double.NaN : ((Number) m.get("lastLoss")).doubleValue(),
                val,
                m.get("lastCheckpoint") == null ? null : Path.of((String) m.get("lastCheckpoint")),
                Path.of((String) m.get("metricsFile")),
                ((Number) m.get("seconds")).doubleValue());
    }

    private static Map<String, String> parse(String[] args) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String k = args[i];
            if (k.equals("--zero1") || k.equals("--resume") || k.equals("--quiet") || k.equals("--watch-stdin")) {
                m.put(k, "");
            } else if (k.startsWith("--") && i + 1 < args.length) {
                m.put(k, args[++i]);
            } else {
                throw new IllegalArgumentException("unexpected argument '" + k + "'");
            }
        }
        return m;
    }

    private static String need(Map<String, String> a, String k) {
        String v = a.get(k);
        if (v == null) throw new IllegalArgumentException("missing " + k);
        return v;
    }
}
