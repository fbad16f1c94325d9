// LocalCluster with a node port taken between the pick and the node's bind, as happens when another
// process grabs it in between: the node JVM exits with "Address already in use", and start() brings the
// cluster up on new ports instead of failing (a real `shoal node` JVM on 127.0.0.1, no fakes).
package dev.shoal.actors.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("slow")
class LocalClusterPortTest {

    @TempDir
    Path dir;

    @Test
    void aNodeWhosePortWasTakenStartsAgainOnANewOne() throws Exception {
        try (ServerSocket taken = new ServerSocket()) {
            taken.bind(new InetSocketAddress("127.0.0.1", 0));
            List<Integer> handedOut = new ArrayList<>();
            LocalCluster.NodePorts ports = () -> {
                // the first pick is the taken port; later ones are free
                int p = handedOut.isEmpty() ? taken.getLocalPort() : FreePorts.pick();
                handedOut.add(p);
                return p;
            };
            try (LocalCluster c = LocalCluster.start(
                    dir,
                    new int[] {1},
                    List.of("-Dshoal.node.engine=dev.shoal.actors.engine.EngineStepRunner$Factory"),
                    Duration.ofSeconds(60),
                    ports)) {
                assertEquals(2, handedOut.size(), "one retry: " + handedOut);
                String address = c.address(0);
                assertNotEquals("pekko://shoal@127.0.0.1:" + taken.getLocalPort(), address);
                assertEquals("pekko://shoal@127.0.0.1:" + handedOut.get(1), address);
                Path first = dir.resolve("node-0.attempt-1.log");
                assertTrue(Files.exists(first), "the failed try's log is kept");
                assertTrue(LocalCluster.portTaken(first), () -> LocalCluster.tail(first));
                assertTrue(c.node(0).isAlive());
            }
        }
    }
}
