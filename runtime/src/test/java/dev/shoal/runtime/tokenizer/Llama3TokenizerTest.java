// Llama-3 tokenizer checks:
//  - BPE parity: cl100k_base ranks, written out from jtokkit's jar and read back through OUR loader, with
//    OUR Llama-3 regex, must give exactly the ids of jtokkit's own cl100k_base encoder. jtokkit's cl100k uses
//    today's tiktoken pattern ('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|...|\s*[\r\n]|...) while
//    Llama-3 uses the original one ((?i:'s|'t|...)|...|\s*[\r\n]+|...). They split every string the same way
//    (the possessive quantifiers never need to backtrack; \s*[\r\n] and \s*[\r\n]+ both end at the last
//    newline of a whitespace run) except one corner: our (?i) is Unicode-aware like Rust's regex, so "'ſ"
//    (long s) is a contraction for Llama-3; the corpus below leaves that character out.
//  - special-token ids for a 128000-rank vocabulary, allowed-special splitting, BOS/EOS,
//  - byte-exact round trips (English, Chinese, emoji, random code points) and the lone-surrogate rule.
package dev.shoal.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Llama3TokenizerTest {

    static Llama3Tokenizer tok; // cl100k ranks through our loader
    static Encoding jtokkit;

    @BeforeAll
    static void load(@TempDir Path dir) throws IOException {
        Path model = TiktokenRanks.copyJtokkitCl100k(dir.resolve("tokenizer.model"));
        tok = Llama3Tokenizer.load(model);
        jtokkit = Encodings.newDefaultEncodingRegistry().getEncoding(EncodingType.CL100K_BASE);
    }

    static final List<String> CORPUS = List.of(
            "Hello, world! It's a fine day; we're sure they'll come, I'd say. DON'T SHOUT, WE'VE HEARD.",
            "The quick brown fox jumps over the lazy dog 1234567 times in 2024-05-01T12:00:00Z.",
            "    indented\n\n\n\tcode() {\r\n  return x+++y; // comment\n}\n   \n  ",
            "Numbers: 3.14159, 1,000,000, 12345678901234567890, -0.5e-10, ١٢٣٤ (Arabic-Indic).",
            "深度学习是机器学习的一个分支。我们在中文语料上继续预训练模型，以提高中文能力。",
            "日本語のテキストも混ざっています。한국어 문장도 있습니다. Ελληνικά και русский текст.",
            "Emoji: 😀👍🏽👨‍👩‍👧‍👦 🇨🇳🇺🇸 ❤️‍🔥 — and dashes – “quotes” ‘single’ …",
            "Whitespace   runs\u00a0non-breaking\u3000ideographic\u2003em\u200bzero-width end   ",
            "mixed中文English混合text123数字456，标点！？",
            "'s 't 're 've 'm 'll 'd 'S 'T 'RE 'Ve 'LL 'X",
            "\n\n\n\n",
            "   ",
            "",
            "a",
            "<|begin_of_text|> is just text unless allowed <|eot_id|>",
            "tab\tseparated\tvalues\r\nwindows line\rold mac line\u2028line sep\u2029para sep\u0085nel",
            "Accents: café naïve résumé Ångström façade coöperate; Vietnamese: Tiếng Việt có dấu.",
            "https://example.org/path?q=1&r=two#frag user@example.com C:\\Windows\\path",
            "$$$ %%% ^^^ &&& *** ((( ))) ___ +++ === ||| \\\\\\ ;;; ::: ,,, ... /// ??? ~~~ ```");

    @Test
    void bpeMatchesJtokkitCl100kOnCorpus() {
        for (String s : CORPUS) {
            assertArrayEquals(jtokkit.encodeOrdinary(s).toArray(), tok.encode(s), "text: " + s);
        }
    }

    @Test
    void bpeMatchesJtokkitCl100kOnRandomText() {
        String[] pool = {
            " ", " ", "  ", "\n", "\r\n", "\t", "a", "Z", "the", "The", "ing", "'s", "'LL", "'", "0", "42", "1234", ".",
            ",", "!?", "(", "))", "-", "_", "中", "文", "语料", "，", "。", "😀", "👍🏽", "é", "ß", "Ж", "ω", "\u00a0",
            "\u3000", "\u2003", "１２", "٣", "#", "@", "\\", "/*", "*/", "\"", "<|", "|>"
        };
        SplittableRandom rnd = new SplittableRandom(7);
        for (int t = 0; t < 2000; t++) {
            StringBuilder b = new StringBuilder();
            int n = 1 + rnd.nextInt(30);
            for (int i = 0; i < n; i++) b.append(pool[rnd.nextInt(pool.length)]);
            String s = b.toString();
            assertArrayEquals(jtokkit.encodeOrdinary(s).toArray(), tok.encode(s), "text: [" + s + "]");
        }
    }

    @Test
    void specialIdsFollowLlama31Order() {
        // A synthetic 128000-rank vocabulary: 256 single bytes, then distinct 3-byte strings.
        byte[][] table = new byte[128_000][];
        for (int i = 0; i < 256; i++) table[i] = new byte[] {(byte) i};
        for (int i = 256; i < table.length; i++) {
            table[i] = new byte[] {(byte) 0xff, (byte) (i >> 8), (byte) i};
        }
        Llama3Tokenizer llama = new Llama3Tokenizer(TiktokenRanks.of(table, "synthetic"));
        assertEquals(128_256, llama.vocabSize());
        assertEquals(128_000, llama.bosId());
        assertEquals(128_001, llama.eosId());
        assertEquals(128_009, llama.eotId());
        assertEquals(128_000, llama.specialId("<|begin_of_text|>"));
        assertEquals(128_001, llama.specialId("<|end_of_text|>"));
        assertEquals(128_002, llama.specialId("<|reserved_special_token_0|>"));
        assertEquals(128_003, llama.specialId("<|reserved_special_token_1|>"));
        assertEquals(128_004, llama.specialId("<|finetune_right_pad_id|>"));
        assertEquals(128_005, llama.specialId("<|reserved_special_token_2|>"));
        assertEquals(128_006, llama.specialId("<|start_header_id|>"));
        assertEquals(128_007, llama.specialId("<|end_header_id|>"));
        assertEquals(128_008, llama.specialId("<|eom_id|>"));
        assertEquals(128_009, llama.specialId("<|eot_id|>"));
        assertEquals(128_010, llama.specialId("<|python_tag|>"));
        assertEquals(128_011, llama.specialId("<|reserved_special_token_3|>"));
        assertEquals(128_255, llama.specialId("<|reserved_special_token_247|>"));
        assertEquals(256, llama.specials().size());
        assertEquals(256, new HashSet<>(llama.specials().values()).size());
        assertThrows(IllegalArgumentException.class, () -> llama.specialId("<|reserved_special_token_248|>"));
        assertEquals("<|eot_id|>", llama.decode(new int[] {128_009}));
    }

    @Test
    void allowedSpecialsSplitTheText() {
        int eot = tok.eotId();
        int[] plain = tok.encode("hi <|eot_id|> there");
        assertTrue(IntStream.of(plain).allMatch(id -> id < tok.numRanks()), "specials are text unless allowed");
        int[] withSpecial = tok.encode("hi <|eot_id|> there", Set.of(Llama3Tokenizer.EOT_ID), false, false);
        List<Integer> expected = new ArrayList<>();
        for (int id : tok.encode("hi ")) expected.add(id);
        expected.add(eot);
        for (int id : tok.encode(" there")) expected.add(id);
        assertArrayEquals(expected.stream().mapToInt(i -> i).toArray(), withSpecial);
        // Only the allowed ones are recognised.
        int[] other = tok.encode("<|eot_id|><|begin_of_text|>", Set.of("<|begin_of_text|>"), false, false);
        assertEquals(tok.bosId(), other[other.length - 1]);
        assertTrue(IntStream.of(other).noneMatch(id -> id == eot));
        assertThrows(IllegalArgumentException.class, () -> tok.encode("x", Set.of("<|nope|>"), false, false));
    }

    @Test
    void bosAndEosOnlyWhenAsked() {
        int[] ids = tok.encode("hello", true, true);
        assertEquals(tok.bosId(), ids[0]);
        assertEquals(tok.eosId(), ids[ids.length - 1]);
        assertArrayEquals(tok.encode("hello"), java.util.Arrays.copyOfRange(ids, 1, ids.length - 1));
        assertEquals(0, tok.encode("").length);
    }

    @Test
    void roundTripsBytesExactly() {
        for (String s : CORPUS) {
            assertArrayEquals(s.getBytes(StandardCharsets.UTF_8), tok.decodeBytes(tok.encode(s)), s);
            assertEquals(s, tok.decode(tok.encode(s)));
        }
        SplittableRandom rnd = new SplittableRandom(11);
        for (int t = 0; t < 500; t++) {
            StringBuilder b = new StringBuilder();
            int n = rnd.nextInt(40);
            for (int i = 0; i < n; i++) {
                int cp;
                do {
                    cp = rnd.nextInt(4) == 0 ? rnd.nextInt(0x20000) : rnd.nextInt(0x3000);
                } while (cp >= 0xD800 && cp <= 0xDFFF);
                b.appendCodePoint(cp);
            }
            String s = b.toString();
            assertEquals(s, tok.decode(tok.encode(s)));
        }
    }

    @Test
    void loneSurrogatesBecomeReplacementCharacters() {
        String bad = "a\uD800b\uDC00c" + "😀" + "\uD83D"; // lone high, lone low, a pair, lone high at end
        String replaced = "a\uFFFDb\uFFFDc😀\uFFFD";
        assertEquals(replaced, Llama3Tokenizer.sanitize(bad));
        assertEquals(replaced, tok.decode(tok.encode(bad)));
        assertArrayEquals(tok.encode(replaced), tok.encode(bad));
        String good = "well-formed 😀";
        assertTrue(good == Llama3Tokenizer.sanitize(good), "no copy for well-formed strings");
    }

    @Test
    void longRunsAreChunkedLikeMetaAndStillRoundTrip() {
        String s = "x" + " ".repeat(60_000) + "y".repeat(30_000);
        List<String> chunks = Llama3Tokenizer.metaChunks(s);
        assertEquals(s, String.join("", chunks));
        assertTrue(chunks.size() >= 3, "runs over 25000 are cut: " + chunks.size());
        for (String c : chunks) {
            int run = 1, max = 1;
            for (int i = 1; i < c.length(); i++) {
                run = Llama3Tokenizer.isPySpace(c.charAt(i)) == Llama3Tokenizer.isPySpace(c.charAt(i - 1))
                        ? run + 1
                        : 1;
                max = Math.max(max, run);
            }
            assertTrue(max <= Llama3Tokenizer.MAX_SAME_CLASS_RUN, "max run " + max);
        }
        assertEquals(s, tok.decode(tok.encode(s)));
    }
}
