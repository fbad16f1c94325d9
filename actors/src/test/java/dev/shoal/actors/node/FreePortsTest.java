// FreePorts picks ports that outgoing connections cannot take (below the kernel's ephemeral range),
// and never the same one twice in a row of picks.
package dev.shoal.actors.node;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;

class FreePortsTest {

    @Test
    void picksBindablePortsBelowTheEphemeralRangeNeverTheSameTwice() throws Exception {
        int low = FreePorts.ephemeralLow();
        if (java.nio.file.Files.exists(java.nio.file.Path.of("/proc/sys/net/ipv4/ip_local_port_range"))) {
            // Linux: the range's first port, read whole (a 1-byte read of this procfs file gave "3")
            assertTrue(low >= 1024, "ephemeral range read as starting at " + low);
        }
        java.util.Set<Integer> seen = new java.util.HashSet<>();
        for (int i = 0; i < 200; i++) {
            int port = FreePorts.pick();
            assertTrue(seen.add(port), port + " was handed out twice");
            if (low - 1000 > FreePorts.LOW) {
                assertTrue(
                        port >= FreePorts.LOW && port < low - 1000,
                        port + " is not in [" + FreePorts.LOW + ", " + (low - 1000) + ")");
            }
            try (ServerSocket s = new ServerSocket()) {
                s.bind(new InetSocketAddress("127.0.0.1", port));
            }
        }
    }
}
