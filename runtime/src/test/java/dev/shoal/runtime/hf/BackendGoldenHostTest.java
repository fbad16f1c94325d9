// The PyTorch golden-file suite on the backend model with the host stand-in of the GPU (HostOps: bf16
// activations rounded as the kernels round them): the bf16 bounds the CUDA backend is held to, checked
// on every build without a GPU.
package dev.shoal.runtime.hf;

import dev.shoal.runtime.backend.TensorBackend;
import dev.shoal.runtime.cuda.HostOps;

class BackendGoldenHostTest extends BackendGoldenConformance {
    @Override
    TensorBackend newBackend() {
        return new HostOps();
    }
}
