// Writes one token shard (.tok) and its document index (.idx), hashing both while writing. Files appear
// under their final names only after they are complete and forced to disk (write .tmp, fsync, rename).
package dev.shoal.runtime.data;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.Set;

/** Not thread-safe; one per (chunk, split). */
final class ShardWriter implements AutoCloseable {

    private final Path dir;
    private final String relTok;
    private final String relIdx;
    private final Path tokTmp;
    private final Path idxTmp;
    private final FileChannel tok;
    private final FileChannel idx;
    private final ByteBuffer tokBuf = ByteBuffer.allocateDirect(1 << 18).order(ByteOrder.LITTLE_ENDIAN);
    private final ByteBuffer idxBuf = ByteBuffer.allocateDirect(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
    private final MessageDigest tokSha = sha256();
    private final MessageDigest idxSha = sha256();
    private long docs;
    private long tokens;

    /** {@code relBase} is relative to {@code dir}, without extension, e.g. {@code en/train/f000-c00000}. */
    ShardWriter(Path dir, String relBase) throws IOException {
        this.dir = dir;
        this.relTok = relBase + ".tok";
        this.relIdx = relBase + ".idx";
        Path tokFile = dir.resolve(relTok);
        Files.createDirectories(tokFile.getParent());
        this.tokTmp = tokFile.resolveSibling(tokFile.getFileName() + ".tmp");
        this.idxTmp = dir.resolve(relIdx + ".tmp");
        this.tok = FileChannel.open(tokTmp, CREATE_NEW_FILE);
        this.idx = FileChannel.open(idxTmp, CREATE_NEW_FILE);
        idxBuf.putLong(0L);
    }

    private static final Set<StandardOpenOption> CREATE_NEW_FILE =
            EnumSet.of(StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);

    /** Appends one document's ids. */
    void add(int[] ids) throws IOException {
        for (int id : ids) {
            if (!tokBuf.hasRemaining()) flush(tokBuf, tok, tokSha);
            tokBuf.putInt(id);
        }
        tokens += ids.length;
        docs++;
        if (!idxBuf.hasRemaining()) flush(idxBuf, idx, idxSha);
        idxBuf.putLong(tokens);
    }

    /** Writes out what is buffered and returns the shard's manifest entry; the files are still temporary. */
    Manifest.Shard finish() throws IOException {
        flush(tokBuf, tok, tokSha);
        flush(idxBuf, idx, idxSha);
        HexFormat hex = HexFormat.of();
        return new Manifest.Shard(
                relTok, relIdx, docs, tokens, hex.formatHex(tokSha.digest()), hex.formatHex(idxSha.digest()));
    }

    /** After {@link #finish}: forces both files to disk, then gives them their final names. */
    void publish() throws IOException {
        tok.force(true);
        idx.force(true);
        tok.close();
        idx.close();
        Files.move(tokTmp, dir.resolve(relTok), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        Files.move(idxTmp, dir.resolve(relIdx), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static void flush(ByteBuffer buf, FileChannel ch, MessageDigest sha) throws IOException {
        buf.flip();
        sha.update(buf.duplicate());
        while (buf.hasRemaining()) ch.write(buf);
        buf.clear();
    }

    /** Discards the temporary files unless {@link #publish} has run. */
    @Override
    public void close() throws IOException {
        if (tok.isOpen()) {
            tok.close();
            idx.close();
            Files.deleteIfExists(tokTmp);
            Files.deleteIfExists(idxTmp);
        }
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every Java platform", e);
        }
    }

    /** SHA-256 of a whole file, hex. */
    static String sha256Of(Path file) throws IOException {
        MessageDigest md = sha256();
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (ch.read(buf) >= 0) {
                buf.flip();
                md.update(buf);
                buf.clear();
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
