// A checkpoint that cannot be used: missing, partial, corrupt or inconsistent. The message names the
// folder or file and what is wrong with it, e.g. "…/step-000004/rank-00001.shard: CRC32C mismatch …".
package dev.shoal.runtime.checkpoint;

import java.io.IOException;

public final class CheckpointException extends IOException {
    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
