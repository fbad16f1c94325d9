package dev.shoal.runtime.comm;

import dev.shoal.comm.Communicator;

class InJvmConformanceTest extends CommunicatorConformance {
    @Override
    Communicator[] group(String name, int n, long timeoutMillis) {
        return InJvmWorld.group(n, 1, timeoutMillis);
    }
}
