// CudaLlama's conformance checks on the host stand-in (no GPU needed): proves the GPU step's
// orchestration (offsets, transposes, op order, optimizer wiring) against the CPU model in every build.
package dev.shoal.runtime.cuda;

class CudaLlamaHostTest extends CudaLlamaConformance {
    @Override
    GpuOps newOps() {
        return new HostOps();
    }

    @Override
    int curveSteps() {
        return 4;
    }
}
