// Loads the JavaCPP bindings for the CUDA runtime/driver and NVRTC exactly once.
// Guarantees: a missing libcuda.so.1 / libcudart.so.13 / libnvrtc.so.13 surfaces as one clear
// CudaUnavailableException (every later call repeats the same message); the JavaCPP classes are
// never touched after a failed load, so no NoClassDefFoundError cascade follows.
package dev.shoal.cuda.kernels;

import java.io.File;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.Loader;

/** One-time loader of the native CUDA libraries used by the kernels. */
public final class NativeCuda {
    private static final Object LOCK = new Object();
    private static volatile boolean attempted;
    private static volatile String failure; // null when loaded

    private NativeCuda() {}

    /** True when the CUDA runtime, driver and NVRTC libraries loaded (says nothing about GPUs present). */
    public static boolean librariesAvailable() {
        load();
        return failure == null;
    }

    /** Why the libraries did not load, or null when they did. */
    public static String unavailableReason() {
        load();
        return failure;
    }

    /** Loads the libraries or throws {@link CudaUnavailableException} with the reason. */
    public static void require() {
        load();
        if (failure != null) {
            throw new CudaUnavailableException(failure);
        }
    }

    /**
     * Number of CUDA devices, 0 when the libraries or the driver are missing or no GPU is visible.
     * Never throws.
     */
    public static int deviceCount() {
        if (!librariesAvailable()) {
            return 0;
        }
        try {
            int[] n = {0};
            int rc = org.bytedeco.cuda.global.cudart.cudaGetDeviceCount(n);
            return rc == 0 ? n[0] : 0;
        } catch (Throwable t) {
            return 0;
        }
    }

    private static void load() {
        if (attempted) {
            return;
        }
        synchronized (LOCK) {
            if (attempted) {
                return;
            }
            failure = tryLoad();
            attempted = true;
        }
    }

    private static String tryLoad() {
        // A failed JavaCPP load poisons the binding classes for good (their static initialiser
        // fails once, then NoClassDefFoundError), so there is exactly one attempt: first preload
        // the CUDA libraries by absolute path from the usual install places (CUDA_HOME,
        // /usr/local/cuda, pip's nvidia-* wheels), which dlopen then finds by soname.
        List<String> preloaded = preloadFromKnownPlaces();
        try {
            loadBindings();
            return null;
        } catch (UnsatisfiedLinkError | NoClassDefFoundError | ExceptionInInitializerError e) {
            return "CUDA libraries not available: "
                    + rootMessage(e)
                    + ". Shoal's GPU kernels need the NVIDIA driver (libcuda.so.1), the CUDA 13 runtime"
                    + " (libcudart.so.13) and NVRTC (libnvrtc.so.13) on the library path (LD_LIBRARY_PATH,"
                    + " e.g. /usr/local/cuda/lib64)."
                    + (preloaded.isEmpty() ? "" : " Preloaded: " + preloaded);
        }
    }

    private static void loadBindings() {
        Loader.load(org.bytedeco.cuda.global.cudart.class);
        Loader.load(org.bytedeco.cuda.global.nvrtc.class);
    }

    private static String rootMessage(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c) {
            c = c.getCause();
        }
        String m = c.getMessage();
        return c.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    }

    private static List<String> preloadFromKnownPlaces() {
        List<Path> dirs = new ArrayList<>();
        // LD_LIBRARY_PATH first: the same files the dynamic linker and JavaCPP would pick, so no
        // library is ever loaded twice from two places
        String ldPath = System.getenv("LD_LIBRARY_PATH");
        if (ldPath != null) {
            for (String d : ldPath.split(File.pathSeparator)) {
                if (!d.isBlank()) {
                    dirs.add(Path.of(d));
                }
            }
        }
        for (String env : new String[] {"CUDA_HOME", "CUDA_PATH"}) {
            String v = System.getenv(env);
            if (v != null && !v.isBlank()) {
                dirs.add(Path.of(v, "lib64"));
                dirs.add(Path.of(v, "lib"));
            }
        }
        dirs.add(Path.of("/usr/local/cuda/lib64"));
        dirs.add(Path.of("/usr/local/cuda/targets/x86_64-linux/lib"));
        dirs.add(Path.of("/usr/lib/x86_64-linux-gnu"));
        dirs.addAll(pipNvidiaLibDirs());
        List<String> loaded = new ArrayList<>();
        // order matters: the runtime before NVRTC's builtins before NVRTC
        for (String lib : new String[] {"libcudart.so.13", "libnvrtc-builtins.so.13*", "libnvrtc.so.13"}) {
            for (Path d : dirs) {
                Path p = firstMatch(d, lib);
                if (p != null) {
                    try {
                        System.load(p.toAbsolutePath().toString());
                        loaded.add(p.toString());
                        break;
                    } catch (UnsatisfiedLinkError e) {
                        // try the next place
                    }
                }
            }
        }
        return loaded;
    }

    private static Path firstMatch(Path dir, String glob) {
        if (!Files.isDirectory(dir)) {
            return null;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, glob)) {
            for (Path p : ds) {
                if (Files.isRegularFile(p)) {
                    return p;
                }
            }
        } catch (Exception e) {
            // unreadable: skip
        }
        return null;
    }

    // site-packages/nvidia/{cu13,cuda_nvrtc,cuda_runtime}/lib of any python on the machine
    private static List<Path> pipNvidiaLibDirs() {
        List<Path> out = new ArrayList<>();
        List<Path> sitePackages = new ArrayList<>();
        for (String root : new String[] {"/opt/torch/.venv/lib", "/usr/local/lib", "/usr/lib"}) {
            Path r = Path.of(root);
            if (!Files.isDirectory(r)) {
                continue;
            }
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(r, "python3*")) {
                for (Path py : ds) {
                    sitePackages.add(py.resolve("site-packages"));
                    sitePackages.add(py.resolve("dist-packages"));
                }
            } catch (Exception e) {
                // unreadable: skip
            }
        }
        for (Path sp : sitePackages) {
            for (String sub : new String[] {"cu13", "cuda_nvrtc", "cuda_runtime"}) {
                Path lib = sp.resolve("nvidia" + File.separator + sub + File.separator + "lib");
                if (Files.isDirectory(lib)) {
                    out.add(lib);
                }
            }
        }
        return out;
    }
}
