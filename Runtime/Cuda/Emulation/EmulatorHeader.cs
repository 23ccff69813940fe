namespace Tessera.Cuda.Emulation;

/// <summary>
/// The C++ the emulator puts before a CUDA program so that g++ compiles it for the CPU: CUDA's qualifiers and
/// built-ins (threadIdx, __syncthreads, warp shuffles, bit casts) over a block of fibers, one fiber per GPU thread.
/// A block runs on one OS thread; its fibers switch at every barrier and shuffle, so shared memory, block-wide
/// reductions and warp exchanges behave as on the GPU (a fiber that never reaches a barrier the others wait at
/// deadlocks there too). Blocks of a grid run one after the other.
/// </summary>
internal static class EmulatorHeader
{
    /// <summary>Bumped whenever the header changes meaning; part of the compiled-module cache key.</summary>
    public const string Version = "tessera-cuda-emulator-4";

    public const string Source = """
        // Tessera CUDA emulator: CUDA C compiled for the CPU by g++, one fiber per GPU thread (x86-64 System V).
        #include <cmath>
        #include <cstdint>
        #include <cstring>
        #include <cstddef>
        #include <memory>
        #include <utility>
        #include <type_traits>
        #include <vector>
        #include <algorithm>

        struct uint3 { unsigned int x, y, z; };
        struct alignas(8) uint2 { unsigned int x, y; };
        struct alignas(16) uint4 { unsigned int x, y, z, w; };
        struct alignas(8) float2 { float x, y; };
        struct alignas(16) float4 { float x, y, z, w; };

        #define __global__
        #define __device__
        #define __host__
        #define __forceinline__ inline
        #define __shared__ static
        #define __launch_bounds__(...)
        #define __constant__ static const

        namespace tessera_emu {

        constexpr int MaxThreads = 1024;
        constexpr std::size_t StackBytes = 128 * 1024;

        struct Fiber { void* sp; bool done; uint3 thread; };

        struct Block
        {
            Fiber fibers[MaxThreads];
            int count = 0, live = 0, current = 0;
            void* scheduler_sp = nullptr;
            uint3 block_idx{}, block_dim{}, grid_dim{};
            unsigned sync_count = 0, sync_generation = 0;
            unsigned long long idle_spins = 0; // waits resumed with nothing changed since: all of them means a deadlock
            bool deadlocked = false;
            unsigned warp_count[MaxThreads / 32]{}, warp_generation[MaxThreads / 32]{}, warp_live[MaxThreads / 32]{};
            alignas(16) unsigned char exchange[MaxThreads / 32][32][8];
            unsigned char* dynamic_shared = nullptr;
            void (*body)(void*) = nullptr;
            void* body_arg = nullptr;
        };

        static thread_local Block* g_block;

        extern "C" void tessera_emu_switch(void** save_sp, void* load_sp);
        asm(R"(
            .text
            .hidden tessera_emu_switch
            .globl tessera_emu_switch
            .type tessera_emu_switch, @function
        tessera_emu_switch:
            pushq %rbp
            pushq %rbx
            pushq %r12
            pushq %r13
            pushq %r14
            pushq %r15
            movq %rsp, (%rdi)
            movq %rsi, %rsp
            popq %r15
            popq %r14
            popq %r13
            popq %r12
            popq %rbx
            popq %rbp
            ret
            .size tessera_emu_switch, .-tessera_emu_switch
        )");

        inline Fiber& self() { return g_block->fibers[g_block->current]; }
        inline unsigned linear_thread() { const uint3 t = self().thread; const uint3 d = g_block->block_dim; return t.x + d.x * (t.y + d.y * t.z); }
        inline void yield() { tessera_emu_switch(&self().sp, g_block->scheduler_sp); }

        // Something happened (an arrival, a release, an exit): waiting threads may now proceed.
        inline void progress() { g_block->idle_spins = 0; }

        // Waits for the scheduler's next turn. When every live thread has been resumed several times over with nothing
        // happening, the block can never finish (threads wait at barriers others never reach): abandon it.
        inline void wait_turn()
        {
            Block& b = *g_block;
            if (++b.idle_spins > 4ull * (unsigned long long)b.live + 64)
            {
                b.deadlocked = true;
                for (;;) yield(); // never resumed: the scheduler drops the block
            }
            yield();
        }

        // A barrier completes when every live thread of its group has arrived; threads that have exited count as arrived.
        inline void release_if_complete()
        {
            Block& b = *g_block;
            if (b.sync_count > 0 && b.sync_count >= (unsigned)b.live) { b.sync_count = 0; b.sync_generation++; progress(); }
        }

        inline void sync_threads()
        {
            Block& b = *g_block;
            const unsigned generation = b.sync_generation;
            b.sync_count++;
            progress();
            release_if_complete();
            while (b.sync_generation == generation) wait_turn();
        }

        inline void sync_warp(unsigned warp)
        {
            Block& b = *g_block;
            const unsigned generation = b.warp_generation[warp];
            progress();
            if (++b.warp_count[warp] >= b.warp_live[warp]) { b.warp_count[warp] = 0; b.warp_generation[warp]++; return; }
            while (b.warp_generation[warp] == generation) wait_turn();
        }

        template <typename T> T shuffle(T value, int source_lane, bool is_xor, int delta_down)
        {
            static_assert(sizeof(T) <= 8, "shuffles move at most 8 bytes");
            Block& b = *g_block;
            const unsigned t = linear_thread(), warp = t >> 5, lane = t & 31;
            std::memcpy(b.exchange[warp][lane], &value, sizeof(T));
            sync_warp(warp);
            unsigned from = is_xor ? (lane ^ (unsigned)source_lane) : delta_down >= 0 ? lane + (unsigned)delta_down : (unsigned)source_lane & 31u;
            const unsigned width = (unsigned)std::min(32, b.count - (int)warp * 32);
            if (from >= width) from = lane; // outside the warp: the thread keeps its own value
            T result;
            std::memcpy(&result, b.exchange[warp][from], sizeof(T));
            sync_warp(warp);
            return result;
        }

        [[noreturn]] inline void fiber_entry()
        {
            Block& b = *g_block;
            b.body(b.body_arg);
            Fiber& f = self();
            f.done = true;
            b.live--;
            b.warp_live[linear_thread() >> 5]--;
            progress();
            release_if_complete();
            for (unsigned w = 0; w < (unsigned)(b.count + 31) / 32; w++)
                if (b.warp_count[w] > 0 && b.warp_count[w] >= b.warp_live[w]) { b.warp_count[w] = 0; b.warp_generation[w]++; }
            tessera_emu_switch(&f.sp, b.scheduler_sp);
            __builtin_unreachable();
        }

        struct StackPool
        {
            std::vector<std::unique_ptr<unsigned char[]>> stacks;
            unsigned char* get(int i)
            {
                while ((int)stacks.size() <= i) stacks.emplace_back(new unsigned char[StackBytes]);
                return stacks[i].get();
            }
        };

        // Returns 0, 1 (CUDA_ERROR_INVALID_VALUE) for a block the GPU would refuse, or 719 (CUDA_ERROR_LAUNCH_FAILED) for a
        // block whose threads deadlocked.
        inline int run_grid(void (*body)(void*), void* arg, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shared_bytes)
        {
            const unsigned long long threads = (unsigned long long)bx * by * bz;
            if (threads == 0 || threads > MaxThreads || gx == 0 || gy == 0 || gz == 0) return 1;
            static thread_local StackPool pool;
            static thread_local std::unique_ptr<Block> block_storage;
            static thread_local std::vector<unsigned char> shared;
            if (!block_storage) block_storage.reset(new Block());
            Block& b = *block_storage;
            Block* outer = g_block;
            g_block = &b;
            shared.assign(shared_bytes + 16, 0);
            b.body = body;
            b.body_arg = arg;
            b.block_dim = {bx, by, bz};
            b.grid_dim = {gx, gy, gz};
            b.count = (int)threads;
            b.dynamic_shared = shared.data();
            for (unsigned z = 0; z < gz; z++)
            for (unsigned y = 0; y < gy; y++)
            for (unsigned x = 0; x < gx; x++)
            {
                b.block_idx = {x, y, z};
                b.live = b.count;
                b.sync_count = 0;
                b.idle_spins = 0;
                b.deadlocked = false;
                for (int w = 0; w < (b.count + 31) / 32; w++) { b.warp_count[w] = 0; b.warp_live[w] = (unsigned)std::min(32, b.count - w * 32); }
                for (int i = 0; i < b.count; i++)
                {
                    Fiber& f = b.fibers[i];
                    f.done = false;
                    f.thread = {(unsigned)i % bx, ((unsigned)i / bx) % by, (unsigned)i / (bx * by)};
                    // A fresh stack: six callee-saved registers, then fiber_entry as the return address of the switch,
                    // then a slot so that the entry sees the stack alignment of a call.
                    auto top = (std::uintptr_t)(pool.get(i) + StackBytes) & ~(std::uintptr_t)15;
                    void** sp = (void**)top;
                    *--sp = nullptr;
                    *--sp = (void*)&fiber_entry;
                    for (int r = 0; r < 6; r++) *--sp = nullptr;
                    f.sp = sp;
                }
                for (bool any = true; any;)
                {
                    any = false;
                    for (int i = 0; i < b.count; i++)
                    {
                        if (b.fibers[i].done) continue;
                        any = true;
                        b.current = i;
                        tessera_emu_switch(&b.scheduler_sp, b.fibers[i].sp);
                        if (b.deadlocked) { g_block = outer; return 719; }
                    }
                }
            }
            g_block = outer;
            return 0;
        }

        template <typename... A, std::size_t... I>
        void invoke(void (*kernel)(A...), void** params, std::index_sequence<I...>)
        {
            kernel(*static_cast<std::remove_cv_t<A>*>(params[I])...);
        }

        // The argument pointers into a packed struct (CU_LAUNCH_PARAM_BUFFER_POINTER): each field at its C alignment.
        template <typename... A>
        void unpack(unsigned char* packed, void** params)
        {
            std::size_t offset = 0, i = 0;
            ((offset = (offset + alignof(std::remove_cv_t<A>) - 1) / alignof(std::remove_cv_t<A>) * alignof(std::remove_cv_t<A>),
              params[i++] = packed + offset, offset += sizeof(std::remove_cv_t<A>)), ...);
        }

        template <typename... A>
        int launch(void (*kernel)(A...), void** params, void* packed, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shared_bytes)
        {
            void* from_packed[sizeof...(A) + 1];
            if (params == nullptr)
            {
                if (packed == nullptr && sizeof...(A) > 0) return 1;
                unpack<A...>(static_cast<unsigned char*>(packed), from_packed);
                params = from_packed;
            }
            struct Call { void (*kernel)(A...); void** params; } call{kernel, params};
            return run_grid([](void* c) { auto* k = static_cast<Call*>(c); invoke(k->kernel, k->params, std::index_sequence_for<A...>{}); },
                &call, gx, gy, gz, bx, by, bz, shared_bytes);
        }

        } // namespace tessera_emu

        #define threadIdx (tessera_emu::self().thread)
        #define blockIdx (tessera_emu::g_block->block_idx)
        #define blockDim (tessera_emu::g_block->block_dim)
        #define gridDim (tessera_emu::g_block->grid_dim)
        #define warpSize 32

        inline void __syncthreads() { tessera_emu::sync_threads(); }
        inline void __syncwarp(unsigned = 0xffffffffu) { tessera_emu::sync_warp(tessera_emu::linear_thread() >> 5); }
        template <typename T> T __shfl_xor_sync(unsigned, T v, int lane_mask, int = 32) { return tessera_emu::shuffle(v, lane_mask, true, -1); }
        template <typename T> T __shfl_down_sync(unsigned, T v, unsigned delta, int = 32) { return tessera_emu::shuffle(v, 0, false, (int)delta); }
        template <typename T> T __shfl_sync(unsigned, T v, int lane, int = 32) { return tessera_emu::shuffle(v, lane, false, -1); }
        template <typename T> T __ldg(const T* p) { return *p; }
        // Fibers of a block never run at the same time and blocks run in turn: a plain update is atomic.
        template <typename T> T atomicAdd(T* p, T v) { T old = *p; *p = old + v; return old; }
        template <typename T> T atomicMax(T* p, T v) { T old = *p; if (v > old) *p = v; return old; }

        inline float __int_as_float(int v) { float f; std::memcpy(&f, &v, 4); return f; }
        inline float __uint_as_float(unsigned v) { float f; std::memcpy(&f, &v, 4); return f; }
        inline int __float_as_int(float v) { int i; std::memcpy(&i, &v, 4); return i; }
        inline unsigned __float_as_uint(float v) { unsigned i; std::memcpy(&i, &v, 4); return i; }
        inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
        inline float __expf(float x) { return std::exp(x); }
        inline float __fdividef(float a, float b) { return a / b; }
        inline float __saturatef(float x) { return x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x; }
        using std::min;
        using std::max;

        """;
}
