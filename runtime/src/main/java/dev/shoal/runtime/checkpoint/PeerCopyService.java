// The network side of the in-memory peer copies: a small TCP server per worker that takes the shards
// its peers send (PUT, kept in its PeerCopyStore) and hands out the shards it holds (INDEX, SHARD) to
// the ranks of a new mesh that load from them; and the client calls for both.
// Wire format, one request per connection, big-endian: int magic 'SHPC', byte op, long mesh epoch,
// int sender rank, long step; PUT then sends int index length, the RankIndex bytes, long data length
// and the shard bytes and reads one status byte (0 kept); INDEX and SHARD read a status byte (0 held,
// 1 not held) and then the index (and, for SHARD, the long data length and the bytes).
// Guarantees: a PUT is acknowledged only after the whole shard is in the store; a client call fails
// with an IOException naming the endpoint when the peer is gone, silent past the timeout, or answers
// out of protocol; the data's CRCs are checked by whoever loads it (PeerCheckpoint), not here.
package dev.shoal.runtime.checkpoint;

import dev.shoal.proto.v1.checkpoint.RankIndex;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.bytedeco.javacpp.BytePointer;

public final class PeerCopyService implements AutoCloseable {
    private static final int MAGIC = 0x53485043; // "SHPC"
    private static final byte PUT = 1, INDEX = 2, SHARD = 3;
    private static final byte OK = 0, NOT_HELD = 1;
    private static final int CHUNK = 1 << 20;
    private static final System.Logger LOG = System.getLogger(PeerCopyService.class.getName());

    private final PeerCopyStore store;
    private final ServerSocket server;
    private final ExecutorService pool;
    private final String endpoint;
    private volatile boolean closed;

    private PeerCopyService(PeerCopyStore store, ServerSocket server, String host) {
        this.store = store;
        this.server = server;
        this.endpoint = host + ":" + server.getLocalPort();
        this.pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "peer-copies-" + server.getLocalPort());
            t.setDaemon(true);
            return t;
        });
        pool.execute(this::acceptLoop);
    }

    /** Serves {@code store} on host, any free port. */
    public static PeerCopyService start(String host, PeerCopyStore store) throws IOException {
        ServerSocket s = new ServerSocket();
        s.bind(new InetSocketAddress(host, 0));
        return new PeerCopyService(store, s, host);
    }

    /** "host:port" that peers send to and fetch from. */
    public String endpoint() {
        return endpoint;
    }

    public PeerCopyStore store() {
        return store;
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket c = server.accept();
                pool.execute(() -> serve(c));
            } catch (IOException e) {
                if (!closed) LOG.log(System.Logger.Level.WARNING, "peer copies: accept on " + endpoint + ": " + e);
            }
        }
    }

    private void serve(Socket c) {
        try (c) {
            c.setSoTimeout(60_000);
            DataInputStream in = new DataInputStream(new BufferedInputStream(c.getInputStream(), CHUNK));
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(c.getOutputStream(), CHUNK));
            if (in.readInt() != MAGIC) return; // not a peer-copy client
            byte op = in.readByte();
            long epoch = in.readLong();
            int sender = in.readInt();
            long step = in.readLong();
            if (op == PUT) {
                PeerShard s = readShard(in);
                if (s.meshEpoch() != epoch || s.rank() != sender || s.step() != step) {
                    s.release();
                    throw new IOException("a PUT for rank " + sender + " step " + step + " carried " + s);
                }
                store.put(s);
                out.writeByte(OK);
            } else if (op == INDEX || op == SHARD) {
                PeerShard s = store.get(epoch, sender, step);
                if (s == null) {
                    out.writeByte(NOT_HELD);
                } else {
                    try {
                        out.writeByte(OK);
                        writeShard(out, s, op == SHARD);
                    } finally {
                        s.release();
                    }
                }
            }
            out.flush();
        } catch (EOFException | SocketException e) {
            // the client went away
        } catch (IOException | RuntimeException e) {
            if (!closed) LOG.log(System.Logger.Level.WARNING, "peer copies on " + endpoint + ": " + e);
        }
    }

    // ---------------------------------------------------------------- client calls

    /** Sends s to the peer at endpoint and waits until the peer holds it. */
    public static void send(String endpoint, PeerShard s, Duration timeout) throws IOException {
        try (Socket c = connect(endpoint, timeout)) {
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(c.getOutputStream(), CHUNK));
            header(out, PUT, s.meshEpoch(), s.rank(), s.step());
            writeShard(out, s, true);
            out.flush();
            int status = new DataInputStream(c.getInputStream()).readByte();
            if (status != OK) throw new IOException(endpoint + " did not keep " + s + " (status " + status + ")");
        } catch (IOException e) {
            throw new IOException("peer copy to " + endpoint + ": " + e.getMessage(), e);
        }
    }

    /** The index of sender's shard at step of mesh epoch, as the peer at endpoint holds it; null: not held. */
    public static RankIndex fetchIndex(String endpoint, long epoch, int sender, long step, Duration timeout)
            throws IOException {
        try (Socket c = connect(endpoint, timeout)) {
            DataInputStream in = request(c, INDEX, epoch, sender, step);
            if (in == null) return null;
            byte[] idx = new byte[in.readInt()];
            in.readFully(idx);
            return RankIndex.parseFrom(idx);
        } catch (IOException e) {
            throw new IOException(
                    "peer copy index of rank " + sender + " step " + step + " from " + endpoint + ": " + e.getMessage(),
                    e);
        }
    }

    /** Sender's whole shard at step of mesh epoch from the peer at endpoint (released by the caller); null: not held. */
    public static PeerShard fetchShard(String endpoint, long epoch, int sender, long step, Duration timeout)
            throws IOException {
        try (Socket c = connect(endpoint, timeout)) {
            DataInputStream in = request(c, SHARD, epoch, sender, step);
            return in == null ? null : readShard(in);
        } catch (IOException e) {
            throw new IOException(
                    "peer copy of rank " + sender + " step " + step + " from " + endpoint + ": " + e.getMessage(), e);
        }
    }

    private static DataInputStream request(Socket c, byte op, long epoch, int sender, long step) throws IOException {
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(c.getOutputStream()));
        header(out, op, epoch, sender, step);
        out.flush();
        DataInputStream in = new DataInputStream(new BufferedInputStream(c.getInputStream(), CHUNK));
        int status = in.readByte();
        if (status == NOT_HELD) return null;
        if (status != OK) throw new IOException("answered status " + status);
        return in;
    }

    private static Socket connect(String endpoint, Duration timeout) throws IOException {
        int colon = endpoint.lastIndexOf(':');
        if (colon < 1) throw new IOException("peer endpoint '" + endpoint + "' is not host:port");
        Socket c = new Socket();
        int ms = (int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis()));
        try {
            c.connect(
                    new InetSocketAddress(
                            endpoint.substring(0, colon), Integer.parseInt(endpoint.substring(colon + 1))),
                    ms);
            c.setSoTimeout(ms);
            c.setTcpNoDelay(true);
        } catch (IOException | RuntimeException e) {
            c.close();
            throw e;
        }
        return c;
    }

    private static void header(DataOutputStream out, byte op, long epoch, int sender, long step) throws IOException {
        out.writeInt(MAGIC);
        out.writeByte(op);
        out.writeLong(epoch);
        out.writeInt(sender);
        out.writeLong(step);
    }

    private static void writeShard(DataOutputStream out, PeerShard s, boolean withData) throws IOException {
        byte[] idx = s.index().toByteArray();
        out.writeInt(idx.length);
        out.write(idx);
        if (!withData) return;
        out.writeLong(s.bytes());
        byte[] chunk = new byte[(int) Math.min(CHUNK, Math.max(1, s.bytes()))];
        for (long off = 0; off < s.bytes(); off += chunk.length) {
            int n = (int) Math.min(chunk.length, s.bytes() - off);
            ByteBuffer b = s.slice(off, n);
            b.get(chunk, 0, n);
            out.write(chunk, 0, n);
        }
    }

    private static PeerShard readShard(DataInputStream in) throws IOException {
        int idxLen = in.readInt();
        if (idxLen < 0 || idxLen > (64 << 20)) throw new IOException("index of " + idxLen + " bytes");
        byte[] idx = new byte[idxLen];
        in.readFully(idx);
        long bytes = in.readLong();
        if (bytes < 0) throw new IOException("shard of " + bytes + " bytes");
        BytePointer data = new BytePointer(Math.max(1, bytes));
        try {
            byte[] chunk = new byte[(int) Math.min(CHUNK, Math.max(1, bytes))];
            for (long off = 0; off < bytes; off += chunk.length) {
                int n = (int) Math.min(chunk.length, bytes - off);
                in.readFully(chunk, 0, n);
                RawMemory.buffer(data.address() + off, n).put(chunk, 0, n);
            }
        } catch (IOException | RuntimeException e) {
            data.close();
            throw e;
        }
        return PeerShard.of(idx, data, bytes);
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing is best effort
        }
        pool.shutdownNow();
    }
}
