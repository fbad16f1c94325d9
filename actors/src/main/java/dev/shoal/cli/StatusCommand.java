// `shoal status [JOB]`: one block describing a job as the coordinator knows it — phase and its cause,
// mesh epoch and layout, last completed step, last committed checkpoint, registered workers — then the
// cluster table the answering node gathered: every member (address, status and reachability, roles,
// devices and their peak FLOP/s, health from its start-up checks and whether its agent answered) and
// the ranks of the current mesh with their (tp, pp, dp) coordinates and workers.
// Exit codes as in ControlClient; a job that failed exits 4 so scripts can tell.
package dev.shoal.cli;

import dev.shoal.proto.v1.ClusterView;
import dev.shoal.proto.v1.DeviceGroup;
import dev.shoal.proto.v1.GetClusterRequest;
import dev.shoal.proto.v1.GetRequest;
import dev.shoal.proto.v1.JobStatus;
import dev.shoal.proto.v1.NodeReport;
import dev.shoal.proto.v1.NodeView;
import dev.shoal.proto.v1.Phase;
import dev.shoal.proto.v1.RankView;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;

@Command(
        name = "status",
        mixinStandardHelpOptions = true,
        description = "Shows a job (phase, mesh epoch, step, last checkpoint) and the cluster: nodes, devices,"
                + " ranks, health.",
        exitCodeListHeading = "Exit codes:%n",
        exitCodeList = {
            "0:shown",
            "1:other failure",
            "2:usage error",
            "3:server unreachable, or the coordinator is not answering",
            "4:shown, and the job failed",
            "5:no such job (or none submitted yet: the cluster table is still shown)",
            "7:credentials refused (bearer token or client certificate)"
        })
public final class StatusCommand extends JobCommand {

    @Override
    int run(ControlClient c) {
        JobStatus s;
        try {
            s = c.call()
                    .get(GetRequest.newBuilder()
                            .setJobId(job.id())
                            .setIncludeCluster(true)
                            .build());
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() == io.grpc.Status.Code.NOT_FOUND && job.job == null) {
                // No job yet: the cluster table still says what is there (exit 5 as before).
                try {
                    ClusterView view = c.call().getCluster(GetClusterRequest.getDefaultInstance());
                    spec.commandLine().getOut().print(nodes(view));
                    spec.commandLine().getOut().flush();
                } catch (StatusRuntimeException ignored) {
                    // the error line for the first call is what matters
                }
            }
            throw e;
        }
        PrintWriter out = spec.commandLine().getOut();
        out.print(render(s));
        out.flush();
        return s.getPhase() == Phase.FAILED ? ControlClient.EXIT_JOB_FAILED : ControlClient.EXIT_OK;
    }

    static String render(JobStatus s) {
        var p = s.getSpec().getParallelism();
        StringBuilder b = new StringBuilder();
        row(
                b,
                "job",
                s.getJobId() + " (" + s.getSpec().getName() + ", model "
                        + s.getSpec().getModel() + ")");
        row(b, "phase", s.getPhase() + (s.getMessage().isEmpty() ? "" : ": " + s.getMessage()));
        row(b, "step", s.getStep() + " / " + s.getSpec().getSteps());
        row(
                b,
                "mesh",
                "epoch " + s.getMeshEpoch() + ", tp " + p.getTp() + " × pp " + p.getPp() + " × dp " + p.getDp() + " = "
                        + s.getMeshRanksCount() + " ranks");
        row(b, "checkpoint", s.getLastCheckpointStep() > 0 ? "step " + s.getLastCheckpointStep() : "none yet");
        row(b, "workers", s.getWorkersCount() + " registered");
        if (s.hasCluster()) {
            b.append('\n').append(nodes(s.getCluster()));
            if (s.getCluster().getRanksCount() > 0) b.append('\n').append(ranks(s.getCluster()));
        } else {
            for (int r = 0; r < s.getMeshRanksCount(); r++) {
                b.append("  rank ")
                        .append(r)
                        .append("  ")
                        .append(s.getMeshRanks(r))
                        .append('\n');
            }
        }
        return b.toString();
    }

    /** One row per member: NODE, STATUS, ROLES, DEVICES, PEAK/DEVICE, HEALTH, UPTIME. */
    static String nodes(ClusterView c) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"NODE", "STATUS", "ROLES", "DEVICES", "PEAK/DEVICE", "HEALTH", "UPTIME"});
        for (NodeView n : c.getNodesList()) {
            List<String> roles = new ArrayList<>(n.getRolesList());
            if (n.getCoordinator()) roles.add("coordinator");
            NodeReport r = n.hasReport() ? n.getReport() : null;
            List<String> devices = new ArrayList<>(), peaks = new ArrayList<>();
            if (r != null) {
                for (DeviceGroup d : r.getDevicesList()) {
                    devices.add(d.getKind() + " " + d.getRunning() + "/" + d.getCount());
                    peaks.add(
                            d.getPeakFlops() > 0
                                    ? String.format(
                                            Locale.ROOT,
                                            "%s %s (%s)",
                                            d.getKind(),
                                            flops(d.getPeakFlops()),
                                            d.getPeakSource().split("[ :(]", 2)[0])
                                    : d.getKind() + " unknown");
                }
            }
            rows.add(new String[] {
                host(n.getAddress()),
                n.getStatus() + (n.getReachable() ? "" : ", unreachable"),
                roles.isEmpty() ? "-" : String.join(",", roles),
                devices.isEmpty() ? (r == null ? "?" : "none") : String.join(", ", devices),
                peaks.isEmpty() ? "-" : String.join(", ", peaks),
                n.getHealth(),
                r == null ? "-" : duration(r.getUptimeSeconds())
            });
        }
        return table(rows);
    }

    /** One row per rank of the current mesh: RANK, TP, PP, DP, WORKER. */
    static String ranks(ClusterView c) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"RANK", "TP", "PP", "DP", "WORKER"});
        for (RankView r : c.getRanksList()) {
            rows.add(new String[] {
                Integer.toString(r.getRank()),
                Integer.toString(r.getTp()),
                Integer.toString(r.getPp()),
                Integer.toString(r.getDp()),
                r.getWorker() + (r.getRegistered() ? "" : " (gone)")
            });
        }
        return table(rows);
    }

    /** "host:port" of "pekko://shoal@host:port". */
    private static String host(String address) {
        int at = address.indexOf('@');
        return at < 0 ? address : address.substring(at + 1);
    }

    static String flops(double f) {
        String[] units = {"FLOP/s", "kFLOP/s", "MFLOP/s", "GFLOP/s", "TFLOP/s", "PFLOP/s"};
        int u = 0;
        while (f >= 1000 && u < units.length - 1) {
            f /= 1000;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", f, units[u]);
    }

    private static String duration(double seconds) {
        long s = (long) seconds;
        if (s < 60) return s + "s";
        if (s < 3600) return s / 60 + "m" + s % 60 + "s";
        return s / 3600 + "h" + (s % 3600) / 60 + "m";
    }

    /** Left-aligned columns, two spaces apart, no trailing blanks. */
    private static String table(List<String[]> rows) {
        int[] w = new int[rows.get(0).length];
        for (String[] r : rows) for (int i = 0; i < r.length; i++) w[i] = Math.max(w[i], r[i].length());
        StringBuilder b = new StringBuilder();
        for (String[] r : rows) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < r.length; i++) {
                line.append(r[i]);
                if (i < r.length - 1) line.append(" ".repeat(w[i] - r[i].length() + 2));
            }
            b.append(line.toString().stripTrailing()).append('\n');
        }
        return b.toString();
    }

    private static void row(StringBuilder b, String key, String value) {
        b.append(String.format("%-11s %s%n", key, value));
    }
}
