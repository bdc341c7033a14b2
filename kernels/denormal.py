"""Flushing denormal floats to zero, as torch.set_flush_denormal does.

Floats smaller than the smallest normal number (about 1.2e-38 in float32, 2.2e-308 in
float64) are "denormal": they keep shrinking gracefully, but most CPUs compute with them
through a slow microcode path, tens to a hundred times slower per operation. Gradients
that fade over a long sequence (an LSTM reading a few hundred steps) end up there, and a
training step can become several times slower. Flushing them to zero changes results
only far below what float32 or float64 resolves around any normal number, and removes
the slowdown.

On x86-64 two bits of the MXCSR register (the SSE/AVX control register) do it:
FTZ (flush to zero) makes results that would be denormal 0, DAZ (denormals are zero)
reads denormal inputs as 0. The register belongs to the thread: the setting holds for
NumPy, BLAS and the numba kernels running on the thread that set it (BLAS and numba
threads started before keep their own; with one thread, the benchmarks' setting, that
is everything). The register is read and written with LLVM's x86 intrinsics, compiled by
numba: no C library, no ctypes. On other processors nothing is changed and
`set_flush_denormal` returns False, as PyTorch's does where it is unsupported.
"""
import platform

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

FTZ, DAZ = 1 << 15, 1 << 6  # the MXCSR bits
X86_64 = platform.machine().lower() in ("x86_64", "amd64")


def supported():
    """Whether this processor's denormal handling can be set here (x86-64)."""
    return X86_64


@intrinsic
def _read_mxcsr(typingctx):
    """The MXCSR register (x86 instruction stmxcsr, through a slot on the stack)."""
    def codegen(context, builder, signature, args):
        slot = builder.alloca(ir.IntType(32))
        stmxcsr = builder.module.declare_intrinsic("llvm.x86.sse.stmxcsr", (),
                                                   ir.FunctionType(ir.VoidType(), [slot.type]))
        builder.call(stmxcsr, [slot])
        return builder.zext(builder.load(slot), ir.IntType(64))
    return types.int64(), codegen


@intrinsic
def _write_mxcsr(typingctx, value):
    """Set the MXCSR register (x86 instruction ldmxcsr)."""
    def codegen(context, builder, signature, args):
        slot = builder.alloca(ir.IntType(32))
        builder.store(builder.trunc(args[0], ir.IntType(32)), slot)
        ldmxcsr = builder.module.declare_intrinsic("llvm.x86.sse.ldmxcsr", (),
                                                   ir.FunctionType(ir.VoidType(), [slot.type]))
        builder.call(ldmxcsr, [slot])
        return context.get_dummy_value()
    return types.none(types.int64), codegen


@njit(cache=True)
def _mxcsr():
    return _read_mxcsr()


@njit(cache=True)
def _set_mxcsr(value):
    _write_mxcsr(value)


def flush_denormal():
    """Whether denormals are flushed on this thread now (both FTZ and DAZ set)."""
    return supported() and _mxcsr() & (FTZ | DAZ) == FTZ | DAZ


def set_flush_denormal(mode):
    """Flush denormals to zero on this thread (mode True) or compute with them (False, the
    processor's default). Returns True if the setting is supported and made."""
    if not supported():
        return False
    bits = _mxcsr()
    _set_mxcsr(bits | FTZ | DAZ if mode else bits & ~(FTZ | DAZ))
    return True
