// Argument checks shared by the kernel launchers: shapes, pointers, alignment, element types.
// Guarantees: every failure is an IllegalArgumentException whose message names the op, the
// argument and the offending value; checks run before anything touches the GPU.
package dev.shoal.cuda.kernels;

import dev.shoal.comm.DType;

final class Check {
    private Check() {}

    /** Activations may be F32 or BF16. */
    static void floatType(String op, String arg, DType t) {
        if (t != DType.F32 && t != DType.BF16) {
            throw new IllegalArgumentException(op + ": " + arg + " must be F32 or BF16, got " + t);
        }
    }

    /** A non-null device address aligned to {@code align} bytes. */
    static void ptr(String op, String arg, long address, int align) {
        if (address == 0) {
            throw new IllegalArgumentException(op + ": " + arg + " is a null device pointer");
        }
        if (Long.remainderUnsigned(address, align) != 0) {
            throw new IllegalArgumentException(
                    op + ": " + arg + " = 0x" + Long.toHexString(address) + " is not aligned to " + align + " bytes");
        }
    }

    /** An optional device address: 0 (absent) or aligned. */
    static void optionalPtr(String op, String arg, long address, int align) {
        if (address != 0) {
            ptr(op, arg, address, align);
        }
    }

    static void positive(String op, String arg, long value) {
        if (value <= 0) {
            throw new IllegalArgumentException(op + ": " + arg + " must be positive, got " + value);
        }
    }

    static void nonNegative(String op, String arg, long value) {
        if (value < 0) {
            throw new IllegalArgumentException(op + ": " + arg + " must be >= 0, got " + value);
        }
    }

    static void finite(String op, String arg, double value) {
        if (!Double.isFinite(value)) {
            throw new IllegalArgumentException(op + ": " + arg + " must be finite, got " + value);
        }
    }

    static void even(String op, String arg, long value) {
        if (value % 2 != 0) {
            throw new IllegalArgumentException(op + ": " + arg + " must be even, got " + value);
        }
    }

    /** The product of the dims fits the kernel's index type (int32 when {@code limit} is Integer.MAX_VALUE). */
    static long product(String op, String what, long limit, long... dims) {
        long p = 1;
        for (long d : dims) {
            if (d != 0 && p > limit / d) {
                throw new IllegalArgumentException(op + ": " + what + " has more than " + limit + " elements");
            }
            p *= d;
        }
        return p;
    }

    static KernelLibrary lib(String op, KernelLibrary lib) {
        if (lib == null) {
            throw new IllegalArgumentException(op + ": kernel library is null");
        }
        return lib;
    }

    /** Blocks for a grid-stride loop over {@code n} elements: enough to fill the GPU, at least 1. */
    static int gridFor(KernelLibrary lib, long n, int block) {
        long want = (n + block - 1) / block;
        long cap = Math.max(1, (long) lib.multiprocessors() * 16);
        return (int) Math.max(1, Math.min(want, cap));
    }

    static String suffix(DType t) {
        return t == DType.F32 ? "f32" : "bf16";
    }
}
