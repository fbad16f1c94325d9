// FreePorts picks ports that outgoing connections cannot take: below the kernel's ephemeral range.
package dev.shoal.actors.node;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;

class FreePortsTest {

    @Test
    void picksBindablePortsBelowTheEphemeralRange() throws Exception {
        int low = FreePorts.ephemeralLow();
        for (int i = 0; i < 20; i++) {
            int port = FreePorts.pick();
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
