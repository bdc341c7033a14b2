"""Max pooling: the forward is given; its backward routes each gradient to one pixel.

Each output y[n, c, r, s] is the largest pixel in its window of x. A small change of
that pixel changes y by as much; a small change of any other pixel of the window
changes nothing (as long as the maximum stays where it is). So the gradient of x is
zero except at the winning pixels, which receive the gradient of their output, and a
pixel that wins several overlapping windows receives the sum.
"""
import numpy as np

from minidl import Function, Tensor


class MaxPool2d(Function):
    """Max pooling of (N, C, H, W) with a square window `kernel_size` and `stride`
    (kernel_size by default), no padding. Ties go to the first pixel of the window in
    row-major order, as in PyTorch."""

    def __init__(self, kernel_size, stride=None):
        self.k = kernel_size
        self.stride = kernel_size if stride is None else stride

    def forward(self, x):
        n, c, h, w = x.shape
        k, s = self.k, self.stride
        oh, ow = (h - k) // s + 1, (w - k) // s + 1
        # windows[n, c, r, q, i, j] = x[n, c, r*s + i, q*s + j]
        windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))
        windows = windows[:, :, ::s, ::s][:, :, :oh, :ow].reshape(n, c, oh, ow, k * k)
        # argmax takes the first of equal values: ties go to the first in row-major order
        self.winner = windows.argmax(axis=-1)      # (N, C, OH, OW): index i*k + j
        self.x_shape = x.shape
        return np.take_along_axis(windows, self.winner[..., None], -1)[..., 0]

    def backward(self, gy):
        # BEGIN SOLUTION
        n, c, oh, ow = gy.shape
        k, s = self.k, self.stride
        # the row and column in x of every window's winning pixel
        rows = np.arange(oh)[:, None] * s + self.winner // k
        cols = np.arange(ow)[None, :] * s + self.winner % k
        gx = np.zeros(self.x_shape, dtype=gy.dtype)
        planes = np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None]
        # np.add.at, not gx[...] += ...: a pixel that wins two windows gets both gradients
        np.add.at(gx, (*planes, rows, cols), gy.data)
        return Tensor(gx)
        # END SOLUTION


def max_pool2d(x, kernel_size, stride=None):
    return MaxPool2d(kernel_size, stride)(x)
