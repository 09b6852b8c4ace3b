/* libcublasLt.so.13 stand-in: JavaCPP's cuBLAS JNI library needs it present; sam4j calls nothing in it. */
int sam4j_cublaslt_stand_in(void) { return 0; }
