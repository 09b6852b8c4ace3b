package dev.sam4j.backend.cuda;

import static org.bytedeco.cuda.global.cudart.CUDA_ERROR_NO_BINARY_FOR_GPU;
import static org.bytedeco.cuda.global.cudart.CUDA_SUCCESS;
import static org.bytedeco.cuda.global.cudart.cuModuleLoadData;
import static org.bytedeco.cuda.global.cudart.cuModuleUnload;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.sam4j.backend.Backends;
import java.util.List;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.javacpp.BytePointer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The kernels' fatbin against the device: a device the jar has no image for is refused at start-up in one
 * line naming its compute capability and the jar's targets; and the rule {@link Fatbin.Target#runsOn}
 * agrees with the driver's, image by image: each entry of the jar's fatbin, alone in a fatbin, loads with
 * {@code cuModuleLoadData} exactly when the rule says it runs on this device, and otherwise fails with
 * {@code CUDA_ERROR_NO_BINARY_FOR_GPU}. Only a GPU proves the second (the stand-in applies the same rule);
 * the first needs the stand-in, whose devices' compute capability a test can set.
 */
@Tag("gpu")
class KernelImageTest {

    @Test
    void aDeviceTheKernelsDoNotRunOnIsRefusedAtStartUpNamingBoth() {
        CudaRuntime.Availability a = CudaTestSupport.requireStandIn("needs the CPU stand-ins, whose device 1 can be made a compute capability 7.0");
        assumeTrue(a.deviceCount() >= 2, "the stand-ins have two devices");
        try (StandIn.Setting s = StandIn.set("cc.1", 70)) {
            CudaException e = assertThrows(CudaException.class, () -> new CudaBackend(1, false).close());
            String m = e.getMessage();
            assertTrue(m.startsWith("cuda:1 (") && m.contains("has compute capability 7.0") && m.contains("sm_75")
                    && m.contains("compute_80 PTX") && !m.contains("\n"), m);
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> Backends.choose("cuda:1", 1));
            assertTrue(refused.getMessage().startsWith("device(\"cuda:1\"): cuda:1 (") && refused.getMessage().contains("7.0"),
                    refused.getMessage());
        }
        new CudaBackend(1, false).close();  // and at 9.0 again it opens
    }

    @Test
    void eachImageLoadsExactlyWhereTheRuleSaysItRuns() throws Exception {
        CudaTestSupport.requireCuda();
        byte[] image = FatbinTest.jarImage();
        List<Fatbin.Entry> entries = Fatbin.entries(image);
        try (CudaBackend cuda = new CudaBackend(0, false)) {
            int major = cuda.ctx.major, minor = cuda.ctx.minor;
            int loadable = 0;
            for (int i = 0; i < entries.size(); i++) {
                Fatbin.Target t = entries.get(i).target();
                CUmod_st m = new CUmod_st();
                int status;
                try (BytePointer data = new BytePointer(FatbinTest.subset(image, entries, i))) {
                    status = cuModuleLoadData(m, data);
                }
                if (status == CUDA_SUCCESS) {
                    cuModuleUnload(m);
                    loadable++;
                }
                boolean runs = t.runsOn(major, minor);
                assertEquals(runs ? CUDA_SUCCESS : CUDA_ERROR_NO_BINARY_FOR_GPU, status,
                        t.name() + " alone on compute capability " + major + "." + minor);
            }
            assertTrue(loadable > 0, "no image of the jar's fatbin loads on this device");
        }
    }
}
