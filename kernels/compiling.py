"""Compiling the numba kernels: say so once, cache the result, and compile ahead on request.

numba compiles a kernel the first time it is called with new argument types, which
takes seconds, and stores the machine code on disk (`cache=True`), so later runs load it
in milliseconds. Without a word, a first run looks frozen; so the first compilation in a
process prints one line saying what is happening and where the cache is. numba keeps the
cache beside the source (kernels/__pycache__) or, when that folder cannot be written (a
read-only install), in the user's cache folder; NUMBA_CACHE_DIR chooses another place.

    python -m minidl.kernels --warm     compile (or load) every kernel now
"""
import sys

import numpy as np
from numba.core import event

PACKAGE = __name__.rpartition(".")[0]  # "minidl.kernels"


class _FirstCompileNotice(event.Listener):
    """Print one line at the first compilation of one of our kernels in this process."""
    said = False

    def on_start(self, ev):
        dispatcher = (ev.data or {}).get("dispatcher")
        module = getattr(getattr(dispatcher, "py_func", None), "__module__", "") or ""
        if self.said or not module.startswith(PACKAGE):
            return
        self.said = True
        print(f"minidl: compiling numba kernels, once (a few seconds each); they are "
              f"cached in {cache_folder(dispatcher)} for later runs. `python -m "
              f"minidl.kernels --warm` compiles them all ahead.", file=sys.stderr, flush=True)

    def on_end(self, ev):
        pass


def cache_folder(dispatcher):
    """Where numba keeps this kernel's compiled code (numba's own choice)."""
    cache = getattr(dispatcher, "_cache", None)
    return getattr(cache, "cache_path", "numba's cache folder")


event.register("numba:compile", _FirstCompileNotice())


def warm():
    """Call every kernel of the numba-using rows of the kernel table ("fast" and "numba") on
    small inputs of each dtype and layout the ops use, so that all of them are compiled
    (or loaded from the cache) now rather than mid-training."""
    from . import table
    rng = np.random.default_rng(0)
    for setting in ("fast", "numba"):
        kernels = table.get(setting)
        for dtype in (np.float32, np.float64):
            def rand(*shape):
                return rng.standard_normal(shape).astype(dtype)
            a, b = rand(6, 5), rand(5, 7)
            for left in (a, a.T.copy().T):        # C-contiguous and transposed views
                for right in (b, b.T.copy().T):
                    kernels.matmul(left, right)
            kernels.matmul(rand(2, 6, 5), rand(2, 5, 7))
            x = rand(2, 4, 7, 7)
            for groups, w in ((1, rand(6, 4, 3, 3)), (2, rand(6, 2, 3, 3))):
                geometry = ((1, 1), (1, 1), (1, 1), groups)
                for bias in (None, rand(6)):
                    y = kernels.conv2d_forward(x, w, *geometry, bias=bias)
                kernels.conv2d_backward_input(y, w, x.shape, *geometry)
                kernels.conv2d_backward_weight(y, x, w.shape, *geometry)
            window = ((2, 2), (2, 2), (0, 0))
            y, argmax = kernels.max_pool2d_forward(x, *window)
            kernels.max_pool2d_backward(y, argmax, x.shape, *window)
            y = kernels.avg_pool2d_forward(x, *window)
            kernels.avg_pool2d_backward(y, x.shape, *window)
            _warm_recurrent(kernels, rand)
            _warm_fused(kernels, rand)


def _warm_recurrent(kernels, rand):
    """The fused steps of the recurrent layers (kernels/recurrent.py), as the fused ops
    call them: time-major C-contiguous arrays, T = 2 steps of N = 3, H = 2."""
    steps, n, hidden = 2, 3, 2
    hs, cs = rand(steps + 1, n, hidden), rand(steps + 1, n, hidden)
    g_hs, g_cs = rand(steps, n, hidden), rand(steps, n, hidden)
    gh, gc = rand(n, hidden), rand(n, hidden)
    for gates in (1, 4, 3):
        xw, hw, b = rand(steps, n, gates * hidden), rand(n, gates * hidden), rand(gates * hidden)
        kernels.matmul_into(hs[0], rand(hidden, gates * hidden), hw)
        kernels.matmul_into(xw[0], rand(gates * hidden, hidden), gh)
    for relu in (False, True):
        kernels.rnn_cell_forward(0, rand(steps, n, hidden), rand(n, hidden), rand(hidden), hs, relu)
        kernels.rnn_cell_backward(0, g_hs, gh, hs, relu, rand(steps, n, hidden))
    gates, tanh_c = rand(steps, n, 4 * hidden), rand(steps, n, hidden)
    kernels.lstm_cell_forward(0, rand(steps, n, 4 * hidden), rand(n, 4 * hidden),
                              rand(4 * hidden), hs, cs, gates, tanh_c)
    kernels.lstm_cell_backward(0, g_hs, g_cs, gh, gc, cs, gates, tanh_c,
                               rand(steps, n, 4 * hidden))
    gates, hw_n = rand(steps, n, 3 * hidden), rand(steps, n, hidden)
    kernels.gru_cell_forward(0, rand(steps, n, 3 * hidden), rand(n, 3 * hidden), rand(3 * hidden),
                             hs, gates, hw_n)
    kernels.gru_cell_backward(0, g_hs, gh, gc, hs, gates, hw_n, rand(steps, n, 3 * hidden),
                              rand(steps, n, 3 * hidden))


def _warm_fused(kernels, rand):
    """The kernels of fused.py, each on one small input of rand's dtype."""
    x, gy = rand(4, 5), rand(4, 5)
    kernels.relu_backward(gy, kernels.relu_forward(x))
    kernels.where(x > 0, x, np.zeros((), dtype=x.dtype))
    for forward, backward in ((kernels.softmax_forward, kernels.softmax_backward),
                              (kernels.log_softmax_forward, kernels.log_softmax_backward)):
        backward(gy, forward(x, 1), 1)
    labels = np.arange(4) % 5
    losses, lse = kernels.cross_entropy_forward(x, labels, None, -100, 0.0)
    kernels.cross_entropy_backward(losses, x, lse, labels, None, -100, 0.0)
    y, mean, rstd = kernels.layer_norm_forward(x, 1, None, None, 1e-5)
    kernels.layer_norm_backward(gy, x, mean, rstd, None)
