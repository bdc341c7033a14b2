// im2col and col2im: the two data-movement kernels of conv2d on the GPU.
//
// conv2d is turned into matrix products that cuBLAS runs (see kernels/gpu.py):
//
//   cols = im2col(x)              x: (N, C, H, W)      cols: (N, C*KH*KW, OH*OW)
//   y[n] = w2 @ cols[n]           w2: (O, C*KH*KW)     y[n]: (O, OH*OW)
//   gcols[n] = w2^T @ gy[n]       (gradient of cols)
//   gx = col2im(gcols)            adds every column entry back onto its input pixel
//
// Column (oh, ow) of cols[n] holds the input patch that output pixel (oh, ow)
// sees, one row per (c, i, j) of the kernel:
//
//   cols[n, (c*KH + i)*KW + j, oh*OW + ow] = x[n, c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]
//
// and 0 where that position falls in the zero padding: the same layout as
// im2col in kernels/conv.py.
//
// Thread-to-data mapping and memory access:
//
// im2col: one thread per element of cols, numbered in cols' own row-major order,
//   so consecutive threads write consecutive addresses (ow varies fastest): the
//   writes are coalesced. Their reads of x are ow*sw apart: coalesced for
//   stride 1, and served from the same cache lines for small strides.
//
// col2im: one thread per element of x (a "gather"). Input pixel (h, w) was copied
//   into every column whose patch covers it, so its gradient is the sum of those
//   entries. The thread finds them itself: for each kernel offset (i, j) the
//   output pixel is oh = (h + ph - i*dh) / sh, which must divide exactly and lie
//   in [0, OH) (the same for ow). Each thread writes only its own pixel, so no
//   atomics are needed and the result is the same on every run. (The
//   alternative, one thread per column entry doing atomicAdd into x, is shorter
//   but its order of additions, and so its rounding, changes from run to run.)
//
// Every index fits in an int: kernels/gpu.py checks that the arrays have fewer
// than 2**31 elements. Each kernel is a template, compiled for float and double.

template <typename T>
__global__ void im2col(const T* x, T* cols,
                       int N, int C, int H, int W, int KH, int KW, int OH, int OW,
                       int sh, int sw, int ph, int pw, int dh, int dw)
{
    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= (long long)N * C * KH * KW * OH * OW) {
        return;
    }
    // index -> (n, c, i, j, oh, ow), the last varying fastest
    int rest = (int)index;
    const int ow = rest % OW; rest /= OW;
    const int oh = rest % OH; rest /= OH;
    const int j = rest % KW;  rest /= KW;
    const int i = rest % KH;  rest /= KH;
    const int c = rest % C;
    const int n = rest / C;

    const int h = oh * sh - ph + i * dh;
    const int w = ow * sw - pw + j * dw;
    const bool inside = 0 <= h && h < H && 0 <= w && w < W;
    cols[index] = inside ? x[((n * C + c) * H + h) * W + w] : T(0);
}

template <typename T>
__global__ void col2im(const T* cols, T* x,
                       int N, int C, int H, int W, int KH, int KW, int OH, int OW,
                       int sh, int sw, int ph, int pw, int dh, int dw)
{
    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= (long long)N * C * H * W) {
        return;
    }
    // index -> (n, c, h, w), the last varying fastest
    int rest = (int)index;
    const int w = rest % W; rest /= W;
    const int h = rest % H; rest /= H;
    const int c = rest % C;
    const int n = rest / C;

    const int L = OH * OW;  // columns per image
    T sum = 0;
    for (int i = 0; i < KH; ++i) {
        const int oh_strided = h + ph - i * dh;  // = oh * sh if row i of the kernel covers h
        if (oh_strided < 0 || oh_strided % sh != 0 || oh_strided / sh >= OH) {
            continue;
        }
        const int oh = oh_strided / sh;
        for (int j = 0; j < KW; ++j) {
            const int ow_strided = w + pw - j * dw;
            if (ow_strided < 0 || ow_strided % sw != 0 || ow_strided / sw >= OW) {
                continue;
            }
            const int ow = ow_strided / sw;
            const int row = (c * KH + i) * KW + j;
            sum += cols[(n * C * KH * KW + row) * L + oh * OW + ow];
        }
    }
    x[index] = sum;
}
