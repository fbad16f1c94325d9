// BackendLlama's conformance checks on the production CPU backend (fp32: OpenBLAS and the CPU engine's
// ops, two threads): the backend model must give LlamaModel's numbers to fp32 summation order. Every build.
package dev.shoal.runtime.backend;

class BackendLlamaCpuTest extends BackendLlamaConformance {
    @Override
    TensorBackend newOps() {
        return new CpuBackend(CX);
    }
}
