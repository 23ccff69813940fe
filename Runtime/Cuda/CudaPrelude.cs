namespace Tessera.Cuda;

/// <summary>
/// The CUDA C every generated program starts with: the block size its kernels are launched with, and the helpers
/// they share (activations, warp and block reductions, argmax). One copy here instead of one per model; generated
/// <c>CudaProgram(...)</c> methods prepend it.
/// </summary>
public static class CudaPrelude
{
    /// <summary>BLOCK, then the helpers. <see cref="CudaStage.Block"/> is the same number: launches and kernels agree.</summary>
    public static string Source { get; } = $"#define BLOCK {CudaStage.Block}\n" + Helpers;

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
}
