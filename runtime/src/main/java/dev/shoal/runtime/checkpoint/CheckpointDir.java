// A checkpoint root folder: naming (step-NNNNNN/, its .tmp-<id> and .deleting siblings, rank-NNNNN.shard),
// the framed protobuf files (manifest.pb, rank-NNNNN.idx), verification, latest() and retention.
// Framing: 8 bytes "SHOALCK1", 8 bytes little-endian payload length, 4 bytes CRC32C of the payload,
// then the protobuf payload; a torn or flipped manifest fails the CRC, never parses as something else.
// Guarantees: latest() returns only a committed folder (renamed from its temp name, manifest present
// and intact, every shard file present with its recorded size, and, when asked, every data block's
// CRC32C right); each folder it passes over gets one log line saying why. Retention never deletes the
// newest committed checkpoint, and deletes by first renaming to a .deleting name, so a half-deleted
// folder never looks committed.
package dev.shoal.runtime.checkpoint;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import dev.shoal.proto.v1.checkpoint.CheckpointManifest;
import dev.shoal.proto.v1.checkpoint.ModelShape;
import dev.shoal.proto.v1.checkpoint.ShardFile;
import dev.shoal.proto.v1.checkpoint.TensorShard;
import dev.shoal.runtime.model.LlamaConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

public final class CheckpointDir {
    private CheckpointDir() {}

    public static final String MANIFEST = "manifest.pb";
    public static final int FORMAT_VERSION = 1;
    static final byte[] MAGIC = "SHOALCK1".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    static final int FRAME_HEADER_BYTES = 20;
    private static final Pattern STEP = Pattern.compile("step-(\\d{6,})");
    private static final Pattern TMP = Pattern.compile("step-(\\d{6,})\\.tmp-(.+)");
    private static final System.Logger LOG = System.getLogger(CheckpointDir.class.getName());

    /** root/step-NNNNNN. */
    public static Path stepDir(Path root, long step) {
        return root.resolve(String.format("step-%06d", step));
    }

    /** root/step-NNNNNN.tmp-id: where the ranks write before the commit. */
    static Path tmpDir(Path root, long step, String id) {
        return root.resolve(stepDir(root, step).getFileName() + ".tmp-" + id);
    }

    static String shardFile(int rank) {
        return String.format("rank-%05d.shard", rank);
    }

    static String indexFile(int rank) {
        return String.format("rank-%05d.idx", rank);
    }

    /** The step a step-NNNNNN folder is named for, or -1. */
    public static long stepOf(Path dir) {
        Matcher m = STEP.matcher(dir.getFileName().toString());
        return m.matches() ? Long.parseLong(m.group(1)) : -1;
    }

    // ---------------------------------------------------------------- framed protobuf files

    /** Writes msg framed into file via a temp sibling: write, fsync, rename. */
    static void writeFramed(Path file, Message msg) throws IOException {
        byte[] payload = msg.toByteArray();
        CRC32C crc = new CRC32C();
        crc.update(payload);
        ByteBuffer b = ByteBuffer.allocate(FRAME_HEADER_BYTES + payload.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC)
                .putLong(payload.length)
                .putInt((int) crc.getValue())
                .put(payload)
                .flip();
        Path part = file.resolveSibling("." + file.getFileName() + ".part");
        try (FileChannel ch = FileChannel.open(
                part, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            while (b.hasRemaining()) ch.write(b);
            ch.force(true);
        }
        Files.move(part, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    static <T> T readFramed(Path file, Parser<T> parser) throws IOException {
        byte[] all;
        try {
            all = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(file + ": missing");
        }
        ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        if (all.length < FRAME_HEADER_BYTES || !java.util.Arrays.equals(all, 0, 8, MAGIC, 0, 8)) {
            throw new CheckpointException(file + ": not a Shoal checkpoint file (bad magic or truncated header)");
        }
        long len = b.position(MAGIC.length).getLong();
        int want = b.getInt();
        if (len != all.length - FRAME_HEADER_BYTES) {
            throw new CheckpointException(file + ": header says " + len + " payload bytes, the file holds "
                    + (all.length - FRAME_HEADER_BYTES) + " (truncated or torn)");
        }
        CRC32C crc = new CRC32C();
        crc.update(all, FRAME_HEADER_BYTES, (int) len);
        if ((int) crc.getValue() != want) {
            throw new CheckpointException(file + ": CRC32C mismatch (corrupt)");
        }
        try {
            return parser.parseFrom(ByteBuffer.wrap(all, FRAME_HEADER_BYTES, (int) len));
        } catch (InvalidProtocolBufferException e) {
            throw new CheckpointException(file + ": not a valid protobuf message: " + e.getMessage(), e);
        }
    }

    /** The manifest of a step folder (framing and CRC checked, nothing else). */
    public static CheckpointManifest readManifest(Path stepDir) throws IOException {
        if (!Files.isDirectory(stepDir)) throw new CheckpointException(stepDir + ": no such checkpoint folder");
        return readFramed(stepDir.resolve(MANIFEST), CheckpointManifest.parser());
    }

    // ---------------------------------------------------------------- verification

    /**
     * Checks a step folder and returns its manifest: manifest intact, format known, every shard file
     * present with its recorded size, every tensor shard inside its file, the shards of each tensor
     * covering it exactly once; with fullCrc also every data block's CRC32C (reads every byte).
     */
    public static CheckpointManifest verify(Path stepDir, boolean fullCrc) throws IOException {
        CheckpointManifest m = readManifest(stepDir);
        Path mf = stepDir.resolve(MANIFEST);
        if (m.getFormatVersion() != FORMAT_VERSION) {
            throw new CheckpointException(
                    mf + ": format version " + m.getFormatVersion() + ", this Shoal reads " + FORMAT_VERSION);
        }
        if (m.getBlockBytes() < 4 || m.getBlockBytes() % 4 != 0) {
            throw new CheckpointException(
                    mf + ": block_bytes " + m.getBlockBytes() + " is not a positive multiple of 4");
        }
        Map<String, Long> sizes = new HashMap<>();
        for (ShardFile f : m.getFilesList()) {
            Path p = stepDir.resolve(f.getName());
            if (!f.getName().matches("rank-\\d{5,}\\.shard")) {
                throw new CheckpointException(mf + ": shard file name '" + f.getName() + "' is not rank-NNNNN.shard");
            }
            if (!Files.isRegularFile(p)) throw new CheckpointException(p + ": missing shard file");
            long size = Files.size(p);
            if (size != f.getBytes()) {
                throw new CheckpointException(
                        p + ": " + size + " bytes, the manifest records " + f.getBytes() + " (truncated or partial)");
            }
            sizes.put(f.getName(), size);
        }
        Map<String, Long> covered = new HashMap<>();
        for (TensorShard t : m.getTensorsList()) {
            Long size = sizes.get(t.getFile());
            String what = "'" + t.getName() + "' (" + t.getKind() + ")";
            if (size == null) throw new CheckpointException(mf + ": " + what + " is in unlisted file " + t.getFile());
            Region r;
            try {
                r = Region.of(t);
            } catch (IllegalArgumentException e) {
                throw new CheckpointException(mf + ": " + what + ": " + e.getMessage());
            }
            if (t.getByteOffset() < 0 || t.getByteOffset() + r.bytes() > size) {
                throw new CheckpointException(stepDir.resolve(t.getFile()) + ": " + what + " bytes ["
                        + t.getByteOffset() + ", " + (t.getByteOffset() + r.bytes()) + ") lie outside the " + size
                        + "-byte file");
            }
            if (t.getBlockCrc32CCount() != blocks(r.bytes(), m.getBlockBytes())) {
                throw new CheckpointException(mf + ": " + what + " has " + t.getBlockCrc32CCount() + " block CRCs, its "
                        + r.bytes() + " bytes need " + blocks(r.bytes(), m.getBlockBytes()));
            }
            covered.merge(t.getName() + "/" + t.getKind(), r.elems(), Long::sum);
        }
        for (TensorShard t : m.getTensorsList()) {
            Region r = Region.of(t);
            long want = r.rows() * r.cols(), got = covered.get(t.getName() + "/" + t.getKind());
            if (got != want) {
                throw new CheckpointException(mf + ": the shards of '" + t.getName() + "' (" + t.getKind() + ") hold "
                        + got + " of its " + want + " elements");
            }
        }
        if (fullCrc) {
            try (ShardReader reader = new ShardReader(stepDir, m.getBlockBytes())) {
                for (TensorShard t : m.getTensorsList()) reader.verifyAll(t);
            }
        }
        return m;
    }

    static long blocks(long bytes, long blockBytes) {
        return (bytes + blockBytes - 1) / blockBytes;
    }

    /** CRC32C of bytes [0, len) of a buffer (position and limit left as they were). */
    static int crc(ByteBuffer b, int len) {
        CRC32C c = new CRC32C();
        ByteBuffer d = b.duplicate();
        d.limit(d.position() + len);
        c.update(d);
        return (int) c.getValue();
    }

    // ---------------------------------------------------------------- latest

    /** The newest committed, fully verified checkpoint under root; passed-over folders are logged. */
    public static Optional<Path> latest(Path root) throws IOException {
        return latest(root, true, msg -> LOG.log(System.Logger.Level.WARNING, msg));
    }

    /**
     * The newest committed checkpoint under root that passes verify(dir, fullCrc). Every folder passed
     * over (uncommitted temp folders, and newer committed ones that fail verification) gets one line in
     * log saying why.
     */
    public static Optional<Path> latest(Path root, boolean fullCrc, Consumer<String> log) throws IOException {
        if (!Files.isDirectory(root)) return Optional.empty();
        List<Path> steps = new ArrayList<>();
        try (Stream<Path> s = Files.list(root)) {
            for (Path p : s.sorted().toList()) {
                String n = p.getFileName().toString();
                if (STEP.matcher(n).matches() && Files.isDirectory(p)) {
                    steps.add(p);
                } else if (TMP.matcher(n).matches()) {
                    log.accept(
                            "checkpoint: ignoring " + p + ": an uncommitted save (never renamed to its step folder)");
                }
            }
        }
        steps.sort(Comparator.comparingLong(CheckpointDir::stepOf).reversed());
        for (Path p : steps) {
            try {
                verify(p, fullCrc);
                return Optional.of(p);
            } catch (CheckpointException e) {
                log.accept("checkpoint: skipping " + p.getFileName() + ": " + e.getMessage());
            }
        }
        return Optional.empty();
    }

    // ---------------------------------------------------------------- retention and cleanup

    /**
     * Applies retention to root's committed folders (those with a manifest) and removes temp folders
     * of steps up to newestCommitted and left-over .deleting folders. Returns the folders deleted.
     */
    static List<Path> prune(Path root, Retention keep, long newestCommitted) throws IOException {
        List<Long> committed = new ArrayList<>();
        List<Path> stale = new ArrayList<>();
        try (Stream<Path> s = Files.list(root)) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                Matcher t = TMP.matcher(n);
                if (STEP.matcher(n).matches() && Files.isRegularFile(p.resolve(MANIFEST))) {
                    committed.add(stepOf(p));
                } else if (t.matches() && Long.parseLong(t.group(1)) <= newestCommitted) {
                    stale.add(p);
                } else if (n.startsWith(".deleting-step-")) {
                    stale.add(p);
                }
            }
        }
        List<Path> deleted = new ArrayList<>();
        long newest = committed.stream().mapToLong(Long::longValue).max().orElse(-1);
        for (long step : keep.toDelete(committed)) {
            if (step == newest) continue; // never, whatever the policy says
            Path dir = stepDir(root, step), gone = root.resolve(".deleting-" + dir.getFileName());
            Files.move(dir, gone, StandardCopyOption.ATOMIC_MOVE);
            deleteTree(gone);
            deleted.add(dir);
        }
        for (Path p : stale) {
            deleteTree(p);
            deleted.add(p);
        }
        if (!deleted.isEmpty()) fsyncDir(root);
        return deleted;
    }

    static void fsyncDir(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    /**
     * Deletes a committed step folder as retention does: renamed to .deleting-step-NNNNNN first (never
     * loaded), then deleted, then the parent fsynced. A folder already gone is not an error (another
     * party may be deleting it too).
     */
    public static void discard(Path stepDir) throws IOException {
        if (!Files.isDirectory(stepDir)) return;
        Path gone = stepDir.resolveSibling(".deleting-" + stepDir.getFileName());
        try {
            Files.move(stepDir, gone, StandardCopyOption.ATOMIC_MOVE);
        } catch (NoSuchFileException e) {
            return;
        }
        deleteTree(gone);
        fsyncDir(stepDir.getParent());
    }

    /** Deletes p and everything under it; tolerates files another deleter removes at the same time. */
    static void deleteTree(Path p) throws IOException {
        for (int attempt = 0; ; attempt++) {
            if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) return;
            try (Stream<Path> s = Files.walk(p)) {
                for (Path x : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(x);
                return;
            } catch (UncheckedIOException e) { // a concurrent deleter removed part of the tree under the walk
                if (attempt >= 5) throw e.getCause();
            } catch (NoSuchFileException | DirectoryNotEmptyException e) {
                if (attempt >= 5) throw e;
            }
        }
    }

    // ---------------------------------------------------------------- model shape

    static ModelShape shapeOf(LlamaConfig c) {
        ModelShape.Builder b = ModelShape.newBuilder()
                .setName(c.name())
                .setLayers(c.layers())
                .setDim(c.dim())
                .setHeads(c.heads())
                .setKvHeads(c.kvHeads())
                .setFfnDim(c.ffnDim())
                .setVocab(c.vocab())
                .setNormEps(c.normEps())
                .setRopeTheta(c.ropeTheta())
                .setMaxSeqLen(c.maxSeqLen());
        c.ropeScaling().ifPresent(r -> b.setHasRopeScaling(true)
                .setRopeFactor(r.factor())
                .setRopeLowFreqFactor(r.lowFreqFactor())
                .setRopeHighFreqFactor(r.highFreqFactor())
                .setRopeOriginalMaxPosition(r.originalMaxPosition()));
        return b.build();
    }

    /** The model a manifest was saved from. */
    public static LlamaConfig configOf(CheckpointManifest m) {
        ModelShape s = m.getModel();
        Optional<LlamaConfig.RopeScaling> rs = s.getHasRopeScaling()
                ? Optional.of(new LlamaConfig.RopeScaling(
                        s.getRopeFactor(),
                        s.getRopeLowFreqFactor(),
                        s.getRopeHighFreqFactor(),
                        s.getRopeOriginalMaxPosition()))
                : Optional.empty();
        return new LlamaConfig(
                s.getName(),
                s.getLayers(),
                s.getDim(),
                s.getHeads(),
                s.getKvHeads(),
                s.getFfnDim(),
                s.getVocab(),
                s.getNormEps(),
                s.getRopeTheta(),
                rs,
                s.getMaxSeqLen());
    }

    /** A read-only mapping of bytes [offset, offset + len) of an open file. */
    static MappedByteBuffer map(FileChannel ch, long offset, long len) throws IOException {
        MappedByteBuffer b = ch.map(FileChannel.MapMode.READ_ONLY, offset, len);
        b.order(ByteOrder.LITTLE_ENDIAN);
        return b;
    }
}
