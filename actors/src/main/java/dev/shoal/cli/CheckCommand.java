// `shoal check`: the node start-up checks (GPUs, NCCL, disk space, clock, process limits) as a table,
// without starting a node. Exit 0 when nothing failed (warnings allowed), 1 when a check failed, 2 on
// bad flags or config.
package dev.shoal.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import dev.shoal.actors.cluster.ShoalConfig;
import dev.shoal.actors.node.StartupChecks;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
        name = "check",
        mixinStandardHelpOptions = true,
        description =
                "Runs the node start-up checks (GPUs, NCCL, free disk, clock, limits) and prints a verdict for each.")
public final class CheckCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE", description = "HOCON file with shoal.* keys.")
    Path configFile;

    @Option(
            names = "--dir",
            paramLabel = "DIR",
            description = "Also check the free space here, e.g. the checkpoint disk (repeatable).")
    List<Path> dirs = new ArrayList<>();

    @Override
    public Integer call() {
        Config overrides = ConfigFactory.empty();
        if (configFile != null) {
            if (!Files.isRegularFile(configFile))
                throw new ShoalCli.UserError("--config " + configFile + ": no such file");
            try {
                overrides = ConfigFactory.parseFile(configFile.toFile());
            } catch (com.typesafe.config.ConfigException e) {
                throw new ShoalCli.UserError("--config " + configFile + ": " + e.getMessage());
            }
        }
        Config config;
        try {
            List<String> extra = new ArrayList<>();
            for (Path d : dirs) extra.add(d.toString());
            if (!extra.isEmpty()) {
                overrides = overrides.withValue("shoal.checks.dirs", ConfigValueFactory.fromIterable(extra));
            }
            config = ShoalConfig.load(overrides);
        } catch (IllegalArgumentException | com.typesafe.config.ConfigException e) {
            throw new ShoalCli.UserError(e.getMessage());
        }
        List<StartupChecks.Check> checks;
        try {
            checks = StartupChecks.run(config, StartupChecks.dataDirs(config), StartupChecks.thisMachine());
        } catch (IllegalArgumentException | com.typesafe.config.ConfigException e) {
            throw new ShoalCli.UserError(e.getMessage());
        }
        spec.commandLine().getOut().print(StartupChecks.table(checks));
        spec.commandLine().getOut().flush();
        return StartupChecks.passed(checks) ? 0 : 1;
    }
}
