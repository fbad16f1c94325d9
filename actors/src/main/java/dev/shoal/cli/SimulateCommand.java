// `shoal simulate --scenario FILE`: runs the real control plane (coordinator with its H2 journal,
// node agents, GPU workers) against simulated GPUs in this JVM, one scenario after another, and prints
// a table of control-plane wall times next to the simulated training time (see docs/scale.md).
// Guarantees: exit 0 when every scenario completed; 1 when one did not (the reason is printed); 2 for
// a bad scenario file, printed as one line naming the file, scenario and field.
package dev.shoal.cli;

import dev.shoal.actors.sim.Scenario;
import dev.shoal.actors.sim.SimReport;
import dev.shoal.actors.sim.Simulator;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "simulate",
        mixinStandardHelpOptions = true,
        description = "Run the real coordinator, node agents and GPU workers against simulated GPUs (cost-model step"
                + " times, no tensors) in this JVM and measure the control plane.")
public final class SimulateCommand implements Callable<Integer> {

    @Option(names = "--scenario", required = true, paramLabel = "FILE", description = "HOCON scenario file.")
    Path scenario;

    @Option(
            names = "--work-dir",
            paramLabel = "DIR",
            description = "Where the journals go (default: a new temporary directory).")
    Path workDir;

    @Option(
            names = "--timeout",
            defaultValue = "600",
            paramLabel = "S",
            description = "Seconds one scenario may take (${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        List<Scenario> scenarios;
        try {
            scenarios = Scenario.load(scenario);
        } catch (IllegalArgumentException e) {
            err.println("shoal simulate: " + e.getMessage());
            return ShoalCli.EXIT_USAGE;
        }
        Path dir = workDir != null ? workDir : Files.createTempDirectory("shoal-sim");
        List<String> rows = new ArrayList<>();
        int rc = 0;
        for (Scenario sc : scenarios) {
            try {
                Simulator.Result r = Simulator.run(sc, dir.resolve(sc.name()), Duration.ofSeconds(timeoutSeconds));
                rows.add(SimReport.summaryRow(r));
                String details = SimReport.details(r);
                out.println("scenario " + sc.name() + " done" + (details.isEmpty() ? "" : "\n" + details + "\n"));
            } catch (Exception e) {
                rows.add("| " + sc.name() + " | failed: " + e.getMessage() + " |");
                out.println("scenario " + sc.name() + " failed: " + e.getMessage());
                rc = 1;
            }
            out.flush();
        }
        out.println();
        out.println(SimReport.summaryHeader());
        rows.forEach(out::println);
        out.println(
                "wall times on this machine; sim = the cost model's time for the same steps (goodput: every step's compute"
                        + " once, at the layout it last ran on, ÷ the job's simulated time, interruptions included)");
        return rc;
    }
}
