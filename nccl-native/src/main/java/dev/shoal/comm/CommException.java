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
    private final String detail;

    public CommException(Kind kind, String detail) {
        super(kind + ": " + detail);
        this.kind = kind;
        this.detail = detail;
    }

    public CommException(Kind kind, String detail, Throwable cause) {
        super(kind + ": " + detail, cause);
        this.kind = kind;
        this.detail = detail;
    }

    public Kind kind() {
        return kind;
    }

    /** The message without the leading kind. */
    public String detail() {
        return detail;
    }
}
