// The PyTorch golden fixtures (written by gen_golden.py's own safetensors writer) read back through
// Shoal's HF reader: configs equal the presets, tensor names and shapes match the config, and the
// gradient and AdamW files cover every parameter. This is the cross-implementation check of the
// reader; the numeric parity test of the engine uses the same files.
package dev.shoal.runtime.hf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.shoal.runtime.model.LlamaConfig;
import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class GoldenFixtureTest {

    /**
     * The fixture folder: in place when the test classes are a folder; copied once to a temporary folder
     * when they are a jar (the GPU-check bundle), since the HF reader memory-maps its files.
     */
    static synchronized Path golden(String name) throws Exception {
        URI uri = GoldenFixtureTest.class.getResource("/golden/" + name).toURI();
        if (uri.getScheme().equals("file")) return Path.of(uri);
        Path copy = EXTRACTED.get(name);
        if (copy != null) return copy;
        FileSystem zip;
        try {
            zip = FileSystems.newFileSystem(uri, Map.of());
        } catch (FileSystemAlreadyExistsException e) {
            zip = FileSystems.getFileSystem(uri);
        }
        Path from = zip.getPath("/golden/" + name);
        Path to = Files.createTempDirectory("shoal-golden-" + name);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Path dst = to.resolve(f.getFileName().toString());
                Files.copy(f, dst);
                dst.toFile().deleteOnExit();
            }
        }
        to.toFile().deleteOnExit();
        EXTRACTED.put(name, to);
        return to;
    }

    private static final Map<String, Path> EXTRACTED = new HashMap<>();

    @Test
    void tinyFixtureIsAValidHfDirectory() throws Exception {
        Path dir = golden("tiny");
        LlamaConfig tiny = LlamaConfig.preset("tiny");
        try (HfDirectory d = HfDirectory.open(dir)) {
            assertEquals(tiny, HfConfig.readChecked(d));
            // the generator's norms are perturbed around 1, so a norm bug cannot hide
            HostTensor norm = d.read("model.norm.weight");
            double dev = 0;
            for (long i = 0; i < norm.elems(); i++) dev = Math.max(dev, Math.abs(norm.get(i) - 1));
            assertTrue(dev > 0.1, "norm weights deviate from 1 by " + dev);
        }
        for (String f : new String[] {"grads.safetensors", "weights_after_5.safetensors"}) {
            try (SafetensorsReader r = SafetensorsReader.open(dir.resolve(f))) {
                var shapes = new LinkedHashMap<String, long[]>();
                r.entries().forEach((n, e) -> shapes.put(n, e.shape()));
                HfConfig.checkTensors(tiny, shapes, r.file());
            }
        }
        try (SafetensorsReader r = SafetensorsReader.open(dir.resolve("logits.safetensors"))) {
            assertArrayEquals(new long[] {2, 16, 512}, r.entry("logits").shape());
        }
        JsonNode exp = new ObjectMapper().readTree(dir.resolve("expected.json").toFile());
        assertEquals(5, exp.get("adamw").get("losses").size());
        // the initial loss of a near-uniform model is close to ln(V)
        assertEquals(Math.log(512), exp.get("loss").asDouble(), 0.05);
        JsonNode in = new ObjectMapper().readTree(dir.resolve("inputs.json").toFile());
        assertEquals(2, in.get("tokens").size());
        assertEquals(16, in.get("targets").get(1).size());
    }

    @Test
    void rope31FixtureHasLlama3Scaling() throws Exception {
        LlamaConfig c = HfConfig.read(golden("tiny-rope31"));
        assertEquals(
                LlamaConfig.preset("tiny").withRopeScaling(new LlamaConfig.RopeScaling(4.0, 1.0, 4.0, 64)),
                c.withName("tiny"));
        assertTrue(Arrays.asList(golden("tiny-rope31").toFile().list()).contains("logits.safetensors"));
    }
}
