// A mistake in a job config or in what it points at (data folder, model, checkpoints): one line that names
// the key or file and the value, and what would be accepted. The CLI prints it and exits 2.
package dev.shoal.runtime.train;

public final class JobConfigException extends IllegalArgumentException {
    public JobConfigException(String message) {
        super(message);
    }
}
