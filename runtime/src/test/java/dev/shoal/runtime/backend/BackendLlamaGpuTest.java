// BackendLlama's conformance checks on CUDA device 0 (tag gpu): the same assertions and tolerances as the
// host stand-in, now with cuBLAS and the NVRTC kernels. Skips, with NativeLibs' reason, without a GPU.
package dev.shoal.runtime.backend;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.shoal.runtime.cuda.CudaOps;
import org.junit.jupiter.api.Tag;

@Tag("gpu")
class BackendLlamaGpuTest extends BackendLlamaConformance {
    @Override
    TensorBackend newOps() {
        String why = CudaOps.unavailableReason();
        assumeTrue(why.isEmpty(), why);
        return CudaOps.create();
    }
}
