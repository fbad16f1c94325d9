// BackendLlama's conformance checks on the host stand-in (no GPU needed): proves the GPU step's
// orchestration (offsets, transposes, op order, optimizer wiring) against the CPU model in every build.
package dev.shoal.runtime.backend;

import dev.shoal.runtime.cuda.HostOps;

class BackendLlamaHostTest extends BackendLlamaConformance {
    @Override
    TensorBackend newOps() {
        return new HostOps();
    }

    @Override
    int curveSteps() {
        return 4;
    }
}
