// `shoal stop [JOB]`: stops a running job after its current step; committed checkpoints stay.
// Exit codes as in ControlClient: 0 stopped, 5 no such job, 6 the job is not running.
package dev.shoal.cli;

import dev.shoal.proto.v1.GetRequest;
import dev.shoal.proto.v1.JobStatus;
import dev.shoal.proto.v1.StopRequest;
import dev.shoal.proto.v1.StopResponse;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

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
public final class StopCommand implements Callable<Integer> {

    @Parameters(index = "0", arity = "0..1", paramLabel = "JOB", description = "Job id; default: the cluster's job.")
    String job;

    @Mixin
    ControlClient.ServerOption server;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        try (ControlClient c = ControlClient.connect(server)) {
            String id = job == null ? "" : job;
            StopResponse r;
            JobStatus s;
            try {
                r = c.call().stop(StopRequest.newBuilder().setJobId(id).build());
                s = c.call().get(GetRequest.newBuilder().setJobId(id).build());
            } catch (StatusRuntimeException e) {
                return c.fail(e, spec.commandLine().getErr());
            }
            ShoalCli.printTo(
                    spec.commandLine().getOut(),
                    "stopped " + s.getJobId() + ": " + r.getPhase() + " — " + s.getMessage());
            return ControlClient.EXIT_OK;
        }
    }
}
