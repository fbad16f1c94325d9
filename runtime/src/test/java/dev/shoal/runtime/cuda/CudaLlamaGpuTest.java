// CudaLlama's conformance checks on CUDA device 0 (tag gpu): the same assertions and tolerances as the
// host stand-in, now with cuBLAS and the NVRTC kernels. Skips, with NativeLibs' reason, without a GPU.
package dev.shoal.runtime.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.shoal.cuda.NativeLibs;
import org.junit.jupiter.api.Tag;

@Tag("gpu")
class CudaLlamaGpuTest extends CudaLlamaConformance {
    @Override
    GpuOps newOps() {
        assumeTrue(
                NativeLibs.available(NativeLibs.Lib.CUBLAS, NativeLibs.Lib.NVRTC),
                NativeLibs.unavailableReason(NativeLibs.Lib.CUBLAS, NativeLibs.Lib.NVRTC));
        return CudaOps.create();
    }
}
