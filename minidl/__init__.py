"""minidl: a from-scratch deep-learning framework for learning how deep learning works."""
import os as _os

# A wheel installs the top-level folder kernels/ as minidl/kernels/. Run from a checkout
# (PYTHONPATH=., an editable install) there is no minidl/kernels/: let `import
# minidl.kernels` find the checkout's kernels/ instead.
_checkout = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if not _os.path.isdir(_os.path.join(__path__[0], "kernels")):
    __path__.append(_checkout)

from . import tensor_methods  # noqa: E402
from .tensor import Tensor  # noqa: E402

tensor_methods.attach()  # Tensor's operators and methods, now that the ops exist

from . import classic, data, functional, metrics, nn, optim, profiler  # noqa: E402
from . import autograd_functional  # noqa: E402,F401 (it is minidl.autograd.functional)
from .autograd import (  # noqa: E402
    Function, backward, detect_anomaly, enable_grad, grad, is_anomaly_enabled, is_grad_enabled,
    no_grad, set_grad_enabled,
)
from .backend import (  # noqa: E402
    cuda_is_available, default_dtype, get_kernels, manual_seed, set_default_dtype,
    set_flush_denormal, set_kernels,
)
from .creation import (  # noqa: E402
    arange, as_tensor, eye, full, linspace, ones, ones_like, rand, randint, randn, tensor, zeros,
    zeros_like,
)
from .functional import (  # noqa: E402
    abs, amax, amin, argmax, argmin, cat, chunk, clamp, clip, concat, exp, flatten, gather, log,
    matmul, max, maximum, mean, min, minimum, permute, reshape, split, sqrt, squeeze, stack, std,
    sum, tensor_split, transpose, unsqueeze, var, where,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402
from .io import load, save  # noqa: E402
from .nn.summary import summary  # noqa: E402
from .train import (  # noqa: E402
    EarlyStopping, History, ModelCheckpoint, TerminateOnNaN, evaluate, fit, predict,
)

__version__ = "0.1.0"
