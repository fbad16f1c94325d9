// What an op needs to run on the CPU: the matrix multiply and the thread pool for element-wise loops.
// Guarantees: both are non-null; the two thread counts are reported together so benchmarks can print them.
package dev.shoal.runtime.tensor;

public record Compute(Gemm gemm, Parallel par) implements AutoCloseable {
    public Compute {
        if (gemm == null || par == null) {
            throw new IllegalArgumentException("Compute needs a Gemm and a Parallel, got " + gemm + ", " + par);
        }
    }

    /**
     * One pool of {@code threads} threads for everything: element-wise loops, and GEMMs split into blocks
     * that each run single-threaded OpenBLAS.
     */
    public static Compute cpu(int threads) {
        Parallel par = new Parallel(threads);
        return new Compute(new OpenBlasGemm(par), par);
    }

    /** The plain-Java reference GEMM, serial loops: slow, for cross-checks. */
    public static Compute reference() {
        return new Compute(new ReferenceGemm(), Parallel.serial());
    }

    @Override
    public void close() {
        par.close();
    }
}
