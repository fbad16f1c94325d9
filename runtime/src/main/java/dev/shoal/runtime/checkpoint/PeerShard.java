// One rank's checkpoint shard held in host memory, for the in-memory peer copies (docs/checkpoints.md,
// "In-memory peer copies"): the same RankIndex (tensor shards with their global names, shapes,
// regions and CRC32C blocks; the training state with the data cursor, RNG and LR schedule; the mesh
// and model) and the same bytes as the durable shard file rank-NNNNN.shard that Checkpointer writes
// for the same step, but in an off-heap buffer.
// Guarantees: copy() copies the rank's share (RankState.toSave) at the step boundary (the only part
// that holds training), so training may go on at once; seal() then takes the CRCs over the copied
// bytes, off the training thread; a shard made from received bytes is
// checked to be as long as its index says; the buffer is freed when the last holder releases it
// (reference counted, so a shard being sent is never freed under the sender).
package dev.shoal.runtime.checkpoint;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.shoal.proto.v1.checkpoint.Mesh;
import dev.shoal.proto.v1.checkpoint.RankIndex;
import dev.shoal.proto.v1.checkpoint.ShardFile;
import dev.shoal.proto.v1.checkpoint.TensorShard;
import dev.shoal.runtime.parallel.DataParallelOptimizer;
import dev.shoal.runtime.parallel.ParallelTrainer;
import dev.shoal.runtime.parallel.RankComms;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.bytedeco.javacpp.BytePointer;

public final class PeerShard {
    private final RankIndex index;
    private final BytePointer data; // [bytes] the shard file's bytes
    private final AtomicInteger refs = new AtomicInteger(1);

    private PeerShard(RankIndex index, BytePointer data) {
        this.index = index;
        this.data = data;
    }

    /** copy() then seal(), on the calling thread. */
    public static PeerShard snapshot(ParallelTrainer trainer, RankComms comms, TrainingState state, long blockBytes) {
        return copy(trainer, comms, state, blockBytes).seal();
    }

    /** A copied shard whose CRCs are not taken yet: seal() it (any thread) or discard() it. */
    public static final class Unsealed {
        private final RankIndex.Builder index;
        private final BytePointer data;
        private final long blockBytes;
        private boolean done;

        private Unsealed(RankIndex.Builder index, BytePointer data, long blockBytes) {
            this.index = index;
            this.data = data;
            this.blockBytes = blockBytes;
        }

        /** Takes one CRC32C per block of every tensor shard over the copy; the shard is complete. */
        public PeerShard seal() {
            if (done) throw new IllegalStateException("peer shard already sealed or discarded");
            done = true;
            for (TensorShard.Builder b : index.getTensorsBuilderList()) {
                long bytes = Region.of(b.build()).bytes(), off = b.getByteOffset();
                for (long bs = 0; bs < bytes; bs += blockBytes) {
                    int n = (int) Math.min(blockBytes, bytes - bs);
                    b.addBlockCrc32C(CheckpointDir.crc(RawMemory.buffer(data.address() + off + bs, n), n));
                }
            }
            return new PeerShard(index.build(), data);
        }

        /** Frees the copy without sealing it. */
        public void discard() {
            if (done) return;
            done = true;
            data.close();
        }
    }

    /**
     * Copies this rank's share of the trainer's state (what its durable shard holds) into a new host
     * buffer and describes it as the durable shard's index does, CRCs left to seal().
     */
    public static Unsealed copy(ParallelTrainer trainer, RankComms comms, TrainingState state, long blockBytes) {
        if (blockBytes < 4 || blockBytes % 4 != 0 || blockBytes > ShardReader.WINDOW_BYTES) {
            throw new IllegalArgumentException("CRC block must be a multiple of 4 bytes in [4, "
                    + ShardReader.WINDOW_BYTES + "], got " + blockBytes);
        }
        List<RankState.Piece> pieces = RankState.toSave(trainer, comms);
        long total = 0;
        for (RankState.Piece p : pieces) total += p.region().bytes();
        BytePointer buf = new BytePointer(Math.max(1, total));
        int rank = comms.globalRank();
        String file = CheckpointDir.shardFile(rank);
        RankIndex.Builder idx = RankIndex.newBuilder()
                .setRank(rank)
                .setState(state.toProto(trainer.optimizer().adamw().stepCount()))
                .setModel(CheckpointDir.shapeOf(trainer.model().config()))
                .setBlockBytes(blockBytes)
                .setFile(ShardFile.newBuilder().setName(file).setRank(rank).setBytes(total));
        Mesh.Builder mesh = Mesh.newBuilder()
                .setTp(comms.tp().size())
                .setPp(comms.pp().size())
                .setDp(comms.dp().size())
                .setZero1(trainer.optimizer().mode() == DataParallelOptimizer.Mode.ZERO1)
                .setEpoch(comms.tp().epoch());
        for (int s : trainer.stages().layerStarts()) mesh.addLayerStarts(s);
        idx.setMesh(mesh);
        long off = 0;
        for (RankState.Piece p : pieces) {
            Region r = p.region();
            // 1. The piece's bytes, at the offset the shard file would hold them.
            RawMemory.copy(buf.address() + off, p.data().address(), r.bytes());
            // 2. Its description (the CRCs come in seal()).
            idx.addTensors(RankState.describe(p, file, off));
            off += r.bytes();
        }
        return new Unsealed(idx, buf, blockBytes);
    }

    /**
     * A shard received from a peer: its serialized index and its {@code received} bytes in data (taken
     * over: freed with the shard, or at once when they do not match the index).
     */
    public static PeerShard of(byte[] indexBytes, BytePointer data, long received) throws CheckpointException {
        RankIndex idx;
        try {
            idx = RankIndex.parseFrom(indexBytes);
        } catch (InvalidProtocolBufferException e) {
            data.close();
            throw new CheckpointException("peer shard: unreadable index (" + e.getMessage() + ")");
        }
        if (received != idx.getFile().getBytes() || data.capacity() < received) {
            data.close();
            throw new CheckpointException("peer shard of rank " + idx.getRank() + ": " + received
                    + " bytes received, its index says "
                    + idx.getFile().getBytes());
        }
        return new PeerShard(idx, data);
    }

    public RankIndex index() {
        return index;
    }

    /** The step whose state this is (= the data cursor). */
    public long step() {
        return index.getState().getStep();
    }

    /** The global rank that saved it, in the mesh of {@link #meshEpoch()}. */
    public int rank() {
        return index.getRank();
    }

    public long meshEpoch() {
        return index.getMesh().getEpoch();
    }

    public long bytes() {
        return index.getFile().getBytes();
    }

    /** Native address of the shard's first byte. */
    long address() {
        return data.address();
    }

    /** A view of bytes [offset, offset + len) (len < 2^31). */
    public ByteBuffer slice(long offset, int len) {
        if (offset < 0 || len < 0 || offset + len > bytes()) {
            throw new IndexOutOfBoundsException(
                    "bytes [" + offset + ", " + (offset + len) + ") of a " + bytes() + "-byte shard");
        }
        return RawMemory.buffer(data.address() + offset, len);
    }

    /** One more holder (a store, a sender); each must call release() once. */
    public PeerShard retain() {
        int n = refs.getAndIncrement();
        if (n <= 0) {
            refs.getAndDecrement();
            throw new IllegalStateException("peer shard of rank " + rank() + " step " + step() + " was already freed");
        }
        return this;
    }

    /** Drops one holder; the last one frees the buffer. */
    public void release() {
        int n = refs.decrementAndGet();
        if (n == 0) data.close();
        if (n < 0) throw new IllegalStateException("peer shard of rank " + rank() + " released once too often");
    }

    @Override
    public String toString() {
        return "PeerShard[rank " + rank() + " of mesh epoch " + meshEpoch() + ", step " + step() + ", " + bytes()
                + " bytes]";
    }
}
