namespace Tessera.Cuda;

/// <summary>
/// The CUDA C every generated program starts with: the block size its kernels are launched with, the helpers they
/// share (activations, warp and block reductions, argmax), and the model-independent kernels the runtime launches
/// itself (<c>tessera_*</c>: row gathers for the head, the sum and gather steps of device collectives, the bf16
/// weight products). One copy here instead of one per model; generated <c>CudaProgram(...)</c> methods prepend it.
/// </summary>
public static class CudaPrelude
{
    /// <summary>BLOCK, then the helpers. <see cref="CudaStage.Block"/> is the same number: launches and kernels agree.</summary>
    public static string Source { get; } = $"#define BLOCK {CudaStage.Block}\n#define GEMV_MAX_ROWS {CudaStage.GemvMaxRows}\n" + Helpers + RuntimeKernels;

    /// <summary>The kernels <see cref="CudaStage"/> launches by name, whatever the model.</summary>
    public static readonly string[] RuntimeKernelNames =
        ["tessera_gather_rows", "tessera_add_inplace", "tessera_scatter_columns", "tessera_widen_bf16", "tessera_gemv_bf16"];

    private const string Helpers = """
        #define NEG_INF __int_as_float(0xff800000)

        __device__ __forceinline__ float silu_f(float x) { return x / (1.0f + expf(-x)); }
        // gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        __device__ __forceinline__ float gelu_f(float x) { return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x))); }

        __device__ __forceinline__ float warp_sum(float v) { for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o); return v; }
        __device__ __forceinline__ float warp_max(float v) { for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o)); return v; }

        // Block-wide reductions through one float per warp in shared memory; every thread gets the result.
        __device__ float block_sum(float v)
        {
            __shared__ float partial[BLOCK / 32];
            v = warp_sum(v);
            __syncthreads();
            if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = v;
            __syncthreads();
            float total = 0.0f;
            for (int w = 0; w < BLOCK / 32; w++) total += partial[w];
            return total;
        }

        __device__ float block_max(float v)
        {
            __shared__ float partial[BLOCK / 32];
            v = warp_max(v);
            __syncthreads();
            if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = v;
            __syncthreads();
            float m = NEG_INF;
            for (int w = 0; w < BLOCK / 32; w++) m = fmaxf(m, partial[w]);
            return m;
        }

        // The largest value of the block and, among equal values, the smallest index.
        __device__ void argmax_block(float& best, int& index)
        {
            __shared__ float values[BLOCK];
            __shared__ int indices[BLOCK];
            values[threadIdx.x] = best;
            indices[threadIdx.x] = index;
            __syncthreads();
            for (int stride = BLOCK / 2; stride > 0; stride >>= 1)
            {
                if (threadIdx.x < stride)
                {
                    float v = values[threadIdx.x + stride]; int i = indices[threadIdx.x + stride];
                    if (v > values[threadIdx.x] || (v == values[threadIdx.x] && i < indices[threadIdx.x])) { values[threadIdx.x] = v; indices[threadIdx.x] = i; }
                }
                __syncthreads();
            }
            best = values[0];
            index = indices[0];
        }

        """;

    private const string RuntimeKernels = """
        extern "C" {

        // out (R, width) = rows ids[0..R) of in: the rows whose logits are wanted, before the head's product.
        __global__ void tessera_gather_rows(float* __restrict__ out, const float* __restrict__ in, const int* __restrict__ ids, int width)
        {
            const float* src = in + (long long)ids[blockIdx.x] * width;
            for (int i = threadIdx.x; i < width; i += BLOCK) out[(long long)blockIdx.x * width + i] = src[i];
        }

        // data[i] += other[i]: the sum step of an all-reduce between virtual devices on one GPU.
        __global__ void tessera_add_inplace(float* __restrict__ data, const float* __restrict__ other, long long count)
        {
            for (long long i = blockIdx.x * (long long)BLOCK + threadIdx.x; i < count; i += (long long)gridDim.x * BLOCK) data[i] += other[i];
        }

        // full (R, full_width)[:, offset .. offset + width) = part (R, width): one step of an all-gather of columns.
        __global__ void tessera_scatter_columns(float* __restrict__ full, const float* __restrict__ part, int width, int full_width, int offset)
        {
            for (int i = threadIdx.x; i < width; i += BLOCK) full[(long long)blockIdx.x * full_width + offset + i] = part[(long long)blockIdx.x * width + i];
        }

        // out[i] = bf16 bits in[i] as float (exact): a bf16 weight matrix widened for a large product.
        __global__ void tessera_widen_bf16(float* __restrict__ out, const unsigned short* __restrict__ in, long long count)
        {
            for (long long i = blockIdx.x * (long long)BLOCK + threadIdx.x; i < count; i += (long long)gridDim.x * BLOCK) out[i] = __uint_as_float((unsigned)in[i] << 16);
        }

        // y (rows, n) = x (rows, k) . w^T with w (n, k) in bf16 bits and fp32 accumulation, for rows <= GEMV_MAX_ROWS
        // (decode): one warp per output feature reads its weight row once for every row of x, 8 weights per 16-byte load
        // where the row is 16-byte aligned. Memory-bound: the weights are the bytes that matter.
        __global__ void tessera_gemv_bf16(float* __restrict__ y, const float* __restrict__ x, const unsigned short* __restrict__ w, int rows, int n, int k)
        {
            const int feature = (int)((blockIdx.x * (long long)BLOCK + threadIdx.x) >> 5), lane = threadIdx.x & 31;
            if (feature >= n) return; // whole warps: n * 32 threads are launched, rounded up to blocks
            const unsigned short* wr = w + (long long)feature * k;
            float acc[GEMV_MAX_ROWS];
            #pragma unroll
            for (int r = 0; r < GEMV_MAX_ROWS; r++) acc[r] = 0.0f;
            if ((k & 7) == 0)
            {
                for (int i = lane * 8; i < k; i += 32 * 8)
                {
                    const uint4 packed = *(const uint4*)(wr + i);
                    const unsigned words[4] = { packed.x, packed.y, packed.z, packed.w };
                    float wv[8];
                    #pragma unroll
                    for (int j = 0; j < 4; j++) { wv[2 * j] = __uint_as_float(words[j] << 16); wv[2 * j + 1] = __uint_as_float(words[j] & 0xffff0000u); }
                    #pragma unroll
                    for (int r = 0; r < GEMV_MAX_ROWS; r++)
                    {
                        if (r >= rows) break;
                        const float* xr = x + (long long)r * k + i;
                        #pragma unroll
                        for (int j = 0; j < 8; j++) acc[r] += wv[j] * xr[j];
                    }
                }
            }
            else
            {
                for (int i = lane; i < k; i += 32)
                {
                    const float wv = __uint_as_float((unsigned)wr[i] << 16);
                    #pragma unroll
                    for (int r = 0; r < GEMV_MAX_ROWS; r++) { if (r >= rows) break; acc[r] += wv * x[(long long)r * k + i]; }
                }
            }
            #pragma unroll
            for (int r = 0; r < GEMV_MAX_ROWS; r++)
            {
                if (r >= rows) break;
                const float sum = warp_sum(acc[r]);
                if (lane == 0) y[(long long)r * n + feature] = sum;
            }
        }

        } // extern "C"

        """;
}
