// `shoal prepare`: tokenizes named sources (JSONL, plain text, fortune files) into token shards, document
// indexes and a manifest, on all cores, with a progress bar on stderr and a per-source summary on stdout.
// User mistakes (bad --source syntax, missing files, malformed tokenizer) exit 2 with one line.
package dev.shoal.cli;

import dev.shoal.runtime.data.DemoCorpus;
import dev.shoal.runtime.data.DocFormat;
import dev.shoal.runtime.data.FortuneFiles;
import dev.shoal.runtime.data.Preparer;
import dev.shoal.runtime.data.SourceSpec;
import dev.shoal.runtime.tokenizer.TiktokenRanks;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "prepare",
        mixinStandardHelpOptions = true,
        description = {
            "Tokenizes documents into shards of little-endian uint32 ids with a document index and a manifest.json",
            "(counts and SHA-256 checksums). Runs on all cores; a re-run skips chunks whose shards verify.",
            "Bad records (invalid JSON or UTF-8, missing or non-string field, empty text) are counted and skipped.",
            "",
            "Each --source is a comma-separated list of key=value pairs:",
            "  name=NAME      source name ([A-Za-z0-9._-]+), also its folder in --out   (required)",
            "  lang=TAG       language tag, e.g. en or zh                                (required)",
            "  format=F       jsonl | text (blank-line separated paragraphs) | fortune (entries split by %% lines)",
            "                 (default: jsonl for *.jsonl, fortune for files without extension, text otherwise)",
            "  path=FILE      an input file; repeat path= for several files               (required)",
            "  field=NAME     JSON string field holding the text (jsonl only; default --text-field)",
            "  valid=F        fraction of documents held out for validation (default --valid-fraction)",
            "Example: --source name=en,lang=en,format=jsonl,path=en1.jsonl,path=en2.jsonl,valid=0.01",
            "",
            "--demo adds two sources, en and zh, from Debian's fortune files; when they are absent it writes a",
            "generated English-like and Chinese-like corpus under OUT/synthetic-input and says so.",
            ""
        })
public final class PrepareCommand implements Callable<Integer> {

    @Option(names = "--tokenizer", required = true, paramLabel = "FILE", description = "Llama-3 tokenizer.model.")
    Path tokenizer;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output folder.")
    Path out;

    @Option(names = "--source", paramLabel = "SPEC", description = "A source (see above); repeatable.")
    List<String> sources = new ArrayList<>();

    @Option(names = "--demo", description = "Add en/zh sources from fortunes, or a generated corpus.")
    boolean demo;

    @Option(names = "--text-field", defaultValue = "text", description = "Default JSON text field (${DEFAULT-VALUE}).")
    String textField;

    @Option(
            names = "--valid-fraction",
            defaultValue = "0.01",
            description = "Default validation fraction (${DEFAULT-VALUE}).")
    double validFraction;

    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all cores).")
    Integer threads;

    @Option(names = "--chunk-mb", defaultValue = "16", description = "Input MB per shard (${DEFAULT-VALUE}).")
    int chunkMb;

    @Option(names = "--keep-ansi", description = "Keep ANSI escape sequences (default: strip and count them).")
    boolean keepAnsi;

    @Option(names = "--quiet", description = "No progress bar.")
    boolean quiet;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        List<SourceSpec> specs = new ArrayList<>();
        try {
            for (String s : sources) specs.add(parseSource(s, textField, validFraction));
            if (demo) specs.addAll(demoSources());
            if (specs.isEmpty()) throw new ShoalCli.UserError("no sources: give --source (see --help) or --demo");
            int n = threads != null ? threads : Runtime.getRuntime().availableProcessors();
            if (chunkMb < 1 || chunkMb > 256)
                throw new ShoalCli.UserError("--chunk-mb " + chunkMb + " must be in 1..256");
            PrintStream err = quiet
                    ? null
                    : new PrintStream(new WriterStream(spec.commandLine().getErr()), true);
            Preparer.Config c = new Preparer.Config(tokenizer, out, specs, n, chunkMb << 20, !keepAnsi, err);
            Preparer.Report r = Preparer.run(c);
            ShoalCli.printTo(spec.commandLine().getOut(), r.summary());
            ShoalCli.printTo(spec.commandLine().getOut(), "manifest: " + out.resolve("manifest.json"));
            return 0;
        } catch (TiktokenRanks.FormatException e) {
            throw new ShoalCli.UserError(e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new ShoalCli.UserError(e.getMessage());
        }
    }

    private List<SourceSpec> demoSources() throws IOException {
        PrintStream log = new PrintStream(new WriterStream(spec.commandLine().getErr()), true);
        return DemoCorpus.sources(FortuneFiles.find(), out.resolve("synthetic-input"), validFraction, log);
    }

    /** Parses one {@code --source} value (see the help text). */
    static SourceSpec parseSource(String value, String defaultField, double defaultValid) {
        String name = null, lang = null, format = null, field = defaultField;
        double valid = defaultValid;
        List<Path> paths = new ArrayList<>();
        for (String part : value.split(",")) {
            int eq = part.indexOf('=');
            if (eq <= 0) {
                throw new ShoalCli.UserError("--source '" + value + "': '" + part + "' is not key=value");
            }
            String k = part.substring(0, eq).trim();
            String v = part.substring(eq + 1).trim();
            switch (k) {
                case "name" -> name = v;
                case "lang" -> lang = v;
                case "format" -> format = v;
                case "path" -> paths.add(Path.of(v));
                case "field" -> field = v;
                case "valid" -> {
                    try {
                        valid = Double.parseDouble(v);
                    } catch (NumberFormatException e) {
                        throw new ShoalCli.UserError("--source '" + value + "': valid=" + v + " is not a number");
                    }
                }
                default ->
                    throw new ShoalCli.UserError("--source '" + value + "': unknown key '" + k
                            + "' (expected name, lang, format, path, field, valid)");
            }
        }
        if (name == null) throw new ShoalCli.UserError("--source '" + value + "': name= is required");
        if (lang == null) throw new ShoalCli.UserError("--source '" + value + "': lang= is required");
        if (paths.isEmpty()) throw new ShoalCli.UserError("--source '" + value + "': at least one path= is required");
        DocFormat f = format != null ? DocFormat.parse(format) : guess(paths.get(0));
        return new SourceSpec(name, lang, f, paths, field, valid);
    }

    static DocFormat guess(Path p) {
        String n = p.getFileName().toString();
        if (n.endsWith(".jsonl") || n.endsWith(".json")) return DocFormat.JSONL;
        if (!n.contains(".")) return DocFormat.FORTUNE;
        return DocFormat.TEXT;
    }

    /** Adapts picocli's error writer (a PrintWriter) to the PrintStream the progress bar draws on. */
    private static final class WriterStream extends java.io.OutputStream {
        private final java.io.PrintWriter w;
        private final java.io.ByteArrayOutputStream pending = new java.io.ByteArrayOutputStream();

        WriterStream(java.io.PrintWriter w) {
            this.w = w;
        }

        @Override
        public synchronized void write(int b) {
            pending.write(b);
        }

        @Override
        public synchronized void flush() {
            w.print(pending.toString(java.nio.charset.StandardCharsets.UTF_8));
            w.flush();
            pending.reset();
        }
    }
}
