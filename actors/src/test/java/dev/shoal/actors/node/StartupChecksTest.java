// Start-up checks on made-up machines (no GPU, GPUs without NCCL, full disks, low limits, clock
// tools' outputs) and on this one through `shoal check`.
package dev.shoal.actors.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.shoal.actors.cluster.ShoalConfig;
import dev.shoal.actors.node.StartupChecks.Check;
import dev.shoal.actors.node.StartupChecks.Verdict;
import dev.shoal.cuda.NativeLibs;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StartupChecksTest {

    static final String LIMITS = "Limit                     Soft Limit           Hard Limit           Units     \n"
            + "Max open files            %s                 1048576              files     \n"
            + "Max locked memory         %s              unlimited            bytes     \n";

    static NativeLibs.Report libs(int devices, boolean nccl) {
        Map<NativeLibs.Lib, NativeLibs.LibStatus> m = new EnumMap<>(NativeLibs.Lib.class);
        for (NativeLibs.Lib l : NativeLibs.Lib.values()) {
            boolean ok = devices > 0 && (l != NativeLibs.Lib.NCCL || nccl);
            m.put(l, new NativeLibs.LibStatus(l, ok, ok ? "" : "not found"));
        }
        return new NativeLibs.Report(m, devices, devices > 0 ? null : "no driver", "/usr/lib");
    }

    record FakeMachine(NativeLibs.Report nativeLibs, String limits, long free, String clockStatus)
            implements StartupChecks.Machine {
        @Override
        public long usableBytes(Path dir) {
            return free;
        }
    }

    static Config config(String hocon) {
        return ShoalConfig.load(ConfigFactory.parseString(hocon));
    }

    static Map<String, Check> byName(List<Check> checks) {
        Map<String, Check> m = new java.util.HashMap<>();
        for (Check c : checks) m.put(c.name().startsWith("disk") ? "disk" : c.name(), c);
        return m;
    }

    @Test
    void aCpuNodeWithRoomAndLimitsPassesWithWarningsOnly() {
        var m = new FakeMachine(libs(0, false), LIMITS.formatted("65536", "8388608"), 100L << 30, null);
        List<Check> checks = StartupChecks.run(config(""), List.of(Path.of("/data")), m);
        Map<String, Check> c = byName(checks);
        assertEquals(Verdict.WARN, c.get("gpus").verdict(), c.get("gpus").detail());
        assertTrue(c.get("gpus").detail().contains("CPU ranks only"));
        assertEquals(Verdict.WARN, c.get("nccl").verdict());
        assertEquals(Verdict.OK, c.get("disk").verdict(), c.get("disk").detail());
        assertEquals(Verdict.WARN, c.get("clock").verdict());
        assertEquals(
                Verdict.OK, c.get("open files").verdict(), c.get("open files").detail());
        assertEquals(Verdict.OK, c.get("locked memory").verdict(), "8 MiB is enough without GPUs");
        assertTrue(StartupChecks.passed(checks));
    }

    @Test
    void verdictsFollowTheThresholds() {
        var m = new FakeMachine(libs(8, true), LIMITS.formatted("1048576", "unlimited"), 100L << 30, "timedatectl:yes");
        Map<String, Check> c = byName(StartupChecks.run(config(""), List.of(Path.of("/data")), m));
        assertEquals(Verdict.OK, c.get("gpus").verdict());
        assertEquals("8 CUDA GPU(s) visible", c.get("gpus").detail());
        assertEquals(Verdict.OK, c.get("nccl").verdict());
        assertEquals(Verdict.OK, c.get("open files").verdict());
        assertEquals(Verdict.OK, c.get("locked memory").verdict());
        assertEquals(Verdict.OK, c.get("clock").verdict());
        assertTrue(StartupChecks.passed(List.copyOf(c.values())));
    }

    @Test
    void whatWouldBreakTrainingFails() {
        // GPUs without NCCL, a nearly full disk, 256 open files, GPUs asked for but fewer found.
        var m = new FakeMachine(libs(4, false), LIMITS.formatted("256", "65536"), 200L << 20, "timedatectl:no");
        List<Check> checks = StartupChecks.run(config("shoal.node.gpus = 8"), List.of(Path.of("/ckpt")), m);
        Map<String, Check> c = byName(checks);
        assertEquals(Verdict.FAIL, c.get("gpus").verdict());
        assertEquals("shoal.node.gpus asks for 8 but 4 found", c.get("gpus").detail());
        assertEquals(Verdict.FAIL, c.get("nccl").verdict());
        assertEquals(Verdict.FAIL, c.get("disk").verdict());
        assertTrue(
                c.get("disk").detail().startsWith("200 MiB free (minimum 1.0 GiB"),
                c.get("disk").detail());
        assertEquals(Verdict.FAIL, c.get("open files").verdict());
        assertTrue(c.get("open files").detail().contains("LimitNOFILE"));
        assertEquals(Verdict.WARN, c.get("locked memory").verdict());
        assertEquals(Verdict.WARN, c.get("clock").verdict());
        assertFalse(StartupChecks.passed(checks));
        String table = StartupChecks.table(checks);
        assertTrue(table.lines().anyMatch(l -> l.startsWith("FAIL  gpus ")), table);
    }

    @Test
    void chronyOffsetsAreRead() {
        String fast =
                "chronyc:Reference ID    : C0A80001 (ntp)\nSystem time     : 0.000250000 seconds fast of NTP time\n";
        Check ok = StartupChecks.clock(fast);
        assertEquals(Verdict.OK, ok.verdict());
        assertEquals("chrony: 0.3 ms from NTP time", ok.detail());
        Check off = StartupChecks.clock("chronyc:System time     : 1.500000000 seconds slow of NTP time\n");
        assertEquals(Verdict.WARN, off.verdict());
    }

    @Test
    void badGpuCountNamesTheKey() {
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(
                IllegalArgumentException.class, () -> CudaDevices.requested(config("shoal.node.gpus = lots")));
        assertEquals("shoal.node.gpus must be auto or a number in 0..1024, got \"lots\"", e.getMessage());
    }
}
