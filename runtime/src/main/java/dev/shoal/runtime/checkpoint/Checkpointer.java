// One rank's checkpoint saver: save() copies the rank's share of the training state (RankState) into
// an off-heap host snapshot (the copy split over WRITE_THREADS threads) and returns; a background
// thread writes it to its shard file in the step's temp folder (ShardWriter: the snapshot, aligned and
// laid out like the file, goes out with O_DIRECT where the file system allows it, else buffered; CRC32C
// per block on the way), fsyncs it once and publishes the rank's index; rank 0 then waits for every rank's index,
// writes the manifest, fsyncs, renames the temp folder to step-NNNNNN/, fsyncs the root, tells the
// commit listener the checkpoint is durable, and applies retention.
// The ranks agree through the file system alone (a shared checkpoint root), so the background threads
// never touch the training communicators and training continues during the write.
// Guarantees: a step folder appears only complete (design invariant 4); the listener hears of a
// checkpoint only after it is durable; the next save (and close) waits for the previous one and
// rethrows its failure; a rank that fails publishes the error so rank 0 abandons the commit at once
// instead of waiting for its timeout; the bytes written do not depend on sync or async use nor on the
// number of write threads; abort() (a lost mesh) stops a save in flight before its commit, and the
// snapshot is never freed while a helper thread still reads it.
package dev.shoal.runtime.checkpoint;

import dev.shoal.proto.v1.checkpoint.CheckpointManifest;
import dev.shoal.proto.v1.checkpoint.Mesh;
import dev.shoal.proto.v1.checkpoint.ModelShape;
import dev.shoal.proto.v1.checkpoint.RankIndex;
import dev.shoal.proto.v1.checkpoint.ShardFile;
import dev.shoal.proto.v1.checkpoint.TensorShard;
import dev.shoal.proto.v1.checkpoint.TrainState;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.parallel.DataParallelOptimizer;
import dev.shoal.runtime.parallel.ParallelTrainer;
import dev.shoal.runtime.parallel.RankComms;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.bytedeco.javacpp.BytePointer;

public final class Checkpointer implements AutoCloseable {
    /** A checkpoint that is durable: every shard and the manifest written, fsynced and renamed. */
    /** A durable checkpoint; saveSeconds runs from the host snapshot to the durable rename (rank 0). */
    public record Committed(long step, Path dir, long bytes, long meshEpoch, double saveSeconds) {}

    /** Told, on rank 0's writer thread, once a checkpoint is durable (e.g. to persist CheckpointCommitted). */
    @FunctionalInterface
    public interface CommitListener {
        void durable(Committed c);
    }

    /**
     * @param retention which committed checkpoints rank 0 keeps after each commit
     * @param blockBytes CRC32C block size (a multiple of 4)
     * @param commitTimeout how long rank 0 waits for the other ranks' shards
     * @param listener hears of each durable checkpoint (rank 0 only)
     */
    public record Options(Retention retention, long blockBytes, Duration commitTimeout, CommitListener listener) {
        public Options {
            if (blockBytes < 4 || blockBytes % 4 != 0 || blockBytes > ShardReader.WINDOW_BYTES) {
                throw new IllegalArgumentException("checkpoint CRC block must be a multiple of 4 bytes in [4, "
                        + ShardReader.WINDOW_BYTES + "], got " + blockBytes);
            }
            if (commitTimeout.isNegative() || commitTimeout.isZero()) {
                throw new IllegalArgumentException("commit timeout must be positive, got " + commitTimeout);
            }
            if (retention == null) retention = Retention.ALL;
            if (listener == null) listener = c -> {};
        }

        /** Keep everything, 1 MiB CRC blocks, 10 minutes for the other ranks, no listener. */
        public static Options defaults() {
            return new Options(Retention.ALL, 1 << 20, Duration.ofMinutes(10), null);
        }

        public Options withRetention(Retention r) {
            return new Options(r, blockBytes, commitTimeout, listener);
        }

        public Options withBlockBytes(long b) {
            return new Options(retention, b, commitTimeout, listener);
        }

        public Options withListener(CommitListener l) {
            return new Options(retention, blockBytes, commitTimeout, l);
        }
    }

    private static final System.Logger LOG = System.getLogger(Checkpointer.class.getName());

    private final Path root;
    private final RankComms comms;
    private final Options opts;
    private final int world;
    private final ExecutorService writer;
    private BytePointer snapshot; // host copy of this rank's pieces, from snapBase (aligned for O_DIRECT)
    private long snapBase;
    private Future<Path> pending;
    private long pendingStep = -1;
    private long lastStallNanos;
    private volatile Runnable beforeWrite = () -> {}; // tests: hold the writer back
    private volatile long shardWriteDelayNanos; // tests: a slow disk, between creating and filling the shard
    private volatile boolean aborted;

    public Checkpointer(Path root, RankComms comms, Options opts) {
        this.root = root;
        this.comms = comms;
        this.opts = opts;
        this.world = comms.tp().size() * comms.pp().size() * comms.dp().size();
        this.writer = Executors.newSingleThreadExecutor(r -> {
            Thread th = new Thread(r, "checkpoint-writer-rank-" + comms.globalRank());
            th.setDaemon(true);
            return th;
        });
    }

    /**
     * Starts saving the trainer's state as checkpoint state.step(): waits for the previous save (and
     * rethrows its failure), copies this rank's share to host memory, and returns while a background
     * thread writes it. Every rank of the mesh must call this for the same step.
     */
    public void save(ParallelTrainer trainer, TrainingState state) throws IOException {
        long t0 = System.nanoTime();
        awaitBeforeSave();
        start(
                RankState.toSave(trainer, comms),
                trainer.optimizer().adamw().stepCount(),
                trainer.optimizer().mode() == DataParallelOptimizer.Mode.ZERO1,
                trainer.stages().layerStarts(),
                trainer.model().config(),
                state,
                t0);
    }

    /**
     * save() for a flat rank (tp 1 × pp 1, replicated DP: a GPU rank), whose host buffers hold the elements
     * FlatRank.saveRange gives this rank's DP coordinate. The buffers may be reused once this returns.
     */
    public void save(FlatRank rank, TrainingState state) throws IOException {
        save(rank, false, state);
    }

    /** save(FlatRank, state), recording in the manifest whether the ranks shard AdamW's state (ZeRO-1). */
    public void save(FlatRank rank, boolean zero1, TrainingState state) throws IOException {
        if (comms.tp().size() != 1 || comms.pp().size() != 1) {
            throw new IllegalArgumentException("a flat rank is tp 1 × pp 1, this mesh is tp "
                    + comms.tp().size() + " × pp " + comms.pp().size());
        }
        long[] range = FlatRank.saveRange(
                rank.config().paramCount(), comms.dp().size(), comms.dp().rank());
        if (rank.firstElem() != range[0] || rank.params().numel() != range[1] - range[0]) {
            throw new IllegalArgumentException(
                    "DP rank " + comms.dp().rank() + " of " + comms.dp().size()
                            + " saves elements [" + range[0] + ", " + range[1] + "), the flat rank holds ["
                            + rank.firstElem() + ", "
                            + (rank.firstElem() + rank.params().numel()) + ")");
        }
        long t0 = System.nanoTime();
        awaitBeforeSave();
        start(
                RankState.flat(rank),
                rank.adamwSteps(),
                zero1,
                new int[] {0, rank.config().layers()},
                rank.config(),
                state,
                t0);
    }

    private void awaitBeforeSave() throws IOException {
        if (aborted) throw new IOException("checkpointer of rank " + comms.globalRank() + " was aborted");
        await();
    }

    /** Snapshots the pieces and hands the write and the commit to the writer thread. */
    private void start(
            List<RankState.Piece> pieces,
            long adamwSteps,
            boolean zero1,
            int[] layerStarts,
            LlamaConfig config,
            TrainingState state,
            long t0) {
        long begun = System.nanoTime(); // the save proper: snapshot, write, commit
        // 1. This rank's pieces, copied into the host snapshot back to back.
        long total = 0;
        for (RankState.Piece p : pieces) total += p.region().bytes();
        if (snapshot == null || snapshot.capacity() < total + MAX_ALIGN) {
            if (snapshot != null) snapshot.close();
            snapshot = new BytePointer(Math.max(1, total) + MAX_ALIGN);
            snapBase = (snapshot.address() + MAX_ALIGN - 1) & -MAX_ALIGN;
        }
        List<TensorShard.Builder> shards = new ArrayList<>();
        String file = CheckpointDir.shardFile(comms.globalRank());
        long off = 0;
        copyToSnapshot(pieces, total);
        for (RankState.Piece p : pieces) {
            shards.add(RankState.describe(p, file, off));
            off += p.region().bytes();
        }
        // 2. What the manifest says besides tensors.
        TrainState ts = state.toProto(adamwSteps);
        Mesh.Builder mesh = Mesh.newBuilder()
                .setTp(comms.tp().size())
                .setPp(comms.pp().size())
                .setDp(comms.dp().size())
                .setZero1(zero1)
                .setEpoch(comms.tp().epoch());
        for (int s : layerStarts) mesh.addLayerStarts(s);
        ModelShape model = CheckpointDir.shapeOf(config);
        long step = state.step(), bytes = total;
        Mesh m = mesh.build();
        pendingStep = step;
        pending = writer.submit(() -> write(step, ts, m, model, shards, bytes, begun));
        lastStallNanos = System.nanoTime() - t0;
    }

    /**
     * Copies the pieces back to back into the snapshot, the byte range cut into WRITE_THREADS equal
     * parts copied at once (the copy is memory-bound; this is the whole stall of an async save).
     */
    private void copyToSnapshot(List<RankState.Piece> pieces, long total) {
        long[] start = new long[pieces.size()];
        long off = 0;
        for (int i = 0; i < start.length; i++) {
            start[i] = off;
            off += pieces.get(i).region().bytes();
        }
        int k = (int) Math.max(1, Math.min(WRITE_THREADS, total >> 22)); // at least 4 MiB a part
        long dst = snapBase;
        Runnable[] parts = new Runnable[k];
        for (int t = 0; t < k; t++) {
            long c0 = total * t / k, c1 = total * (t + 1) / k;
            parts[t] = () -> {
                for (int i = 0; i < start.length; i++) {
                    long p0 = start[i], p1 = p0 + pieces.get(i).region().bytes();
                    long a = Math.max(p0, c0), b = Math.min(p1, c1);
                    if (a < b) RawMemory.copy(dst + a, pieces.get(i).data().address() + (a - p0), b - a);
                }
            };
        }
        // The copy must finish before the snapshot is used: an interrupt is kept for the caller, not obeyed.
        if (ShardWriter.runAll(parts)) Thread.currentThread().interrupt();
    }

    /** save() and await(): returns the step folder (committed, on rank 0; about to be, elsewhere). */
    public Path saveSync(ParallelTrainer trainer, TrainingState state) throws IOException {
        save(trainer, state);
        return await();
    }

    /** Waits for the save in flight, if any; rethrows its failure. Returns its step folder, or null. */
    public Path await() throws IOException {
        Future<Path> f = pending;
        if (f == null) return null;
        try {
            Path done = f.get();
            pending = null;
            return done;
        } catch (InterruptedException e) {
            // Still in flight: keep it pending, so the snapshot is not reused under the writer.
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for the save of step " + pendingStep, e);
        } catch (java.util.concurrent.CancellationException e) {
            pending = null;
            throw new IOException("the save of step " + pendingStep + " was abandoned (checkpointer aborted)");
        } catch (ExecutionException e) {
            pending = null;
            Throwable c = e.getCause();
            if (c instanceof IOException io) {
                throw new CheckpointException(
                        "saving checkpoint step " + pendingStep + " failed: " + io.getMessage(), io);
            }
            throw new IOException("saving checkpoint step " + pendingStep + " failed: " + c, c);
        }
    }

    /** Tests: runs on the writer thread before each write starts (e.g. to hold it until training moved on). */
    void beforeWrite(Runnable hook) {
        beforeWrite = hook;
    }

    /**
     * Test knob (a slow disk): after the shard file is created, the writer waits this long before
     * writing its data, so a test can kill a rank while its shard is being written.
     */
    public void delayShardWrites(Duration d) {
        shardWriteDelayNanos = d.toNanos();
    }

    /**
     * Abandons the save in flight, if any (the mesh is lost): the writer thread is interrupted, so rank 0
     * stops waiting for ranks that will never publish their index. A step abandoned before its rename is
     * never committed; its temp folder is left behind and is never loaded. No save may follow.
     */
    public void abort() {
        aborted = true;
        for (Runnable queued : writer.shutdownNow()) { // not started yet: it never will
            if (queued instanceof Future<?> f) f.cancel(false);
        }
    }

    /** Nanoseconds the last save() call held the caller (waiting for the previous save, and the snapshot copy). */
    public long lastStallNanos() {
        return lastStallNanos;
    }

    /** Waits for the save in flight, then frees the snapshot; rethrows the save's failure. */
    @Override
    public void close() throws IOException {
        try {
            await();
        } finally {
            writer.shutdown();
            if (snapshot != null && pending == null) { // never free it under a writer still running
                snapshot.close();
                snapshot = null;
            }
        }
    }

    // ---------------------------------------------------------------- background: write and commit

    private Path write(
            long step,
            TrainState ts,
            Mesh mesh,
            ModelShape model,
            List<TensorShard.Builder> shards,
            long bytes,
            long begunNanos)
            throws IOException {
        int rank = comms.globalRank();
        Path tmp = CheckpointDir.tmpDir(root, step, "e" + mesh.getEpoch());
        RankIndex.Builder idx = RankIndex.newBuilder()
                .setRank(rank)
                .setState(ts)
                .setMesh(mesh)
                .setModel(model)
                .setBlockBytes(opts.blockBytes());
        try {
            beforeWrite.run();
            Files.createDirectories(tmp);
            String name = CheckpointDir.shardFile(rank);
            try (FileChannel ch = FileChannel.open(
                    tmp.resolve(name),
                    StandardOpenOption.CREATE,
                    StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.WRITE)) {
                if (shardWriteDelayNanos > 0) {
                    try {
                        Thread.sleep(shardWriteDelayNanos / 1_000_000, (int) (shardWriteDelayNanos % 1_000_000));
                    } catch (InterruptedException e) {
                        throw new IOException("interrupted while writing " + name + " of step " + step, e);
                    }
                }
                // The pieces lie back to back in the snapshot, at the same offsets as in the file.
                int[] crcs;
                ShardWriter w = new ShardWriter(snapBase, crcBlocks(shards), () -> aborted, name);
                long align = ShardWriter.directAlignment(tmp);
                try (FileChannel direct = align > 0 ? ShardWriter.openDirect(tmp.resolve(name)) : null) {
                    crcs = direct == null ? w.writeBlocks(ch) : w.writeDirect(direct, ch, bytes, align);
                }
                int i = 0;
                for (TensorShard.Builder s : shards) {
                    long len = (s.getFlatEnd() - s.getFlatStart()) * Float.BYTES;
                    for (long bs = 0; bs < len; bs += opts.blockBytes()) s.addBlockCrc32C(crcs[i++]);
                    idx.addTensors(s);
                }
                if (ch.size() != bytes) {
                    throw new IllegalStateException(name + ": wrote " + ch.size() + " bytes, expected " + bytes);
                }
                ch.force(true);
            }
            idx.setFile(ShardFile.newBuilder().setName(name).setRank(rank).setBytes(bytes));
            CheckpointDir.writeFramed(tmp.resolve(CheckpointDir.indexFile(rank)), idx.build());
        } catch (IOException | RuntimeException e) {
            try { // tell rank 0 not to wait for us
                Files.createDirectories(tmp);
                CheckpointDir.writeFramed(
                        tmp.resolve(CheckpointDir.indexFile(rank)),
                        RankIndex.newBuilder()
                                .setRank(rank)
                                .setError(String.valueOf(e.getMessage()))
                                .build());
            } catch (IOException | RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        Path done = rank == 0 ? commit(step, tmp, idx.build(), begunNanos) : CheckpointDir.stepDir(root, step);
        writtenNanos.set(System.nanoTime() - begunNanos); // this rank's part is durable (rank 0: committed)
        return done;
    }

    private final java.util.concurrent.atomic.AtomicLong writtenNanos = new java.util.concurrent.atomic.AtomicLong(-1);

    /**
     * Seconds this rank's last finished save took, from the host snapshot until its shard was durable
     * (on rank 0: until the commit), or -1 when no save finished since the last call; then forgets it.
     */
    public double takeWrittenSeconds() {
        long n = writtenNanos.getAndSet(-1);
        return n < 0 ? -1 : n / 1e9;
    }

    /** Threads of the snapshot copy and the shard write (ShardWriter.WRITE_THREADS). */
    static final int WRITE_THREADS = ShardWriter.WRITE_THREADS;

    /** The snapshot's alignment (for O_DIRECT). */
    static final long MAX_ALIGN = ShardWriter.MAX_ALIGN;

    /** -Dshoal.checkpoint.direct-io=false: buffered writes (read at every save). */
    static final String DIRECT_IO = ShardWriter.DIRECT_IO;

    /** Whether the last shard this JVM wrote went out with O_DIRECT (benchmarks say which path ran). */
    public static boolean lastWriteWasDirect() {
        return ShardWriter.lastWriteDirect;
    }

    /** The CRC blocks of the shards as {file offset, length}, in file order (ascending offsets). */
    private List<long[]> crcBlocks(List<TensorShard.Builder> shards) {
        List<long[]> blocks = new ArrayList<>();
        for (TensorShard.Builder s : shards) {
            long len = (s.getFlatEnd() - s.getFlatStart()) * Float.BYTES;
            for (long bs = 0; bs < len; bs += opts.blockBytes()) {
                blocks.add(new long[] {s.getByteOffset() + bs, Math.min(opts.blockBytes(), len - bs)});
            }
        }
        return blocks;
    }

    /** Rank 0: every rank's index → the manifest → rename → fsync → listener → retention. */
    private Path commit(long step, Path tmp, RankIndex mine, long begunNanos) throws IOException {
        // 1. Wait for every rank's index (each appears whole, by rename).
        long deadline = System.nanoTime() + opts.commitTimeout().toNanos();
        List<RankIndex> all = new ArrayList<>();
        for (int r = 0; r < world; r++) {
            Path f = tmp.resolve(CheckpointDir.indexFile(r));
            while (!Files.exists(f)) {
                if (System.nanoTime() > deadline) {
                    throw new CheckpointException(tmp + ": rank " + r + " did not finish its shard within "
                            + opts.commitTimeout() + "; step " + step + " not committed");
                }
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while committing step " + step, e);
                }
            }
            RankIndex ri = CheckpointDir.readFramed(f, RankIndex.parser());
            if (!ri.getError().isEmpty()) {
                throw new CheckpointException(f + ": rank " + r + " failed to write its shard (" + ri.getError()
                        + "); step " + step + " not committed");
            }
            if (ri.getState().getStep() != step
                    || !ri.getMesh().equals(mine.getMesh())
                    || !ri.getModel().equals(mine.getModel())
                    || ri.getBlockBytes() != mine.getBlockBytes()) {
                throw new CheckpointException(
                        f + ": rank " + r + " saved step " + ri.getState().getStep() + " on mesh "
                                + ri.getMesh().toString().replace('\n', ' ') + ", rank 0 step " + step + " on mesh "
                                + mine.getMesh().toString().replace('\n', ' ') + "; not committed");
            }
            all.add(ri);
        }
        // 2. The manifest, checked like a reader would before it becomes visible.
        CheckpointManifest.Builder m = CheckpointManifest.newBuilder()
                .setFormatVersion(CheckpointDir.FORMAT_VERSION)
                .setState(mine.getState())
                .setMesh(mine.getMesh())
                .setModel(mine.getModel())
                .setBlockBytes(mine.getBlockBytes());
        long bytes = 0;
        for (RankIndex ri : all) {
            m.addFiles(ri.getFile());
            m.addAllTensors(ri.getTensorsList());
            bytes += ri.getFile().getBytes();
        }
        CheckpointDir.writeFramed(tmp.resolve(CheckpointDir.MANIFEST), m.build());
        CheckpointDir.verify(tmp, false);
        for (int r = 0; r < world; r++) Files.delete(tmp.resolve(CheckpointDir.indexFile(r)));
        CheckpointDir.fsyncDir(tmp);
        // 3. Rename into place and make the rename durable.
        Path fin = CheckpointDir.stepDir(root, step);
        if (Files.exists(fin)) {
            LOG.log(System.Logger.Level.INFO, fin + " is already committed; keeping it and dropping " + tmp);
            CheckpointDir.deleteTree(tmp);
        } else {
            Files.move(tmp, fin, StandardCopyOption.ATOMIC_MOVE);
        }
        CheckpointDir.fsyncDir(root);
        opts.listener()
                .durable(new Committed(
                        step, fin, bytes, mine.getMesh().getEpoch(), (System.nanoTime() - begunNanos) / 1e9));
        // 4. Retention.
        List<Path> gone = CheckpointDir.prune(root, opts.retention(), step);
        if (!gone.isEmpty()) {
            LOG.log(System.Logger.Level.INFO, "checkpoint retention removed " + Arrays.toString(gone.toArray()));
        }
        return fin;
    }
}
