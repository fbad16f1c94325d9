// The PyTorch golden-file suite on the backend model with the CUDA backend (bf16 compute, tag gpu):
// the same fixtures and checks as the CPU backend, at the bf16 bounds. Skips, with NativeLibs' reason,
// without a GPU.
package dev.shoal.runtime.hf;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.shoal.runtime.backend.TensorBackend;
import dev.shoal.runtime.cuda.CudaOps;
import org.junit.jupiter.api.Tag;

@Tag("gpu")
class BackendGoldenGpuTest extends BackendGoldenConformance {
    @Override
    TensorBackend newBackend() {
        String why = CudaOps.unavailableReason();
        assumeTrue(why.isEmpty(), why);
        return CudaOps.create();
    }
}
