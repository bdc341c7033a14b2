"""conv2d by im2col: every window of the image becomes a column, and the convolution one
matrix product.

For an image x (N, C, H, W) and filters w (O, C, KH, KW), im2col(x) is (N, C*KH*KW, L)
with L = OH*OW windows: column l holds the C*KH*KW pixels under window l, in the order
of w.reshape(O, -1)'s columns (channel, then row, then column of the kernel). Then

    y[n] = w.reshape(O, -1) @ im2col(x)[n] + b[:, None]        (O, L) -> (O, OH, OW)

The backward is the same three steps in reverse. The gradient of the columns,
w.reshape(O, -1).T @ gy[n], has to go back to the pixels it came from: col2im adds
each column's entries into the pixels of its window, so a pixel under several windows
collects all of their shares. col2im is im2col's adjoint: <im2col(x), c> = <x, col2im(c)>.
"""
import numpy as np

from minidl import Function, Tensor


def output_size(size, kernel, stride, padding):
    """How many windows of `kernel` fit along an axis of `size` padded by `padding`."""
    return (size + 2 * padding - kernel) // stride + 1


def im2col(x, kh, kw, stride=1, padding=0):
    """(N, C, H, W) -> (N, C*kh*kw, OH*OW): the pixels under each window, as a column."""
    # BEGIN SOLUTION
    n, c, h, w = x.shape
    oh, ow = output_size(h, kh, stride, padding), output_size(w, kw, stride, padding)
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):          # one strided slice per kernel offset: KH*KW copies
        for j in range(kw):
            cols[:, :, i, j] = padded[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
    return cols.reshape(n, c * kh * kw, oh * ow)
    # END SOLUTION


def col2im(cols, x_shape, kh, kw, stride=1, padding=0):
    """The adjoint of im2col: (N, C*kh*kw, OH*OW) -> x_shape (N, C, H, W), each column's
    entries added into the pixels of its window."""
    # BEGIN SOLUTION
    n, c, h, w = x_shape
    oh, ow = output_size(h, kh, stride, padding), output_size(w, kw, stride, padding)
    cols = cols.reshape(n, c, kh, kw, oh, ow)
    padded = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            padded[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += cols[:, :, i, j]
    return padded[:, :, padding:padding + h, padding:padding + w]
    # END SOLUTION


class Conv2dIm2col(Function):
    """conv2d(x, w[, b]) with a square stride and padding, by im2col and one matmul.

    Its backward works on arrays and wraps the results in Tensors: it gives first
    derivatives only (minidl's own conv2d writes its backward as two more convolutions,
    so that it can be differentiated again)."""

    def __init__(self, stride=1, padding=0):
        self.stride, self.padding = stride, padding

    def forward(self, x, weight, *bias):
        # BEGIN SOLUTION
        n, c, h, w = x.shape
        o, c_w, kh, kw = weight.shape
        if c != c_w:
            raise ValueError(f"conv2d: the input has {c} channels but the weight "
                             f"{weight.shape} expects {c_w}")
        oh = output_size(h, kh, self.stride, self.padding)
        ow = output_size(w, kw, self.stride, self.padding)
        self.cols = im2col(x, kh, kw, self.stride, self.padding)      # saved for backward
        y = weight.reshape(o, -1) @ self.cols                         # (N, O, L)
        if bias:
            y = y + bias[0][:, None]
        return y.reshape(n, o, oh, ow)
        # END SOLUTION

    def backward(self, gy):
        # BEGIN SOLUTION
        x, weight = self.inputs[0].data, self.inputs[1].data
        o, _, kh, kw = weight.shape
        g = gy.data.reshape(gy.shape[0], o, -1)                        # (N, O, L)
        gw = np.einsum("nol,nkl->ok", g, self.cols).reshape(weight.shape)
        gcols = weight.reshape(o, -1).T @ g                           # (N, C*KH*KW, L)
        gx = col2im(gcols, x.shape, kh, kw, self.stride, self.padding)
        grads = (Tensor(gx), Tensor(gw))
        if len(self.inputs) == 3:
            grads += (Tensor(g.sum(axis=(0, 2))),)
        return grads
        # END SOLUTION


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """x (N, C, H, W), weight (O, C, KH, KW), bias (O,) or None -> (N, O, OH, OW)."""
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return Conv2dIm2col(stride, padding)(*inputs)
