// The two-language corpus for demos, tests and benchmarks: Debian's fortune files (English, Chinese) when
// installed, otherwise the project's own SyntheticCorpus written to disk. Always says which in the log.
package dev.shoal.runtime.data;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Stateless helper. */
public final class DemoCorpus {

    private DemoCorpus() {}

    /** Documents per language in the generated fallback. */
    public static final int SYNTHETIC_DOCS = 20_000;

    /**
     * Sources {@code en} and {@code zh}: from {@code fortunes} when present, else generated JSONL files in
     * {@code workDir}. One line to {@code log} names the choice (and why, for the fallback).
     */
    public static List<SourceSpec> sources(FortuneFiles fortunes, Path workDir, double validFraction, PrintStream log)
            throws IOException {
        if (fortunes.present()) {
            log.println("corpus: Debian fortune files (" + fortunes.english().size() + " English, "
                    + fortunes.chinese().size() + " Chinese files)");
            return List.of(
                    new SourceSpec("en", "en", DocFormat.FORTUNE, fortunes.english(), null, validFraction),
                    new SourceSpec("zh", "zh", DocFormat.FORTUNE, fortunes.chinese(), null, validFraction));
        }
        Files.createDirectories(workDir);
        Path en = workDir.resolve("en.jsonl");
        Path zh = workDir.resolve("zh.jsonl");
        SyntheticCorpus.writeJsonl(en, "en", 1, SYNTHETIC_DOCS);
        SyntheticCorpus.writeJsonl(zh, "zh", 2, SYNTHETIC_DOCS);
        log.println("corpus: " + fortunes.absentReason() + "; falling back to the generated synthetic corpus ("
                + SYNTHETIC_DOCS + " English-like + " + SYNTHETIC_DOCS + " Chinese-like documents in " + workDir + ")");
        return List.of(
                new SourceSpec("en", "en", DocFormat.JSONL, List.of(en), "text", validFraction),
                new SourceSpec("zh", "zh", DocFormat.JSONL, List.of(zh), "text", validFraction));
    }
}
