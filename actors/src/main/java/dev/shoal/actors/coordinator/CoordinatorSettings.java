// Coordinator tuning from shoal.coordinator.* (see reference.conf and docs/cluster.md).
// Guarantees: the persistence id is set and the snapshot cadence and retention are >= 1.
package dev.shoal.actors.coordinator;

import com.typesafe.config.Config;
import java.time.Duration;

public record CoordinatorSettings(
        String persistenceId,
        int snapshotEvery,
        int keepSnapshots,
        Duration formingTimeout,
        Duration describeTimeout,
        Duration stepTimeout,
        Duration recoveryGrace,
        int maxRecoveries,
        boolean autoGrow,
        int maxDp) {
    public CoordinatorSettings {
        if (persistenceId.isBlank()) throw new IllegalArgumentException("shoal.coordinator.persistence-id is empty");
        if (snapshotEvery < 1) {
            throw new IllegalArgumentException("shoal.coordinator.snapshot-every must be >= 1, got " + snapshotEvery);
        }
        if (maxDp < 0) throw new IllegalArgumentException("shoal.coordinator.max-dp must be >= 0, got " + maxDp);
        if (keepSnapshots < 1) {
            throw new IllegalArgumentException("shoal.coordinator.keep-snapshots must be >= 1, got " + keepSnapshots);
        }
    }

    public static CoordinatorSettings from(Config c) {
        return new CoordinatorSettings(
                c.getString("shoal.coordinator.persistence-id"),
                c.getInt("shoal.coordinator.snapshot-every"),
                c.getInt("shoal.coordinator.keep-snapshots"),
                c.getDuration("shoal.coordinator.forming-timeout"),
                c.getDuration("shoal.coordinator.describe-timeout"),
                c.getDuration("shoal.coordinator.step-timeout"),
                c.getDuration("shoal.coordinator.recovery-grace"),
                c.getInt("shoal.coordinator.max-recoveries"),
                c.getBoolean("shoal.coordinator.auto-grow"),
                c.getInt("shoal.coordinator.max-dp"));
    }
}
