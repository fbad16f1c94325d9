// The one exception every Communicator backend throws: a peer died, the group was aborted,
// an operation timed out, or the native library failed. The message names the group, rank and op.
package dev.shoal.comm;

public class CommException extends RuntimeException {
    public enum Kind {
        ABORTED,
        TIMEOUT,
        PEER_LOST,
        NATIVE_ERROR,
        INVALID_ARGUMENT
    }

    private final Kind kind;

    public CommException(Kind kind, String message) {
        super(kind + ": " + message);
        this.kind = kind;
    }

    public CommException(Kind kind, String message, Throwable cause) {
        super(kind + ": " + message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
