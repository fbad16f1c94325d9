// `shoal fit --sweep DIR [--epsilon E] [--out REPORT_DIR]`: fits a finished (or partly finished) sweep:
// the data-mixing law per language and LR, the largest ALMR within ε of original-language forgetting, the
// recommended (ALMR, LR) with a residual bootstrap, r* against log LR, and the CMR law over token budgets;
// writes report.html (self-contained), report.md, SVG plots and fit.json into REPORT_DIR (default
// DIR/report) and prints the recommendation. Exit codes: 0 written (also when the data support no fit: the
// report says so), 2 a user mistake (not a sweep folder, no finished point, a bad option), one line.
package dev.shoal.cli;

import dev.shoal.runtime.sweep.SweepResults;
import dev.shoal.runtime.sweep.fit.Report;
import dev.shoal.runtime.sweep.fit.SweepAnalysis;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "fit",
        mixinStandardHelpOptions = true,
        description = {
            "Fits an ALMR × LR sweep (shoal sweep output): per LR, each language's final validation loss against",
            "the ALMR r with L = c + k·exp(t·r); r* = the largest ALMR whose original-language loss stays within",
            "epsilon of the baseline; the recommended (ALMR, LR) with bootstrap intervals; r* against log10 LR;",
            "the CMR law R = b0 + b1·T^s when the sweep varies the token budget. Writes an offline HTML report,",
            "SVG plots, report.md and fit.json. A fit the data do not support is refused, with the reason.",
            ""
        })
public final class FitCommand implements Callable<Integer> {

    @Option(names = "--sweep", required = true, paramLabel = "DIR", description = "A shoal sweep output folder.")
    Path sweep;

    @Option(
            names = "--epsilon",
            defaultValue = "0.05",
            paramLabel = "E",
            description = "Allowed original-language loss increase, nats/token (${DEFAULT-VALUE}).")
    double epsilon;

    @Option(
            names = "--baseline",
            defaultValue = "lowest-almr",
            paramLabel = "B",
            description = "What epsilon is measured from: lowest-almr (the best original-language loss at the"
                    + " smallest ALMR) or start (the starting model's loss). Default ${DEFAULT-VALUE}.")
    String baseline;

    @Option(
            names = "--bootstrap",
            defaultValue = "1000",
            paramLabel = "N",
            description = "Bootstrap replicates (${DEFAULT-VALUE}; 0: none).")
    int bootstrap;

    @Option(names = "--seed", defaultValue = "1", description = "Bootstrap seed (${DEFAULT-VALUE}).")
    long seed;

    @Option(
            names = "--min-r2",
            defaultValue = "0.9",
            paramLabel = "R2",
            description = "Refuse law fits below this R² (${DEFAULT-VALUE}).")
    double minR2;

    @Option(names = "--out", paramLabel = "REPORT_DIR", description = "Report folder (default: DIR/report).")
    Path out;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter o = spec.commandLine().getOut();
        try {
            SweepAnalysis.Baseline b =
                    switch (baseline) {
                        case "lowest-almr" -> SweepAnalysis.Baseline.LOWEST_ALMR;
                        case "start" -> SweepAnalysis.Baseline.START;
                        default ->
                            throw new ShoalCli.UserError("--baseline " + baseline + ": allowed lowest-almr, start");
                    };
            if (!(minR2 >= 0 && minR2 <= 1)) throw new ShoalCli.UserError("--min-r2 " + minR2 + ": must be in [0, 1]");
            SweepAnalysis.Options opt;
            try {
                opt = new SweepAnalysis.Options(epsilon, b, bootstrap, seed, minR2, 0.5);
            } catch (IllegalArgumentException e) {
                throw new ShoalCli.UserError(e.getMessage());
            }
            SweepResults res = SweepResults.read(sweep);
            if (res.points().isEmpty()) {
                throw new ShoalCli.UserError("--sweep " + sweep + ": no finished point yet (run shoal sweep first)");
            }
            SweepAnalysis.Analysis a = SweepAnalysis.analyse(res, opt);
            Path dir = out != null ? out : sweep.resolve("report");
            List<Path> files = Report.write(a, dir);
            for (SweepAnalysis.Budget bu : a.budgets()) {
                SweepAnalysis.Slice rec = bu.recommendation();
                if (rec == null) {
                    o.printf(
                            Locale.ROOT,
                            "%d steps: no ALMR keeps %s within epsilon %s at any LR%n",
                            bu.steps(),
                            res.originalLabel(),
                            epsilon);
                } else {
                    o.printf(
                            Locale.ROOT,
                            "%d steps: recommended ALMR %s%.3f at peak LR %s (%s %.4f, %s %.4f)%s%n",
                            bu.steps(),
                            rec.optimum().status() == SweepAnalysis.Status.NOT_BINDING ? ">= " : "",
                            rec.optimum().almr(),
                            rec.peakLr(),
                            res.additionalLanguage(),
                            rec.optimum().newLoss(),
                            res.originalLabel(),
                            rec.optimum().origLoss(),
                            bu.recommendedAlmr() != null && bu.recommendedAlmr().share() > 0
                                    ? String.format(
                                            Locale.ROOT,
                                            ", 90%% interval %.3f-%.3f",
                                            bu.recommendedAlmr().lo(),
                                            bu.recommendedAlmr().hi())
                                    : "");
                }
            }
            o.println("report: " + files.get(0));
            o.flush();
            return 0;
        } catch (IllegalArgumentException e) { // SweepConfigException included
            throw new ShoalCli.UserError(e.getMessage());
        } catch (IOException e) {
            spec.commandLine().getErr().println("error: " + e.getMessage());
            spec.commandLine().getErr().flush();
            return 1;
        }
    }
}
