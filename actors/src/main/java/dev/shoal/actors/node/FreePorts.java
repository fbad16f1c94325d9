// Free TCP ports on 127.0.0.1 for a process to bind a moment later: the local clusters, the simulator and
// the multi-process tests start node JVMs on ports picked here.
//
// Guarantees: a port below the kernel's ephemeral range (ip_local_port_range, less a 1000-port margin)
// that was free when picked, so outgoing connections of this and other processes, which the kernel
// places in that range, never take it before the node binds it; port 0's pick where that range is not
// known or nothing below it is free; never one it handed out among its last 1024 picks in this JVM.
// Free now is no promise for later: callers that bind in another
// process retry on "Address already in use" (LocalCluster does).
package dev.shoal.actors.node;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;

public final class FreePorts {
    private FreePorts() {}

    /** The lowest port the picks use. */
    static final int LOW = 10000;

    /** Ports handed out lately in this JVM, never handed out again while remembered (a cluster's nodes
     * pick several each before any binds). */
    private static final java.util.Set<Integer> RECENT = new java.util.LinkedHashSet<>();

    private static final int REMEMBERED = 1024;

    /** A port free on 127.0.0.1 now, below the ephemeral range where there is room. */
    public static int pick() {
        int ephemeralLow = ephemeralLow();
        if (ephemeralLow - 1000 > LOW) {
            ThreadLocalRandom rnd = ThreadLocalRandom.current();
            for (int attempt = 0; attempt < 50; attempt++) {
                int port = rnd.nextInt(LOW, ephemeralLow - 1000);
                if (!remember(port)) continue;
                try (ServerSocket s = new ServerSocket()) {
                    s.bind(new InetSocketAddress("127.0.0.1", port));
                    return port;
                } catch (IOException taken) {
                    // try another
                }
            }
        }
        try (ServerSocket s = new ServerSocket(0)) {
            remember(s.getLocalPort());
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free TCP port on this machine: " + e.getMessage(), e);
        }
    }

    /** Records a port as handed out; false when it was handed out lately. */
    private static synchronized boolean remember(int port) {
        if (!RECENT.add(port)) return false;
        if (RECENT.size() > REMEMBERED) {
            java.util.Iterator<Integer> oldest = RECENT.iterator();
            oldest.next();
            oldest.remove();
        }
        return true;
    }

    /** The first port of the kernel's ephemeral range; 32768, the usual one, where it cannot be read. */
    static int ephemeralLow() {
        // Line by line: on procfs, Files.readString / readAllBytes trust the file's size hint and were
        // seen to return only the first byte ("3"), which sent every pick to port 0's ephemeral range.
        try (java.io.BufferedReader r = Files.newBufferedReader(Path.of("/proc/sys/net/ipv4/ip_local_port_range"))) {
            String range = r.readLine();
            return Integer.parseInt(range.trim().split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return 32768; // not Linux
        }
    }
}
