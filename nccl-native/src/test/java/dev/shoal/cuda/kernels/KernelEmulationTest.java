// Checks the kernels' index logic without a GPU: the CUDA sources are compiled as C++ against a
// host emulation of threads, barriers, warp shuffles, atomics, cp.async, mma.sync and ldmatrix
// (test resource emu/emu.h), run on odd shapes with poisoned outputs, and compared with
// double-precision references. Skips, with the reason, when no C++20 g++ is installed. The
// tensor-core fragment layouts themselves are proven only on a GPU (FlashAttentionGpuTest).
package dev.shoal.cuda.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KernelEmulationTest {
    private static String findGpp() {
        String path = System.getenv("PATH");
        if (path == null) {
            return null;
        }
        for (String dir : path.split(File.pathSeparator)) {
            File f = new File(dir, "g++");
            if (f.canExecute()) {
                return f.getAbsolutePath();
            }
        }
        return null;
    }

    private static String testResource(String name) throws IOException {
        try (InputStream in =
                KernelEmulationTest.class.getResourceAsStream(KernelLibrary.RESOURCE_DIR + "emu/" + name)) {
            if (in == null) {
                throw new IOException("test resource emu/" + name + " missing");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** Replaces the body of device function {@code name} by {@code body} (braces matched, strings skipped). */
    static String replaceBody(String src, String name, String body) {
        int i = src.indexOf(" " + name + "(");
        if (i < 0) {
            throw new IllegalStateException("function " + name + " not found in flash_attention.cu");
        }
        int open = src.indexOf('{', i);
        int depth = 0;
        for (int p = open; p < src.length(); p++) {
            char c = src.charAt(p);
            if (c == '"') {
                p++;
                while (src.charAt(p) != '"') {
                    p += src.charAt(p) == '\\' ? 2 : 1;
                }
            } else if (c == '{') {
                depth++;
            } else if (c == '}' && --depth == 0) {
                return src.substring(0, open) + "{ " + body + " }" + src.substring(p + 1);
            }
        }
        throw new IllegalStateException("unbalanced braces in " + name);
    }

    /** The kernel source with its inline PTX swapped for the emulated operations. */
    static String emulatedSource() {
        String src = KernelLibrary.readResource("flash_attention.cu");
        src = replaceBody(src, "pack_bf16x2", "return emu_pack(lo, hi);");
        src = replaceBody(src, "mma16816", "emu_mma(c, a, b);");
        src = replaceBody(src, "ldsm_x4", "emu_ldsm(r, p, false);");
        src = replaceBody(src, "ldsm_x4_trans", "emu_ldsm(r, p, true);");
        src = replaceBody(src, "cp_async16", "emu_cp(smem, gmem, srcBytes);");
        src = replaceBody(src, "cp_async_commit", "");
        src = replaceBody(src, "cp_async_wait", "");
        return src.replace("extern __shared__", "extern");
    }

    /** Builds {@code harness} (a test resource) in {@code dir} and runs it; returns its output. */
    private static String buildAndRun(Path dir, String harness) throws Exception {
        String gpp = findGpp();
        assumeTrue(gpp != null, "g++ not on PATH: kernel emulation skipped");
        Files.writeString(
                dir.resolve(KernelLibrary.COMMON_HEADER), KernelLibrary.readResource(KernelLibrary.COMMON_HEADER));
        Files.writeString(dir.resolve("emu.h"), testResource("emu.h"));
        Files.writeString(dir.resolve("harness.cpp"), testResource(harness));
        Process build = new ProcessBuilder(
                        List.of(gpp, "-std=c++20", "-O1", "-pthread", "-w", "-o", "harness", "harness.cpp"))
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .start();
        String buildLog = new String(build.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(build.waitFor(300, TimeUnit.SECONDS), "g++ timed out");
        assumeTrue(
                build.exitValue() == 0 || !buildLog.contains("barrier"),
                "g++ lacks C++20 <barrier>: kernel emulation skipped");
        assertEquals(0, build.exitValue(), harness + " failed to build:\n" + buildLog);
        Process run = new ProcessBuilder(List.of(dir.resolve("harness").toString()))
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .start();
        String out = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(run.waitFor(600, TimeUnit.SECONDS), harness + " timed out");
        System.out.println(out);
        assertEquals(0, run.exitValue(), "emulated kernels disagree with the reference:\n" + out);
        assertTrue(out.contains("ALL OK"), out);
        return out;
    }

    @Test
    void emulatedElementwiseNormRopeSwigluCrossEntropyAdamwReferenceAttentionKernelsMatch(@TempDir Path tmp)
            throws Exception {
        for (String file : List.of(
                "cast.cu",
                "elementwise.cu",
                "rmsnorm.cu",
                "rope.cu",
                "swiglu.cu",
                "cross_entropy.cu",
                "adamw.cu",
                "attention_ref.cu")) {
            Files.writeString(tmp.resolve(file), KernelLibrary.readResource(file));
        }
        buildAndRun(tmp, "simple_harness.cpp");
    }

    @Test
    @Tag("slow")
    void emulatedFlashKernelsMatchTheReference(@TempDir Path tmp) throws Exception {
        Files.writeString(tmp.resolve("fa_emu.cu"), emulatedSource());
        buildAndRun(tmp, "flash_harness.cpp");
    }
}
