// `shoal loss` against PyTorch (the golden `cli` case of gen_golden.py: the tiny model on its full
// token sequences, every next token counted), and each user mistake's one-line message and exit code 2.
package dev.shoal.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LossCommandTest {
    /** Loss: absolute tolerance (float32 engine vs float32 PyTorch). */
    static final double LOSS_ABS = 1e-5;
    /** Gradient norm: relative tolerance. */
    static final double NORM_REL = 1e-5;

    /** The golden fixture directory, read in place from the runtime module's test resources. */
    static final Path TINY = Path.of("..", "runtime", "src", "test", "resources", "golden", "tiny");

    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    static JsonNode cliCase() throws Exception {
        assertTrue(Files.isDirectory(TINY), "golden fixture missing at " + TINY.toAbsolutePath());
        return JSON.readTree(TINY.resolve("expected.json").toFile()).get("cli");
    }

    Path write(String name, String text) throws Exception {
        Path p = tmp.resolve(name);
        Files.writeString(p, text);
        return p;
    }

    @Test
    void lossAndGradNormMatchPyTorch() throws Exception {
        JsonNode cli = cliCase();
        Path tokens = write("tokens.json", cli.get("tokens").toString());
        ShoalCliTest.Run r =
                ShoalCliTest.run("loss", "--model", TINY.toString(), "--tokens", tokens.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode got = JSON.readTree(r.out());
        double loss = got.get("loss").asDouble(), wantLoss = cli.get("loss").asDouble();
        double norm = got.get("grad_norm").asDouble(),
                wantNorm = cli.get("grad_norm").asDouble();
        assertTrue(Math.abs(loss - wantLoss) <= LOSS_ABS, "loss " + loss + ", PyTorch " + wantLoss);
        assertTrue(Math.abs(norm - wantNorm) <= NORM_REL * wantNorm, "grad_norm " + norm + ", PyTorch " + wantNorm);
        assertEquals(cli.get("positions").asLong(), got.get("tokens").asLong());
        System.out.printf(
                "parity shoal loss: loss abs err %.3e, grad_norm rel err %.3e%n",
                Math.abs(loss - wantLoss), Math.abs(norm - wantNorm) / wantNorm);

        // The plain-text form states the same numbers.
        ShoalCliTest.Run text =
                ShoalCliTest.run("loss", "--model", TINY.toString(), "--tokens", tokens.toString(), "--threads", "1");
        assertEquals(0, text.code(), text.err());
        assertTrue(
                text.out().startsWith(String.format("loss %.6f  grad_norm %.6f  tokens 32", loss, norm)), text.out());
    }

    /** Runs `shoal loss` expecting a usage error: exit 2, one line on stderr containing each fragment. */
    void assertUserError(Path model, Path tokens, String... fragments) {
        ShoalCliTest.Run r = ShoalCliTest.run("loss", "--model", model.toString(), "--tokens", tokens.toString());
        assertEquals(2, r.code(), r.err());
        assertEquals("", r.out());
        String err = r.err().strip();
        assertTrue(err.startsWith("error: "), err);
        assertEquals(1, err.lines().count(), "one line, no stack trace: " + err);
        for (String f : fragments) assertTrue(err.contains(f), "'" + f + "' not in: " + err);
    }

    @Test
    void missingModelDirectory() throws Exception {
        Path tokens = write("t.json", "[[1,2,3]]");
        assertUserError(tmp.resolve("nope"), tokens, "--model", "nope", "no such directory");
    }

    @Test
    void directoryWithoutConfig() throws Exception {
        Path tokens = write("t.json", "[[1,2,3]]");
        Files.createDirectories(tmp.resolve("empty"));
        assertUserError(tmp.resolve("empty"), tokens, "config.json", "no such file");
    }

    @Test
    void missingTokenFile() {
        assertUserError(TINY, tmp.resolve("absent.json"), "--tokens", "absent.json", "no such file");
    }

    @Test
    void malformedJson() throws Exception {
        Path tokens = write("bad.json", "[[1, 2, 3], [4, 5");
        assertUserError(TINY, tokens, "bad.json", "not valid JSON");
    }

    @Test
    void notAnArrayOfSequences() throws Exception {
        assertUserError(TINY, write("obj.json", "{\"tokens\": [1, 2]}"), "obj.json", "non-empty JSON array");
        assertUserError(TINY, write("flat.json", "[1, 2, 3]"), "flat.json", "sequence 0 is not an array");
        assertUserError(TINY, write("str.json", "[[1, \"x\"]]"), "str.json", "position 1", "not an integer");
    }

    @Test
    void raggedSequences() throws Exception {
        Path tokens = write("ragged.json", "[[1, 2, 3], [4, 5, 6], [7, 8]]");
        assertUserError(TINY, tokens, "ragged.json", "sequence 0 has 3 tokens and sequence 2 has 2");
    }

    @Test
    void tokenIdOutsideTheVocabulary() throws Exception {
        assertUserError(
                TINY,
                write("big.json", "[[1, 2, 3], [4, 512, 6]]"),
                "big.json",
                "sequence 1 position 1",
                "token id 512",
                "[0, 512)");
        assertUserError(TINY, write("neg.json", "[[1, -1]]"), "neg.json", "token id -1");
    }

    @Test
    void sequenceShorterThanTwo() throws Exception {
        Path tokens = write("short.json", "[[7]]");
        assertUserError(TINY, tokens, "short.json", "sequence 0 has 1 token(s)", "at least 2");
    }

    @Test
    void sequenceLongerThanTheModelContext() throws Exception {
        StringBuilder sb = new StringBuilder("[[");
        for (int i = 0; i < 258; i++) sb.append(i == 0 ? "" : ",").append(i % 500);
        Path tokens = write("long.json", sb.append("]]").toString());
        assertUserError(TINY, tokens, "long.json", "max_position_embeddings 256");
    }
}
