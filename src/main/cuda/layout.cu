// Image layout: NCHW <-> NHWC (channels-last), for a CUDA backend opened channels-last.
//   permute_channels(src, dst, n, c, hw, to_nhwc):
//     to_nhwc != 0: dst[(b·hw + p)·c + ch] = src[(b·c + ch)·hw + p]    (NCHW -> NHWC)
//     to_nhwc == 0: dst[(b·c + ch)·hw + p] = src[(b·hw + p)·c + ch]    (NHWC -> NCHW)
//   Each image is a c × hw matrix transposed, so the same kernel turns a KCRS filter into KRSC (n = K,
//   c = C, hw = R·S) and back. dst must not alias src. permute_channels_bf16: the same on 16-bit bf16 elements.
// Why tiles: a plain per-element permutation reads or writes with a stride of c (or hw) floats, so one of the
//   two sides is uncoalesced; a 32 × 32 tile staged through shared memory (33 columns: no bank conflicts)
//   makes both sides read and write 32 consecutive floats per warp.
// Launch: blockDim 256 (32 × 8 threads), any grid: a grid-stride loop over the n·⌈c/32⌉·⌈hw/32⌉ tiles.
// Tested: CudaLayoutTest (both directions against the plain permutation, odd sizes; the NHWC backend's
//   convolutions, pooling and batch norm against the reference backend's NCHW).
#include "common.cuh"

// One tile loop for both element types: T is float or a 16-bit bf16.
template <typename T>
__device__ __forceinline__ void permute_tiles(const T* __restrict__ src, T* __restrict__ dst, int n, int c, long long hw,
                                              int to_nhwc) {
    __shared__ T tile[32][33];
    const int tx = threadIdx.x & 31, ty = threadIdx.x >> 5;
    const long long tiles_c = (c + 31) / 32, tiles_p = (hw + 31) / 32, per_image = tiles_c * tiles_p;
    for (long long t = blockIdx.x; t < (long long)n * per_image; t += gridDim.x) {
        const long long b = t / per_image, r = t % per_image;
        const long long c0 = (r / tiles_p) * 32, p0 = (r % tiles_p) * 32;
        if (to_nhwc) {
            for (int i = ty; i < 32; i += 8) {  // rows: channels; a warp reads 32 consecutive positions
                const long long ch = c0 + i, p = p0 + tx;
                if (ch < c && p < hw) tile[i][tx] = src[(b * c + ch) * hw + p];
            }
            __syncthreads();
            for (int i = ty; i < 32; i += 8) {  // rows: positions; a warp writes 32 consecutive channels
                const long long p = p0 + i, ch = c0 + tx;
                if (ch < c && p < hw) dst[(b * hw + p) * c + ch] = tile[tx][i];
            }
        } else {
            for (int i = ty; i < 32; i += 8) {  // rows: positions; a warp reads 32 consecutive channels
                const long long p = p0 + i, ch = c0 + tx;
                if (ch < c && p < hw) tile[tx][i] = src[(b * hw + p) * c + ch];
            }
            __syncthreads();
            for (int i = ty; i < 32; i += 8) {  // rows: channels; a warp writes 32 consecutive positions
                const long long ch = c0 + i, p = p0 + tx;
                if (ch < c && p < hw) dst[(b * c + ch) * hw + p] = tile[i][tx];
            }
        }
        __syncthreads();  // the tile is rewritten by the next iteration
    }
}

extern "C" __global__ void permute_channels(const float* __restrict__ src, float* __restrict__ dst, int n, int c,
                                            long long hw, int to_nhwc) {
    permute_tiles(src, dst, n, c, hw, to_nhwc);
}

extern "C" __global__ void permute_channels_bf16(const unsigned short* __restrict__ src, unsigned short* __restrict__ dst, int n,
                                                 int c, long long hw, int to_nhwc) {
    permute_tiles(src, dst, n, c, hw, to_nhwc);
}
