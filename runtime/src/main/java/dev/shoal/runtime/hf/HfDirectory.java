// A Hugging Face model directory's weights: either one model.safetensors, or shards
// model-0000i-of-0000K.safetensors listed in model.safetensors.index.json. Reading opens every file
// and checks that the index and the shards agree (each listed tensor is in its shard, no shard holds
// an unlisted tensor, no name in two places). Writing splits tensors greedily into shards of at most
// maxShardBytes and writes the index last, so a directory with an index is complete.
package dev.shoal.runtime.hf;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.bytedeco.javacpp.FloatPointer;

public final class HfDirectory implements AutoCloseable {
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path dir;
    private final Map<String, SafetensorsReader> byTensor; // tensor name -> the reader holding it, in order
    private final List<SafetensorsReader> readers;

    private HfDirectory(Path dir, Map<String, SafetensorsReader> byTensor, List<SafetensorsReader> readers) {
        this.dir = dir;
        this.byTensor = byTensor;
        this.readers = readers;
    }

    /** Opens a directory holding model.safetensors or model.safetensors.index.json plus shards. */
    public static HfDirectory open(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) throw new HfFormatException(dir + ": not a directory");
        Path index = dir.resolve(INDEX_FILE);
        Path single = dir.resolve(SINGLE_FILE);
        List<SafetensorsReader> readers = new ArrayList<>();
        try {
            if (Files.exists(index)) return openIndexed(dir, index, readers);
            if (Files.exists(single)) {
                SafetensorsReader r = SafetensorsReader.open(single);
                readers.add(r);
                Map<String, SafetensorsReader> by = new LinkedHashMap<>();
                for (String n : r.names()) by.put(n, r);
                return new HfDirectory(dir, by, readers);
            }
        } catch (IOException | RuntimeException e) {
            for (SafetensorsReader r : readers) r.close();
            throw e;
        }
        throw new HfFormatException(dir + ": holds neither " + SINGLE_FILE + " nor " + INDEX_FILE);
    }

    private static HfDirectory openIndexed(Path dir, Path index, List<SafetensorsReader> readers) throws IOException {
        JsonNode root;
        try {
            root = SafetensorsReader.JSON.readTree(index.toFile());
        } catch (JsonProcessingException e) {
            throw new HfFormatException(
                    index + ": not valid JSON: " + e.getOriginalMessage().split("\n")[0], e);
        }
        JsonNode wm = root == null ? null : root.get("weight_map");
        if (wm == null || !wm.isObject()) throw new HfFormatException(index + ": missing object 'weight_map'");
        // shard file -> reader, opened once each
        Map<String, SafetensorsReader> shards = new TreeMap<>();
        Map<String, SafetensorsReader> by = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = wm.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            if (!f.getValue().isTextual()) {
                throw new HfFormatException(index + ": weight_map['" + f.getKey() + "'] must be a file name");
            }
            String shard = f.getValue().asText();
            if (shard.isEmpty() || shard.contains("/") || shard.contains("\\") || shard.startsWith(".")) {
                throw new HfFormatException(index + ": weight_map['" + f.getKey() + "'] = '" + shard
                        + "' must be a plain file name in the same directory");
            }
            SafetensorsReader r = shards.get(shard);
            if (r == null) {
                Path p = dir.resolve(shard);
                if (!Files.exists(p)) {
                    throw new HfFormatException(
                            index + ": tensor '" + f.getKey() + "' is in shard '" + shard + "', which does not exist");
                }
                r = SafetensorsReader.open(p);
                readers.add(r);
                shards.put(shard, r);
            }
            if (!r.contains(f.getKey())) {
                throw new HfFormatException(index + ": tensor '" + f.getKey() + "' is listed in '" + shard
                        + "' but that file has no such tensor");
            }
            by.put(f.getKey(), r);
        }
        for (SafetensorsReader r : readers) {
            for (String n : r.names()) {
                if (by.get(n) != r) {
                    throw new HfFormatException(r.file() + ": holds tensor '" + n + "', which " + INDEX_FILE
                            + (by.containsKey(n)
                                    ? " places in " + by.get(n).file().getFileName()
                                    : " does not list"));
                }
            }
        }
        return new HfDirectory(dir, by, readers);
    }

    public Path dir() {
        return dir;
    }

    /** Tensor names, in index (or file) order. */
    public List<String> names() {
        return List.copyOf(byTensor.keySet());
    }

    public boolean contains(String name) {
        return byTensor.containsKey(name);
    }

    /** Every tensor's shape, by name. */
    public Map<String, long[]> shapes() {
        Map<String, long[]> m = new LinkedHashMap<>();
        byTensor.forEach((n, r) -> m.put(n, r.entries().get(n).shape()));
        return m;
    }

    /** The reader (file) that holds a tensor. */
    public SafetensorsReader readerFor(String name) throws HfFormatException {
        SafetensorsReader r = byTensor.get(name);
        if (r == null) throw new HfFormatException(dir + ": no tensor '" + name + "'");
        return r;
    }

    public SafetensorsEntry entry(String name) throws HfFormatException {
        return readerFor(name).entry(name);
    }

    public HostTensor read(String name) throws IOException {
        return readerFor(name).read(name);
    }

    public void read(String name, FloatPointer dst) throws IOException {
        readerFor(name).read(name, dst);
    }

    public void readRows(String name, long r0, long r1, FloatPointer dst) throws IOException {
        readerFor(name).readRows(name, r0, r1, dst);
    }

    public void readColumns(String name, long c0, long c1, FloatPointer dst) throws IOException {
        readerFor(name).readColumns(name, c0, c1, dst);
    }

    /** The open files, one per shard. */
    public List<SafetensorsReader> files() {
        return List.copyOf(readers);
    }

    /** Bytes read from each file since open. */
    public Map<Path, List<ByteRange>> touchedRanges() {
        Map<Path, List<ByteRange>> m = new LinkedHashMap<>();
        for (SafetensorsReader r : readers) m.put(r.file(), r.touchedRanges());
        return m;
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        for (SafetensorsReader r : readers) {
            try {
                r.close();
            } catch (IOException e) {
                if (first == null) first = e;
            }
        }
        if (first != null) throw first;
    }

    /** HF's shard file name: model-00002-of-00005.safetensors. */
    public static String shardName(int i, int count) {
        return String.format("model-%05d-of-%05d.safetensors", i, count);
    }

    /**
     * Writes tensors (in map order) into dir as dtype: one model.safetensors when they fit in
     * maxShardBytes (or maxShardBytes <= 0), otherwise shards of at most maxShardBytes each (a
     * tensor larger than that gets a shard of its own) and an index. dir must not already hold a
     * checkpoint. Returns the files written, the index last.
     */
    public static List<Path> write(
            Path dir, Map<String, HostTensor> tensors, SafetensorsDType dtype, long maxShardBytes) throws IOException {
        Files.createDirectories(dir);
        try (Stream<Path> s = Files.list(dir)) {
            List<String> old = s.map(p -> p.getFileName().toString())
                    .filter(n -> n.equals(INDEX_FILE) || (n.startsWith("model") && n.endsWith(".safetensors")))
                    .sorted()
                    .toList();
            if (!old.isEmpty()) {
                throw new HfFormatException(
                        dir + ": already holds a checkpoint " + old + "; export into an empty" + " directory");
            }
        }
        long total = SafetensorsWriter.dataBytes(tensors, dtype);
        List<Path> written = new ArrayList<>();
        if (maxShardBytes <= 0 || total <= maxShardBytes) {
            Path f = dir.resolve(SINGLE_FILE);
            SafetensorsWriter.write(f, tensors, dtype, Map.of());
            written.add(f);
            return written;
        }
        // 1. greedy split, keeping the caller's order
        List<Map<String, HostTensor>> groups = new ArrayList<>();
        Map<String, HostTensor> cur = new LinkedHashMap<>();
        long curBytes = 0;
        for (Map.Entry<String, HostTensor> e : tensors.entrySet()) {
            long b = e.getValue().elems() * dtype.bytes;
            if (!cur.isEmpty() && curBytes + b > maxShardBytes) {
                groups.add(cur);
                cur = new LinkedHashMap<>();
                curBytes = 0;
            }
            cur.put(e.getKey(), e.getValue());
            curBytes += b;
        }
        if (!cur.isEmpty()) groups.add(cur);
        // 2. the shards, then the index naming where each tensor lives
        ObjectNode index = SafetensorsReader.JSON.createObjectNode();
        index.putObject("metadata").put("total_size", total);
        Map<String, String> weightMap = new TreeMap<>();
        for (int i = 0; i < groups.size(); i++) {
            String name = shardName(i + 1, groups.size());
            Path f = dir.resolve(name);
            SafetensorsWriter.write(f, groups.get(i), dtype, Map.of());
            written.add(f);
            for (String t : groups.get(i).keySet()) weightMap.put(t, name);
        }
        ObjectNode wm = index.putObject("weight_map");
        weightMap.forEach(wm::put);
        Path idx = dir.resolve(INDEX_FILE);
        Path tmp =
                dir.resolve("." + INDEX_FILE + ".tmp-" + ProcessHandle.current().pid());
        SafetensorsReader.JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), index);
        Files.move(tmp, idx, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        written.add(idx);
        return written;
    }
}
