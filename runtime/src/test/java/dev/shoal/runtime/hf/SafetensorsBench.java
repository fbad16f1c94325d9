// Throughput of safetensors export and import per dtype, on one large tensor in a temporary file.
// Run: ./mvnw -B -o -q -pl runtime test-compile exec:java -Dexec.mainClass=dev.shoal.runtime.hf.SafetensorsBench
//      -Dexec.classpathScope=test [-Dexec.args="ELEMS"]. Prints a table; asserts nothing.
package dev.shoal.runtime.hf;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.bytedeco.javacpp.FloatPointer;

public final class SafetensorsBench {
    public static void main(String[] args) throws Exception {
        long elems = args.length > 0 ? Long.parseLong(args[0]) : 32L << 20;
        HostTensor t = HostTensor.allocate(elems / 1024, 1024);
        for (long i = 0; i < t.elems(); i++) t.data().put(i, (float) Math.sin(i * 0.001));
        Path dir = Files.createTempDirectory("st-bench");
        FloatPointer dst = new FloatPointer(t.elems());
        System.out.printf(
                "%-6s %10s %12s %12s %14s%n", "dtype", "MiB(file)", "write MB/s", "read MB/s", "read Melem/s");
        for (SafetensorsDType d : SafetensorsDType.values()) {
            Path f = dir.resolve(d + ".safetensors");
            double bestW = 1e9, bestR = 1e9;
            for (int rep = 0; rep < 3; rep++) {
                long t0 = System.nanoTime();
                SafetensorsWriter.write(f, Map.of("w", t), d, Map.of());
                long t1 = System.nanoTime();
                try (SafetensorsReader r = SafetensorsReader.open(f)) {
                    r.read("w", dst);
                }
                long t2 = System.nanoTime();
                bestW = Math.min(bestW, (t1 - t0) / 1e9);
                bestR = Math.min(bestR, (t2 - t1) / 1e9);
            }
            double mb = t.elems() * d.bytes / 1e6;
            System.out.printf(
                    "%-6s %10.1f %12.0f %12.0f %14.0f%n",
                    d, Files.size(f) / 1048576.0, mb / bestW, mb / bestR, t.elems() / 1e6 / bestR);
            Files.delete(f);
        }
        Files.delete(dir);
    }
}
