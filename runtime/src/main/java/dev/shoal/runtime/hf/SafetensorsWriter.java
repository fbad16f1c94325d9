// Writes one safetensors file from float32 host tensors, stored as F32, BF16 (round to nearest
// even) or F16 (round to nearest even). Guarantees: tensors appear in the caller's order, packed
// without gaps; the header is padded with spaces to a multiple of 8 bytes so the data is aligned;
// the file appears atomically (written to a temporary name, fsynced, then renamed), so a reader
// never sees a half-written file.
package dev.shoal.runtime.hf;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.shoal.runtime.tensor.FloatFormats;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;

public final class SafetensorsWriter {
    private SafetensorsWriter() {}

    private static final int CHUNK_ELEMS = 1 << 20;

    /** Bytes the data of these tensors take in dtype. */
    public static long dataBytes(Map<String, HostTensor> tensors, SafetensorsDType dtype) {
        long n = 0;
        for (HostTensor t : tensors.values()) n += t.elems() * dtype.bytes;
        return n;
    }

    /**
     * Writes tensors (in map order) to file as dtype, with __metadata__ {"format": "pt"} plus the
     * given metadata. Replaces an existing file atomically.
     */
    public static void write(
            Path file, Map<String, HostTensor> tensors, SafetensorsDType dtype, Map<String, String> metadata)
            throws IOException {
        // 1. header: metadata first, then each tensor with its packed byte range
        ObjectNode header = SafetensorsReader.JSON.createObjectNode();
        ObjectNode md = header.putObject("__metadata__");
        md.put("format", "pt");
        metadata.forEach(md::put);
        long offset = 0;
        for (Map.Entry<String, HostTensor> e : tensors.entrySet()) {
            if (e.getKey().equals("__metadata__")) {
                throw new IllegalArgumentException(file + ": '__metadata__' cannot be a tensor name");
            }
            long bytes = e.getValue().elems() * dtype.bytes;
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", dtype.name());
            ArrayNode shape = t.putArray("shape");
            for (long d : e.getValue().shape()) shape.add(d);
            t.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] json = SafetensorsReader.JSON.writeValueAsBytes(header);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) head.put((byte) ' ');
        head.flip();

        // 2. write to a temporary sibling, fsync, rename over the target
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = dir.resolve(
                "." + file.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        try (FileChannel ch = FileChannel.open(
                tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            writeFully(ch, head);
            ByteBuffer buf =
                    ByteBuffer.allocateDirect(CHUNK_ELEMS * dtype.bytes).order(ByteOrder.LITTLE_ENDIAN);
            for (HostTensor t : tensors.values()) {
                writeData(ch, t, dtype, buf);
            }
            ch.force(true);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static void writeData(FileChannel ch, HostTensor t, SafetensorsDType dtype, ByteBuffer buf)
            throws IOException {
        long elems = t.elems();
        for (long done = 0; done < elems; ) {
            int n = (int) Math.min(CHUNK_ELEMS, elems - done);
            FloatBuffer src = SafetensorsReader.floatView(t.data(), done, n);
            buf.clear();
            switch (dtype) {
                case F32 -> buf.asFloatBuffer().put(src);
                case BF16 -> {
                    ShortBuffer s = buf.asShortBuffer();
                    for (int i = 0; i < n; i++) s.put(i, FloatFormats.f32ToBf16(src.get(i)));
                }
                case F16 -> {
                    ShortBuffer s = buf.asShortBuffer();
                    for (int i = 0; i < n; i++) s.put(i, FloatFormats.f32ToF16(src.get(i)));
                }
            }
            buf.limit(n * dtype.bytes);
            writeFully(ch, buf);
            done += n;
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }
}
