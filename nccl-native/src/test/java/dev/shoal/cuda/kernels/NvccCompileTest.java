// Compiles every kernel source with nvcc (when it is installed) so CI catches syntax and type
// errors without a GPU. Mirrors the NVRTC setup: -std=c++17, device code only, the shared header
// on the include path, sm_90 (the production target). Skips, with the reason, when nvcc is absent.
package dev.shoal.cuda.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NvccCompileTest {
    static String findNvcc() {
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(File.pathSeparator)) {
                File f = new File(dir, "nvcc");
                if (f.canExecute()) {
                    return f.getAbsolutePath();
                }
            }
        }
        for (String p : new String[] {"/usr/local/cuda/bin/nvcc", "/usr/local/bin/nvcc"}) {
            if (new File(p).canExecute()) {
                return p;
            }
        }
        return null;
    }

    @Test
    void everyKernelSourceCompilesWithNvcc(@TempDir Path tmp) throws Exception {
        String nvcc = findNvcc();
        assumeTrue(nvcc != null, "nvcc not found on PATH or in /usr/local/cuda/bin: kernel syntax check skipped");
        Files.writeString(
                tmp.resolve(KernelLibrary.COMMON_HEADER), KernelLibrary.readResource(KernelLibrary.COMMON_HEADER));
        List<String> cmd = new ArrayList<>(List.of(
                nvcc,
                "-std=c++17",
                "-arch=sm_90",
                "-ptx",
                "-I",
                tmp.toString(),
                "-Werror",
                "all-warnings",
                "-odir",
                tmp.resolve("out").toString()));
        Files.createDirectories(tmp.resolve("out"));
        for (String file : KernelLibrary.SOURCES) {
            Path src = tmp.resolve(file);
            Files.writeString(src, KernelLibrary.readResource(file));
            cmd.add(src.toString());
        }
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assumeTrue(p.waitFor(300, TimeUnit.SECONDS), "nvcc did not finish in 300 s");
        assertEquals(0, p.exitValue(), "nvcc failed:\n" + out);
    }
}
