package dev.sam4j.parallel;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;

/**
 * Ranks in separate processes (CPU ranks of {@code sam4j launch}, torchrun or Slurm), joined over TCP in a star around
 * rank 0. {@link #join} is the rendezvous at {@code MASTER_ADDR:MASTER_PORT}: rank 0 listens, every other rank
 * connects (retrying until rank 0 listens) and says who it is; once all have arrived rank 0 hands every rank the same
 * {@link #SHARED_ID_BYTES}-byte id (the size of NCCL's {@code ncclUniqueId}, which is what it is for on CUDA ranks).
 *
 * <p>Every reduction is computed by rank 0 alone, from the ranks' values in rank order, with the in-process group's
 * arithmetic (each element summed in double in rank order, divided in double for {@link Op#MEAN}, rounded once), and
 * sent to every rank: the same bits everywhere, and the same bits as {@link InProcessGroup}.
 *
 * <p>Failures end the job on every rank with one line naming the rank, never a hang: a rank that does not arrive
 * within the rendezvous timeout, a rank whose connection closes (its process died), a rank that reports a failure
 * ({@link #abort}), or, with an operation timeout, a rank that does not answer in time. Rank 0 tells every other rank
 * before it closes; when rank 0 itself dies the others see its connection close.
 */
public final class TcpCollective implements Collective {
    public static final int SHARED_ID_BYTES = 128;
    private static final int MAGIC = 0x53414D34;   // "SAM4"
    private static final byte HELLO = 1, WELCOME = 2, FLOATS = 3, DOUBLES = 4, BARRIER = 5, ABORT = 6, BCAST = 7;

    private final int rank, world;
    private final String where;
    private final Socket[] peers;             // rank 0: [world] (index 0 unused); others: [1] the link to rank 0
    private final DataInputStream[] in;
    private final DataOutputStream[] out;
    private final byte[] sharedId;
    private CollectiveException broken;
    private int current;                      // the peer index being read or written (names the rank when its link fails)
    private byte[] bytes = new byte[0];
    private float[] floats = new float[0];
    private double[] acc = new double[0];

    private TcpCollective(int rank, int world, String where, Socket[] peers, byte[] sharedId) throws IOException {
        this.rank = rank;
        this.world = world;
        this.where = where;
        this.peers = peers;
        this.sharedId = sharedId;
        this.in = new DataInputStream[peers.length];
        this.out = new DataOutputStream[peers.length];
        for (int i = 0; i < peers.length; i++) {
            if (peers[i] == null) continue;
            in[i] = new DataInputStream(new BufferedInputStream(peers[i].getInputStream(), 1 << 16));
            out[i] = new DataOutputStream(new BufferedOutputStream(peers[i].getOutputStream(), 1 << 16));
        }
    }

    /**
     * The rendezvous of {@code env}'s rank: returns once every rank has arrived, or throws {@link CollectiveException}
     * naming the rank that did not within {@code timeoutMillis}. {@code opTimeoutMillis > 0}: a collective that waits
     * longer than that for a rank ends the job naming it (0: wait as long as a step takes).
     */
    public static TcpCollective join(LaunchEnv env, long timeoutMillis, long opTimeoutMillis) {
        return join(env, timeoutMillis, opTimeoutMillis, () -> {
            byte[] id = new byte[SHARED_ID_BYTES];
            new SecureRandom().nextBytes(id);
            return id;
        });
    }

    /**
     * {@link #join(LaunchEnv, long, long)} with the shared id made by {@code makeId} on rank 0 only (e.g. NCCL's
     * {@code ncclGetUniqueId}), after every rank has arrived; it must be {@link #SHARED_ID_BYTES} bytes.
     */
    public static TcpCollective join(LaunchEnv env, long timeoutMillis, long opTimeoutMillis, java.util.function.Supplier<byte[]> makeId) {
        if (makeId == null) throw new IllegalArgumentException("join: makeId is null");
        String where = env.masterAddr() + ":" + env.masterPort();
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        try {
            return env.rank() == 0 ? host(env, where, deadline, timeoutMillis, opTimeoutMillis, makeId)
                    : guest(env, where, deadline, timeoutMillis, opTimeoutMillis);
        } catch (IOException e) {
            throw new CollectiveException(-1, "rendezvous at " + where + ": " + e.getMessage(), e);
        }
    }

    private static int remaining(long deadline) {
        long ms = (deadline - System.nanoTime()) / 1_000_000L;
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, ms));
    }

    private static TcpCollective host(LaunchEnv env, String where, long deadline, long timeoutMillis, long opTimeout,
                                      java.util.function.Supplier<byte[]> makeId) throws IOException {
        int world = env.worldSize();
        Socket[] peers = new Socket[world];
        try (ServerSocket server = new ServerSocket()) {
            server.setReuseAddress(true);
            try {
                server.bind(new InetSocketAddress(env.masterAddr(), env.masterPort()), world);
            } catch (IOException e) {
                throw new CollectiveException(0, "rendezvous at " + where + ": rank 0 cannot listen there (" + e.getMessage()
                        + "); give a free port in SAM4J_MASTER_PORT (the same on every rank)", e);
            }
            int arrived = 1;
            while (arrived < world) {
                Socket s;
                try {
                    server.setSoTimeout(remaining(deadline));
                    if (System.nanoTime() > deadline) throw new SocketTimeoutException();
                    s = server.accept();
                } catch (SocketTimeoutException e) {
                    List<Integer> missing = new ArrayList<>();
                    for (int r = 1; r < world; r++) if (peers[r] == null) missing.add(r);
                    String msg = "rendezvous at " + where + ": rank" + (missing.size() > 1 ? "s " : " ") + join(missing)
                            + " did not arrive within " + seconds(timeoutMillis);
                    for (Socket p : peers) if (p != null) sendAbortQuietly(p, missing.get(0), msg);
                    closeAll(peers);
                    throw new CollectiveException(missing.get(0), msg, null);
                }
                s.setTcpNoDelay(true);
                s.setSoTimeout(remaining(deadline));
                DataInputStream din = new DataInputStream(s.getInputStream());
                int r, w;
                try {
                    if (din.readByte() != HELLO || din.readInt() != MAGIC) throw new IOException("not a sam4j rank");
                    r = din.readInt();
                    w = din.readInt();
                } catch (IOException e) {
                    s.close();   // a stray connection (a port scan, another program): not a rank, keep waiting
                    continue;
                }
                String bad = r < 1 || r >= world ? "rank " + r + " is not in [1, " + world + ")"
                        : w != world ? "rank " + r + " says the world has " + w + " ranks, rank 0 says " + world
                        : peers[r] != null ? "rank " + r + " arrived twice" : null;
                if (bad != null) {
                    String msg = "rendezvous at " + where + ": " + bad;
                    sendAbortQuietly(s, r, msg);
                    s.close();
                    for (Socket p : peers) if (p != null) sendAbortQuietly(p, r, msg);
                    closeAll(peers);
                    throw new CollectiveException(r, msg, null);
                }
                peers[r] = s;
                arrived++;
            }
        }
        byte[] id;
        try {
            id = makeId.get();
            if (id == null || id.length != SHARED_ID_BYTES) {
                throw new IllegalArgumentException("the shared id must be " + SHARED_ID_BYTES + " bytes, got " + (id == null ? "null" : id.length));
            }
        } catch (RuntimeException e) {
            String msg = "rendezvous at " + where + ": rank 0 failed: " + e.getMessage();
            for (Socket p : peers) if (p != null) sendAbortQuietly(p, 0, msg);
            closeAll(peers);
            throw new CollectiveException(0, msg, e);
        }
        TcpCollective c = new TcpCollective(0, world, where, peers, id.clone());
        for (int r = 1; r < world; r++) {
            c.out[r].writeByte(WELCOME);
            c.out[r].write(id);
            c.out[r].flush();
            peers[r].setSoTimeout((int) Math.min(Integer.MAX_VALUE, opTimeout));
        }
        return c;
    }

    private static TcpCollective guest(LaunchEnv env, String where, long deadline, long timeoutMillis, long opTimeout) throws IOException {
        Socket s = null;
        while (s == null) {
            Socket t = new Socket();
            try {
                t.connect(new InetSocketAddress(env.masterAddr(), env.masterPort()), remaining(deadline));
                s = t;
            } catch (ConnectException | SocketTimeoutException e) {
                t.close();
                if (System.nanoTime() > deadline) {
                    throw new CollectiveException(0, "rendezvous at " + where + ": rank 0 did not arrive within "
                            + seconds(timeoutMillis) + " (nothing listens there)", e);
                }
                try {
                    Thread.sleep(50);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new CollectiveException(0, "rendezvous at " + where + ": interrupted", ie);
                }
            }
        }
        s.setTcpNoDelay(true);
        TcpCollective c = new TcpCollective(env.rank(), env.worldSize(), where, new Socket[] {s}, new byte[SHARED_ID_BYTES]);
        c.out[0].writeByte(HELLO);
        c.out[0].writeInt(MAGIC);
        c.out[0].writeInt(env.rank());
        c.out[0].writeInt(env.worldSize());
        c.out[0].flush();
        s.setSoTimeout(remaining(deadline));
        try {
            byte type = c.in[0].readByte();
            if (type == ABORT) throw c.readAbort(0);
            if (type != WELCOME) throw new IOException("unexpected reply " + type + " from rank 0");
            c.in[0].readFully(c.sharedId);
        } catch (SocketTimeoutException e) {
            s.close();
            throw new CollectiveException(-1, "rendezvous at " + where + ": not every rank arrived within " + seconds(timeoutMillis), e);
        } catch (EOFException e) {
            s.close();
            throw new CollectiveException(0, "rendezvous at " + where + ": rank 0 died (its connection closed)", e);
        }
        s.setSoTimeout((int) Math.min(Integer.MAX_VALUE, opTimeout));
        return c;
    }

    /** The id rank 0 made, the same bytes on every rank. */
    public byte[] sharedId() { return sharedId.clone(); }

    @Override public String describe() { return world + " data-parallel ranks in " + world + " processes over TCP (rendezvous at " + where + ")"; }

    @Override public int rank() { return rank; }
    @Override public int worldSize() { return world; }

    @Override public synchronized void allReduce(Backend backend, Buffer x, long n, Op op) {
        int m = length(x, n);
        float[] mine = floats(m);
        if (m > 0) backend.download(x.slice(0, m), mine, 0, m);
        try {
            if (rank == 0) {
                double[] a = acc(m);
                for (int i = 0; i < m; i++) a[i] = 0.0 + mine[i];
                for (int r = 1; r < world; r++) {
                    expect(r, FLOATS, op.ordinal(), m);
                    readFloats(in[r], mine, m);
                    for (int i = 0; i < m; i++) a[i] += mine[i];
                }
                for (int i = 0; i < m; i++) mine[i] = (float) (op == Op.MEAN ? a[i] / world : a[i]);
                for (int r = 1; r < world; r++) {
                    header(r, FLOATS, op.ordinal(), m);
                    writeFloats(out[r], mine, m);
                    out[r].flush();
                }
            } else {
                header(0, FLOATS, op.ordinal(), m);
                writeFloats(out[0], mine, m);
                out[0].flush();
                expect(0, FLOATS, op.ordinal(), m);
                readFloats(in[0], mine, m);
            }
        } catch (IOException e) {
            throw lost(e);
        }
        if (m > 0) backend.upload(mine, 0, x.slice(0, m), m);
    }

    @Override public synchronized void allReduce(double[] values, Op op) {
        if (values == null) throw new IllegalArgumentException("allReduce: values is null");
        int k = values.length;
        try {
            if (rank == 0) {
                double[] a = new double[k], v = new double[k];
                for (int i = 0; i < k; i++) a[i] = 0.0 + values[i];
                for (int r = 1; r < world; r++) {
                    expect(r, DOUBLES, op.ordinal(), k);
                    for (int i = 0; i < k; i++) v[i] = in[r].readDouble();
                    for (int i = 0; i < k; i++) a[i] += v[i];
                }
                for (int i = 0; i < k; i++) values[i] = op == Op.MEAN ? a[i] / world : a[i];
                for (int r = 1; r < world; r++) {
                    header(r, DOUBLES, op.ordinal(), k);
                    for (double d : values) out[r].writeDouble(d);
                    out[r].flush();
                }
            } else {
                header(0, DOUBLES, op.ordinal(), k);
                for (double d : values) out[0].writeDouble(d);
                out[0].flush();
                expect(0, DOUBLES, op.ordinal(), k);
                for (int i = 0; i < k; i++) values[i] = in[0].readDouble();
            }
        } catch (IOException e) {
            throw lost(e);
        }
    }

    @Override public synchronized void broadcast(Backend backend, Buffer x, long n, int root) {
        if (root < 0 || root >= world) throw new IllegalArgumentException("broadcast: root " + root + " is not in [0, " + world + ")");
        int m = length(x, n);
        float[] v = floats(m);
        try {
            if (rank == root && m > 0) backend.download(x.slice(0, m), v, 0, m);
            if (rank == 0) {
                if (root != 0) {
                    expect(root, BCAST, root, m);
                    readFloats(in[root], v, m);
                }
                for (int r = 1; r < world; r++) {
                    if (r != root) {
                        expect(r, BCAST, root, 0);   // every rank takes part, so a missing one is seen here too
                    }
                }
                for (int r = 1; r < world; r++) {
                    header(r, BCAST, root, r == root ? 0 : m);
                    if (r != root) writeFloats(out[r], v, m);
                    out[r].flush();
                }
                if (root != 0 && m > 0) backend.upload(v, 0, x.slice(0, m), m);
            } else {
                header(0, BCAST, root, rank == root ? m : 0);
                if (rank == root) writeFloats(out[0], v, m);
                out[0].flush();
                expect(0, BCAST, root, rank == root ? 0 : m);
                if (rank != root) {
                    readFloats(in[0], v, m);
                    if (m > 0) backend.upload(v, 0, x.slice(0, m), m);
                }
            }
        } catch (IOException e) {
            throw lost(e);
        }
    }

    @Override public synchronized void barrier() {
        try {
            if (rank == 0) {
                for (int r = 1; r < world; r++) expect(r, BARRIER, 0, 0);
                for (int r = 1; r < world; r++) {
                    header(r, BARRIER, 0, 0);
                    out[r].flush();
                }
            } else {
                header(0, BARRIER, 0, 0);
                out[0].flush();
                expect(0, BARRIER, 0, 0);
            }
        } catch (IOException e) {
            throw lost(e);
        }
    }

    private long lastProbe;

    /**
     * Checks, without waiting, whether a link reports the end of the job (an abort, or a peer's connection closed), and
     * if so ends the group and throws, naming the rank; else returns. For a rank that waits on something else (an NCCL
     * collective, which waits for a dead peer forever). A frame a faster peer already sent for the next collective is
     * left unread. Bytes already received are looked at every call; a closed link, which shows only by reading, at most
     * every 50 ms (each such look waits up to 1 ms per link).
     */
    public synchronized void poll() {
        if (broken != null) throw broken;
        boolean probe = System.nanoTime() - lastProbe > 50_000_000L;
        if (probe) lastProbe = System.nanoTime();
        for (int i = 0; i < peers.length; i++) {
            if (peers[i] == null) continue;
            int peerRank = rank == 0 ? i : 0;
            current = i;
            try {
                if (in[i].available() == 0 && !probe) continue;
                int old = peers[i].getSoTimeout();
                int b;
                in[i].mark(1);
                try {
                    peers[i].setSoTimeout(1);
                    b = in[i].read();
                } catch (SocketTimeoutException e) {
                    continue;   // nothing sent, the link open: this peer is alive
                } finally {
                    peers[i].setSoTimeout(old);
                }
                if (b < 0) throw fail(peerRank, "rank " + peerRank + " died (its connection closed)", null);
                if (b == ABORT) throw fail(readAbort(i));
                in[i].reset();
            } catch (IOException e) {
                throw lost(e);
            }
        }
    }

    /** Tells the group this rank failed: rank 0 tells every rank, another rank tells rank 0 (which tells the rest). */
    @Override public synchronized void abort(Throwable cause) {
        if (broken != null) return;
        String msg = "rank " + rank + " failed: " + (cause == null || cause.getMessage() == null ? String.valueOf(cause) : cause.getMessage());
        if (rank == 0) {
            for (int r = 1; r < world; r++) sendAbortQuietly(peers[r], 0, msg);
        } else {
            sendAbortQuietly(peers[0], rank, msg);
        }
        broken = new CollectiveException(rank, msg, cause);
        closeAll(peers);
    }

    @Override public synchronized void close() { closeAll(peers); }

    // ---- framing ----

    private void header(int r, byte type, int arg, int n) throws IOException {
        if (broken != null) throw broken;
        current = r;
        DataOutputStream o = out[r];
        o.writeByte(type);
        o.writeInt(arg);
        o.writeInt(n);
    }

    /** Reads peer {@code r}'s next frame header and checks that it is the same operation; an abort or a closed link ends the group. */
    private void expect(int r, byte type, int arg, int n) throws IOException {
        if (broken != null) throw broken;
        current = r;
        int peerRank = rank == 0 ? r : 0;
        byte t;
        try {
            t = in[r].readByte();
        } catch (EOFException e) {
            throw fail(peerRank, "rank " + peerRank + " died (its connection closed)", e);
        } catch (SocketTimeoutException e) {
            throw fail(peerRank, "rank " + peerRank + " did not answer within " + peers[r].getSoTimeout() / 1000 + " s", e);
        }
        if (t == ABORT) throw fail(readAbort(r));
        int a = in[r].readInt(), k = in[r].readInt();
        if (t != type || a != arg || k != n) {
            throw fail(peerRank, "rank " + peerRank + " called another collective (" + name(t) + " " + a + "/" + k + ") than rank " + rank
                    + " (" + name(type) + " " + arg + "/" + n + ")", null);
        }
    }

    private CollectiveException readAbort(int r) throws IOException {
        int failed = in[r].readInt();
        String msg = in[r].readUTF();
        return new CollectiveException(failed, msg, null);
    }

    /** Ends the group: rank 0 tells every other rank (naming the failed one) before it closes. */
    private CollectiveException fail(int failedRank, String msg, Throwable cause) {
        return fail(new CollectiveException(failedRank, msg, cause));
    }

    private CollectiveException fail(CollectiveException e) {
        if (broken == null) {
            broken = e;
            if (rank == 0) for (int r = 1; r < world; r++) sendAbortQuietly(peers[r], e.failedRank(), e.getMessage());
            closeAll(peers);
        }
        return broken;
    }

    /** A read or write on the link to peer {@link #current} failed: that rank died (its process ended or its link broke). */
    private CollectiveException lost(IOException e) {
        if (broken != null) return broken;
        int peerRank = rank == 0 ? current : 0;
        String detail = e instanceof EOFException || e.getMessage() == null ? "" : ": " + e.getMessage();
        return fail(peerRank, "rank " + peerRank + " died (its connection closed" + detail + ")", e);
    }

    private static String name(byte t) {
        return switch (t) {
            case FLOATS -> "allReduce of floats";
            case DOUBLES -> "allReduce of doubles";
            case BARRIER -> "barrier";
            case BCAST -> "broadcast";
            default -> "frame " + t;
        };
    }

    private void writeFloats(DataOutputStream o, float[] v, int m) throws IOException {
        byte[] b = bytes(4 * m);
        ByteBuffer.wrap(b, 0, 4 * m).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(v, 0, m);
        o.write(b, 0, 4 * m);
    }

    private void readFloats(DataInputStream i, float[] v, int m) throws IOException {
        byte[] b = bytes(4 * m);
        i.readFully(b, 0, 4 * m);
        ByteBuffer.wrap(b, 0, 4 * m).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v, 0, m);
    }

    private byte[] bytes(int k) { if (bytes.length < k) bytes = new byte[k]; return bytes; }
    private float[] floats(int k) { if (floats.length < k) floats = new float[k]; return floats; }
    private double[] acc(int k) { if (acc.length < k) acc = new double[k]; return acc; }

    private static void sendAbortQuietly(Socket s, int failedRank, String msg) {
        if (s == null || s.isClosed()) return;
        try {
            DataOutputStream o = new DataOutputStream(s.getOutputStream());
            o.writeByte(ABORT);
            o.writeInt(failedRank);
            o.writeUTF(msg.length() > 2000 ? msg.substring(0, 2000) : msg);
            o.flush();
        } catch (IOException ignored) {
            // the peer is gone already: it learns of the end from the closed link
        }
    }

    private static void closeAll(Socket[] peers) {
        for (Socket p : peers) {
            if (p == null) continue;
            try {
                p.close();
            } catch (IOException ignored) {
                // closing: nothing left to tell
            }
        }
    }

    private static String join(List<Integer> l) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < l.size(); i++) b.append(i == 0 ? "" : ", ").append(l.get(i));
        return b.toString();
    }

    private static String seconds(long ms) { return ms % 1000 == 0 ? ms / 1000 + " s" : ms + " ms"; }

    private static int length(Buffer x, long n) {
        if (n < 0 || n > x.length()) throw new IllegalArgumentException("collective over " + n + " elements of a buffer of " + x.length());
        return Math.toIntExact(n);
    }
}
