// The checks a node runs before it joins (and `shoal check` prints): GPUs visible, NCCL loadable,
// free space on the checkpoint and journal disks, clock synchronization, and the process limits NCCL
// and the collective backends need. Each check ends in one verdict, OK, WARN or FAIL, with a detail
// line a person can act on.
//
// Guarantees: the checks only read (files under /proc, the file systems' free space, the native
// library report, a clock-status command when one exists); they never throw for an unusual machine,
// a missing tool gives WARN with the reason. FAIL is reserved for what would break training on this
// node: GPUs asked for but absent, NCCL missing where GPUs are, a nearly full checkpoint disk, an
// open-file limit too small for the collective backends.
package dev.shoal.actors.node;

import com.typesafe.config.Config;
import dev.shoal.cuda.NativeLibs;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;

public final class StartupChecks {

    public enum Verdict {
        OK,
        WARN,
        FAIL
    }

    /** One check's outcome. */
    public record Check(String name, Verdict verdict, String detail) {
        public Check {
            if (name.isBlank() || detail.isBlank()) throw new IllegalArgumentException("check needs a name and detail");
        }
    }

    /** What the checks read from the machine; a seam so tests can give other machines. */
    public interface Machine {
        NativeLibs.Report nativeLibs();

        /** The process's limits file (/proc/self/limits), or null where there is none. */
        String limits();

        /** Usable bytes on the file system holding {@code dir} (or its nearest existing parent). */
        long usableBytes(Path dir) throws IOException;

        /** Output of the clock-status command (chronyc/timedatectl), or null when none answered. */
        String clockStatus();
    }

    private StartupChecks() {}

    /** The directories whose free space matters: the H2 journal's, the working directory, shoal.checks.dirs. */
    public static List<Path> dataDirs(Config config) {
        java.util.LinkedHashSet<Path> dirs = new java.util.LinkedHashSet<>();
        Path h2 = dev.shoal.actors.cluster.ShoalConfig.h2Directory(config);
        if (h2 != null) dirs.add(h2);
        dirs.add(Path.of("").toAbsolutePath());
        for (String d : config.getStringList("shoal.checks.dirs"))
            dirs.add(Path.of(d).toAbsolutePath().normalize());
        return List.copyOf(dirs);
    }

    /** Every check, in a fixed order. */
    public static List<Check> run(Config config, List<Path> dataDirs, Machine machine) {
        List<Check> out = new ArrayList<>();
        NativeLibs.Report libs = machine.nativeLibs();
        int wantGpus = CudaDevices.requested(config);
        out.add(gpus(libs, wantGpus));
        out.add(nccl(libs, wantGpus));
        long minFree = config.getBytes("shoal.checks.min-free-disk");
        for (Path d : dataDirs) out.add(disk(d, minFree, machine));
        out.add(clock(machine.clockStatus()));
        String limits = machine.limits();
        out.add(openFiles(limits, config.getLong("shoal.checks.min-open-files")));
        out.add(memlock(limits, libs.gpuPresent()));
        return out;
    }

    /** The real machine this JVM runs on. */
    public static Machine thisMachine() {
        return new Machine() {
            @Override
            public NativeLibs.Report nativeLibs() {
                return NativeLibs.report();
            }

            @Override
            public String limits() {
                try {
                    return Files.readString(Path.of("/proc/self/limits"));
                } catch (IOException e) {
                    return null;
                }
            }

            @Override
            public long usableBytes(Path dir) throws IOException {
                Path p = dir.toAbsolutePath().normalize();
                while (p != null && !Files.exists(p)) p = p.getParent();
                if (p == null) throw new IOException("no existing parent of " + dir);
                return Files.getFileStore(p).getUsableSpace();
            }

            @Override
            public String clockStatus() {
                String chrony = command("chronyc", "-n", "tracking");
                if (chrony != null) return "chronyc:" + chrony;
                String td = command("timedatectl", "show", "-p", "NTPSynchronized", "--value");
                return td == null ? null : "timedatectl:" + td;
            }
        };
    }

    /** True when no check failed. */
    public static boolean passed(List<Check> checks) {
        return checks.stream().noneMatch(c -> c.verdict() == Verdict.FAIL);
    }

    /** The checks as an aligned table, one line each. */
    public static String table(List<Check> checks) {
        int w = checks.stream().mapToInt(c -> c.name().length()).max().orElse(5);
        StringBuilder sb = new StringBuilder();
        for (Check c : checks) {
            sb.append(String.format(Locale.ROOT, "%-4s  %-" + w + "s  %s%n", c.verdict(), c.name(), c.detail()));
        }
        return sb.toString();
    }

    static Check gpus(NativeLibs.Report libs, int wanted) {
        int found = libs.deviceCount();
        if (found > 0) {
            if (wanted > found) {
                return new Check(
                        "gpus", Verdict.FAIL, "shoal.node.gpus asks for " + wanted + " but " + found + " found");
            }
            return new Check("gpus", Verdict.OK, found + " CUDA GPU(s) visible");
        }
        String why = libs.whyUnavailable(NativeLibs.Lib.CUDA_DRIVER, NativeLibs.Lib.CUDART);
        if (why == null || why.isBlank()) why = libs.deviceError() == null ? "no device" : libs.deviceError();
        if (wanted > 0) {
            return new Check("gpus", Verdict.FAIL, "shoal.node.gpus = " + wanted + " but no GPU is usable: " + why);
        }
        return new Check("gpus", Verdict.WARN, "no CUDA GPU (" + firstLine(why) + "); this node offers CPU ranks only");
    }

    static Check nccl(NativeLibs.Report libs, int wanted) {
        if (libs.loaded(NativeLibs.Lib.NCCL)) return new Check("nccl", Verdict.OK, "libnccl.so.2 loads");
        String why = firstLine(libs.whyUnavailable(NativeLibs.Lib.NCCL));
        boolean gpusHere = libs.deviceCount() > 0 || wanted > 0;
        return new Check(
                "nccl",
                gpusHere ? Verdict.FAIL : Verdict.WARN,
                "NCCL does not load (" + why + ")"
                        + (gpusHere ? "; GPU ranks cannot all-reduce" : "; not needed for CPU ranks"));
    }

    static Check disk(Path dir, long minFreeBytes, Machine machine) {
        String name = "disk " + dir;
        try {
            long free = machine.usableBytes(dir);
            String detail = gib(free) + " free (minimum " + gib(minFreeBytes) + ", shoal.checks.min-free-disk)";
            if (free < minFreeBytes) return new Check(name, Verdict.FAIL, detail);
            if (free < 4 * minFreeBytes) return new Check(name, Verdict.WARN, detail + "; less than 4x the minimum");
            return new Check(name, Verdict.OK, detail);
        } catch (IOException e) {
            return new Check(name, Verdict.WARN, "cannot read the free space: " + e.getMessage());
        }
    }

    static Check clock(String status) {
        if (status == null) {
            return new Check(
                    "clock",
                    Verdict.WARN,
                    "cannot tell whether the clock is synchronized (no chronyc or timedatectl answered); "
                            + "checkpoint times and logs of different nodes may not line up");
        }
        if (status.startsWith("chronyc:")) {
            String s = status.substring("chronyc:".length());
            for (String line : s.split("\n")) {
                if (line.startsWith("System time")) {
                    // "System time     : 0.000012345 seconds fast of NTP time"
                    String[] parts = line.split(":", 2)[1].trim().split("\\s+");
                    double off = Math.abs(Double.parseDouble(parts[0]));
                    Verdict v = off > 0.5 ? Verdict.WARN : Verdict.OK;
                    return new Check(
                            "clock", v, String.format(Locale.ROOT, "chrony: %.1f ms from NTP time", off * 1e3));
                }
            }
            return new Check("clock", Verdict.WARN, "chronyc answered without a system time line");
        }
        String value = status.substring(status.indexOf(':') + 1).trim();
        return "yes".equals(value)
                ? new Check("clock", Verdict.OK, "timedatectl: synchronized by NTP")
                : new Check("clock", Verdict.WARN, "timedatectl: not synchronized by NTP (" + value + ")");
    }

    static Check openFiles(String limits, long min) {
        OptionalLong soft = softLimit(limits, "Max open files");
        if (soft.isEmpty()) return new Check("open files", Verdict.WARN, "cannot read the open-file limit");
        long n = soft.getAsLong();
        String detail = "soft limit " + (n == Long.MAX_VALUE ? "unlimited" : n) + " (minimum " + min
                + ", shoal.checks.min-open-files)";
        if (n < min) return new Check("open files", Verdict.FAIL, detail + "; raise it with ulimit -n or LimitNOFILE");
        if (n < 16 * min) return new Check("open files", Verdict.WARN, detail + "; large meshes want 65536 or more");
        return new Check("open files", Verdict.OK, detail);
    }

    static Check memlock(String limits, boolean gpus) {
        OptionalLong soft = softLimit(limits, "Max locked memory");
        if (soft.isEmpty()) return new Check("locked memory", Verdict.WARN, "cannot read the locked-memory limit");
        long n = soft.getAsLong();
        if (n == Long.MAX_VALUE) return new Check("locked memory", Verdict.OK, "unlimited");
        String detail = gib(n) + " may be locked";
        if (gpus) {
            return new Check(
                    "locked memory",
                    Verdict.WARN,
                    detail + "; NCCL and pinned host buffers want unlimited (LimitMEMLOCK=infinity)");
        }
        return new Check("locked memory", Verdict.OK, detail + " (enough for CPU ranks)");
    }

    /** The soft value of one row of /proc/self/limits; Long.MAX_VALUE for "unlimited". */
    static OptionalLong softLimit(String limits, String row) {
        if (limits == null) return OptionalLong.empty();
        for (String line : limits.split("\n")) {
            if (!line.startsWith(row)) continue;
            String[] f = line.substring(row.length()).trim().split("\\s+");
            if (f.length == 0) return OptionalLong.empty();
            if (f[0].equals("unlimited")) return OptionalLong.of(Long.MAX_VALUE);
            try {
                return OptionalLong.of(Long.parseLong(f[0]));
            } catch (NumberFormatException e) {
                return OptionalLong.empty();
            }
        }
        return OptionalLong.empty();
    }

    private static String gib(long bytes) {
        if (bytes < (1L << 30)) return String.format(Locale.ROOT, "%.0f MiB", bytes / (double) (1L << 20));
        return String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
    }

    private static String firstLine(String s) {
        if (s == null) return "unknown reason";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /** Runs a command with a short timeout; its stdout, or null when it is missing or fails. */
    private static String command(String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd)
                    .redirectError(ProcessBuilder.Redirect.DISCARD)
                    .start();
            p.getOutputStream().close();
            if (!p.waitFor(3, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return null;
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            return p.exitValue() == 0 ? out.trim() : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }
}
