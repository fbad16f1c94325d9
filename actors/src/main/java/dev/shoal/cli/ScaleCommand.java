// `shoal scale --dp N [JOB]`: re-forms a running job's mesh at data-parallel size N at the next step
// boundary (RESCALING): a checkpoint is committed there, the mesh re-forms and every rank reloads it;
// the global batch stays, grad accumulation changes. Exit codes as in ControlClient: 0 accepted,
// 2 a dp that can never work (below 1, not dividing the global batch, above max_dp), 5 no such job,
// 6 refused in the job's current state (too few registered ranks, not TRAINING, no checkpoint_dir,
// already at N).
package dev.shoal.cli;

import dev.shoal.proto.v1.ScaleRequest;
import dev.shoal.proto.v1.ScaleResponse;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "scale",
        mixinStandardHelpOptions = true,
        description = "Re-forms a running job's mesh at another data-parallel size at the next step boundary;"
                + " the global batch stays (grad accumulation changes).",
        exitCodeListHeading = "Exit codes:%n",
        exitCodeList = {
            "0:accepted (the job is RESCALING)",
            "1:other failure",
            "2:usage error, or a dp that can never work (below 1, not dividing the global batch, above max_dp)",
            "3:server unreachable, or the coordinator is not answering",
            "5:no such job (or none submitted yet)",
            "6:refused in the job's current state (too few ranks, not TRAINING, no checkpoint_dir, already at dp)",
            "7:credentials refused (bearer token or client certificate)"
        })
public final class ScaleCommand extends JobCommand {

    @Option(names = "--dp", required = true, paramLabel = "N", description = "The new data-parallel size.")
    int dp;

    @Override
    int run(ControlClient c) {
        ScaleResponse r = c.call()
                .scale(ScaleRequest.newBuilder().setJobId(job.id()).setDp(dp).build());
        ShoalCli.printTo(
                spec.commandLine().getOut(),
                "rescaling to dp " + dp + ": the new mesh trains from step " + r.getEffectiveStep()
                        + " (watch it with `shoal watch`)");
        return ControlClient.EXIT_OK;
    }
}
