// CPU checks of the kernel resources: every listed source and the shared header are on the
// classpath, no source is left unlisted, and every kernel a launcher calls is declared.
package dev.shoal.cuda.kernels;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class KernelSourcesTest {
    /** Every kernel name the launchers in this package launch. */
    static final List<String> LAUNCHED = List.of(
            "cast_f32_to_bf16",
            "cast_bf16_to_f32",
            "add_f32",
            "add_bf16",
            "acc_f32",
            "acc_bf16",
            "scale_f32",
            "scale_bf16",
            "fill_f32",
            "fill_bf16",
            "sum_partial_f32",
            "sum_partial_bf16",
            "sum_finish",
            "embedding_fwd_f32",
            "embedding_fwd_bf16",
            "embedding_bwd_f32",
            "embedding_bwd_bf16",
            "rmsnorm_fwd_f32",
            "rmsnorm_fwd_bf16",
            "rmsnorm_bwd_dx_f32",
            "rmsnorm_bwd_dx_bf16",
            "rmsnorm_bwd_dw_f32",
            "rmsnorm_bwd_dw_bf16",
            "rope_tables",
            "rope_f32",
            "rope_bf16",
            "swiglu_fwd_f32",
            "swiglu_fwd_bf16",
            "swiglu_bwd_f32",
            "swiglu_bwd_bf16",
            "ce_stats_f32",
            "ce_stats_bf16",
            "ce_rescale",
            "ce_loss_grad_f32",
            "ce_loss_grad_bf16",
            "adamw_gf32",
            "adamw_gbf16",
            "clip_factor",
            "flash_fwd_bf16_hd64",
            "flash_fwd_bf16_hd128",
            "flash_bwd_dot_bf16",
            "flash_bwd_dkdv_bf16_hd64",
            "flash_bwd_dkdv_bf16_hd128",
            "flash_bwd_dq_bf16_hd64",
            "flash_bwd_dq_bf16_hd128",
            "flash_fwd_bf16_hd64_basic",
            "flash_fwd_bf16_hd128_basic",
            "flash_bwd_dkdv_bf16_hd64_basic",
            "flash_bwd_dkdv_bf16_hd128_basic",
            "flash_bwd_dq_bf16_hd64_basic",
            "flash_bwd_dq_bf16_hd128_basic",
            "attn_ref_fwd_f32",
            "attn_ref_fwd_bf16",
            "attn_ref_dot_f32",
            "attn_ref_dot_bf16",
            "attn_ref_dq_f32",
            "attn_ref_dq_bf16",
            "attn_ref_dkdv_f32",
            "attn_ref_dkdv_bf16");

    @Test
    void everySourceAndTheHeaderArePresent() {
        assertTrue(KernelLibrary.readResource(KernelLibrary.COMMON_HEADER).contains("f32_to_bf16"));
        for (String file : KernelLibrary.SOURCES) {
            String src = KernelLibrary.readResource(file);
            assertTrue(src.contains("#include \"" + KernelLibrary.COMMON_HEADER + "\""), file + " includes the header");
            assertFalse(KernelLibrary.kernelNames(src).isEmpty(), file + " declares kernels");
            assertFalse(src.contains("<cuda_runtime"), file + " must not include host headers (NVRTC)");
        }
    }

    @Test
    void noKernelSourceIsLeftOutOfTheList() throws Exception {
        URL dir = KernelLibrary.class.getResource(KernelLibrary.RESOURCE_DIR + KernelLibrary.COMMON_HEADER);
        if (dir == null || !"file".equals(dir.getProtocol())) {
            return; // packaged in a jar: the listing check runs in the module build only
        }
        try (Stream<Path> files = Files.list(Path.of(dir.toURI()).getParent())) {
            Set<String> onDisk = files.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".cu"))
                    .collect(Collectors.toSet());
            assertTrue(
                    onDisk.equals(new HashSet<>(KernelLibrary.SOURCES)),
                    "kernel sources on disk " + onDisk + " differ from KernelLibrary.SOURCES " + KernelLibrary.SOURCES);
        }
    }

    @Test
    void everyLaunchedKernelIsDeclaredExactlyOnce() {
        Set<String> declared = new HashSet<>();
        for (String file : KernelLibrary.SOURCES) {
            for (String name : KernelLibrary.kernelNames(KernelLibrary.readResource(file))) {
                assertTrue(declared.add(name), "kernel " + name + " declared twice (again in " + file + ")");
            }
        }
        for (String name : LAUNCHED) {
            assertTrue(declared.contains(name), "launcher kernel " + name + " not declared in any source");
        }
    }

    @Test
    void kernelNamesParsesExternCDeclarations() {
        String src = "extern \"C\" __global__ void foo_bar(const float* x) {}\n"
                + "__device__ void helper() {}\nextern \"C\"  __global__  void baz (int n) {}\n"
                + "extern \"C\" __global__ void __launch_bounds__(FA_THREADS) qux_hd64(const bf16* Q) {}";
        assertTrue(KernelLibrary.kernelNames(src).equals(List.of("foo_bar", "baz", "qux_hd64")));
    }
}
