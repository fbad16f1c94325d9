// `shoal stop [JOB]`: stops a running job after its current step; committed checkpoints stay.
// Exit codes as in ControlClient: 0 stopped, 5 no such job, 6 the job is not running.
package dev.shoal.cli;

import dev.shoal.proto.v1.GetRequest;
import dev.shoal.proto.v1.JobStatus;
import dev.shoal.proto.v1.StopRequest;
import dev.shoal.proto.v1.StopResponse;
import picocli.CommandLine.Command;

@Command(
        name = "stop",
        mixinStandardHelpOptions = true,
        description = "Stops a running job after its current step; committed checkpoints stay.",
        exitCodeListHeading = "Exit codes:%n",
        exitCodeList = {
            "0:stopped",
            "1:other failure",
            "2:usage error",
            "3:server unreachable, or the coordinator is not answering",
            "5:no such job (or none submitted yet)",
            "6:the job is not running",
            "7:credentials refused (bearer token or client certificate)"
        })
public final class StopCommand extends JobCommand {

    @Override
    int run(ControlClient c) {
        StopResponse r =
                c.call().stop(StopRequest.newBuilder().setJobId(job.id()).build());
        JobStatus s = c.call().get(GetRequest.newBuilder().setJobId(job.id()).build());
        ShoalCli.printTo(
                spec.commandLine().getOut(), "stopped " + s.getJobId() + ": " + r.getPhase() + " — " + s.getMessage());
        return ControlClient.EXIT_OK;
    }
}
