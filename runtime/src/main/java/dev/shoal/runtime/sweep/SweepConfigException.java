// A mistake in a sweep config or in what it points at: one line naming the key (e.g. `sweep.almr[2]`) and
// the value. The CLI prints it and exits 2.
package dev.shoal.runtime.sweep;

public final class SweepConfigException extends IllegalArgumentException {
    public SweepConfigException(String message) {
        super(message);
    }
}
