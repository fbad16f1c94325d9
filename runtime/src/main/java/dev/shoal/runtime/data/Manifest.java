// The JSON manifest of a prepared dataset (`manifest.json` in the output folder) and the per-chunk
// completion records. Paths inside are relative to the output folder; checksums are SHA-256 in hex.
//
// On-disk formats:
//   *.tok  token ids, little-endian uint32, the documents back to back (no BOS/EOS: the packer adds them).
//   *.idx  document index, little-endian int64, docs + 1 cumulative token offsets into the .tok (first 0).
package dev.shoal.runtime.data;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;

/** Top-level manifest; {@code sources} keep the order they were given in. */
public record Manifest(String format, TokenizerInfo tokenizer, List<SourceEntry> sources) {

    public static final String FORMAT = "shoal-tokens-v1";
    public static final String FILE_NAME = "manifest.json";

    static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /** The tokenizer the ids were made with. */
    public record TokenizerInfo(String path, String sha256, int numRanks, int vocabSize, int bosId, int eosId) {}

    /** One named source: its inputs, both splits, and what was skipped. */
    public record SourceEntry(
            String name,
            String lang,
            String format,
            String textField,
            double validFraction,
            List<InputFile> inputs,
            long records,
            long textBytes,
            long ansiSequencesStripped,
            Map<String, Long> bad,
            Split train,
            Split valid) {}

    public record InputFile(String path, long bytes) {}

    /** One split (train or valid) of a source. */
    public record Split(long docs, long tokens, List<Shard> shards) {}

    /** A token shard and its document index. */
    public record Shard(
            String tokens, String index, long docs, long numTokens, String tokensSha256, String indexSha256) {}

    /** Written next to a chunk's shards once both are durable; lets a re-run skip the chunk. */
    public record ChunkRecord(
            String key,
            long records,
            long textBytes,
            long ansiSequences,
            Map<String, Long> bad,
            Shard train,
            Shard valid) {}

    public SourceEntry source(String name) {
        for (SourceEntry s : sources) if (s.name().equals(name)) return s;
        throw new IllegalArgumentException("no source '" + name + "' in manifest (have "
                + sources.stream().map(SourceEntry::name).toList() + ")");
    }

    public static Manifest read(Path dir) throws IOException {
        Path f = dir.resolve(FILE_NAME);
        if (!Files.isRegularFile(f)) {
            throw new IllegalArgumentException("no " + FILE_NAME + " in " + dir + " (run shoal prepare first)");
        }
        Manifest m = JSON.readValue(f.toFile(), Manifest.class);
        if (!FORMAT.equals(m.format())) {
            throw new IllegalArgumentException(f + ": format '" + m.format() + "', expected '" + FORMAT + "'");
        }
        return m;
    }

    public void write(Path dir) throws IOException {
        writeAtomically(dir.resolve(FILE_NAME), this);
    }

    static void writeAtomically(Path file, Object value) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        JSON.writeValue(tmp.toFile(), value);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
