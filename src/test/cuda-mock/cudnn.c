/*
 * The four cuDNN 9 libraries JavaCPP's cuDNN JNI library links (graph, ops, cnn, adv). Part 1 of the
 * CUDA backend only asks cuDNN for its version (sam4j info); part 2 grows the convolution math here.
 */
#include <stddef.h>
#if defined(LIB_GRAPH)
size_t cudnnGetVersion(void) { return 90000; }
size_t cudnnGetCudartVersion(void) { return 13000; }
const char* cudnnGetErrorString(int s) { return "CUDNN_STATUS (stand-in)"; }
#else
int sam4j_cudnn_stand_in(void) { return 0; }
#endif
