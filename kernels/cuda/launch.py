"""Starting a numba.cuda kernel on CuPy's arrays (or in numba's CUDA simulator).

    launch(kernel, blocks, threads, *args)   # kernel[blocks, threads, stream](*args)

On a GPU the arrays are CuPy's. numba reads their memory in place (CuPy publishes
it through the CUDA array interface and DLPack), and the kernel is queued on
CuPy's current stream: after the CuPy operations queued before it and before
those queued after it, so the two libraries need no synchronization between
them.

Under numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1 in the environment when numba
reads it, at its import or at numba.core.config.reload_config(), before numba.cuda
is first imported) a kernel runs on the CPU, one Python thread per CUDA thread, on
NumPy arrays. The arrays must then be in the computer's memory.
The test stand-in for CuPy (tests/fake_cupy.py) keeps its arrays there and, under
the simulator, publishes them through the CUDA array interface like CuPy;
launch() gives the kernel NumPy views of that memory, so what the kernel writes
lands in the stand-in's arrays. Real CuPy arrays live on the GPU, out of the
simulator's reach, and are refused with a clear error.

Every kernel is written for C-contiguous arrays of one float dtype and Python
ints (int64 in the kernel): checks.py sees to the arrays, and launch() turns
NumPy ints into Python ints.
"""
import functools
import math

import numpy as np
from numba import cuda

from ... import backend

THREADS = 128  # threads per block, for the kernels that give one thread to each element

_NUMPY_INTERFACE_KEYS = ("shape", "typestr", "data", "strides", "descr", "version")


def simulating():
    """True when numba.cuda is the simulator: kernels run on the CPU, on NumPy arrays."""
    return bool(cuda.config.ENABLE_CUDASIM)


def can_launch_on(xp):
    """Whether these kernels can run on the arrays of array module xp: numba needs the
    arrays to publish their memory through the CUDA array interface. CuPy's do; the
    test stand-in's do only under the simulator."""
    return hasattr(xp.ndarray, "__cuda_array_interface__")


def blocks_for(n, threads=THREADS):
    """How many blocks of `threads` threads cover n elements, one thread each."""
    return -(-n // threads)


def launch(kernel, blocks, threads, *args):
    """Run kernel[blocks, threads](*args) on CuPy's current stream (or in the simulator).
    blocks and threads are ints or tuples; a grid of no blocks runs nothing."""
    if math.prod(blocks if isinstance(blocks, tuple) else (blocks,)) == 0:
        return
    args = tuple(int(a) if isinstance(a, np.integer) else a for a in args)
    if simulating():
        kernel[blocks, threads](*(_host_view(a) for a in args))
    else:
        kernel[blocks, threads, _current_stream()](*args)


def _current_stream():
    """numba's handle on CuPy's current stream. CuPy's default stream has pointer 0,
    which is CUDA's legacy default stream."""
    ptr = backend.cupy().cuda.get_current_stream().ptr
    return _external_stream(ptr) if ptr else cuda.legacy_default_stream()


@functools.lru_cache(maxsize=None)
def _external_stream(ptr):
    return cuda.external_stream(ptr)


class _HostMemory:
    """Memory published through the CUDA array interface, re-published through NumPy's
    array interface (the two describe an array with the same keys). Only meaningful
    where the "device" memory is the computer's own: in the simulator."""

    def __init__(self, array):
        self.array = array  # keeps the memory alive as long as the NumPy view
        interface = array.__cuda_array_interface__
        self.__array_interface__ = {key: interface[key] for key in _NUMPY_INTERFACE_KEYS
                                    if interface.get(key) is not None}


def _host_view(arg):
    """A kernel argument as the simulator takes it: an array as a NumPy view of its memory."""
    if not hasattr(arg, "__cuda_array_interface__"):
        return arg  # a number
    if type(arg).__module__.split(".")[0] == "cupy":
        raise RuntimeError("NUMBA_ENABLE_CUDASIM=1 runs the CUDA kernels on the CPU, which "
                           "cannot read a CuPy array's GPU memory; unset it to use the GPU")
    return np.asarray(_HostMemory(arg))
