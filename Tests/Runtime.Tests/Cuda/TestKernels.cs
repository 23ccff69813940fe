namespace Tessera.Runtime.Tests.Cuda;

/// <summary>Small CUDA C++ kernels the tests compile (and, on a GPU, run).</summary>
internal static class TestKernels
{
    /// <summary>y = a·x + y, one thread per element.</summary>
    public const string Saxpy = """
        extern "C" __global__ void saxpy(int n, float a, const float* x, float* y)
        {
            int i = blockIdx.x * blockDim.x + threadIdx.x;
            if (i < n) y[i] = a * x[i] + y[i];
        }
        """;

    /// <summary>*out += sum(x): warp shuffles reduce within a warp, __shared__ memory across the block's warps.</summary>
    public const string BlockSum = """
        extern "C" __global__ void block_sum(const float* x, float* out, int n)
        {
            __shared__ float warp_sums[32];
            int i = blockIdx.x * blockDim.x + threadIdx.x;
            float v = i < n ? x[i] : 0.0f;
            for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
            int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
            if (lane == 0) warp_sums[warp] = v;
            __syncthreads();
            if (warp == 0)
            {
                v = lane < (blockDim.x + 31) / 32 ? warp_sums[lane] : 0.0f;
                for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
                if (lane == 0) atomicAdd(out, v);
            }
        }
        """;

    /// <summary>Templates, constexpr, static_assert and C++17's if constexpr: out[r] = relu?(a[r,:4] · b[r,:4]).</summary>
    public const string TemplatedDot = """
        template <int Width>
        struct Tile { static constexpr int size = Width * Width; };
        static_assert(Tile<4>::size == 16, "constexpr evaluates at compile time");

        constexpr int kUnroll = 4;

        template <typename T, int Unroll>
        T dot_unrolled(const T* a, const T* b)  // no __device__: -default-device makes it one
        {
            T acc = T(0);
        #pragma unroll
            for (int u = 0; u < Unroll; ++u) acc += a[u] * b[u];
            return acc;
        }

        template <bool Relu>
        __device__ float activate(float v)
        {
            if constexpr (Relu) return v > 0.0f ? v : 0.0f;
            else return v;
        }

        extern "C" __global__ void dot4_relu(const float* a, const float* b, float* out, int rows)
        {
            int r = blockIdx.x * blockDim.x + threadIdx.x;
            if (r < rows) out[r] = activate<true>(dot_unrolled<float, kUnroll>(a + r * kUnroll, b + r * kUnroll));
        }
        """;

    /// <summary>A missing semicolon on line 3.</summary>
    public const string Broken = """
        extern "C" __global__ void broken(float* y)
        {
            y[0] = 1.0f
        }
        """;
}
