// `shoal submit job.conf [--watch]`: reads a HOCON job file (the `shoal train` format plus
// train.parallelism), converts it to a JobSpec and submits it to the cluster's coordinator through a
// node's control plane. Prints the job id; with --watch, follows the job like `shoal watch`.
// A mistake in the file names the file and the key, a spec the server refuses names the field; both
// exit 2. Other exit codes as in ControlClient.
package dev.shoal.cli;

import dev.shoal.actors.control.JobSpecs;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.SubmitRequest;
import dev.shoal.runtime.train.JobConfigException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "submit",
        mixinStandardHelpOptions = true,
        description = {
            "Submits a training job to the cluster. JOB_FILE is a HOCON job config as for `shoal train`"
                    + " (train { ... }), plus train.parallelism { tp, pp, dp, zero1, recompute } (default 1 × 1 × 1).",
            "Relative paths in it are resolved against its folder and sent as absolute paths: the nodes must see"
                    + " the same files."
        },
        exitCodeListHeading = "Exit codes:%n",
        exitCodeList = {
            "0:submitted (with --watch: the job completed)",
            "1:other failure",
            "2:usage error, or an invalid job file or spec (the key or field is named)",
            "3:server unreachable, or the coordinator is not answering",
            "4:with --watch: the job failed",
            "6:refused: another job is running",
            "7:credentials refused (bearer token or client certificate)"
        })
public final class SubmitCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "JOB_FILE", description = "HOCON job file.")
    Path file;

    @Option(names = "--watch", description = "Follow the job until it completes or fails (as `shoal watch`).")
    boolean watch;

    @Option(names = "--plain", description = "With --watch: plain lines even on a terminal.")
    boolean plain;

    @Mixin
    ControlClient.ServerOption server;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        JobSpec job;
        try {
            job = JobSpecs.read(file);
        } catch (JobConfigException e) {
            throw new ShoalCli.UserError(e.getMessage());
        }
        return ControlClient.exchange(server, spec.commandLine(), c -> {
            String id = c.call()
                    .submit(SubmitRequest.newBuilder().setSpec(job).build())
                    .getJobId();
            var p = job.getParallelism();
            ShoalCli.printTo(
                    spec.commandLine().getOut(),
                    "submitted " + id + " (" + job.getName() + ": " + job.getSteps() + " steps, tp " + p.getTp()
                            + " × pp " + p.getPp() + " × dp " + p.getDp() + ") to " + c.server);
            return watch ? WatchCommand.follow(c, id, spec.commandLine(), plain) : ControlClient.EXIT_OK;
        });
    }
}
