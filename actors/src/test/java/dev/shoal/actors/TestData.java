// Test helper: a small prepared bilingual corpus (generated en/zh text, byte-level tokenizer) that the
// data loaders and trainers of the tests read.
package dev.shoal.actors;

import dev.shoal.actors.bench.TinyClusterJob;
import java.nio.file.Path;

public final class TestData {

    private TestData() {}

    /** Prepares sources en and zh (100 documents each, 10% held out) into dir/data; returns it. */
    public static Path prepareBilingual(Path dir) throws Exception {
        return prepareBilingual(dir, 100);
    }

    /** As {@link #prepareBilingual(Path)} with {@code docs} documents per source. */
    public static Path prepareBilingual(Path dir, int docs) throws Exception {
        return TinyClusterJob.prepare(dir, docs);
    }
}
