// The PyTorch golden-file suite on the backend model with the production CPU backend (fp32): the same
// tolerances LlamaModel meets in GoldenParityTest. Every build.
package dev.shoal.runtime.hf;

import dev.shoal.runtime.backend.CpuBackend;
import dev.shoal.runtime.backend.TensorBackend;

class BackendGoldenCpuTest extends BackendGoldenConformance {
    @Override
    TensorBackend newBackend() {
        return new CpuBackend(CX);
    }
}
