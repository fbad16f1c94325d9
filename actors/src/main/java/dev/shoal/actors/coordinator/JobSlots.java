// JobSlots: how many jobs a cluster runs at once (shoal.coordinator.job-slots) and the coordinator
// singleton of each slot. Slot 0 is the one-job cluster's coordinator unchanged (singleton name
// "coordinator", persistence id shoal.coordinator.persistence-id); slot k > 0 is singleton
// "coordinator-slot-k" journaling under persistence-id + "-slot-k". With more than one slot every
// coordinator is "shared": it reserves free workers before it forms a mesh (WorkerReserver).
// Guarantees: the slot count is checked (>= 1, one line naming the key); every node of a cluster
// must use the same count (the control plane routes over the slots this node knows).
package dev.shoal.actors.coordinator;

import com.typesafe.config.Config;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.typed.ClusterSingleton;
import org.apache.pekko.cluster.typed.ClusterSingletonSettings;
import org.apache.pekko.cluster.typed.SingletonActor;

public final class JobSlots {
    private JobSlots() {}

    public static final String KEY = "shoal.coordinator.job-slots";

    /** The configured slot count. */
    public static int count(Config config) {
        int n = config.hasPath(KEY) ? config.getInt(KEY) : 1;
        if (n < 1 || n > 1024) throw new IllegalArgumentException(KEY + " = " + n + ": must be in 1..1024");
        return n;
    }

    /** The singleton name of slot {@code k}. */
    public static String name(int k) {
        return k == 0 ? "coordinator" : "coordinator-slot-" + k;
    }

    /** Starts (on members with {@code role}) or proxies every slot's coordinator; slot 0 first. */
    public static List<ActorRef<Coordinator.Command>> init(
            ActorSystem<?> system, Config config, CoordinatorSettings settings, String role) {
        int n = count(config);
        List<ActorRef<Coordinator.Command>> slots = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            String pid = k == 0 ? settings.persistenceId() : settings.persistenceId() + "-slot-" + k;
            slots.add(ClusterSingleton.get(system)
                    .init(SingletonActor.of(Coordinator.create(settings, pid, n > 1), name(k))
                            .withSettings(
                                    ClusterSingletonSettings.create(system).withRole(role))));
        }
        return List.copyOf(slots);
    }
}
