// The shape of the commands that act on one job over the control plane (status, stop, scale, watch):
// the optional JOB argument, the --server options, and call() = connect, run the command's calls,
// turn a gRPC failure into one line on stderr and its exit code (ControlClient.exchange).
// Guarantees: picocli sees the annotated fields of this class in every subclass; the channel is closed
// whatever run() does.
package dev.shoal.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;

abstract class JobCommand implements Callable<Integer> {

    @Mixin
    ControlClient.JobArgument job;

    @Mixin
    ControlClient.ServerOption server;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** The command's calls; a failed call is thrown as StatusRuntimeException. Returns the exit code. */
    abstract int run(ControlClient c);

    @Override
    public final Integer call() {
        return ControlClient.exchange(server, spec.commandLine(), this::run);
    }
}
