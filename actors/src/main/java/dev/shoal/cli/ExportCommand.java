// `shoal export`: a sharded training checkpoint (saved by any tp × pp × dp mesh) as a Hugging Face
// LlamaForCausalLM directory, in bf16 or fp32.
// Guarantees: --checkpoint may name a step folder or a checkpoint root (then its newest committed,
// intact checkpoint is used, and each folder passed over is named on stderr); the checkpoint is
// verified in full (every CRC32C) before anything is written; a missing path, a partial or corrupt
// checkpoint, or an --out that already holds a model is one line naming the file, exit code 2.
package dev.shoal.cli;

import dev.shoal.runtime.checkpoint.CheckpointDir;
import dev.shoal.runtime.checkpoint.CheckpointException;
import dev.shoal.runtime.checkpoint.HfExport;
import dev.shoal.runtime.hf.HfFormatException;
import dev.shoal.runtime.hf.SafetensorsDType;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "export",
        mixinStandardHelpOptions = true,
        description = "Write a Shoal training checkpoint's weights as a Hugging Face Llama directory.")
public final class ExportCommand implements Callable<Integer> {

    /** HF's usual shard size. */
    static final long MAX_SHARD_BYTES = 5_000_000_000L;

    @Option(
            names = "--checkpoint",
            required = true,
            paramLabel = "DIR",
            description = "A step-NNNNNN checkpoint folder, or a checkpoint root (its newest committed checkpoint).")
    Path checkpoint;

    @Option(
            names = "--out",
            required = true,
            paramLabel = "HF_DIR",
            description = "Output directory (created; must not already hold a model).")
    Path out;

    @Option(
            names = "--dtype",
            paramLabel = "bf16|fp32",
            description = "Weight type on disk (default: ${DEFAULT-VALUE}).")
    String dtype = "bf16";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        SafetensorsDType dt =
                switch (dtype.toLowerCase(java.util.Locale.ROOT)) {
                    case "bf16" -> SafetensorsDType.BF16;
                    case "fp32", "f32" -> SafetensorsDType.F32;
                    default -> throw new ShoalCli.UserError("--dtype must be bf16 or fp32, got '" + dtype + "'");
                };
        if (!Files.isDirectory(checkpoint)) {
            throw new ShoalCli.UserError("--checkpoint " + checkpoint + ": no such directory");
        }
        PrintWriter err = spec.commandLine().getErr();
        Path step = checkpoint;
        try {
            if (!Files.exists(checkpoint.resolve(CheckpointDir.MANIFEST)) && CheckpointDir.stepOf(checkpoint) < 0) {
                Optional<Path> latest = CheckpointDir.latest(checkpoint, true, line -> {
                    err.println(line);
                    err.flush();
                });
                step = latest.orElseThrow(() -> new ShoalCli.UserError(
                        "--checkpoint " + checkpoint + ": holds no committed, intact step-NNNNNN checkpoint"));
            }
            List<Path> files = HfExport.export(step, out, dt, MAX_SHARD_BYTES);
            PrintWriter o = spec.commandLine().getOut();
            o.println("exported " + step + " → " + out + " (" + dt + ", " + files.size() + " files)");
            o.flush();
            return 0;
        } catch (CheckpointException | HfFormatException e) {
            throw new ShoalCli.UserError(e.getMessage());
        } catch (java.nio.file.AccessDeniedException e) {
            throw new ShoalCli.UserError(e.getFile() + ": permission denied");
        }
    }
}
