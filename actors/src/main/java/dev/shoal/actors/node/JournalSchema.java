// Creates the journal's tables (events, tags, snapshots) when they are missing, before the
// coordinator can write. Uses the plugin's own DDL through SchemaUtils.createIfNotExists.
//
// Guarantees: returns only when the tables exist; an unreachable or misconfigured database throws
// IllegalStateException naming the JDBC URL and the cause (the node then does not start).
package dev.shoal.actors.node;

import com.typesafe.config.Config;
import dev.shoal.actors.cluster.ShoalConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.persistence.jdbc.testkit.javadsl.SchemaUtils;

public final class JournalSchema {

    private JournalSchema() {}

    public static void ensure(ActorSystem<?> system, Config config, Duration timeout) {
        ShoalConfig.Journal journal = ShoalConfig.journal(config);
        Path dir = ShoalConfig.h2Directory(config);
        try {
            if (dir != null) Files.createDirectories(dir);
            SchemaUtils.createIfNotExists(system).toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (IOException e) {
            throw new IllegalStateException("cannot create journal directory " + dir + ": " + e.getMessage(), e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause() == null ? e : e.getCause();
            throw new IllegalStateException(
                    "journal database " + journal.url() + " (" + journal.kind() + "): " + c.getMessage(), c);
        } catch (TimeoutException e) {
            throw new IllegalStateException(
                    "journal database " + journal.url() + " did not answer within " + timeout.toSeconds() + " s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating the journal tables", e);
        }
    }
}
