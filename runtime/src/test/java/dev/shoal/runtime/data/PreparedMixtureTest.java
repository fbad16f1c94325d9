// Prepare → sampler on real shards: a mixture over memory-mapped prepared sources gives rows whose text
// comes from the prepared documents, and validation sequences come from the held-out split only.
package dev.shoal.runtime.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.runtime.tokenizer.Llama3Tokenizer;
import dev.shoal.runtime.tokenizer.TiktokenRanks;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PreparedMixtureTest {

    @TempDir
    Path dir;

    @Test
    void samplerReadsPreparedShards() throws IOException {
        Path model = TiktokenRanks.copyJtokkitCl100k(dir.resolve("tokenizer.model"));
        Llama3Tokenizer tok = Llama3Tokenizer.load(model);
        Path en = dir.resolve("en.jsonl");
        Path zh = dir.resolve("zh.jsonl");
        SyntheticCorpus.writeJsonl(en, "en", 1, 120);
        SyntheticCorpus.writeJsonl(zh, "zh", 2, 120);
        Path out = dir.resolve("out");
        Preparer.run(
                new Preparer.Config(
                        model,
                        out,
                        List.of(
                                new SourceSpec("en", "en", DocFormat.JSONL, List.of(en), "text", 0.1),
                                new SourceSpec("zh", "zh", DocFormat.JSONL, List.of(zh), "text", 0.1)),
                        2,
                        8192,
                        true,
                        null),
                tok);
        PreparedSource enTrain = PreparedSource.open(out, "en", PreparedSource.Split.TRAIN, true);
        PreparedSource zhTrain = PreparedSource.open(out, "zh", PreparedSource.Split.TRAIN, true);
        MixtureSpec spec = new MixtureSpec(
                5,
                64,
                16,
                4,
                List.of(new MixtureSpec.Source("en", "en", 0.75), new MixtureSpec.Source("zh", "zh", 0.25)),
                "zh",
                null);
        MixtureSampler s = new MixtureSampler(spec, Map.of("en", enTrain, "zh", zhTrain), tok.bosId(), tok.eosId());
        int zhRows = 0;
        for (long step = 0; step < 10; step++) {
            MixtureSampler.Batch b = s.globalBatch(step, true);
            for (int r = 0; r < b.rows(); r++) {
                MixtureSampler.RowAudit a = b.audit().get(r);
                PreparedSource src = a.source() == 0 ? enTrain : zhTrain;
                if (a.source() == 1) zhRows++;
                // the first whole-document piece of the row decodes to the prepared text of that document
                SourceStream.Segment seg = a.segments().get(0);
                int[] doc = src.doc(seg.doc());
                String text = tok.decode(doc);
                assertTrue(
                        a.source() == 0
                                ? text.matches("(?s)[A-Z].*")
                                : text.codePoints().anyMatch(c -> c > 0x4000),
                        text);
            }
        }
        assertEquals(40, zhRows, "exactly a quarter of 160 rows");
        MixtureSampler opened = MixtureSampler.fromPrepared(out, spec, true);
        for (long step : new long[] {0, 9, 1000}) {
            MixtureSampler.Batch a = s.globalBatch(step, false);
            MixtureSampler.Batch b = opened.globalBatch(step, false);
            for (int r = 0; r < a.rows(); r++) assertArrayEquals(a.row(r), b.row(r));
        }
        MixtureSpec wrongLang =
                new MixtureSpec(5, 64, 16, 4, List.of(new MixtureSpec.Source("en", "de", 1)), "zh", null);
        var e = assertThrows(IllegalArgumentException.class, () -> MixtureSampler.fromPrepared(out, wrongLang, false));
        assertTrue(e.getMessage().contains("'en'") && e.getMessage().contains("'de'"), e.getMessage());

        PreparedSource zhValid = PreparedSource.open(out, "zh", PreparedSource.Split.VALID, true);
        List<int[]> seqs = ValidationSet.sequences(zhValid, 32, 1000, tok.bosId(), tok.eosId());
        assertTrue(!seqs.isEmpty());
        Set<String> trainTexts = new HashSet<>();
        for (int d = 0; d < zhTrain.numDocs(); d++) trainTexts.add(tok.decode(zhTrain.doc(d)));
        for (int d = 0; d < zhValid.numDocs(); d++) assertTrue(!trainTexts.contains(tok.decode(zhValid.doc(d))));
        assertEquals(tok.bosId(), seqs.get(0)[0]);
        for (int i = 1; i < seqs.size(); i++) assertEquals(seqs.get(i - 1)[32], seqs.get(i)[0]);
    }
}
