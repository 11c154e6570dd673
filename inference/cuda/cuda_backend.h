/* cuda_backend.h: what the CUDA backend offers beyond backend.h (C-callable): timing of
 * its steps by phase, for benchmarks. The backend itself is inf_backend_cuda (backend.h),
 * defined in cuda.cu and linked only by `make cuda`.
 *
 * CTX is a context returned by inf_backend_cuda.create(). */
#ifndef INF_CUDA_BACKEND_H
#define INF_CUDA_BACKEND_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* GPU time of the steps run since inf_cuda_profile_start(), by phase. */
typedef struct inf_cuda_profile {
    double matmul_ms;  /* cuBLAS: the Q/K/V, Wo, W1/W3, W2 and classifier products */
    double kernels_ms; /* our kernels: embedding, RMSNorm, RoPE, attention, SwiGLU */
    double copy_ms;    /* row inputs to the GPU, logits back to the host */
    long steps;
} inf_cuda_profile;

/* From now on, every step of CTX records CUDA events between its phases and adds their
 * durations up; restarts the totals. Profiled steps launch their kernels one by one
 * instead of replaying the step's CUDA graph (events need the phase boundaries), so they
 * run slower than unprofiled ones: read the split as proportions. 0, or -1 with a message. */
int inf_cuda_profile_start(void *ctx, char *err, size_t errlen);
/* The totals since inf_cuda_profile_start() (zeros if it was never called). */
void inf_cuda_profile_read(void *ctx, inf_cuda_profile *out);

#ifdef __cplusplus
}
#endif

#endif
