// Follows a metrics JSONL file while a trainer appends to it and reports the newest "step" seen: read
// incrementally from the last offset (a file that shrank, as a resumed run rewrites it, is read again from
// the start). Guarantees: only complete lines count; a daemon thread polls every 200 ms until closed.
package dev.shoal.runtime.sweep;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.LongConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Thread-safe: poll() is synchronized. */
final class MetricsTail implements AutoCloseable {
    private static final Pattern STEP = Pattern.compile("\"step\":(\\d+)");

    private final Path file;
    private final LongConsumer sink;
    private final Thread poller;
    private long offset;
    private final StringBuilder partial = new StringBuilder();
    private volatile boolean running = true;

    MetricsTail(Path file, LongConsumer sink) {
        this.file = file;
        this.sink = sink;
        poller = new Thread(this::loop, "metrics-tail");
        poller.setDaemon(true);
        poller.start();
    }

    private void loop() {
        while (running) {
            try {
                poll();
                Thread.sleep(200);
            } catch (InterruptedException e) {
                return;
            } catch (IOException e) {
                // the file is being replaced; try again next round
            }
        }
    }

    /** Reads what was appended since the last call and reports the last complete line's step. */
    synchronized void poll() throws IOException {
        if (!Files.exists(file)) return;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < offset) {
                offset = 0;
                partial.setLength(0);
            }
            if (size == offset) return;
            ByteBuffer buf = ByteBuffer.allocate((int) Math.min(size - offset, 1 << 20));
            ch.read(buf, offset);
            buf.flip();
            offset += buf.remaining();
            partial.append(StandardCharsets.UTF_8.decode(buf));
        }
        int nl = partial.lastIndexOf("\n");
        if (nl < 0) return;
        String complete = partial.substring(0, nl);
        partial.delete(0, nl + 1);
        long last = -1;
        Matcher m = STEP.matcher(complete);
        while (m.find()) last = Long.parseLong(m.group(1));
        if (last >= 0) sink.accept(last);
    }

    @Override
    public void close() {
        running = false;
        poller.interrupt();
        try {
            poller.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
