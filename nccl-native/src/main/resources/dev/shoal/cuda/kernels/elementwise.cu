// elementwise.cu: the small ops a training step needs: add/residual, accumulate, scale, fill,
// deterministic sum / sum-of-squares reductions, and the vocab-parallel embedding gather/scatter.
// Guarantees: arithmetic in fp32, one rounding per stored element; reductions use a fixed grid and
// a fixed combine order, so they are bit-reproducible; embedding backward uses fp32 atomics
// (order-dependent only when a token repeats within the batch).
#include "shoal_common.cuh"

#define GRID_STRIDE(i, n) for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < (n); i += (i64)gridDim.x * blockDim.x)

// y = a + b  (y may alias a or b: the residual add)
template <typename T>
__device__ void add_impl(const T* a, const T* b, T* y, i64 n) {
    GRID_STRIDE(i, n) store_f32(y, i, load_f32(a, i) + load_f32(b, i));
}
extern "C" __global__ void add_f32(const float* a, const float* b, float* y, i64 n) { add_impl(a, b, y, n); }
extern "C" __global__ void add_bf16(const bf16* a, const bf16* b, bf16* y, i64 n) { add_impl(a, b, y, n); }

// y(f32) += alpha * x  (gradient accumulation into an fp32 buffer)
template <typename T>
__device__ void acc_impl(const T* __restrict__ x, float* __restrict__ y, i64 n, float alpha) {
    GRID_STRIDE(i, n) y[i] += alpha * load_f32(x, i);
}
extern "C" __global__ void acc_f32(const float* x, float* y, i64 n, float alpha) { acc_impl(x, y, n, alpha); }
extern "C" __global__ void acc_bf16(const bf16* x, float* y, i64 n, float alpha) { acc_impl(x, y, n, alpha); }

// x *= s
template <typename T>
__device__ void scale_impl(T* x, i64 n, float s) {
    GRID_STRIDE(i, n) store_f32(x, i, load_f32(x, i) * s);
}
extern "C" __global__ void scale_f32(float* x, i64 n, float s) { scale_impl(x, n, s); }
extern "C" __global__ void scale_bf16(bf16* x, i64 n, float s) { scale_impl(x, n, s); }

// x = value
template <typename T>
__device__ void fill_impl(T* x, i64 n, float value) {
    GRID_STRIDE(i, n) store_f32(x, i, value);
}
extern "C" __global__ void fill_f32(float* x, i64 n, float value) { fill_impl(x, n, value); }
extern "C" __global__ void fill_bf16(bf16* x, i64 n, float value) { fill_impl(x, n, value); }

// partials[blockIdx.x] = sum over this block's grid-stride share of x (or x^2 when squared != 0).
// Launch with blockDim.x == 256 and a grid size that the caller keeps fixed for reproducibility.
template <typename T>
__device__ void sum_partial_impl(const T* __restrict__ x, i64 n, int squared, float* __restrict__ partials) {
    __shared__ float scratch[32];
    float acc = 0.0f;
    GRID_STRIDE(i, n) {
        float v = load_f32(x, i);
        acc += squared ? v * v : v;
    }
    float total = block_sum(acc, scratch);
    if (threadIdx.x == 0) partials[blockIdx.x] = total;
}
extern "C" __global__ void sum_partial_f32(const float* x, i64 n, int squared, float* partials) {
    sum_partial_impl(x, n, squared, partials);
}
extern "C" __global__ void sum_partial_bf16(const bf16* x, i64 n, int squared, float* partials) {
    sum_partial_impl(x, n, squared, partials);
}

// out[0] = (accumulate ? out[0] : 0) + sum(partials[0..count)), one block, fixed order.
extern "C" __global__ void sum_finish(const float* __restrict__ partials, int count, float* __restrict__ out, int accumulate) {
    __shared__ float scratch[32];
    float acc = 0.0f;
    for (int i = threadIdx.x; i < count; i += blockDim.x) acc += partials[i];
    float total = block_sum(acc, scratch);
    if (threadIdx.x == 0) out[0] = (accumulate ? out[0] : 0.0f) + total;
}

// Vocab-parallel embedding forward: out[n, :] = wte[tokens[n] - vocabOffset, :] when the token
// falls in this shard [vocabOffset, vocabOffset + vocabLocal), else zeros (the TP all-reduce sums shards).
// grid: (N), block: 256. tokens [N] int32, wte [Vlocal, C], out [N, C].
template <typename T>
__device__ void embedding_fwd_impl(const int* __restrict__ tokens, const T* __restrict__ wte, T* __restrict__ out,
                                   int C, int vocabOffset, int vocabLocal) {
    const i64 n = blockIdx.x;
    const int local = tokens[n] - vocabOffset;
    const bool mine = local >= 0 && local < vocabLocal;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        out[n * C + c] = mine ? wte[(i64)local * C + c] : (T)0;
    }
}
extern "C" __global__ void embedding_fwd_f32(const int* tokens, const float* wte, float* out, int C, int off, int vl) {
    embedding_fwd_impl(tokens, wte, out, C, off, vl);
}
extern "C" __global__ void embedding_fwd_bf16(const int* tokens, const bf16* wte, bf16* out, int C, int off, int vl) {
    embedding_fwd_impl(tokens, wte, out, C, off, vl);
}

// Embedding backward: dwte[tokens[n] - vocabOffset, :] += dout[n, :] (fp32 atomics), rows of other shards skipped.
template <typename T>
__device__ void embedding_bwd_impl(const int* __restrict__ tokens, const T* __restrict__ dout, float* __restrict__ dwte,
                                   int C, int vocabOffset, int vocabLocal) {
    const i64 n = blockIdx.x;
    const int local = tokens[n] - vocabOffset;
    if (local < 0 || local >= vocabLocal) return;
    for (int c = threadIdx.x; c < C; c += blockDim.x) atomicAdd(&dwte[(i64)local * C + c], load_f32(dout, n * C + c));
}
extern "C" __global__ void embedding_bwd_f32(const int* tokens, const float* dout, float* dwte, int C, int off, int vl) {
    embedding_bwd_impl(tokens, dout, dwte, C, off, vl);
}
extern "C" __global__ void embedding_bwd_bf16(const int* tokens, const bf16* dout, float* dwte, int C, int off, int vl) {
    embedding_bwd_impl(tokens, dout, dwte, C, off, vl);
}
