// Test helper: a small prepared bilingual corpus (generated en/zh text, byte-level tokenizer) that the
// data loaders and trainers of the tests read.
package dev.shoal.actors;

import dev.shoal.runtime.data.DocFormat;
import dev.shoal.runtime.data.Preparer;
import dev.shoal.runtime.data.SourceSpec;
import dev.shoal.runtime.data.SyntheticCorpus;
import dev.shoal.runtime.train.ByteLevelTokenizer;
import java.nio.file.Path;
import java.util.List;

public final class TestData {

    private TestData() {}

    /** Prepares sources en and zh (100 documents each, 10% held out) into dir/data; returns it. */
    public static Path prepareBilingual(Path dir) throws Exception {
        return prepareBilingual(dir, 100);
    }

    /** As {@link #prepareBilingual(Path)} with {@code docs} documents per source. */
    public static Path prepareBilingual(Path dir, int docs) throws Exception {
        Path tok = ByteLevelTokenizer.write(dir.resolve("bytes.tiktoken"));
        SyntheticCorpus.writeJsonl(dir.resolve("en.jsonl"), "en", 1, docs);
        SyntheticCorpus.writeJsonl(dir.resolve("zh.jsonl"), "zh", 2, docs);
        Path data = dir.resolve("data");
        Preparer.run(new Preparer.Config(
                tok,
                data,
                List.of(
                        new SourceSpec("en", "en", DocFormat.JSONL, List.of(dir.resolve("en.jsonl")), "text", 0.1),
                        new SourceSpec("zh", "zh", DocFormat.JSONL, List.of(dir.resolve("zh.jsonl")), "text", 0.1)),
                1,
                1 << 20,
                true,
                null));
        return data;
    }
}
