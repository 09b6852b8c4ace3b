package dev.sam4j.backend.cuda;

import static org.bytedeco.cuda.global.cudart.cudaGraphAddNode;
import static org.bytedeco.cuda.global.cudart.cudaGraphCondTypeIf;
import static org.bytedeco.cuda.global.cudart.cudaGraphConditionalHandleCreate;
import static org.bytedeco.cuda.global.cudart.cudaGraphCreate;
import static org.bytedeco.cuda.global.cudart.cudaGraphDestroy;
import static org.bytedeco.cuda.global.cudart.cudaGraphExecDestroy;
import static org.bytedeco.cuda.global.cudart.cudaGraphInstantiate;
import static org.bytedeco.cuda.global.cudart.cudaGraphLaunch;
import static org.bytedeco.cuda.global.cudart.cudaGraphNodeTypeConditional;
import static org.bytedeco.cuda.global.cudart.cudaStreamBeginCapture;
import static org.bytedeco.cuda.global.cudart.cudaStreamBeginCaptureToGraph;
import static org.bytedeco.cuda.global.cudart.cudaStreamCaptureModeThreadLocal;
import static org.bytedeco.cuda.global.cudart.cudaStreamEndCapture;
import static org.bytedeco.cuda.global.cudart.cudaSuccess;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.Precision;
import dev.sam4j.parallel.LaunchEnv;
import dev.sam4j.parallel.NcclCollective;
import dev.sam4j.parallel.TcpCollective;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import org.bytedeco.cuda.cudart.CUgraphExec_st;
import org.bytedeco.cuda.cudart.CUgraphNode_st;
import org.bytedeco.cuda.cudart.CUgraph_st;
import org.bytedeco.cuda.cudart.cudaGraphEdgeData;
import org.bytedeco.cuda.cudart.cudaGraphNodeParams;
import org.bytedeco.javacpp.BytePointer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * NCCL collectives recorded into a CUDA graph, as the step graph records them with ranks: two ranks as two threads with
 * a device each. A captured all-reduce runs again at every launch, on the values the buffers hold then (the fp64
 * {@code ncclAvg} of the step's scalars, the fp32 sum of its gradient); one captured inside a conditional node's body
 * does not instantiate on the stand-in (NCCL's fail there, NVIDIA/nccl issue 1986, so the stand-in refuses them, and a
 * step graph that put one there fails in CI). With two ranks {@code a·½ + b·½ = (a + b)/2} and {@code a + b} in either order, so
 * the expected bits hold on a real NCCL too.
 */
@Tag("gpu")
class NcclGraphCaptureTest {

    private static void requireTwoDevicesAndNccl() {
        var a = CudaTestSupport.requireNccl(2);
        assumeTrue(a.version() >= Nccl.Comm.AVG_SINCE, "ncclAvg needs NCCL 2.10, found " + Nccl.versionString(a.version()));
    }

    private static <T> List<T> onTwoRanks(BiFunction<CudaBackend, Nccl.Comm, T> body) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) { port = s.getLocalPort(); }
        ExecutorService ex = Executors.newFixedThreadPool(2);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                int rank = r;
                int p = port;
                futures.add(ex.submit(() -> {
                    try (TcpCollective tcp = TcpCollective.join(new LaunchEnv(rank, 2, rank, "127.0.0.1", p, "test"), 30_000, 0, Nccl::uniqueId);
                         CudaBackend be = new CudaBackend(rank, Precision.FP32, false);
                         NcclCollective c = NcclCollective.join(tcp, be, 0)) {
                        return body.apply(be, (Nccl.Comm) c.device());
                    }
                }));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : futures) out.add(f.get(120, TimeUnit.SECONDS));
            return out;
        } finally {
            ex.shutdownNow();
        }
    }

    private static double scalar(int rank, int launch, int i) { return Math.sin(0.7 * i + 1.3 * launch + rank) * (3 + rank); }

    private static float element(int rank, int launch, int i) { return (float) Math.cos(0.11 * i + launch - rank) / (2 + rank); }

    @Test
    void aCapturedAllReduceRunsAtEveryLaunchOnTheBuffersThen() throws Exception {
        requireTwoDevicesAndNccl();
        int launches = 3, doubles = 3, floats = 1001;
        List<List<Object>> got = onTwoRanks((be, comm) -> {
            Buffer d = be.allocate(2 * doubles), f = be.allocate(floats);
            CudaTestSupport.download(be, f);   // sizes the pinned staging before the other rank's collectives can be waiting
            CUgraph_st g = new CUgraph_st();
            CudaCheck.rt(cudaStreamBeginCapture(be.ctx.stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
            comm.captureMeanOfDoubles(((CudaBuffer) d).address, doubles);
            comm.captureSum(((CudaBuffer) f).address, floats);
            CudaCheck.rt(cudaStreamEndCapture(be.ctx.stream, g), "cudaStreamEndCapture");
            CUgraphExec_st e = new CUgraphExec_st();
            CudaCheck.rt(cudaGraphInstantiate(e, g, 0L), "cudaGraphInstantiate");
            List<Object> results = new ArrayList<>();
            try {
                int rank = comm.rank();
                for (int l = 0; l < launches; l++) {
                    ByteBuffer b = ByteBuffer.allocate(8 * doubles).order(ByteOrder.LITTLE_ENDIAN);
                    for (int i = 0; i < doubles; i++) b.putDouble(scalar(rank, l, i));
                    be.uploadBytes(((CudaBuffer) d).address, b.array());
                    float[] x = new float[floats];
                    for (int i = 0; i < floats; i++) x[i] = element(rank, l, i);
                    be.upload(x, 0, f, floats);
                    CudaCheck.rt(cudaGraphLaunch(e, be.ctx.stream), "cudaGraphLaunch");
                    results.add(ByteBuffer.wrap(be.readBytes(((CudaBuffer) d).address, 8 * doubles)).order(ByteOrder.LITTLE_ENDIAN));
                    results.add(CudaTestSupport.download(be, f));
                }
            } finally {
                cudaGraphExecDestroy(e);
                cudaGraphDestroy(g);
            }
            return results;
        });
        for (int l = 0; l < launches; l++) {
            for (int rank = 0; rank < 2; rank++) {
                ByteBuffer means = (ByteBuffer) got.get(rank).get(2 * l);
                float[] sums = (float[]) got.get(rank).get(2 * l + 1);
                for (int i = 0; i < doubles; i++) {
                    double want = (scalar(0, l, i) + scalar(1, l, i)) / 2;
                    assertEquals(Double.doubleToRawLongBits(want), Double.doubleToRawLongBits(means.getDouble(8 * i)),
                            "launch " + l + ", rank " + rank + ", mean " + i);
                }
                for (int i = 0; i < floats; i++) {
                    float want = element(0, l, i) + element(1, l, i);
                    assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(sums[i]), "launch " + l + ", rank " + rank + ", sum " + i);
                }
            }
        }
    }

    @Test
    void aCollectiveInsideAConditionalBodyDoesNotInstantiate() throws Exception {
        requireTwoDevicesAndNccl();
        CudaTestSupport.requireStandIn("whether a real NCCL's capture instantiates in a conditional body depends on its version and "
                + "NCCL_GRAPH_MIXING_SUPPORT; the stand-in must refuse it, so that CI catches a step graph that put one there");
        List<Integer> status = onTwoRanks((be, comm) -> {
            Buffer f = be.allocate(16);
            CUgraph_st g = new CUgraph_st();
            CudaCheck.rt(cudaGraphCreate(g, 0), "cudaGraphCreate");
            try {
                long[] handle = {0};
                CudaCheck.rt(cudaGraphConditionalHandleCreate(handle, g, 0, 0), "cudaGraphConditionalHandleCreate");
                cudaGraphNodeParams params = new cudaGraphNodeParams(new BytePointer(256).zero());
                params.type(cudaGraphNodeTypeConditional);
                params.conditional().handle(handle[0]).type(cudaGraphCondTypeIf).size(1);
                CUgraphNode_st node = new CUgraphNode_st();
                CudaCheck.rt(cudaGraphAddNode(node, g, (CUgraphNode_st) null, (cudaGraphEdgeData) null, 0, params), "cudaGraphAddNode");
                CUgraph_st body = params.conditional().phGraph_out();
                CudaCheck.rt(cudaStreamBeginCaptureToGraph(be.ctx.stream, body, (CUgraphNode_st) null, (cudaGraphEdgeData) null, 0,
                        cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCaptureToGraph");
                comm.captureSum(((CudaBuffer) f).address, 16);
                CudaCheck.rt(cudaStreamEndCapture(be.ctx.stream, new CUgraph_st()), "cudaStreamEndCapture");
                CUgraphExec_st e = new CUgraphExec_st();
                int s = cudaGraphInstantiate(e, g, 0L);
                if (s == cudaSuccess) cudaGraphExecDestroy(e);
                return s;
            } finally {
                cudaGraphDestroy(g);
            }
        });
        for (int s : status) assertNotEquals(cudaSuccess, s, "instantiating a graph with an NCCL collective in a conditional body");
    }
}
