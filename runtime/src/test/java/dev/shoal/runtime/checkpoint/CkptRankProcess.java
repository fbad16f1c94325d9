// One rank of CheckpointProcessTest as its own JVM (tp 1 × pp 1 × dp 2 over TCP): trains the tiny model
// 2 steps, saves step 2 (sync), trains steps 2 and 3 (rank 0 writes their losses to losses.txt), then
// starts saving step 4 with a 3 s commit timeout. Rank 1's writer announces itself in held.txt and
// never writes (the test kills the JVM with SIGKILL there); rank 0 writes its shard, waits for rank 1,
// and exits 3 with the commit error in rank0-error.txt.
// Usage: CkptRankProcess DIR RANK
package dev.shoal.runtime.checkpoint;

import dev.shoal.comm.ParallelDims;
import dev.shoal.runtime.comm.TcpTransport;
import dev.shoal.runtime.optim.AdamWConfig;
import dev.shoal.runtime.parallel.BatchPlan;
import dev.shoal.runtime.parallel.DataParallelOptimizer;
import dev.shoal.runtime.parallel.ParallelTrainer;
import dev.shoal.runtime.parallel.RankComms;
import dev.shoal.runtime.parallel.TcpMesh;
import dev.shoal.runtime.tensor.Compute;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

public final class CkptRankProcess {
    private CkptRankProcess() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int rank = Integer.parseInt(args[1]);
        ParallelDims dims = ParallelDims.of(1, 1, 2);
        try (TcpTransport transport = TcpTransport.bind(new InetSocketAddress("127.0.0.1", 0))) {
            Path tmp = dir.resolve("rank-" + rank + ".addr.tmp");
            Files.writeString(tmp, Integer.toString(transport.address().getPort()));
            Files.move(tmp, dir.resolve("rank-" + rank + ".addr"), StandardCopyOption.ATOMIC_MOVE);
            List<InetSocketAddress> addrs = new ArrayList<>();
            for (int r = 0; r < dims.world(); r++) {
                Path f = dir.resolve("rank-" + r + ".addr");
                for (long deadline = System.currentTimeMillis() + 60_000; !Files.exists(f); Thread.sleep(20)) {
                    if (System.currentTimeMillis() > deadline) throw new IllegalStateException("no address " + f);
                }
                addrs.add(new InetSocketAddress(
                        "127.0.0.1", Integer.parseInt(Files.readString(f).trim())));
            }
            RankComms rc = TcpMesh.forRank(transport, addrs, dims, rank, 1, 60_000);
            Compute cx = Compute.cpu(1);
            ParallelTrainer t = new ParallelTrainer(
                    MeshRun.TINY,
                    rc,
                    BatchPlan.of(MeshRun.GLOBAL_BATCH, 1, 2),
                    MeshRun.SEQ,
                    DataParallelOptimizer.Mode.ZERO1,
                    AdamWConfig.llama(),
                    cx);
            t.loadFull(MeshRun.initialWeights());
            Path root = dir.resolve("ckpt");
            Checkpointer.Options o = new Checkpointer.Options(Retention.ALL, 4096, Duration.ofSeconds(3), null);
            Checkpointer ck = new Checkpointer(root, rc, o);
            for (long s = 0; s < 2; s++) t.step(MeshRun.batch(s), MeshRun.LR.lr(s), MeshRun.MAX_NORM);
            ck.saveSync(t, MeshRun.state(2));
            StringBuilder losses = new StringBuilder();
            for (long s = 2; s < 4; s++) {
                losses.append(t.step(MeshRun.batch(s), MeshRun.LR.lr(s), MeshRun.MAX_NORM)
                                .loss())
                        .append('\n');
            }
            if (rank == 0) Files.writeString(dir.resolve("losses.txt"), losses);
            if (rank == 1) {
                ck.beforeWrite(() -> {
                    try {
                        Files.writeString(dir.resolve("held.txt"), "held");
                        Thread.sleep(Long.MAX_VALUE);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                ck.save(t, MeshRun.state(4));
                Thread.sleep(Long.MAX_VALUE); // killed here
            }
            ck.save(t, MeshRun.state(4));
            try {
                ck.close();
            } catch (CheckpointException e) {
                Files.writeString(dir.resolve("rank0-error.txt"), e.getMessage());
                System.exit(3);
            }
            System.exit(0);
        }
    }
}
