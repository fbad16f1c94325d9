// One cached answer to "can this JVM use the GPU?": loads the JavaCPP presets for the CUDA driver,
// the CUDA runtime, cuBLAS, NVRTC and NCCL exactly once, catches every linkage failure there
// (UnsatisfiedLinkError, NoClassDefFoundError, ExceptionInInitializerError) and keeps a message that
// names each missing library and the paths that were searched.
//
// Guarantees: no GPU entry point touches a bytedeco class before require(...) said yes, so a
// machine without CUDA gets one clear GpuUnavailableException, never a NoClassDefFoundError cascade.
//
// Pointing JavaCPP at system CUDA libraries (what the GPU check bundle does):
//   export LD_LIBRARY_PATH=/usr/local/cuda/lib64:<dirs of libcublas.so.13, libnccl.so.2, ...>
//   java -Dorg.bytedeco.javacpp.pathsFirst=true ...
// The bundle ships only the JNI stubs (cuda-*-linux-x86_64.jar, built against CUDA 13.1 headers) and
// no cuda-redist jar; the stubs bind symbols lazily, so CUDA 13.0 libraries work as long as no
// function that is new in 13.1 is called (e.g. cudaGreenCtxCreate, cudaExecutionCtx*, cudaDevSm*).
// Never set LD_BIND_NOW: it turns those lazily bound 13.1-only symbols into load failures.
package dev.shoal.cuda;

import java.io.File;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

public final class NativeLibs {

    /** The native libraries the GPU layer needs, with the sonames the JNI stubs link against. */
    public enum Lib {
        CUDA_DRIVER("CUDA driver", List.of("libcuda.so.1")),
        CUDART("CUDA runtime", List.of("libcudart.so.13")),
        CUBLAS("cuBLAS", List.of("libcublas.so.13", "libcublasLt.so.13")),
        NVRTC("NVRTC", List.of("libnvrtc.so.13")),
        NCCL("NCCL", List.of("libnccl.so.2"));

        private final String title;
        private final List<String> sonames;

        Lib(String title, List<String> sonames) {
            this.title = title;
            this.sonames = sonames;
        }

        public String title() {
            return title;
        }

        public List<String> sonames() {
            return sonames;
        }
    }

    /** Outcome of loading one library: loaded, or why not (error text plus where its files were seen). */
    public record LibStatus(Lib lib, boolean loaded, String detail) {}

    /** The whole picture: every library's status, and the GPU count when the CUDA runtime loaded. */
    public record Report(Map<Lib, LibStatus> libs, int deviceCount, String deviceError, String searchPath) {

        public boolean loaded(Lib lib) {
            LibStatus s = libs.get(lib);
            return s != null && s.loaded();
        }

        /** True when the runtime loaded and at least one CUDA device answered. */
        public boolean gpuPresent() {
            return loaded(Lib.CUDART) && deviceCount > 0;
        }

        /**
         * Null when the driver, the runtime, the given libraries and a CUDA device are all there; else
         * a message naming each missing library (with its sonames) and the search path.
         */
        public String whyUnavailable(Lib... needs) {
            List<String> missing = new ArrayList<>();
            Set<Lib> needed = new LinkedHashSet<>(List.of(Lib.CUDA_DRIVER, Lib.CUDART));
            needed.addAll(List.of(needs));
            for (Lib l : needed) {
                if (!loaded(l)) missing.add(l.title() + " (" + String.join(", ", l.sonames()) + ")");
            }
            if (!missing.isEmpty()) {
                return "GPU layer unavailable: cannot load " + String.join("; ", missing) + ".\n" + describe()
                        + "\nPoint LD_LIBRARY_PATH at the CUDA/NCCL library folders and run java with"
                        + " -Dorg.bytedeco.javacpp.pathsFirst=true (see dev.shoal.cuda.NativeLibs).";
            }
            if (deviceCount <= 0) {
                return "GPU layer unavailable: CUDA libraries loaded but no CUDA device found"
                        + (deviceError == null ? "" : " (" + deviceError + ")") + ".\n" + describe();
            }
            return null;
        }

        /** Human-readable summary: one line per library, then the device count and search path. */
        public String describe() {
            StringBuilder sb = new StringBuilder();
            for (LibStatus s : libs.values()) {
                sb.append(String.format(
                        "  %-12s %-8s %s%n",
                        s.lib().title(), s.loaded() ? "ok" : "MISSING", s.loaded() ? "" : s.detail()));
            }
            if (loaded(Lib.CUDART)) {
                sb.append("  CUDA devices: ")
                        .append(deviceCount)
                        .append(deviceError == null ? "" : " (" + deviceError + ")")
                        .append('\n');
            }
            sb.append("  search path: ").append(searchPath);
            return sb.toString();
        }
    }

    private static volatile Report cached;

    private NativeLibs() {}

    /** Prints the probe: one line per library, the device count and the search path. Exit 0 when usable. */
    public static void main(String[] args) {
        Report r = report();
        System.out.println("NativeLibs probe:");
        System.out.println(r.describe());
        String why = r.whyUnavailable(Lib.values());
        System.out.println(why == null ? "GPU layer: usable" : "GPU layer: NOT usable");
        System.exit(why == null ? 0 : 2);
    }

    /** The cached report; the first call loads the libraries (thread-safe, once per JVM). */
    public static Report report() {
        Report r = cached;
        if (r == null) {
            synchronized (NativeLibs.class) {
                r = cached;
                if (r == null) {
                    r = probe();
                    cached = r;
                }
            }
        }
        return r;
    }

    /** True when every given library loaded and a CUDA device exists. */
    public static boolean available(Lib... libs) {
        Report r = report();
        if (!r.gpuPresent()) return false;
        for (Lib l : libs) if (!r.loaded(l)) return false;
        return true;
    }

    /**
     * Throws GpuUnavailableException, naming each missing library and the search path, unless the
     * driver, the runtime, the given libraries and at least one CUDA device are all there.
     */
    public static void require(Lib... libs) {
        String why = report().whyUnavailable(libs);
        if (why != null) throw new GpuUnavailableException(why);
    }

    /** The reason to show when GPU tests skip: empty when everything needed is present. */
    public static String unavailableReason(Lib... libs) {
        try {
            require(libs);
            return "";
        } catch (GpuUnavailableException e) {
            return e.getMessage();
        }
    }

    // ---- probing ---------------------------------------------------------------------------------

    private static Report probe() {
        List<String> dirs = searchDirs();
        String searchPath = describeSearchPath(dirs);
        Map<Lib, LibStatus> libs = new LinkedHashMap<>();

        // The driver has no preset of its own: libjnicudart links it, so load the file directly first
        // to tell "no driver" apart from "no runtime".
        libs.put(Lib.CUDA_DRIVER, loadFile(Lib.CUDA_DRIVER, dirs));
        libs.put(Lib.CUDART, loadPreset(Lib.CUDART, dirs, () -> load("org.bytedeco.cuda.global.cudart")));
        // cuBLAS, NVRTC and NCCL presets inherit the runtime's: without it they cannot load at all.
        boolean rt = libs.get(Lib.CUDART).loaded();
        libs.put(
                Lib.CUBLAS,
                rt
                        ? loadPreset(Lib.CUBLAS, dirs, () -> load("org.bytedeco.cuda.global.cublas"))
                        : needsRuntime(Lib.CUBLAS, dirs));
        libs.put(
                Lib.NVRTC,
                rt
                        ? loadPreset(Lib.NVRTC, dirs, () -> load("org.bytedeco.cuda.global.nvrtc"))
                        : needsRuntime(Lib.NVRTC, dirs));
        libs.put(
                Lib.NCCL,
                rt
                        ? loadPreset(Lib.NCCL, dirs, () -> load("org.bytedeco.cuda.global.nccl"))
                        : needsRuntime(Lib.NCCL, dirs));

        int count = 0;
        String deviceError = null;
        if (libs.get(Lib.CUDART).loaded()) {
            try {
                int[] n = new int[1];
                int rc = org.bytedeco.cuda.global.cudart.cudaGetDeviceCount(n);
                if (rc == 0) {
                    count = n[0];
                } else {
                    deviceError = "cudaGetDeviceCount: " + CudaCheck.errorText(rc);
                }
            } catch (Throwable t) {
                deviceError = "cudaGetDeviceCount failed: " + t;
            }
        }
        return new Report(Collections.unmodifiableMap(libs), count, deviceError, searchPath);
    }

    private static String load(String className) {
        try {
            Class<?> c = Class.forName(className);
            return org.bytedeco.javacpp.Loader.load(c);
        } catch (ClassNotFoundException e) {
            throw new NoClassDefFoundError("bytedeco cuda presets not on the class path: " + className);
        }
    }

    private static LibStatus loadPreset(Lib lib, List<String> dirs, Supplier<String> loader) {
        try {
            loader.get();
            return new LibStatus(lib, true, "");
        } catch (UnsatisfiedLinkError | NoClassDefFoundError | ExceptionInInitializerError e) {
            return new LibStatus(lib, false, rootMessage(e) + "; " + whereFound(lib, dirs));
        } catch (RuntimeException e) {
            return new LibStatus(lib, false, e + "; " + whereFound(lib, dirs));
        }
    }

    private static LibStatus needsRuntime(Lib lib, List<String> dirs) {
        return new LibStatus(lib, false, "not tried: needs the CUDA runtime; " + whereFound(lib, dirs));
    }

    private static LibStatus loadFile(Lib lib, List<String> dirs) {
        String soname = lib.sonames().get(0);
        List<String> found = find(soname, dirs);
        if (found.isEmpty()) {
            // ld.so may still know it through ld.so.cache; let JavaCPP/the JVM try by name.
            try {
                System.loadLibrary(soname.substring(3, soname.indexOf(".so")));
                return new LibStatus(lib, true, "");
            } catch (UnsatisfiedLinkError e) {
                return new LibStatus(lib, false, "no " + soname + " found in the search path");
            }
        }
        String lastError = "";
        for (String path : found) {
            try {
                System.load(path);
                return new LibStatus(lib, true, "");
            } catch (UnsatisfiedLinkError e) {
                lastError = path + ": " + e.getMessage();
            }
        }
        return new LibStatus(lib, false, "found but could not load " + lastError);
    }

    private static String whereFound(Lib lib, List<String> dirs) {
        List<String> parts = new ArrayList<>();
        for (String so : lib.sonames()) {
            List<String> f = find(so, dirs);
            parts.add(f.isEmpty() ? "no " + so + " in the search path" : so + " found at " + f.get(0));
        }
        return String.join(", ", parts);
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) t = t.getCause();
        String m = t.getMessage() == null ? t.toString() : t.getMessage();
        return e == t ? m : e.getClass().getSimpleName() + ": " + m;
    }

    private static List<String> find(String soname, List<String> dirs) {
        List<String> hits = new ArrayList<>();
        for (String d : dirs) {
            File f = new File(d, soname);
            if (f.isFile()) hits.add(f.getPath());
        }
        return hits;
    }

    /** Folders searched, in order: java.library.path, LD_LIBRARY_PATH, JavaCPP platform paths, usual places. */
    static List<String> searchDirs() {
        Set<String> dirs = new LinkedHashSet<>();
        addPath(dirs, System.getProperty("java.library.path"));
        addPath(dirs, System.getenv("LD_LIBRARY_PATH"));
        addPath(dirs, System.getProperty("org.bytedeco.javacpp.platform.linkpath"));
        addPath(dirs, System.getProperty("org.bytedeco.javacpp.platform.preloadpath"));
        for (String d : List.of(
                "/usr/local/cuda/lib64",
                "/usr/local/cuda/targets/x86_64-linux/lib",
                "/usr/local/nvidia/lib64",
                "/usr/lib/x86_64-linux-gnu",
                "/usr/lib64",
                "/lib/x86_64-linux-gnu")) {
            dirs.add(d);
        }
        return new ArrayList<>(dirs);
    }

    private static void addPath(Set<String> dirs, String path) {
        if (path == null) return;
        for (String p : path.split(File.pathSeparator)) if (!p.isBlank()) dirs.add(p);
    }

    private static String describeSearchPath(List<String> dirs) {
        StringBuilder sb = new StringBuilder(String.join(File.pathSeparator, dirs));
        for (String prop : List.of(
                "org.bytedeco.javacpp.pathsFirst",
                "org.bytedeco.javacpp.cachedir",
                "org.bytedeco.javacpp.platform.linkpath",
                "org.bytedeco.javacpp.platform.preloadpath")) {
            String v = System.getProperty(prop);
            if (v != null) sb.append(" [-D").append(prop).append('=').append(v).append(']');
        }
        return sb.toString();
    }
}
