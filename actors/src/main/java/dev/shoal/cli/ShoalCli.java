// The `shoal` command line: the one entry point users type. Subcommands are added as each part of
// Shoal becomes real. Exit codes: 0 ok, 1 runtime failure, 2 usage or input error.
package dev.shoal.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;

@Command(
        name = "shoal",
        mixinStandardHelpOptions = true,
        versionProvider = ShoalCli.Version.class,
        description = "Shoal: an elastic training runtime for continual pre-training of Llama-3.",
        subcommands = {
            CommandLine.HelpCommand.class,
            NodeCommand.class,
            CheckCommand.class,
            TokenizeCommand.class,
            PrepareCommand.class,
            SampleCommand.class,
            LossCommand.class,
            ExportCommand.class,
            PlanCommand.class,
            TrainCommand.class,
            SweepCommand.class,
            FitCommand.class,
            DemoCommand.class,
            SubmitCommand.class,
            StatusCommand.class,
            WatchCommand.class,
            StopCommand.class,
            ScaleCommand.class,
            SimulateCommand.class
        })
public final class ShoalCli implements Runnable {

    /** Usage or input error: the message names what was wrong. */
    public static final int EXIT_USAGE = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Builds the command tree; tests call this to run the CLI in-process. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new ShoalCli());
        cl.setExecutionExceptionHandler((ex, line, parsed) -> {
            if (ex instanceof UserError) {
                line.getErr().println("error: " + ex.getMessage());
                return EXIT_USAGE;
            }
            throw ex;
        });
        return cl;
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** A mistake in the user's input; printed as one line, never as a stack trace. */
    public static final class UserError extends RuntimeException {
        public UserError(String message) {
            super(message);
        }
    }

    /** Reads the version that Maven filtered into shoal-version.properties. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            Properties p = new Properties();
            try (InputStream in = ShoalCli.class.getResourceAsStream("/shoal-version.properties")) {
                if (in != null) p.load(in);
            }
            return new String[] {
                "shoal " + p.getProperty("version", "unknown"),
                "java " + System.getProperty("java.version") + " (" + System.getProperty("java.vendor") + ")"
            };
        }
    }

    static void printTo(PrintWriter out, String s) {
        out.println(s);
        out.flush();
    }
}
