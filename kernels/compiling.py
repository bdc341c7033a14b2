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
    """Call every numba kernel on small inputs of each dtype and layout the ops use, so that
    all of them are compiled (or loaded from the cache) now rather than mid-training."""
    from . import conv, matmul, pool
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        def rand(*shape):
            return rng.standard_normal(shape).astype(dtype)
        a, b = rand(6, 5), rand(5, 7)
        for left in (a, a.T.copy().T):        # C-contiguous and transposed views
            for right in (b, b.T.copy().T):
                matmul.matmul_numba(left, right)
        matmul.matmul_numba(rand(2, 6, 5), rand(2, 5, 7))
        big = rand(128, 128)                  # enough flops for the threads (SERIAL_FLOPS)
        matmul.matmul_numba(big, big)
        x, w = rand(2, 4, 7, 7), rand(6, 4, 3, 3)
        for groups, weight in ((1, w), (2, rand(6, 2, 3, 3))):
            geometry = ((1, 1), (1, 1), (1, 1), groups)
            y = conv.conv2d_forward_numba(x, weight, *geometry)
            conv.conv2d_backward_input_numba(y, weight, x.shape, *geometry)
            conv.conv2d_backward_weight_numba(y, x, weight.shape, *geometry)
        y, argmax = pool.max_pool2d_forward_numba(x, (2, 2), (2, 2), (0, 0))
        pool.max_pool2d_backward_numba(y, argmax, x.shape, (2, 2), (2, 2), (0, 0))
        y = pool.avg_pool2d_forward_numba(x, (2, 2), (2, 2), (0, 0))
        pool.avg_pool2d_backward_numba(y, x.shape, (2, 2), (2, 2), (0, 0))
