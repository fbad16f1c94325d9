// Loads a tiktoken BPE rank file (Llama-3's `tokenizer.model`): one `base64(token-bytes) rank` line per
// rank. Guarantees: ranks form exactly 0..n-1 (each once), tokens are distinct, and every malformed
// line is reported with the file name and its 1-based line number.
package dev.shoal.runtime.tokenizer;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;

/** The mergeable ranks of a byte-level BPE: {@code tokenBytes[rank]} is the byte string of that rank. */
public final class TiktokenRanks {

    private final byte[][] tokenBytes; // [n]: rank -> token bytes
    private final String source;

    private TiktokenRanks(byte[][] tokenBytes, String source) {
        this.tokenBytes = tokenBytes;
        this.source = source;
    }

    /** Malformed rank file: the message names the file and the line. */
    public static final class FormatException extends IOException {
        public FormatException(String message) {
            super(message);
        }
    }

    /** Reads {@code file}; throws {@link FormatException} naming the file and line on bad content. */
    public static TiktokenRanks load(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new FormatException("tokenizer file " + file + " does not exist or is not a regular file");
        }
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.US_ASCII)) {
            return parse(in, file.toString());
        } catch (java.nio.charset.MalformedInputException e) {
            throw new FormatException(file + ": not a tiktoken rank file (contains non-ASCII bytes)");
        }
    }

    /** Parses rank lines from {@code in}; {@code name} is used in error messages. */
    public static TiktokenRanks parse(BufferedReader in, String name) throws IOException {
        Map<ByteKey, Integer> seen = new HashMap<>(1 << 18);
        byte[][] byRank = new byte[1 << 17][];
        int[] lineOfRank = new int[byRank.length];
        int count = 0;
        int maxRank = -1;
        Base64.Decoder b64 = Base64.getDecoder();
        String line;
        int lineNo = 0;
        while ((line = in.readLine()) != null) {
            lineNo++;
            if (line.isEmpty()) continue; // tolerate blank (e.g. trailing) lines
            int sp = line.indexOf(' ');
            if (sp <= 0 || sp != line.lastIndexOf(' ') || sp == line.length() - 1) {
                throw new FormatException(
                        name + ":" + lineNo + ": expected '<base64-token> <rank>', got '" + abbreviate(line) + "'");
            }
            byte[] token;
            try {
                token = b64.decode(line.substring(0, sp));
            } catch (IllegalArgumentException e) {
                throw new FormatException(name + ":" + lineNo + ": invalid base64 token '"
                        + abbreviate(line.substring(0, sp)) + "' (" + e.getMessage() + ")");
            }
            if (token.length == 0) throw new FormatException(name + ":" + lineNo + ": empty token");
            int rank;
            try {
                rank = Integer.parseInt(line.substring(sp + 1));
            } catch (NumberFormatException e) {
                throw new FormatException(name + ":" + lineNo + ": rank '" + abbreviate(line.substring(sp + 1))
                        + "' is not a non-negative integer");
            }
            if (rank < 0) throw new FormatException(name + ":" + lineNo + ": negative rank " + rank);
            if (rank >= (1 << 24)) {
                throw new FormatException(name + ":" + lineNo + ": rank " + rank + " is implausibly large (≥ 2^24)");
            }
            if (rank >= byRank.length) {
                int n = Math.max(rank + 1, byRank.length * 2);
                byRank = Arrays.copyOf(byRank, n);
                lineOfRank = Arrays.copyOf(lineOfRank, n);
            }
            if (byRank[rank] != null) {
                throw new FormatException(
                        name + ":" + lineNo + ": rank " + rank + " already given on line " + lineOfRank[rank]);
            }
            Integer prev = seen.put(new ByteKey(token), rank);
            if (prev != null) {
                throw new FormatException(
                        name + ":" + lineNo + ": token already has rank " + prev + " (line " + lineOfRank[prev] + ")");
            }
            byRank[rank] = token;
            lineOfRank[rank] = lineNo;
            count++;
            maxRank = Math.max(maxRank, rank);
        }
        if (count == 0) throw new FormatException(name + ": no ranks found (empty file)");
        if (maxRank != count - 1) {
            int missing = 0;
            while (byRank[missing] != null) missing++;
            throw new FormatException(name + ": ranks must be exactly 0.." + (count - 1) + " but rank " + missing
                    + " is missing (highest rank " + maxRank + " on line " + lineOfRank[maxRank] + ")");
        }
        return new TiktokenRanks(Arrays.copyOf(byRank, count), name);
    }

    /** Classpath resource where jtokkit ships OpenAI's cl100k_base ranks (tiktoken format). */
    public static final String JTOKKIT_CL100K_RESOURCE = "/com/knuddels/jtokkit/cl100k_base.tiktoken";

    /**
     * Copies the cl100k_base rank file that jtokkit ships, byte for byte, to {@code dest}. It stands in
     * for Meta's Llama-3 {@code tokenizer.model} (which cannot be redistributed) in tests and demos:
     * same format, 100256 ranks, so the specials start at 100256 instead of 128000.
     */
    public static Path copyJtokkitCl100k(Path dest) throws IOException {
        try (InputStream in = com.knuddels.jtokkit.Encodings.class.getResourceAsStream(JTOKKIT_CL100K_RESOURCE)) {
            if (in == null) throw new IOException("jtokkit resource " + JTOKKIT_CL100K_RESOURCE + " not on classpath");
            Files.copy(in, dest, StandardCopyOption.REPLACE_EXISTING);
        }
        return dest;
    }

    /** Builds ranks from an in-memory table (rank i = tokens[i]); used by tests and converters. */
    public static TiktokenRanks of(byte[][] tokens, String name) {
        return new TiktokenRanks(tokens.clone(), name);
    }

    /** Writes the ranks in tiktoken format, ordered by rank. */
    public void write(Path file) throws IOException {
        Base64.Encoder b64 = Base64.getEncoder();
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.US_ASCII)) {
            for (int r = 0; r < tokenBytes.length; r++) {
                w.write(b64.encodeToString(tokenBytes[r]));
                w.write(' ');
                w.write(Integer.toString(r));
                w.write('\n');
            }
        }
    }

    /** Number of mergeable ranks; Llama-3 has 128000. */
    public int size() {
        return tokenBytes.length;
    }

    /** Bytes of {@code rank} (a copy). */
    public byte[] bytes(int rank) {
        return tokenBytes[rank].clone();
    }

    byte[][] table() {
        return tokenBytes;
    }

    /** The file (or name) these ranks came from. */
    public String source() {
        return source;
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
    }

    private record ByteKey(byte[] b) {
        @Override
        public boolean equals(Object o) {
            return o instanceof ByteKey k && Arrays.equals(b, k.b);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(b);
        }
    }
}
