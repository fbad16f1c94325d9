// A byte-level tiktoken rank file: 256 ranks, rank i = the single byte i, no merges. With the 256 Llama-3
// special tokens after it (BOS 256, EOS 257) the vocabulary is exactly 512, the `tiny` preset's, so the
// tiny model can train on `shoal prepare` output of any text without Meta's tokenizer.model.
package dev.shoal.runtime.train;

import dev.shoal.runtime.tokenizer.TiktokenRanks;
import java.io.IOException;
import java.nio.file.Path;

/** Stateless. */
public final class ByteLevelTokenizer {
    private ByteLevelTokenizer() {}

    /** Writes the 256-rank file to {@code file} and returns it. */
    public static Path write(Path file) throws IOException {
        byte[][] bytes = new byte[256][];
        for (int i = 0; i < 256; i++) bytes[i] = new byte[] {(byte) i};
        TiktokenRanks.of(bytes, "byte-level").write(file);
        return file;
    }
}
