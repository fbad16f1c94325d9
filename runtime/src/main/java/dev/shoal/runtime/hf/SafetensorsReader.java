// Reads one safetensors file: an 8-byte little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets:[begin,end]}, "__metadata__": {...}}, then the data section.
// Guarantees: the header is fully validated when the file is opened (size limit, header inside the
// file, known dtypes, offsets inside the data section, no overlaps, byte length = prod(shape)·size),
// and every error names the file and the tensor. Data is memory-mapped in windows below 2 GiB and
// converted to float32 straight into the caller's off-heap FloatPointer; a read of a row range or a
// column slice touches only those bytes, and touchedRanges() reports exactly which file bytes were read.
// Not thread-safe: one reader per thread.
package dev.shoal.runtime.hf;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.shoal.runtime.tensor.FloatFormats;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.MappedByteBuffer;
import java.nio.ShortBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.FloatPointer;

public final class SafetensorsReader implements AutoCloseable {
    /** A header larger than this is refused before anything is allocated for it. */
    public static final long MAX_HEADER_BYTES = 100L << 20;

    static final long DEFAULT_WINDOW_BYTES = 1L << 30;

    static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final Path file;
    private final FileChannel channel;
    private final long fileBytes;
    private final long dataStart; // file offset of the data section: 8 + N
    private final Map<String, SafetensorsEntry> entries; // in header order
    private final Map<String, String> metadata;
    private final long windowBytes;

    private MappedByteBuffer window; // file bytes [windowBegin, windowBegin + window.capacity())
    private long windowBegin;
    private final List<ByteRange> touched = new ArrayList<>();

    private SafetensorsReader(Path file, FileChannel channel, long windowBytes) throws IOException {
        this.file = file;
        this.channel = channel;
        this.windowBytes = windowBytes;
        this.fileBytes = channel.size();
        // 1. the 8-byte header length
        if (fileBytes < 8) {
            throw new HfFormatException(file + ": file is " + fileBytes
                    + " bytes, too short for the 8-byte header length (truncated or not safetensors)");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(0, lenBuf);
        long headerBytes = lenBuf.getLong(0);
        if (headerBytes < 2 || headerBytes > MAX_HEADER_BYTES) {
            throw new HfFormatException(file + ": header claims " + headerBytes + " bytes; a safetensors header"
                    + " must be 2.." + MAX_HEADER_BYTES + " bytes (corrupt or not safetensors)");
        }
        // 2. the header must lie inside the file
        if (8 + headerBytes > fileBytes) {
            throw new HfFormatException(file + ": header claims " + headerBytes + " bytes but the file has only "
                    + (fileBytes - 8) + " bytes after the length field (truncated)");
        }
        this.dataStart = 8 + headerBytes;
        ByteBuffer header = ByteBuffer.allocate((int) headerBytes);
        readFully(8, header);
        // 3. parse and validate every entry
        JsonNode root;
        try {
            root = JSON.readTree(header.array());
        } catch (JsonProcessingException e) {
            throw new HfFormatException(
                    file + ": header is not valid JSON: "
                            + e.getOriginalMessage().split("\n")[0],
                    e);
        }
        if (root == null || !root.isObject()) {
            throw new HfFormatException(file + ": header must be a JSON object of tensors");
        }
        Map<String, SafetensorsEntry> es = new LinkedHashMap<>();
        Map<String, String> md = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            if (f.getKey().equals("__metadata__")) {
                parseMetadata(f.getValue(), md);
            } else {
                es.put(f.getKey(), parseEntry(f.getKey(), f.getValue()));
            }
        }
        checkLayout(es.values());
        this.entries = Collections.unmodifiableMap(es);
        this.metadata = Collections.unmodifiableMap(md);
    }

    /** Opens and validates a safetensors file. */
    public static SafetensorsReader open(Path file) throws IOException {
        return open(file, DEFAULT_WINDOW_BYTES);
    }

    /** As open(file), with a smaller mapping window (tests use this to cross window borders). */
    static SafetensorsReader open(Path file, long windowBytes) throws IOException {
        if (windowBytes < 8 || windowBytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("window must be 8 bytes .. 2 GiB, got " + windowBytes);
        }
        FileChannel ch;
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new HfFormatException(file + ": no such file");
        }
        try {
            return new SafetensorsReader(file, ch, windowBytes);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private void parseMetadata(JsonNode v, Map<String, String> md) throws HfFormatException {
        if (!v.isObject()) {
            throw new HfFormatException(file + ": __metadata__ must be an object of strings");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> m = it.next();
            if (m.getValue().isContainerNode()) {
                throw new HfFormatException(file + ": __metadata__ key '" + m.getKey() + "' must be a string");
            }
            md.put(m.getKey(), m.getValue().asText());
        }
    }

    private SafetensorsEntry parseEntry(String name, JsonNode v) throws HfFormatException {
        String where = file + ": tensor '" + name + "'";
        if (!v.isObject()) throw new HfFormatException(where + ": entry must be an object");
        JsonNode dt = v.get("dtype");
        if (dt == null || !dt.isTextual()) throw new HfFormatException(where + ": missing string 'dtype'");
        SafetensorsDType dtype = SafetensorsDType.fromName(dt.asText(), name, file);
        JsonNode sh = v.get("shape");
        if (sh == null || !sh.isArray()) throw new HfFormatException(where + ": missing array 'shape'");
        long[] shape = new long[sh.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0) {
                throw new HfFormatException(where + ": shape " + sh + " must hold non-negative integers");
            }
            shape[i] = d.asLong();
        }
        JsonNode off = v.get("data_offsets");
        if (off == null || !off.isArray() || off.size() != 2) {
            throw new HfFormatException(where + ": missing 'data_offsets' [begin, end]");
        }
        for (JsonNode o : off) {
            if (!o.isIntegralNumber() || !o.canConvertToLong() || o.asLong() < 0) {
                throw new HfFormatException(where + ": data_offsets " + off + " must be non-negative integers");
            }
        }
        long begin = off.get(0).asLong();
        long end = off.get(1).asLong();
        if (end < begin) {
            throw new HfFormatException(where + ": data_offsets " + off + " end before they begin");
        }
        long elems;
        try {
            elems = HostTensor.elems(shape);
            Math.multiplyExact(elems, dtype.bytes);
        } catch (ArithmeticException e) {
            throw new HfFormatException(where + ": shape " + sh + " is too large");
        }
        if (end - begin != elems * dtype.bytes) {
            throw new HfFormatException(where + ": data_offsets [" + begin + ", " + end + ") hold " + (end - begin)
                    + " bytes but shape " + Arrays.toString(shape) + " in " + dtype + " needs " + elems
                    + " × " + dtype.bytes + " = " + elems * dtype.bytes + " bytes");
        }
        long dataBytes = fileBytes - dataStart;
        if (end > dataBytes) {
            throw new HfFormatException(where + ": data_offsets [" + begin + ", " + end + ") reach past the end of"
                    + " the data section (" + dataBytes + " bytes): the file is truncated");
        }
        return new SafetensorsEntry(name, dtype, shape, begin, end);
    }

    private void checkLayout(Iterable<SafetensorsEntry> es) throws HfFormatException {
        List<SafetensorsEntry> sorted = new ArrayList<>();
        es.forEach(sorted::add);
        sorted.sort(Comparator.comparingLong(SafetensorsEntry::begin).thenComparingLong(SafetensorsEntry::end));
        SafetensorsEntry prev = null;
        for (SafetensorsEntry e : sorted) {
            if (e.byteLength() == 0) continue;
            if (prev != null && e.begin() < prev.end()) {
                throw new HfFormatException(file + ": tensors '" + prev.name() + "' [" + prev.begin() + ", "
                        + prev.end() + ") and '" + e.name() + "' [" + e.begin() + ", " + e.end()
                        + ") overlap in the data section");
            }
            prev = e;
        }
    }

    private void readFully(long pos, ByteBuffer dst) throws IOException {
        while (dst.hasRemaining()) {
            int n = channel.read(dst, pos + dst.position());
            if (n < 0) throw new HfFormatException(file + ": unexpected end of file at byte " + (pos + dst.position()));
        }
    }

    public Path file() {
        return file;
    }

    /** Tensor names in header order. */
    public List<String> names() {
        return List.copyOf(entries.keySet());
    }

    public Map<String, SafetensorsEntry> entries() {
        return entries;
    }

    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    /** The header entry of a tensor; an unknown name is an error naming the file. */
    public SafetensorsEntry entry(String name) throws HfFormatException {
        SafetensorsEntry e = entries.get(name);
        if (e == null) throw new HfFormatException(file + ": no tensor '" + name + "'");
        return e;
    }

    /** The __metadata__ map (empty when absent). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** File offset where the data section starts (8 + header length). */
    public long dataStart() {
        return dataStart;
    }

    /** The absolute file byte range of a tensor's data. */
    public ByteRange fileRange(String name) throws HfFormatException {
        SafetensorsEntry e = entry(name);
        return new ByteRange(dataStart + e.begin(), dataStart + e.end());
    }

    /** Reads a whole tensor into freshly allocated off-heap memory. */
    public HostTensor read(String name) throws IOException {
        SafetensorsEntry e = entry(name);
        HostTensor t = HostTensor.allocate(e.shape());
        read(name, t.data());
        return t;
    }

    /** Reads a whole tensor as float32 into dst (from dst's position, prod(shape) floats). */
    public void read(String name, FloatPointer dst) throws IOException {
        SafetensorsEntry e = entry(name);
        checkRoom(dst, e.elems(), name);
        readSpan(e, 0, e.elems(), dst, 0);
    }

    /**
     * Reads the slices [r0, r1) along dimension 0 (rows of a 2-D weight) into dst, contiguous:
     * (r1 - r0) · prod(shape[1:]) floats. Only those rows' bytes are read.
     */
    public void readRows(String name, long r0, long r1, FloatPointer dst) throws IOException {
        SafetensorsEntry e = entry(name);
        if (e.rank() < 1 || r0 < 0 || r1 < r0 || r1 > e.dim(0)) {
            throw new IllegalArgumentException(file + ": tensor '" + name + "' " + Arrays.toString(e.shape())
                    + ": rows [" + r0 + ", " + r1 + ") are out of range");
        }
        long rowElems = e.rowElems();
        checkRoom(dst, (r1 - r0) * rowElems, name);
        readSpan(e, r0 * rowElems, (r1 - r0) * rowElems, dst, 0);
    }

    /**
     * Reads columns [c0, c1) of the last dimension into dst, as a contiguous [prod(shape[:-1]), c1-c0]
     * block. For a 2-D [out, in] weight this is the slice of input features a row-parallel rank owns.
     * Only those bytes of each row are read.
     */
    public void readColumns(String name, long c0, long c1, FloatPointer dst) throws IOException {
        SafetensorsEntry e = entry(name);
        if (e.rank() < 1 || c0 < 0 || c1 < c0 || c1 > e.dim(e.rank() - 1)) {
            throw new IllegalArgumentException(file + ": tensor '" + name + "' " + Arrays.toString(e.shape())
                    + ": columns [" + c0 + ", " + c1 + ") are out of range");
        }
        long cols = e.dim(e.rank() - 1);
        long rows = cols == 0 ? 0 : e.elems() / cols;
        long width = c1 - c0;
        checkRoom(dst, rows * width, name);
        if (width == 0) return;
        for (long r = 0; r < rows; r++) {
            readSpan(e, r * cols + c0, width, dst, r * width);
        }
    }

    /** File byte ranges read since open or the last clearTouched(), sorted, adjacent ones merged. */
    public List<ByteRange> touchedRanges() {
        List<ByteRange> s = new ArrayList<>(touched);
        s.sort(Comparator.comparingLong(ByteRange::begin));
        List<ByteRange> out = new ArrayList<>();
        for (ByteRange r : s) {
            if (!out.isEmpty() && out.get(out.size() - 1).end() >= r.begin()) {
                ByteRange last = out.remove(out.size() - 1);
                out.add(new ByteRange(last.begin(), Math.max(last.end(), r.end())));
            } else {
                out.add(r);
            }
        }
        return out;
    }

    public void clearTouched() {
        touched.clear();
    }

    private void checkRoom(FloatPointer dst, long elems, String name) {
        if (dst.capacity() > 0 && dst.capacity() - dst.position() < elems) {
            throw new IllegalArgumentException(file + ": tensor '" + name + "' needs " + elems
                    + " floats but the destination holds " + (dst.capacity() - dst.position()));
        }
    }

    /** Converts elems elements of e, from element index elemOffset, into dst[dstOffset ..]. */
    private void readSpan(SafetensorsEntry e, long elemOffset, long elems, FloatPointer dst, long dstOffset)
            throws IOException {
        int size = e.dtype().bytes;
        long chunkElems = Math.min(windowBytes, 256L << 20) / size;
        for (long done = 0; done < elems; ) {
            int n = (int) Math.min(chunkElems, elems - done);
            long fileOff = dataStart + e.begin() + (elemOffset + done) * size;
            ByteBuffer src = map(fileOff, n * size);
            FloatBuffer out = floatView(dst, dstOffset + done, n);
            switch (e.dtype()) {
                case F32 -> out.put(src.asFloatBuffer());
                case BF16 -> {
                    ShortBuffer s = src.asShortBuffer();
                    for (int i = 0; i < n; i++) out.put(i, FloatFormats.bf16ToF32(s.get(i)));
                }
                case F16 -> {
                    ShortBuffer s = src.asShortBuffer();
                    for (int i = 0; i < n; i++) out.put(i, FloatFormats.f16ToF32(s.get(i)));
                }
            }
            done += n;
        }
    }

    /** A little-endian view of file bytes [fileOff, fileOff + len), len <= windowBytes; records the read. */
    private ByteBuffer map(long fileOff, int len) throws IOException {
        if (window == null || fileOff < windowBegin || fileOff + len > windowBegin + window.capacity()) {
            long size = Math.min(windowBytes, fileBytes - fileOff);
            if (size < len) {
                throw new HfFormatException(file + ": bytes [" + fileOff + ", " + (fileOff + len)
                        + ") lie past the end of the file (" + fileBytes + " bytes): truncated");
            }
            window = channel.map(FileChannel.MapMode.READ_ONLY, fileOff, size);
            windowBegin = fileOff;
        }
        ByteRange r = new ByteRange(fileOff, fileOff + len);
        int last = touched.size() - 1;
        if (last >= 0 && touched.get(last).end() == r.begin()) {
            touched.set(last, new ByteRange(touched.get(last).begin(), r.end()));
        } else {
            touched.add(r);
        }
        return window.slice((int) (fileOff - windowBegin), len).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** A FloatBuffer over n floats of p starting at element offset off (relative to p's position). */
    static FloatBuffer floatView(FloatPointer p, long off, int n) {
        FloatPointer q = new FloatPointer(p);
        long start = p.position() + off;
        q.position(start).limit(start + n);
        return q.asBuffer();
    }

    @Override
    public void close() throws IOException {
        window = null;
        channel.close();
    }

    @Override
    public String toString() {
        return "SafetensorsReader(" + file + ", " + entries.size() + " tensors)";
    }
}
