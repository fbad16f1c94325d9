// `shoal status [JOB]`: one block describing a job as the coordinator knows it — phase and its cause,
// mesh epoch and layout, last completed step, last committed checkpoint, the mesh's ranks and the
// registered workers. Exit codes as in ControlClient; a job that failed exits 4 so scripts can tell.
package dev.shoal.cli;

import dev.shoal.proto.v1.GetRequest;
import dev.shoal.proto.v1.JobStatus;
import dev.shoal.proto.v1.Phase;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(
        name = "status",
        mixinStandardHelpOptions = true,
        description = "Shows a job: phase, mesh epoch, step, last checkpoint and workers.",
        exitCodeListHeading = "Exit codes:%n",
        exitCodeList = {
            "0:shown",
            "1:other failure",
            "2:usage error",
            "3:server unreachable, or the coordinator is not answering",
            "4:shown, and the job failed",
            "5:no such job (or none submitted yet)",
            "7:credentials refused (bearer token or client certificate)"
        })
public final class StatusCommand implements Callable<Integer> {

    @Parameters(index = "0", arity = "0..1", paramLabel = "JOB", description = "Job id; default: the cluster's job.")
    String job;

    @Mixin
    ControlClient.ServerOption server;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        try (ControlClient c = ControlClient.connect(server)) {
            JobStatus s;
            try {
                s = c.call()
                        .get(GetRequest.newBuilder()
                                .setJobId(job == null ? "" : job)
                                .build());
            } catch (StatusRuntimeException e) {
                return c.fail(e, spec.commandLine().getErr());
            }
            PrintWriter out = spec.commandLine().getOut();
            out.print(render(s));
            out.flush();
            return s.getPhase() == Phase.FAILED ? ControlClient.EXIT_JOB_FAILED : ControlClient.EXIT_OK;
        }
    }

    static String render(JobStatus s) {
        var p = s.getSpec().getParallelism();
        StringBuilder b = new StringBuilder();
        row(
                b,
                "job",
                s.getJobId() + " (" + s.getSpec().getName() + ", model "
                        + s.getSpec().getModel() + ")");
        row(b, "phase", s.getPhase() + (s.getMessage().isEmpty() ? "" : ": " + s.getMessage()));
        row(b, "step", s.getStep() + " / " + s.getSpec().getSteps());
        row(
                b,
                "mesh",
                "epoch " + s.getMeshEpoch() + ", tp " + p.getTp() + " × pp " + p.getPp() + " × dp " + p.getDp() + " = "
                        + s.getMeshRanksCount() + " ranks");
        row(b, "checkpoint", s.getLastCheckpointStep() > 0 ? "step " + s.getLastCheckpointStep() : "none yet");
        row(b, "workers", s.getWorkersCount() + " registered");
        for (int r = 0; r < s.getMeshRanksCount(); r++) {
            b.append("  rank ").append(r).append("  ").append(s.getMeshRanks(r)).append('\n');
        }
        return b.toString();
    }

    private static void row(StringBuilder b, String key, String value) {
        b.append(String.format("%-11s %s%n", key, value));
    }
}
