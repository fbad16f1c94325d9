// Compiles Shoal's CUDA C kernels (resources dev/shoal/cuda/kernels/*.cu) with NVRTC for the
// device's own architecture, caches the binaries, loads them through the driver API and launches them.
// Guarantees:
//  - compiled once per process and device; binaries cached on disk per (source, options, NVRTC
//    version, arch) hash, so a restart skips NVRTC;
//  - a compile error throws KernelException carrying NVRTC's log ("file.cu(line): error: ...");
//  - missing CUDA libraries or no device throw GpuUnavailableException naming what is missing
//    (dev.shoal.cuda.NativeLibs loads the libraries, once per JVM);
//  - launches run in the device's primary context (the one the CUDA runtime API uses), so device
//    pointers from cudaMalloc and streams from cudaStreamCreate work as they are.
package dev.shoal.cuda.kernels;

import static org.bytedeco.cuda.global.cudart.*;
import static org.bytedeco.cuda.global.nvrtc.*;

import dev.shoal.cuda.CudaCheck;
import dev.shoal.cuda.NativeLibs;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bytedeco.cuda.cudart.CUctx_st;
import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.nvrtc._nvrtcProgram;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.SizeTPointer;

/** The compiled kernel modules of one CUDA device. Obtain with {@link #forDevice(int)}. */
public final class KernelLibrary implements AutoCloseable {
    /** Classpath folder of the kernel sources. */
    public static final String RESOURCE_DIR = "/dev/shoal/cuda/kernels/";
    /** The shared header every kernel source includes; handed to NVRTC as an in-memory header. */
    public static final String COMMON_HEADER = "shoal_common.cuh";
    /** Every kernel source, compiled as one module each. */
    public static final List<String> SOURCES = List.of(
            "cast.cu",
            "elementwise.cu",
            "rmsnorm.cu",
            "rope.cu",
            "swiglu.cu",
            "cross_entropy.cu",
            "adamw.cu",
            "flash_attention.cu",
            "attention_ref.cu");

    /** Default dynamic shared memory limit without opt-in. */
    static final int DEFAULT_SMEM_LIMIT = 48 * 1024;

    private static final Pattern KERNEL_DECL = Pattern.compile(
            "extern\\s+\"C\"\\s+__global__\\s+void\\s+(?:__launch_bounds__\\s*\\([^)]*\\)\\s*)?(\\w+)\\s*\\(");
    private static final Pattern LOG_ERROR =
            Pattern.compile("^.*\\(\\d+\\): (?:catastrophic )?error.*$", Pattern.MULTILINE);
    private static final Map<Integer, KernelLibrary> BY_DEVICE = new HashMap<>();

    private final int device;
    private final int cuDevice;
    private final int ccMajor;
    private final int ccMinor;
    private final int multiprocessors;
    private final int maxSmemOptinBytes;
    private final String target; // sm_XY (cubin) or compute_XY (PTX fallback)
    private final CUctx_st context;
    private final List<CUmod_st> modules = new ArrayList<>();
    private final Map<String, CUfunc_st> functions = new HashMap<>();
    private final Map<String, Integer> smemLimit = new ConcurrentHashMap<>();
    private final boolean syncEachLaunch = Boolean.getBoolean("shoal.kernels.sync");
    private final Map<String, Double> compileSeconds = new HashMap<>();

    /** The library for {@code device}, compiled and loaded on first use (thread-safe). */
    public static KernelLibrary forDevice(int device) {
        synchronized (BY_DEVICE) {
            KernelLibrary lib = BY_DEVICE.get(device);
            if (lib == null) {
                lib = new KernelLibrary(device);
                BY_DEVICE.put(device, lib);
            }
            return lib;
        }
    }

    private KernelLibrary(int device) {
        NativeLibs.require(NativeLibs.Lib.NVRTC); // driver, runtime, NVRTC and at least one device
        int count = NativeLibs.report().deviceCount();
        if (device < 0 || device >= count) {
            throw new IllegalArgumentException("device " + device + " out of range: " + count + " CUDA device(s)");
        }
        this.device = device;
        // step 1: make the runtime create the primary context, then take it for the driver API
        checkRuntime(cudaSetDevice(device), "cudaSetDevice(" + device + ")");
        checkRuntime(cudaFree(null), "cudaFree(null) (runtime context init)");
        checkDriver(cuInit(0), "cuInit");
        int[] dev = {0};
        checkDriver(cuDeviceGet(dev, device), "cuDeviceGet");
        this.cuDevice = dev[0];
        this.context = new CUctx_st();
        checkDriver(cuDevicePrimaryCtxRetain(context, dev[0]), "cuDevicePrimaryCtxRetain");
        checkDriver(cuCtxSetCurrent(context), "cuCtxSetCurrent");
        this.ccMajor = attribute(dev[0], CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
        this.ccMinor = attribute(dev[0], CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
        this.multiprocessors = attribute(dev[0], CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
        this.maxSmemOptinBytes = attribute(dev[0], CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
        // step 2: pick the NVRTC target: the device's own sm_XY, or PTX for the newest arch NVRTC knows
        this.target = chooseTarget(ccMajor * 10 + ccMinor);
        // step 3: compile (or take from the cache), load, and look up every kernel
        String header = readResource(COMMON_HEADER);
        for (String file : SOURCES) {
            String source = readResource(file);
            long t0 = System.nanoTime();
            byte[] image = cachedOrCompile(file, source, header);
            compileSeconds.put(file, (System.nanoTime() - t0) / 1e9);
            CUmod_st mod = new CUmod_st();
            BytePointer img = new BytePointer(image.length);
            img.put(image);
            checkDriver(cuModuleLoadData(mod, img), "cuModuleLoadData(" + file + ", " + target + ")");
            img.close();
            modules.add(mod);
            for (String name : kernelNames(source)) {
                CUfunc_st fn = new CUfunc_st();
                checkDriver(cuModuleGetFunction(fn, mod, name), "cuModuleGetFunction(" + name + " in " + file + ")");
                functions.put(name, fn);
            }
        }
    }

    /** Kernel entry points ({@code extern "C" __global__ void name(}) declared in a source. */
    public static List<String> kernelNames(String source) {
        Set<String> names = new LinkedHashSet<>();
        Matcher m = KERNEL_DECL.matcher(source);
        while (m.find()) {
            names.add(m.group(1));
        }
        return List.copyOf(names);
    }

    /** A kernel source or header from the classpath, as text. */
    public static String readResource(String file) {
        try (InputStream in = KernelLibrary.class.getResourceAsStream(RESOURCE_DIR + file)) {
            if (in == null) {
                throw new KernelException("kernel source " + RESOURCE_DIR + file + " is missing from the classpath");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("reading kernel source " + file, e);
        }
    }

    /** NVRTC options used for every source (the target architecture is added separately). */
    public static List<String> baseOptions() {
        return List.of("-std=c++17", "-default-device", "-lineinfo", "-DSHOAL_NVRTC=1");
    }

    public int device() {
        return device;
    }

    /** The device's marketing name, e.g. "NVIDIA H100 80GB HBM3". */
    public String deviceName() {
        byte[] name = new byte[256];
        checkDriver(cuDeviceGetName(name, name.length, cuDevice), "cuDeviceGetName");
        int n = 0;
        while (n < name.length && name[n] != 0) {
            n++;
        }
        return new String(name, 0, n, StandardCharsets.UTF_8);
    }

    /** Compute capability, e.g. 90 for sm_90. */
    public int computeCapability() {
        return ccMajor * 10 + ccMinor;
    }

    public int multiprocessors() {
        return multiprocessors;
    }

    public int maxSharedMemoryOptinBytes() {
        return maxSmemOptinBytes;
    }

    /** NVRTC target used: {@code sm_XY} (native cubin) or {@code compute_XY} (PTX, driver JIT). */
    public String target() {
        return target;
    }

    /** Seconds spent per source in compile-or-cache-load during start. */
    public Map<String, Double> compileSeconds() {
        return Map.copyOf(compileSeconds);
    }

    /** True when the library holds a kernel of this name. */
    public boolean has(String kernel) {
        return functions.containsKey(kernel);
    }

    /**
     * Launches {@code kernel} with a 1-D block. {@code args} must match the kernel's parameter list
     * exactly (the launchers in this package guarantee that).
     */
    public void launch(String kernel, int gridX, int blockX, int smemBytes, CUstream_st stream, KernelArgs args) {
        launch(kernel, gridX, 1, 1, blockX, 1, 1, smemBytes, stream, args);
    }

    /** Launches {@code kernel} with a 3-D grid and block. */
    public void launch(
            String kernel,
            int gridX,
            int gridY,
            int gridZ,
            int blockX,
            int blockY,
            int blockZ,
            int smemBytes,
            CUstream_st stream,
            KernelArgs args) {
        CUfunc_st fn = functions.get(kernel);
        if (fn == null) {
            throw new KernelException("no kernel named '" + kernel + "' (known: " + functions.keySet() + ")");
        }
        if (gridX <= 0 || gridY <= 0 || gridZ <= 0 || gridY > 65535 || gridZ > 65535) {
            throw new KernelException(
                    "bad grid " + gridX + "x" + gridY + "x" + gridZ + " for " + kernel + " (y, z at most 65535)");
        }
        if (smemBytes > DEFAULT_SMEM_LIMIT) {
            raiseSmemLimit(kernel, fn, smemBytes);
        }
        checkDriver(cuCtxSetCurrent(context), "cuCtxSetCurrent");
        int rc = cuLaunchKernel(
                fn, gridX, gridY, gridZ, blockX, blockY, blockZ, smemBytes, stream, args.kernelParams(), null);
        checkDriver(
                rc,
                "cuLaunchKernel(" + kernel + ", grid " + gridX + "x" + gridY + "x" + gridZ + ", block " + blockX + "x"
                        + blockY + "x" + blockZ + ", smem " + smemBytes + ")");
        if (syncEachLaunch) {
            checkRuntime(cudaStreamSynchronize(stream), "after " + kernel);
        }
    }

    private void raiseSmemLimit(String kernel, CUfunc_st fn, int smemBytes) {
        Integer have = smemLimit.get(kernel);
        if (have != null && have >= smemBytes) {
            return;
        }
        if (smemBytes > maxSmemOptinBytes) {
            throw new KernelException(
                    kernel + " needs " + smemBytes + " bytes of shared memory; the device allows " + maxSmemOptinBytes);
        }
        checkDriver(
                cuFuncSetAttribute(fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smemBytes),
                "cuFuncSetAttribute(" + kernel + ", max dynamic smem " + smemBytes + ")");
        smemLimit.put(kernel, smemBytes);
    }

    /** Unloads the modules. The library is unusable afterwards. */
    @Override
    public void close() {
        synchronized (BY_DEVICE) {
            BY_DEVICE.remove(device, this);
        }
        for (CUmod_st m : modules) {
            cuModuleUnload(m);
        }
        modules.clear();
        functions.clear();
    }

    // ---- compilation ----

    private String chooseTarget(int cc) {
        int[] n = {0};
        checkNvrtc(nvrtcGetNumSupportedArchs(n), "nvrtcGetNumSupportedArchs");
        int[] archs = new int[n[0]];
        checkNvrtc(nvrtcGetSupportedArchs(archs), "nvrtcGetSupportedArchs");
        int best = -1;
        for (int a : archs) {
            if (a == cc) {
                return "sm_" + cc;
            }
            if (a < cc && a > best) {
                best = a;
            }
        }
        if (best < 0) {
            throw new KernelException("NVRTC supports none of the architectures up to sm_" + cc + " (supports "
                    + java.util.Arrays.toString(archs) + ")");
        }
        return "compute_" + best; // PTX that the driver compiles for the newer device
    }

    private byte[] cachedOrCompile(String file, String source, String header) {
        List<String> options = new ArrayList<>(baseOptions());
        options.add("--gpu-architecture=" + target);
        int[] major = {0}, minor = {0};
        checkNvrtc(nvrtcVersion(major, minor), "nvrtcVersion");
        String key = sha256("nvrtc " + major[0] + "." + minor[0] + "\n" + options + "\n" + header + "\n" + source);
        Path dir = cacheDir();
        Path cached = dir.resolve(file.replace(".cu", "") + "-" + target + "-" + key.substring(0, 20)
                + (target.startsWith("sm_") ? ".cubin" : ".ptx"));
        if (Files.isRegularFile(cached)) {
            try {
                return Files.readAllBytes(cached);
            } catch (IOException e) {
                // unreadable cache entry: compile again
            }
        }
        byte[] image = compile(file, source, header, options, target.startsWith("sm_"));
        try {
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, file, ".part");
            Files.write(tmp, image);
            Files.move(tmp, cached, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            // the cache is an optimisation only
        }
        return image;
    }

    static Path cacheDir() {
        String configured = System.getProperty("shoal.kernels.cache");
        if (configured != null && !configured.isBlank()) {
            return Path.of(configured);
        }
        return Path.of(System.getProperty("java.io.tmpdir"), "shoal-kernels-" + System.getProperty("user.name"));
    }

    /** Compiles one source with NVRTC; returns a cubin (or NUL-terminated PTX). */
    static byte[] compile(String file, String source, String header, List<String> options, boolean cubin) {
        _nvrtcProgram prog = new _nvrtcProgram();
        // NVRTC may keep pointers to these until the program is destroyed: close them afterwards
        BytePointer src = new BytePointer(source);
        BytePointer name = new BytePointer(file);
        PointerPointer<BytePointer> headers = new PointerPointer<>(header);
        PointerPointer<BytePointer> headerNames = new PointerPointer<>(COMMON_HEADER);
        PointerPointer<BytePointer> opts = new PointerPointer<>(options.toArray(new String[0]));
        int created = nvrtcCreateProgram(prog, src, name, 1, headers, headerNames);
        if (created != NVRTC_SUCCESS) {
            closeAll(src, name, headers, headerNames, opts);
            checkNvrtc(created, "nvrtcCreateProgram(" + file + ")");
        }
        try {
            int rc = nvrtcCompileProgram(prog, options.size(), opts);
            String log = programLog(prog);
            if (rc != NVRTC_SUCCESS) {
                Matcher m = LOG_ERROR.matcher(log);
                String first = m.find() ? m.group() : "(no error line in the log)";
                throw new KernelException("NVRTC failed to compile " + file + " (" + nvrtcErrorString(rc) + "): "
                        + first + "\n--- NVRTC log (" + String.join(" ", options) + ") ---\n" + log);
            }
            try (SizeTPointer size = new SizeTPointer(1)) {
                if (cubin) {
                    checkNvrtc(nvrtcGetCUBINSize(prog, size), "nvrtcGetCUBINSize(" + file + ")");
                } else {
                    checkNvrtc(nvrtcGetPTXSize(prog, size), "nvrtcGetPTXSize(" + file + ")");
                }
                long n = size.get();
                try (BytePointer out = new BytePointer(n)) {
                    if (cubin) {
                        checkNvrtc(nvrtcGetCUBIN(prog, out), "nvrtcGetCUBIN(" + file + ")");
                    } else {
                        checkNvrtc(nvrtcGetPTX(prog, out), "nvrtcGetPTX(" + file + ")");
                    }
                    byte[] bytes = new byte[(int) n];
                    out.get(bytes);
                    return bytes;
                }
            }
        } finally {
            nvrtcDestroyProgram(prog);
            closeAll(src, name, headers, headerNames, opts);
        }
    }

    private static void closeAll(org.bytedeco.javacpp.Pointer... ps) {
        for (org.bytedeco.javacpp.Pointer p : ps) {
            p.close();
        }
    }

    private static String programLog(_nvrtcProgram prog) {
        try (SizeTPointer size = new SizeTPointer(1)) {
            if (nvrtcGetProgramLogSize(prog, size) != NVRTC_SUCCESS || size.get() <= 1) {
                return "";
            }
            try (BytePointer log = new BytePointer(size.get())) {
                nvrtcGetProgramLog(prog, log);
                return log.getString();
            }
        }
    }

    // ---- error checking ----

    private int attribute(int dev, int attr) {
        int[] v = {0};
        checkDriver(cuDeviceGetAttribute(v, attr, dev), "cuDeviceGetAttribute(" + attr + ")");
        return v[0];
    }

    static void checkNvrtc(int rc, String what) {
        if (rc != NVRTC_SUCCESS) {
            throw new KernelException(what + " failed: " + nvrtcErrorString(rc) + " (" + rc + ")");
        }
    }

    private static String nvrtcErrorString(int rc) {
        BytePointer s = nvrtcGetErrorString(rc);
        return s == null ? "nvrtcResult " + rc : s.getString();
    }

    static void checkDriver(int rc, String what) {
        if (rc != 0) {
            String name = "CUresult " + rc;
            try (PointerPointer<BytePointer> p = new PointerPointer<>(1)) {
                if (cuGetErrorName(rc, p) == 0 && p.get(0) != null) {
                    name = p.getString(0);
                }
                if (cuGetErrorString(rc, p) == 0 && p.get(0) != null) {
                    name += ": " + p.getString(0);
                }
            }
            throw new KernelException(what + " failed: " + name + " (" + rc + ")");
        }
    }

    static void checkRuntime(int rc, String what) {
        if (rc != 0) throw new KernelException(what + " failed: " + CudaCheck.errorText(rc));
    }

    private static String sha256(String s) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            return HexFormat.of().formatHex(md.digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Null stream helper for readability at call sites: the legacy default stream. */
    public static CUstream_st defaultStream() {
        return null;
    }
}
