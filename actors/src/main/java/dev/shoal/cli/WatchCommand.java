// `shoal watch [JOB]`: follows a job through the control plane until it completes or fails — a
// progress bar and a live per-source loss table on a terminal, plain lines otherwise (see WatchView).
// Exit codes as in ControlClient: 0 the job completed, 4 it failed, 3 the server went away, 5 no
// such job. `shoal submit --watch` runs the same loop.
package dev.shoal.cli;

import dev.shoal.proto.v1.GetRequest;
import dev.shoal.proto.v1.JobEvent;
import dev.shoal.proto.v1.JobStatus;
import dev.shoal.proto.v1.Phase;
import dev.shoal.proto.v1.WatchRequest;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.util.Iterator;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "watch",
        mixinStandardHelpOptions = true,
        description = "Follows a job until it completes or fails: progress, loss, throughput and the held-out loss"
                + " per source. Plain lines when stdout is not a terminal.",
        exitCodeListHeading = "Exit codes:%n",
        exitCodeList = {
            "0:the job completed",
            "1:other failure",
            "2:usage error",
            "3:server unreachable, or the coordinator is not answering",
            "4:the job failed",
            "5:no such job",
            "7:credentials refused (bearer token or client certificate)"
        })
public final class WatchCommand extends JobCommand {

    @Option(names = "--plain", description = "Plain lines even on a terminal.")
    boolean plain;

    @Override
    int run(ControlClient c) {
        return follow(c, job.id(), spec.commandLine(), plain);
    }

    /** Streams the job's events until it ends; returns the exit code. */
    static int follow(ControlClient c, String jobId, CommandLine cl, boolean plain) {
        PrintWriter out = cl.getOut();
        PrintWriter err = cl.getErr();
        WatchView view = new WatchView(out, !plain && System.console() != null);
        JobStatus end;
        try {
            JobStatus s = c.call().get(GetRequest.newBuilder().setJobId(jobId).build());
            view.header(s);
            Iterator<JobEvent> events = c.stream()
                    .watch(WatchRequest.newBuilder().setJobId(s.getJobId()).build());
            while (events.hasNext()) view.event(events.next());
            end = c.call().get(GetRequest.newBuilder().setJobId(s.getJobId()).build());
        } catch (StatusRuntimeException e) {
            out.flush();
            return c.fail(e, err);
        }
        view.end(end);
        if (end.getPhase() == Phase.COMPLETED) return ControlClient.EXIT_OK;
        if (end.getPhase() == Phase.FAILED) return ControlClient.EXIT_JOB_FAILED;
        err.println("error: the server ended the watch while job " + end.getJobId() + " is " + end.getPhase());
        err.flush();
        return ControlClient.EXIT_FAILURE;
    }
}
