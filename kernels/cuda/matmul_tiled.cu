// Tiled matrix multiply C = A @ B on the GPU, written to be read (cuBLAS is faster).
//
// A is M x K, B is K x N, C is M x N, all row-major and contiguous.
//
// Why tiles. The plain kernel gives each thread one C[row, col] and lets it read
// row `row` of A and column `col` of B straight from global memory: 2 loads per
// multiply-add, so it runs at the speed of memory, not of arithmetic. Here a block
// of threads first copies a TILE x TILE piece of A and one of B into shared memory
// (on-chip, about as fast as registers), and then every thread of the block reads
// them from there. Each number fetched from global memory is used TILE times, so
// global traffic drops by a factor of TILE.
//
// Thread-to-data mapping. The grid covers C with TILE x TILE blocks of TILE x TILE
// threads. Block (blockIdx.x, blockIdx.y) owns the tile of C whose top-left corner
// is (blockIdx.y * TILE, blockIdx.x * TILE); thread (threadIdx.x, threadIdx.y)
// computes C[row, col] with row = blockIdx.y * TILE + threadIdx.y and
// col = blockIdx.x * TILE + threadIdx.x.
//
// Memory access. The block walks along K one tile at a time. At each step thread
// (tx, ty) copies A[row, t + tx] into As[ty][tx] and B[t + ty, col] into Bs[ty][tx].
// threadIdx.x varies fastest inside a warp, and it indexes the column, which is
// the contiguous direction of a row-major matrix: a warp of 32 threads (one row
// of the tile, as TILE is 32) reads 32 neighbouring numbers, one coalesced
// transaction. In the inner loop a warp reads As[ty][k] (one address for the whole
// warp: a broadcast) and Bs[k][tx] (32 consecutive words: 32 different banks), so
// shared memory has no bank conflicts either.
//
// The two __syncthreads(): the first makes sure the whole tile is loaded before
// anyone reads it, the second that everyone is done reading before the next step
// overwrites it. Every thread must reach both, so threads outside C do not return
// early: they load zeros (which add nothing to the dot products) and skip the store.
// M, N and K need not be multiples of TILE.

#define TILE 32

template <typename T>
__global__ void matmul_tiled(const T* A, const T* B, T* C, int M, int N, int K)
{
    __shared__ T As[TILE][TILE];
    __shared__ T Bs[TILE][TILE];

    const int tx = threadIdx.x;
    const int ty = threadIdx.y;
    const int row = blockIdx.y * TILE + ty;
    const int col = blockIdx.x * TILE + tx;

    T sum = 0;
    for (int t = 0; t < K; t += TILE) {
        As[ty][tx] = (row < M && t + tx < K) ? A[(long long)row * K + t + tx] : T(0);
        Bs[ty][tx] = (t + ty < K && col < N) ? B[(long long)(t + ty) * N + col] : T(0);
        __syncthreads();

        for (int k = 0; k < TILE; ++k) {
            sum += As[ty][k] * Bs[k][tx];
        }
        __syncthreads();
    }

    if (row < M && col < N) {
        C[(long long)row * N + col] = sum;
    }
}
