// The Llama-3 tokenizer: tiktoken byte-level BPE ranks + Llama-3's split regex + 256 special tokens
// numbered from the rank count (128000 for Meta's file). Guarantees:
//  - encode() follows Meta's llama3 tokenizer.py: the text is cut into 400k-code-point chunks and
//    runs of > 25k consecutive whitespace / non-whitespace code points are cut the same way, each
//    chunk is split by the regex and every piece is BPE-merged by jtokkit.
//  - decodeBytes(encode(x)) == UTF-8(x) for every well-formed string x; a lone (unpaired) surrogate
//    cannot be UTF-8 encoded and is replaced by U+FFFD first (the same as tiktoken), so for such x the
//    round trip returns the replaced string (see sanitize()).
//  - Special tokens are only recognised when the caller allows them; otherwise "<|eot_id|>" in the
//    text is ordinary text and encodes to ordinary ranks.
package dev.shoal.runtime.tokenizer;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.GptBytePairEncodingParams;
import com.knuddels.jtokkit.api.IntArrayList;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;

/** Thread-safe after construction: encode and decode may be called from many threads at once. */
public final class Llama3Tokenizer {

    /** Meta's split regex for Llama-3 (the original cl100k_base pattern). */
    public static final String SPLIT_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /** Number of special tokens appended after the ranks. */
    public static final int NUM_SPECIAL = 256;

    /** Meta's chunk sizes (llama3 tokenizer.py: TIKTOKEN_MAX_ENCODE_CHARS, MAX_NO_WHITESPACES_CHARS). */
    static final int MAX_ENCODE_CHARS = 400_000;

    static final int MAX_SAME_CLASS_RUN = 25_000;

    public static final String BEGIN_OF_TEXT = "<|begin_of_text|>";
    public static final String END_OF_TEXT = "<|end_of_text|>";
    public static final String EOT_ID = "<|eot_id|>";

    private static final AtomicInteger NAMES = new AtomicInteger();

    private final Encoding bpe;
    private final int numRanks;
    private final byte[][] idBytes; // [numRanks + NUM_SPECIAL]: id -> bytes (special ids -> their text)
    private final Map<String, Integer> specials; // in id order
    private final String source;

    /** The 256 special-token strings in Llama-3.1's id order (Meta's llama3 tokenizer.py). */
    public static List<String> specialTokenNames() {
        List<String> names = new ArrayList<>(NUM_SPECIAL);
        names.add(BEGIN_OF_TEXT);
        names.add(END_OF_TEXT);
        names.add("<|reserved_special_token_0|>");
        names.add("<|reserved_special_token_1|>");
        names.add("<|finetune_right_pad_id|>");
        names.add("<|reserved_special_token_2|>");
        names.add("<|start_header_id|>");
        names.add("<|end_header_id|>");
        names.add("<|eom_id|>");
        names.add(EOT_ID);
        names.add("<|python_tag|>");
        int named = names.size();
        for (int i = 0; i < NUM_SPECIAL - named; i++) {
            names.add("<|reserved_special_token_" + (3 + i) + "|>"); // 3 .. 247
        }
        return names;
    }

    public Llama3Tokenizer(TiktokenRanks ranks) {
        this.numRanks = ranks.size();
        this.source = ranks.source();
        byte[][] table = ranks.table();
        Map<byte[], Integer> encoder = new IdentityHashMap<>(numRanks * 2);
        idBytes = new byte[numRanks + NUM_SPECIAL][];
        for (int r = 0; r < numRanks; r++) {
            encoder.put(table[r], r);
            idBytes[r] = table[r];
        }
        Map<String, Integer> sp = new LinkedHashMap<>();
        List<String> names = specialTokenNames();
        for (int i = 0; i < NUM_SPECIAL; i++) {
            sp.put(names.get(i), numRanks + i);
            idBytes[numRanks + i] = names.get(i).getBytes(StandardCharsets.UTF_8);
        }
        this.specials = Collections.unmodifiableMap(sp);
        Pattern split = Pattern.compile(SPLIT_REGEX, Pattern.UNICODE_CHARACTER_CLASS);
        String name = "shoal-llama3-" + NAMES.incrementAndGet();
        GptBytePairEncodingParams params = new GptBytePairEncodingParams(name, split, encoder, new HashMap<>(sp));
        this.bpe = Encodings.newLazyEncodingRegistry()
                .registerGptBytePairEncoding(params)
                .getEncoding(name)
                .orElseThrow();
    }

    /** Loads a tiktoken {@code tokenizer.model}. */
    public static Llama3Tokenizer load(Path tokenizerModel) throws IOException {
        return new Llama3Tokenizer(TiktokenRanks.load(tokenizerModel));
    }

    /** Encodes {@code text} with no special tokens recognised, no BOS/EOS. */
    public int[] encode(String text) {
        return encode(text, Set.of(), false, false);
    }

    /** Encodes {@code text}; optionally prepends BOS ({@code <|begin_of_text|>}) and appends EOS. */
    public int[] encode(String text, boolean bos, boolean eos) {
        return encode(text, Set.of(), bos, eos);
    }

    /**
     * Encodes {@code text}, turning occurrences of the {@code allowedSpecial} strings into their ids
     * (the text is split on them and the plain pieces are BPE-encoded). Unknown names are refused.
     */
    public int[] encode(String text, Set<String> allowedSpecial, boolean bos, boolean eos) {
        for (String s : allowedSpecial) {
            if (!specials.containsKey(s)) throw new IllegalArgumentException("not a special token: '" + s + "'");
        }
        String clean = sanitize(text);
        List<String> chunks = metaChunks(clean);
        if (!bos && !eos && allowedSpecial.isEmpty() && chunks.size() == 1) {
            return bpe.encodeOrdinary(clean).toArray(); // the common case: one copy, straight from jtokkit
        }
        IntArrayList out = new IntArrayList(Math.max(16, text.length() / 3));
        if (bos) out.add(bosId());
        for (String chunk : chunks) {
            encodeWithSpecials(chunk, allowedSpecial, out);
        }
        if (eos) out.add(eosId());
        return out.toArray();
    }

    private void encodeWithSpecials(String text, Set<String> allowed, IntArrayList out) {
        if (allowed.isEmpty()) {
            appendOrdinary(text, out);
            return;
        }
        int start = 0;
        int from = 0;
        while (true) {
            int at = text.indexOf("<|", from);
            if (at < 0) break;
            String hit = null;
            for (String s : allowed) {
                if (text.startsWith(s, at)) {
                    hit = s;
                    break;
                }
            }
            if (hit == null) {
                from = at + 1;
                continue;
            }
            if (at > start) appendOrdinary(text.substring(start, at), out);
            out.add(specials.get(hit));
            start = at + hit.length();
            from = start;
        }
        if (start < text.length()) appendOrdinary(text.substring(start), out);
    }

    private void appendOrdinary(String piece, IntArrayList out) {
        if (piece.isEmpty()) return;
        IntArrayList ids = bpe.encodeOrdinary(piece);
        for (int i = 0, n = ids.size(); i < n; i++) out.add(ids.get(i));
    }

    /**
     * Meta's chunking: 400k-code-point slices, each cut where a run of same-class (Python
     * {@code str.isspace}) code points would exceed 25k. Texts shorter than 25k chars are one chunk.
     */
    static List<String> metaChunks(String s) {
        if (s.length() <= MAX_SAME_CLASS_RUN) return List.of(s);
        List<String> out = new ArrayList<>();
        int i = 0;
        while (i < s.length()) {
            int end = s.offsetByCodePoints(i, Math.min(MAX_ENCODE_CHARS, s.codePointCount(i, s.length())));
            splitRuns(s.substring(i, end), out);
            i = end;
        }
        return out;
    }

    private static void splitRuns(String s, List<String> out) {
        if (s.isEmpty()) {
            out.add(s);
            return;
        }
        int runLen = 0;
        boolean runIsSpace = isPySpace(s.codePointAt(0));
        int sliceStart = 0;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            boolean space = isPySpace(cp);
            if (space != runIsSpace) {
                runLen = 1;
                runIsSpace = space;
            } else if (++runLen > MAX_SAME_CLASS_RUN) {
                out.add(s.substring(sliceStart, i));
                sliceStart = i;
                runLen = 1;
            }
            i += Character.charCount(cp);
        }
        out.add(s.substring(sliceStart));
    }

    /** Python's {@code str.isspace} for one code point. */
    static boolean isPySpace(int cp) {
        return Character.isWhitespace(cp) || cp == 0x85 || cp == 0xA0 || cp == 0x2007 || cp == 0x202F;
    }

    /**
     * Replaces each unpaired surrogate by U+FFFD, the only way such a string can become UTF-8. Returns
     * {@code s} itself when it is well-formed.
     */
    public static String sanitize(String s) {
        int n = s.length();
        int i = 0;
        while (i < n) {
            char c = s.charAt(i);
            if (Character.isSurrogate(c)) {
                if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                    i += 2;
                    continue;
                }
                break;
            }
            i++;
        }
        if (i == n) return s;
        StringBuilder b = new StringBuilder(n);
        b.append(s, 0, i);
        while (i < n) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                b.append(c).append(s.charAt(i + 1));
                i += 2;
            } else {
                b.append(Character.isSurrogate(c) ? '\uFFFD' : c);
                i++;
            }
        }
        return b.toString();
    }

    /** The bytes of {@code ids} concatenated; special ids give their literal text. */
    public byte[] decodeBytes(int[] ids) {
        int len = 0;
        for (int id : ids) len += tokenBytes(id).length;
        byte[] out = new byte[len];
        int at = 0;
        for (int id : ids) {
            byte[] b = idBytes[id];
            System.arraycopy(b, 0, out, at, b.length);
            at += b.length;
        }
        return out;
    }

    /** Decodes to a string; byte sequences that are not valid UTF-8 become U+FFFD. */
    public String decode(int[] ids) {
        return new String(decodeBytes(ids), StandardCharsets.UTF_8);
    }

    private byte[] tokenBytes(int id) {
        if (id < 0 || id >= idBytes.length) {
            throw new IllegalArgumentException("token id " + id + " out of range [0, " + idBytes.length + ")");
        }
        return idBytes[id];
    }

    /** Id of a special token by its string, e.g. {@code "<|eot_id|>"}. */
    public int specialId(String name) {
        Integer id = specials.get(name);
        if (id == null) throw new IllegalArgumentException("not a special token: '" + name + "'");
        return id;
    }

    /** All special tokens, name -> id, in id order. */
    public Map<String, Integer> specials() {
        return specials;
    }

    public int bosId() {
        return numRanks;
    }

    public int eosId() {
        return numRanks + 1;
    }

    public int eotId() {
        return numRanks + 9;
    }

    /** Mergeable ranks (128000 for Llama-3). */
    public int numRanks() {
        return numRanks;
    }

    /** Ranks + specials (128256 for Llama-3). */
    public int vocabSize() {
        return numRanks + NUM_SPECIAL;
    }

    /** Where the ranks came from. */
    public String source() {
        return source;
    }
}
