// Export → import round trips through single and sharded safetensors in F32, BF16 and F16, and
// rank-local reads (row ranges, column slices) that touch only the bytes they need.
package dev.shoal.runtime.hf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.shoal.runtime.tensor.FloatFormats;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsRoundTripTest {

    @TempDir
    Path tmp;

    static HostTensor random(Random rnd, long... shape) {
        HostTensor t = HostTensor.allocate(shape);
        for (long i = 0; i < t.elems(); i++) t.data().put(i, (float) rnd.nextGaussian() * 3f);
        return t;
    }

    static Map<String, HostTensor> someTensors() {
        Random rnd = new Random(42);
        Map<String, HostTensor> m = new LinkedHashMap<>();
        m.put("model.embed_tokens.weight", random(rnd, 37, 16));
        m.put("model.norm.weight", random(rnd, 16));
        m.put("model.layers.0.mlp.down_proj.weight", random(rnd, 16, 40));
        m.put("scalar", random(rnd));
        m.put("empty", HostTensor.allocate(0, 16));
        m.put("lm_head.weight", random(rnd, 37, 16));
        return m;
    }

    static void assertSameBits(HostTensor want, HostTensor got, String name) {
        assertArrayEquals(want.shape(), got.shape(), name);
        for (long i = 0; i < want.elems(); i++) {
            int w = Float.floatToRawIntBits(want.get(i));
            int g = Float.floatToRawIntBits(got.get(i));
            if (w != g) {
                throw new AssertionError(name + "[" + i + "]: want " + want.get(i) + " got " + got.get(i));
            }
        }
    }

    @Test
    void f32RoundTripIsExact() throws Exception {
        Map<String, HostTensor> ts = someTensors();
        Path f = tmp.resolve("a.safetensors");
        SafetensorsWriter.write(f, ts, SafetensorsDType.F32, Map.of("note", "x"));
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertEquals(List.copyOf(ts.keySet()), r.names());
            assertEquals("pt", r.metadata().get("format"));
            assertEquals("x", r.metadata().get("note"));
            assertEquals(0, r.dataStart() % 8, "data section is 8-byte aligned");
            for (var e : ts.entrySet()) assertSameBits(e.getValue(), r.read(e.getKey()), e.getKey());
        }
    }

    @Test
    void bf16AndF16RoundTripsGiveTheRoundedValues() throws Exception {
        Map<String, HostTensor> ts = someTensors();
        for (SafetensorsDType d : List.of(SafetensorsDType.BF16, SafetensorsDType.F16)) {
            Path f = tmp.resolve(d + ".safetensors");
            SafetensorsWriter.write(f, ts, d, Map.of());
            assertEquals(
                    Files.size(f) - SafetensorsWriter.dataBytes(ts, d),
                    readDataStart(f),
                    "file = header + packed data");
            try (SafetensorsReader r = SafetensorsReader.open(f)) {
                for (var e : ts.entrySet()) {
                    HostTensor want = HostTensor.allocate(e.getValue().shape());
                    for (long i = 0; i < want.elems(); i++) {
                        float v = e.getValue().get(i);
                        want.data()
                                .put(
                                        i,
                                        d == SafetensorsDType.BF16
                                                ? FloatFormats.bf16ToF32(FloatFormats.f32ToBf16(v))
                                                : FloatFormats.f16ToF32(FloatFormats.f32ToF16(v)));
                    }
                    assertEquals(d, r.entry(e.getKey()).dtype());
                    assertSameBits(want, r.read(e.getKey()), d + " " + e.getKey());
                }
            }
        }
    }

    private static long readDataStart(Path f) throws Exception {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN);
        return 8 + b.getLong(0);
    }

    @Test
    void rowAndColumnSlicesReadOnlyTheirBytes() throws Exception {
        Map<String, HostTensor> ts = someTensors();
        Path f = tmp.resolve("s.safetensors");
        SafetensorsWriter.write(f, ts, SafetensorsDType.BF16, Map.of());
        String name = "model.layers.0.mlp.down_proj.weight"; // [16, 40]
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            HostTensor full = r.read(name);
            ByteRange tensorBytes = r.fileRange(name);
            r.clearTouched();

            // rows [4, 9): one contiguous byte range, 5 rows x 40 cols x 2 bytes
            FloatPointer rows = new FloatPointer(5 * 40);
            r.readRows(name, 4, 9, rows);
            for (int i = 0; i < 5 * 40; i++) assertEquals(full.get(4 * 40 + i), rows.get(i));
            long rowStart = tensorBytes.begin() + 4 * 40 * 2;
            assertEquals(List.of(new ByteRange(rowStart, rowStart + 5 * 40 * 2)), r.touchedRanges());
            r.clearTouched();

            // columns [10, 30): 16 separate 40-byte pieces, nothing outside them
            FloatPointer cols = new FloatPointer(16 * 20);
            r.readColumns(name, 10, 30, cols);
            for (int row = 0; row < 16; row++) {
                for (int c = 0; c < 20; c++) assertEquals(full.get(row * 40 + 10 + c), cols.get(row * 20 + c));
            }
            List<ByteRange> touched = r.touchedRanges();
            assertEquals(16, touched.size());
            long bytes = 0;
            for (int row = 0; row < 16; row++) {
                long b = tensorBytes.begin() + (row * 40L + 10) * 2;
                assertEquals(new ByteRange(b, b + 40), touched.get(row));
                bytes += touched.get(row).length();
            }
            assertEquals(16 * 20 * 2, bytes);
            // and no other tensor's bytes were touched
            for (String other : r.names()) {
                if (other.equals(name)) continue;
                for (ByteRange t : touched) assertFalse(t.overlaps(r.fileRange(other)), other);
            }
            assertThrows(IllegalArgumentException.class, () -> r.readRows(name, 10, 17, new FloatPointer(7 * 40)));
            assertThrows(IllegalArgumentException.class, () -> r.readColumns(name, 0, 10, new FloatPointer(10)));
        }
    }

    @Test
    void readsCrossMappingWindows() throws Exception {
        Map<String, HostTensor> ts = someTensors();
        Path f = tmp.resolve("w.safetensors");
        SafetensorsWriter.write(f, ts, SafetensorsDType.F32, Map.of());
        try (SafetensorsReader r = SafetensorsReader.open(f, 24)) { // 6 floats per window
            for (var e : ts.entrySet()) assertSameBits(e.getValue(), r.read(e.getKey()), e.getKey());
            r.clearTouched();
            r.read("lm_head.weight");
            assertEquals(List.of(r.fileRange("lm_head.weight")), r.touchedRanges());
        }
    }

    @Test
    void shardedRoundTripWritesAnIndexAndReadsBack() throws Exception {
        Map<String, HostTensor> ts = someTensors();
        Path dir = tmp.resolve("sharded");
        // 37*16*4 = 2368 bytes per big tensor; at most 3000 per shard gives several shards
        List<Path> files = HfDirectory.write(dir, ts, SafetensorsDType.F32, 3000);
        assertEquals(
                HfDirectory.INDEX_FILE,
                files.get(files.size() - 1).getFileName().toString());
        int k = files.size() - 1;
        assertTrue(k >= 3, "expected several shards, got " + k);
        for (int i = 0; i < k; i++) {
            assertEquals(
                    HfDirectory.shardName(i + 1, k), files.get(i).getFileName().toString());
        }
        assertEquals("model-00002-of-00004.safetensors", HfDirectory.shardName(2, 4));
        JsonNode idx =
                new ObjectMapper().readTree(dir.resolve(HfDirectory.INDEX_FILE).toFile());
        assertEquals(
                SafetensorsWriter.dataBytes(ts, SafetensorsDType.F32),
                idx.get("metadata").get("total_size").asLong());
        assertEquals(ts.size(), idx.get("weight_map").size());
        try (HfDirectory d = HfDirectory.open(dir)) {
            assertEquals(k, d.files().size());
            assertEquals(ts.keySet(), d.shapes().keySet());
            for (var e : ts.entrySet()) assertSameBits(e.getValue(), d.read(e.getKey()), e.getKey());
        }
        // a second export into the same directory is refused rather than mixing checkpoints
        var e = assertThrows(HfFormatException.class, () -> HfDirectory.write(dir, ts, SafetensorsDType.F32, 0));
        assertTrue(e.getMessage().contains("already holds a checkpoint"), e.getMessage());
    }

    @Test
    void singleFileDirectoryRoundTrip() throws Exception {
        Map<String, HostTensor> ts = someTensors();
        Path dir = tmp.resolve("single");
        List<Path> files = HfDirectory.write(dir, ts, SafetensorsDType.F32, 0);
        assertEquals(List.of(dir.resolve(HfDirectory.SINGLE_FILE)), files);
        try (HfDirectory d = HfDirectory.open(dir)) {
            for (var e : ts.entrySet()) assertSameBits(e.getValue(), d.read(e.getKey()), e.getKey());
            var err = assertThrows(HfFormatException.class, () -> d.read("nope"));
            assertTrue(err.getMessage().contains("'nope'"), err.getMessage());
        }
    }
}
