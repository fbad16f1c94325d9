// Malformed safetensors files and directories: each is refused when opened, with an error that
// names the file and the tensor (or key) at fault.
package dev.shoal.runtime.hf;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsMalformedTest {

    @TempDir
    Path tmp;

    /** A file with the given length field, header text and dataBytes zero bytes of data. */
    private Path craft(String name, long lengthField, String header, int dataBytes) throws Exception {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(lengthField).put(h);
        Path f = tmp.resolve(name);
        Files.write(f, b.array());
        return f;
    }

    private Path craft(String name, String header, int dataBytes) throws Exception {
        return craft(name, header.getBytes(StandardCharsets.UTF_8).length, header, dataBytes);
    }

    private static void assertRefused(Path f, String... fragments) {
        HfFormatException e = assertThrows(
                HfFormatException.class, () -> SafetensorsReader.open(f).close());
        String m = e.getMessage();
        assertTrue(m.startsWith(f.toString()), "message names the file: " + m);
        for (String frag : fragments) {
            assertTrue(m.contains(frag), "message should contain '" + frag + "': " + m);
        }
    }

    @Test
    void truncatedDataIsRefused() throws Exception {
        // a valid file with its last 10 bytes cut off
        Path good = tmp.resolve("good.safetensors");
        SafetensorsWriter.write(good, SafetensorsRoundTripTest.someTensors(), SafetensorsDType.F32, Map.of());
        byte[] all = Files.readAllBytes(good);
        Path cut = tmp.resolve("cut.safetensors");
        Files.write(cut, Arrays.copyOf(all, all.length - 10));
        assertRefused(cut, "'lm_head.weight'", "truncated");
        // cut inside the header, and inside the length field
        Path cutHeader = tmp.resolve("cuthead.safetensors");
        Files.write(cutHeader, Arrays.copyOf(all, 20));
        assertRefused(cutHeader, "truncated");
        Path cutLength = tmp.resolve("cutlen.safetensors");
        Files.write(cutLength, Arrays.copyOf(all, 5));
        assertRefused(cutLength, "5 bytes", "truncated");
    }

    @Test
    void overlappingOffsetsAreRefused() throws Exception {
        Path f = craft(
                "overlap.safetensors",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                16);
        assertRefused(f, "'a'", "'b'", "overlap");
    }

    @Test
    void headerClaimingTenGigabytesIsRefusedBeforeAllocating() throws Exception {
        Path f = craft("huge.safetensors", 10L << 30, "{}", 0);
        assertRefused(f, "header claims 10737418240 bytes");
    }

    @Test
    void unknownAndUnsupportedDtypesAreRefusedByName() throws Exception {
        Path f = craft("i64.safetensors", "{\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}", 16);
        assertRefused(f, "'ids'", "'I64'", "not supported", "[F32, BF16, F16]");
        Path g = craft("q4.safetensors", "{\"w\":{\"dtype\":\"Q4_K\",\"shape\":[2],\"data_offsets\":[0,1]}}", 1);
        assertRefused(g, "'w'", "'Q4_K'", "not a safetensors dtype");
    }

    @Test
    void byteLengthMustMatchTheShape() throws Exception {
        Path f = craft("len.safetensors", "{\"w\":{\"dtype\":\"BF16\",\"shape\":[3,4],\"data_offsets\":[0,16]}}", 16);
        assertRefused(f, "'w'", "16 bytes", "[3, 4]", "24 bytes");
    }

    @Test
    void otherHeaderMistakesNameTheTensor() throws Exception {
        assertRefused(craft("json.safetensors", "{\"w\": [", 0), "not valid JSON");
        assertRefused(craft("arr.safetensors", "[1,2]", 0), "JSON object");
        assertRefused(
                craft("noshape.safetensors", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4), "'w'", "shape");
        assertRefused(
                craft("neg.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4),
                "'w'",
                "non-negative");
        assertRefused(
                craft(
                        "dup.safetensors",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                + "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                        8),
                "Duplicate");
        assertRefused(craft("tiny.safetensors", 1, "{", 0), "header claims 1 bytes");
    }

    @Test
    void indexMistakesAreNamed() throws Exception {
        Path dir = tmp.resolve("idx");
        HfDirectory.write(dir, SafetensorsRoundTripTest.someTensors(), SafetensorsDType.F32, 3000);
        Path index = dir.resolve(HfDirectory.INDEX_FILE);
        String text = Files.readString(index);
        // the index points a tensor at a shard that does not exist
        Files.writeString(index, text.replace("\"model.norm.weight\" : \"model-", "\"model.norm.weight\" : \"gone-"));
        var e = assertThrows(HfFormatException.class, () -> HfDirectory.open(dir));
        assertTrue(
                e.getMessage().contains("'model.norm.weight'") && e.getMessage().contains("does not exist"),
                e.getMessage());
        // the index forgets a tensor that a shard holds
        var om = new ObjectMapper();
        var root = (ObjectNode) om.readTree(text);
        ((ObjectNode) root.get("weight_map")).remove("scalar");
        om.writeValue(index.toFile(), root);
        e = assertThrows(HfFormatException.class, () -> HfDirectory.open(dir));
        assertTrue(e.getMessage().contains("'scalar'") && e.getMessage().contains("does not list"), e.getMessage());
        // a directory with no checkpoint at all
        Files.createDirectories(tmp.resolve("empty"));
        e = assertThrows(HfFormatException.class, () -> HfDirectory.open(tmp.resolve("empty")));
        assertTrue(e.getMessage().contains("neither"), e.getMessage());
    }
}
