// One rank of the multi-process TCP equivalence test, as its own JVM: binds a TcpTransport, publishes
// its address as a file in the shared directory, waits for every rank's file, forms its TP/DP/PP groups
// (TcpMesh), trains the tiny model for ParallelEquivalenceTest.STEPS steps from the shared seed, and
// writes its per-step losses and its parameter shard to rank-R.out.
// Usage: TcpRankProcess DIR RANK TP DP PP MODE
package dev.shoal.runtime.parallel;

import dev.shoal.comm.ParallelDims;
import dev.shoal.runtime.comm.TcpTransport;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class TcpRankProcess {
    private TcpRankProcess() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int rank = Integer.parseInt(args[1]);
        ParallelDims dims =
                ParallelDims.of(Integer.parseInt(args[2]), Integer.parseInt(args[4]), Integer.parseInt(args[3]));
        DataParallelOptimizer.Mode mode = DataParallelOptimizer.Mode.valueOf(args[5]);
        LlamaConfig cfg = ParallelEquivalenceTest.TINY;
        try (TcpTransport transport = TcpTransport.bind(new InetSocketAddress("127.0.0.1", 0))) {
            // Publish our address (atomically), then wait for everyone's.
            Path tmp = dir.resolve("rank-" + rank + ".addr.tmp");
            Files.writeString(tmp, Integer.toString(transport.address().getPort()));
            Files.move(tmp, dir.resolve("rank-" + rank + ".addr"), StandardCopyOption.ATOMIC_MOVE);
            List<InetSocketAddress> addrs = new ArrayList<>();
            long deadline = System.currentTimeMillis() + 60_000;
            for (int r = 0; r < dims.world(); r++) {
                Path f = dir.resolve("rank-" + r + ".addr");
                while (!Files.exists(f)) {
                    if (System.currentTimeMillis() > deadline) {
                        throw new IllegalStateException("rank " + r + " never published its address in " + dir);
                    }
                    Thread.sleep(20);
                }
                addrs.add(new InetSocketAddress(
                        "127.0.0.1", Integer.parseInt(Files.readString(f).trim())));
            }
            RankComms rc = TcpMesh.forRank(transport, addrs, dims, rank, 1, 60_000);
            Map<String, Tensor> init = ParallelEquivalenceTest.initialWeights(cfg);
            try (Compute cx = Compute.cpu(1)) {
                ParallelTrainer t = new ParallelTrainer(
                        cfg,
                        rc,
                        BatchPlan.of(ParallelEquivalenceTest.GLOBAL_BATCH, 1, dims.dp()),
                        ParallelEquivalenceTest.SEQ,
                        mode,
                        ParallelEquivalenceTest.ADAMW,
                        cx);
                t.loadFull(init);
                double[] losses = new double[ParallelEquivalenceTest.STEPS];
                for (int s = 0; s < losses.length; s++) {
                    losses[s] = t.step(
                                    ParallelEquivalenceTest.batch(11, s, cfg.vocab()),
                                    ParallelEquivalenceTest.LR,
                                    ParallelEquivalenceTest.MAX_NORM)
                            .loss();
                }
                write(dir.resolve("rank-" + rank + ".out"), losses, t.model().params());
            }
            rc.tp().close();
            rc.dp().close();
            rc.pp().close();
        }
    }

    static void write(Path file, double[] losses, Map<String, Tensor> params) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (DataOutputStream out = new DataOutputStream(Files.newOutputStream(tmp))) {
            out.writeInt(losses.length);
            for (double l : losses) {
                out.writeDouble(l);
            }
            out.writeInt(params.size());
            for (Map.Entry<String, Tensor> e : params.entrySet()) {
                out.writeUTF(e.getKey());
                float[] v = e.getValue().toArray();
                out.writeInt(v.length);
                for (float x : v) {
                    out.writeFloat(x);
                }
            }
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
    }

    /** losses, and params by name (flat, to be viewed in the shapes of the reading side's shard). */
    record Output(double[] losses, Map<String, float[]> params) {}

    static Output read(Path file) throws IOException {
        try (DataInputStream in = new DataInputStream(Files.newInputStream(file))) {
            double[] losses = new double[in.readInt()];
            for (int i = 0; i < losses.length; i++) {
                losses[i] = in.readDouble();
            }
            int n = in.readInt();
            Map<String, float[]> params = new LinkedHashMap<>();
            for (int i = 0; i < n; i++) {
                String name = in.readUTF();
                float[] v = new float[in.readInt()];
                for (int j = 0; j < v.length; j++) {
                    v[j] = in.readFloat();
                }
                params.put(name, v);
            }
            return new Output(losses, params);
        }
    }
}
