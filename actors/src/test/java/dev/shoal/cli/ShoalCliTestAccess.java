// Lets tests in other packages run the CLI in-process and read its exit code, stdout and stderr.
package dev.shoal.cli;

public final class ShoalCliTestAccess {

    private ShoalCliTestAccess() {}

    public record Run(int code, String out, String err) {}

    public static Run run(String... args) {
        ShoalCliTest.Run r = ShoalCliTest.run(args);
        return new Run(r.code(), r.out(), r.err());
    }
}
