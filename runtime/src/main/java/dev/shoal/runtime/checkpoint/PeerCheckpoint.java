// Loading from the in-memory peer copies: the shards that every rank of a mesh snapshotted at the same
// step (PeerShard), held by peers, put together as the checkpoint their durable shards would make,
// and loaded into a rank of any (tp, pp, dp, ZeRO-1) layout with the same fill as CheckpointLoader.
// Guarantees: manifest() refuses a set that is not one checkpoint (a rank missing or twice; ranks of
// different steps, meshes, models or CRC block sizes; a tensor not covered exactly once), naming the
// rank; load() fetches only the shards whose data this rank's targets overlap, each at most once, and
// checks every CRC32C block it copies from, so bytes damaged on the way are refused, naming the rank.
package dev.shoal.runtime.checkpoint;

import dev.shoal.proto.v1.checkpoint.CheckpointManifest;
import dev.shoal.proto.v1.checkpoint.RankIndex;
import dev.shoal.proto.v1.checkpoint.TensorShard;
import dev.shoal.runtime.parallel.ParallelTrainer;
import dev.shoal.runtime.parallel.RankComms;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

public final class PeerCheckpoint {
    private PeerCheckpoint() {}

    /** Gets the shard of rank {@code rank} of the saving mesh from whoever holds it. */
    @FunctionalInterface
    public interface ShardFetcher {
        PeerShard fetch(int rank) throws IOException;
    }

    /**
     * The manifest of the checkpoint that the saving mesh's shards make, checked as a committed one is:
     * one index per rank 0..world-1, all of the same step, mesh, model and block size, every tensor
     * covered exactly once.
     */
    public static CheckpointManifest manifest(List<RankIndex> indexes) throws CheckpointException {
        if (indexes.isEmpty()) throw new CheckpointException("peer copies: no shard index");
        TreeMap<Integer, RankIndex> byRank = new TreeMap<>();
        for (RankIndex ri : indexes) {
            if (byRank.put(ri.getRank(), ri) != null) {
                throw new CheckpointException("peer copies: two shards of rank " + ri.getRank());
            }
        }
        RankIndex first = byRank.firstEntry().getValue();
        int world = first.getMesh().getTp()
                * first.getMesh().getPp()
                * first.getMesh().getDp();
        String step = "step " + first.getState().getStep() + " of mesh epoch "
                + first.getMesh().getEpoch();
        for (int r = 0; r < world; r++) {
            RankIndex ri = byRank.get(r);
            if (ri == null) {
                throw new CheckpointException("peer copies of " + step + ": no shard of rank " + r + " (have ranks "
                        + byRank.keySet() + " of " + world + ")");
            }
            if (ri.getState().getStep() != first.getState().getStep()
                    || !ri.getMesh().equals(first.getMesh())
                    || !ri.getModel().equals(first.getModel())
                    || ri.getBlockBytes() != first.getBlockBytes()) {
                throw new CheckpointException("peer copies of " + step + ": rank " + r + " saved step "
                        + ri.getState().getStep() + " of mesh epoch "
                        + ri.getMesh().getEpoch()
                        + " (or another model or block size); not one checkpoint");
            }
        }
        if (byRank.size() != world) {
            throw new CheckpointException(
                    "peer copies of " + step + ": ranks " + byRank.keySet() + " for a mesh of " + world);
        }
        CheckpointManifest.Builder m = CheckpointManifest.newBuilder()
                .setFormatVersion(CheckpointDir.FORMAT_VERSION)
                .setState(first.getState())
                .setMesh(first.getMesh())
                .setModel(first.getModel())
                .setBlockBytes(first.getBlockBytes());
        Map<String, Long> covered = new HashMap<>();
        for (RankIndex ri : byRank.values()) {
            m.addFiles(ri.getFile());
            for (TensorShard t : ri.getTensorsList()) {
                if (!t.getFile().equals(ri.getFile().getName())) {
                    throw new CheckpointException("peer copies of " + step + ": rank " + ri.getRank() + "'s '"
                            + t.getName() + "' lies in " + t.getFile() + ", not its own shard");
                }
                Region r = Region.of(t);
                if (t.getByteOffset() < 0
                        || t.getByteOffset() + r.bytes() > ri.getFile().getBytes()) {
                    throw new CheckpointException("peer copies of " + step + ": rank " + ri.getRank() + "'s '"
                            + t.getName() + "' lies outside its " + ri.getFile().getBytes() + "-byte shard");
                }
                if (t.getBlockCrc32CCount() != CheckpointDir.blocks(r.bytes(), first.getBlockBytes())) {
                    throw new CheckpointException("peer copies of " + step + ": rank " + ri.getRank() + "'s '"
                            + t.getName() + "' has " + t.getBlockCrc32CCount() + " block CRCs");
                }
                covered.merge(t.getName() + "/" + t.getKind(), r.elems(), Long::sum);
                m.addTensors(t);
            }
        }
        for (TensorShard t : m.getTensorsList()) {
            Region r = Region.of(t);
            long want = r.rows() * r.cols(), got = covered.get(t.getName() + "/" + t.getKind());
            if (got != want) {
                throw new CheckpointException("peer copies of " + step + ": the shards of '" + t.getName() + "' ("
                        + t.getKind() + ") hold " + got + " of its " + want + " elements");
            }
        }
        return m.build();
    }

    /**
     * Fills this rank's parameters and AdamW state from the peer copies that {@code m} describes,
     * fetching the shards it needs through {@code fetcher}; any layout, as CheckpointLoader.load.
     */
    public static CheckpointLoader.Restored load(
            CheckpointManifest m, ShardFetcher fetcher, ParallelTrainer trainer, RankComms comms) throws IOException {
        String where = "peer copies of step " + m.getState().getStep() + " of mesh epoch "
                + m.getMesh().getEpoch();
        try (MemorySource src = new MemorySource(m, fetcher, where)) {
            return CheckpointLoader.fill(m, src, where, trainer, comms);
        }
    }

    /** Shards fetched on first use, CRC blocks checked once each before use. */
    private static final class MemorySource implements ShardSource {
        private final Map<String, Integer> rankOfFile = new HashMap<>();
        private final Map<String, PeerShard> fetched = new HashMap<>();
        private final Map<String, BitSet> verified = new HashMap<>();
        private final ShardFetcher fetcher;
        private final long blockBytes;
        private final String where;
        private final long step, epoch;
        private long bytesCopied, bytesVerified;

        MemorySource(CheckpointManifest m, ShardFetcher fetcher, String where) {
            for (var f : m.getFilesList()) rankOfFile.put(f.getName(), f.getRank());
            this.fetcher = fetcher;
            this.blockBytes = m.getBlockBytes();
            this.where = where;
            this.step = m.getState().getStep();
            this.epoch = m.getMesh().getEpoch();
        }

        private PeerShard shard(String file) throws IOException {
            PeerShard s = fetched.get(file);
            if (s != null) return s;
            int rank = rankOfFile.get(file);
            s = fetcher.fetch(rank);
            if (s == null) throw new CheckpointException(where + ": nobody holds the shard of rank " + rank);
            fetched.put(file, s);
            if (s.rank() != rank || s.step() != step || s.meshEpoch() != epoch) {
                throw new CheckpointException(where + ": asked for rank " + rank + ", got " + s);
            }
            return s;
        }

        @Override
        public void copy(TensorShard t, long srcElem, long dstAddress, long elems) throws IOException {
            PeerShard s = shard(t.getFile());
            long off = srcElem * Float.BYTES, len = elems * Float.BYTES;
            verify(s, t, off, len);
            RawMemory.copy(dstAddress, s.address() + t.getByteOffset() + off, len);
            bytesCopied += len;
        }

        private void verify(PeerShard s, TensorShard t, long off, long len) throws IOException {
            if (len <= 0) return;
            long total = Region.of(t).bytes();
            BitSet done = verified.computeIfAbsent(t.getFile() + "@" + t.getByteOffset(), k -> new BitSet());
            for (long k = off / blockBytes; k <= (off + len - 1) / blockBytes; k++) {
                if (done.get((int) k)) continue;
                long bs = k * blockBytes, be = Math.min(total, bs + blockBytes);
                ByteBuffer b = s.slice(t.getByteOffset() + bs, (int) (be - bs));
                if (CheckpointDir.crc(b, (int) (be - bs)) != t.getBlockCrc32C((int) k)) {
                    throw new CheckpointException(where + ": rank " + s.rank() + "'s copy of '" + t.getName() + "' ("
                            + t.getKind() + ") block " + k + ": CRC32C mismatch (damaged in memory or on the way)");
                }
                done.set((int) k);
                bytesVerified += be - bs;
            }
        }

        @Override
        public long bytesCopied() {
            return bytesCopied;
        }

        @Override
        public long bytesVerified() {
            return bytesVerified;
        }

        @Override
        public void close() {
            for (PeerShard s : fetched.values()) s.release();
            fetched.clear();
        }
    }
}
