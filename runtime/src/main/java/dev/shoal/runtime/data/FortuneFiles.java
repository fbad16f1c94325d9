// Finds Debian's fortune files (packages `fortunes` and `fortunes-zh`) for demos and tests. When they are
// absent, callers fall back to SyntheticCorpus and say so; absent() explains why.
package dev.shoal.runtime.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** The English and Chinese fortune files found on this machine. */
public record FortuneFiles(Path dir, List<Path> english, List<Path> chinese) {

    public static final Path DEFAULT_DIR = Path.of("/usr/share/games/fortunes");

    /** The Chinese files of fortunes-zh (UTF-8, with ANSI colour escapes). */
    static final List<String> CHINESE = List.of("chinese", "tang300", "song100");

    /** Looks in {@link #DEFAULT_DIR}. */
    public static FortuneFiles find() {
        return find(DEFAULT_DIR);
    }

    /** English: every regular file there except the .dat indexes, .u8 links, the Chinese ones and sub-folders. */
    public static FortuneFiles find(Path dir) {
        List<Path> en = new ArrayList<>();
        List<Path> zh = new ArrayList<>();
        if (Files.isDirectory(dir)) {
            try (Stream<Path> files = Files.list(dir)) {
                for (Path p : files.sorted().toList()) {
                    String n = p.getFileName().toString();
                    if (!Files.isRegularFile(p) || Files.isSymbolicLink(p) || n.contains(".")) continue;
                    (CHINESE.contains(n) ? zh : en).add(p);
                }
            } catch (IOException e) {
                return new FortuneFiles(dir, List.of(), List.of());
            }
        }
        return new FortuneFiles(dir, List.copyOf(en), List.copyOf(zh));
    }

    public boolean present() {
        return !english.isEmpty() && !chinese.isEmpty();
    }

    /** Why the files cannot be used, for logs and test-skip reasons. */
    public String absentReason() {
        return "Debian fortune files not found in " + dir + " (english " + english.size() + ", chinese "
                + chinese.size() + " files; apt-get install fortunes fortunes-zh)";
    }
}
