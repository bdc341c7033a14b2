// 2-D max and average pooling on the GPU: forward and backward, NCHW.
//
// Output pixel (oh, ow) of plane (n, c) pools the KH x KW window whose top-left
// corner is (oh*sh - ph, ow*sw - pw) in the input. Positions in the padding are
// skipped by max pooling and count as zeros for average pooling (which always
// divides by KH*KW, like PyTorch's default count_include_pad=True).
//
// max_pool2d_forward also writes, for each output, where its maximum came from:
// argmax[n, c, oh, ow] = h*W + w, the flat index inside the input plane (n, c).
// Ties go to the first position in row-major window order, and a NaN is the
// maximum of its window, as in kernels/pool.py and PyTorch.
//
// Thread-to-data mapping and memory access:
//
// Forward: one thread per output element, numbered in the output's row-major
//   order: consecutive threads write consecutive addresses (coalesced), and read
//   windows that are sw apart in the same rows of the input.
//
// Backward, by "gather": one thread per input element (n, c, h, w). It finds the
//   outputs whose windows contain (h, w) itself: for each window row i the output
//   row is oh = (h + ph - i) / sh, which must divide exactly and lie in [0, OH)
//   (the same for columns), and adds up their gradients (max pooling: only those
//   whose argmax is this pixel). Every thread writes just its own element, so no
//   two threads ever write the same address: no atomics, and the same result on
//   every run. The scatter formulation (one thread per output doing
//   atomicAdd(&gx[argmax], gy)) is shorter, but overlapping windows make threads
//   collide on one address, and the order of their additions changes from run to run.
//
// Every index fits in an int: kernels/gpu.py checks that the arrays have fewer
// than 2**31 elements. Each kernel is a template, compiled for float and double.

template <typename T>
__global__ void max_pool2d_forward(const T* x, T* y, long long* argmax,
                                   int N, int C, int H, int W, int OH, int OW,
                                   int KH, int KW, int sh, int sw, int ph, int pw)
{
    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= (long long)N * C * OH * OW) {
        return;
    }
    // index -> (plane, oh, ow) with plane = n*C + c
    const int ow = (int)index % OW;
    const int oh = (int)index / OW % OH;
    const int plane = (int)index / OW / OH;
    const T* xp = x + plane * H * W;

    T best = 0;
    int best_at = -1;  // no element seen yet
    for (int i = 0; i < KH; ++i) {
        const int h = oh * sh - ph + i;
        if (h < 0 || h >= H) {
            continue;
        }
        for (int j = 0; j < KW; ++j) {
            const int w = ow * sw - pw + j;
            if (w < 0 || w >= W) {
                continue;
            }
            const T v = xp[h * W + w];
            const bool nan_over_number = v != v && best == best;  // only NaN != itself
            if (best_at < 0 || v > best || nan_over_number) {
                best = v;
                best_at = h * W + w;
            }
        }
    }
    y[index] = best;
    argmax[index] = best_at;
}

template <typename T>
__global__ void max_pool2d_backward(const T* gy, const long long* argmax, T* gx,
                                    int N, int C, int H, int W, int OH, int OW,
                                    int KH, int KW, int sh, int sw, int ph, int pw)
{
    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= (long long)N * C * H * W) {
        return;
    }
    // index -> (plane, h, w) with plane = n*C + c
    const int w = (int)index % W;
    const int h = (int)index / W % H;
    const int plane = (int)index / W / H;
    const int first = plane * OH * OW;  // where this plane starts in gy and argmax

    T sum = 0;
    for (int i = 0; i < KH; ++i) {
        const int oh_strided = h + ph - i;  // = oh * sh if window row i of output oh is h
        if (oh_strided < 0 || oh_strided % sh != 0 || oh_strided / sh >= OH) {
            continue;
        }
        const int oh = oh_strided / sh;
        for (int j = 0; j < KW; ++j) {
            const int ow_strided = w + pw - j;
            if (ow_strided < 0 || ow_strided % sw != 0 || ow_strided / sw >= OW) {
                continue;
            }
            const int out = first + oh * OW + ow_strided / sw;
            if (argmax[out] == h * W + w) {
                sum += gy[out];
            }
        }
    }
    gx[index] = sum;
}

template <typename T>
__global__ void avg_pool2d_forward(const T* x, T* y,
                                   int N, int C, int H, int W, int OH, int OW,
                                   int KH, int KW, int sh, int sw, int ph, int pw)
{
    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= (long long)N * C * OH * OW) {
        return;
    }
    const int ow = (int)index % OW;
    const int oh = (int)index / OW % OH;
    const int plane = (int)index / OW / OH;
    const T* xp = x + plane * H * W;

    T sum = 0;
    for (int i = 0; i < KH; ++i) {
        const int h = oh * sh - ph + i;
        if (h < 0 || h >= H) {
            continue;
        }
        for (int j = 0; j < KW; ++j) {
            const int w = ow * sw - pw + j;
            if (w >= 0 && w < W) {
                sum += xp[h * W + w];
            }
        }
    }
    y[index] = sum / T(KH * KW);
}

template <typename T>
__global__ void avg_pool2d_backward(const T* gy, T* gx,
                                    int N, int C, int H, int W, int OH, int OW,
                                    int KH, int KW, int sh, int sw, int ph, int pw)
{
    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= (long long)N * C * H * W) {
        return;
    }
    const int w = (int)index % W;
    const int h = (int)index / W % H;
    const int plane = (int)index / W / H;
    const int first = plane * OH * OW;

    T sum = 0;
    for (int i = 0; i < KH; ++i) {
        const int oh_strided = h + ph - i;
        if (oh_strided < 0 || oh_strided % sh != 0 || oh_strided / sh >= OH) {
            continue;
        }
        for (int j = 0; j < KW; ++j) {
            const int ow_strided = w + pw - j;
            if (ow_strided < 0 || ow_strided % sw != 0 || ow_strided / sw >= OW) {
                continue;
            }
            sum += gy[first + oh_strided / sh * OW + ow_strided / sw];
        }
    }
    gx[index] = sum / T(KH * KW);
}
