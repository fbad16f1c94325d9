// `shoal sample`: shows what the mixture sampler puts into given steps of a run (rows per source, the ALMR
// reached, label tokens consumed) and, with --audit, which document pieces fill each row. The same numbers
// a trainer gets from MixtureSampler, so a run's data can be inspected before (or after) it happens.
package dev.shoal.cli;

import dev.shoal.runtime.data.AlmrSchedule;
import dev.shoal.runtime.data.MixtureSampler;
import dev.shoal.runtime.data.MixtureSpec;
import dev.shoal.runtime.data.SourceStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "sample",
        mixinStandardHelpOptions = true,
        description = {
            "Shows the mixture sampler's rows for a range of steps of a prepared dataset: rows per source, the",
            "additional-language share so far against its target, and (with --audit) the document pieces of every row."
        })
public final class SampleCommand implements Callable<Integer> {

    @Option(names = "--data", required = true, paramLabel = "DIR", description = "Output folder of shoal prepare.")
    Path data;

    @Option(
            names = "--mix",
            required = true,
            paramLabel = "LIST",
            description = "Sources as name:lang:weight, comma-separated, e.g. en:en:0.7,zh:zh:0.3.")
    String mix;

    @Option(
            names = "--additional-lang",
            required = true,
            paramLabel = "TAG",
            description = "The new language, e.g. zh.")
    String additionalLang;

    @Option(names = "--almr-schedule", paramLabel = "PTS", description = "step:almr points, e.g. 0:0.1,1000:0.3.")
    String almrSchedule;

    @Option(names = "--seq-len", defaultValue = "2048", description = "Tokens per sequence (${DEFAULT-VALUE}).")
    int seqLen;

    @Option(names = "--global-batch", defaultValue = "16", description = "Sequences per step (${DEFAULT-VALUE}).")
    int globalBatch;

    @Option(names = "--micro-batch", description = "Sequences per micro-batch (default: the global batch).")
    Integer microBatch;

    @Option(names = "--seed", defaultValue = "0", description = "Shuffle seed (${DEFAULT-VALUE}).")
    long seed;

    @Option(
            names = "--steps",
            defaultValue = "0:5",
            paramLabel = "FROM:TO",
            description = "Steps [FROM, TO) (${DEFAULT-VALUE}).")
    String steps;

    @Option(names = "--audit", description = "Print every row's source, sequence and document pieces.")
    boolean audit;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        long from, to;
        try {
            String[] ft = steps.split(":");
            from = Long.parseLong(ft[0].trim());
            to = Long.parseLong(ft[1].trim());
        } catch (RuntimeException e) {
            throw new ShoalCli.UserError("--steps '" + steps + "' is not FROM:TO");
        }
        if (from < 0 || to <= from) throw new ShoalCli.UserError("--steps " + steps + ": need 0 ≤ FROM < TO");
        MixtureSampler s;
        try {
            MixtureSpec ms = new MixtureSpec(
                    seed,
                    seqLen,
                    globalBatch,
                    microBatch != null ? microBatch : globalBatch,
                    MixtureSpec.Source.parseList(mix),
                    additionalLang,
                    almrSchedule != null ? AlmrSchedule.parse(almrSchedule) : null);
            s = MixtureSampler.fromPrepared(data, ms, true);
        } catch (IllegalArgumentException e) {
            throw new ShoalCli.UserError(e.getMessage());
        }
        PrintWriter out = spec.commandLine().getOut();
        int n = s.spec().sources().size();
        AlmrSchedule sch = s.spec().effectiveSchedule();
        for (long step = from; step < to; step++) {
            MixtureSampler.Batch b = s.globalBatch(step, audit);
            int[] rows = new int[n];
            for (int src : b.source()) rows[src]++;
            StringBuilder line = new StringBuilder("step " + step + ":");
            for (int i = 0; i < n; i++)
                line.append(' ')
                        .append(s.spec().sources().get(i).name())
                        .append('=')
                        .append(rows[i]);
            long seqs = (step + 1) * globalBatch;
            long add = s.assigner().additionalCount(seqs);
            line.append(String.format(
                    Locale.ROOT,
                    " | additional share so far %.4f (%d/%d), ALMR this step %.4f",
                    add / (double) seqs,
                    add,
                    seqs,
                    sch.at(step) / (double) AlmrSchedule.Q));
            out.println(line);
            if (audit) {
                for (MixtureSampler.RowAudit a : b.audit()) {
                    StringBuilder r = new StringBuilder(String.format(
                            Locale.ROOT,
                            "  row %d %s seq %d stream [%d, %d]:",
                            a.row(),
                            s.spec().sources().get(a.source()).name(),
                            a.sourceSeq(),
                            a.streamStart(),
                            a.streamStart() + seqLen));
                    for (SourceStream.Segment g : a.segments()) {
                        r.append(String.format(Locale.ROOT, " e%d/d%d[%d,%d)", g.epoch(), g.doc(), g.from(), g.to()));
                    }
                    out.println(r);
                }
            }
        }
        long[] consumed = s.labelTokensConsumed(to);
        StringBuilder c = new StringBuilder("label tokens consumed after step " + (to - 1) + ":");
        for (int i = 0; i < n; i++) {
            c.append(String.format(
                    Locale.ROOT,
                    " %s=%d (%.3f epochs)",
                    s.spec().sources().get(i).name(),
                    consumed[i],
                    s.epochs(to, i)));
        }
        out.println(c);
        out.flush();
        return 0;
    }
}
