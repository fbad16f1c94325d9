// A tensor backend whose calls have finished when they return, on memory the host addresses directly
// (the CPU backend, and the bf16 host stand-in the tests use for CUDA).
// Guarantees: "pinned" memory is an ordinary allocation of the backend (freed with free()), the
// asynchronous copies are the synchronous ones, and synchronize() has nothing to wait for.
package dev.shoal.runtime.backend;

import org.bytedeco.javacpp.Pointer;

public interface SynchronousBackend extends TensorBackend {
    @Override
    default Pointer pinned(long bytes) {
        return new RawPointer(alloc(bytes), bytes);
    }

    @Override
    default void uploadAsync(long dst, Pointer pinnedSrc, long bytes) {
        upload(dst, pinnedSrc, bytes);
    }

    @Override
    default void downloadAsync(Pointer pinnedDst, long src, long bytes) {
        download(pinnedDst, src, bytes);
    }

    @Override
    default void synchronize() {}
}
