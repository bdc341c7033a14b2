"""minidl: a from-scratch deep-learning framework for learning how deep learning works."""
from . import classic, data, functional, metrics, nn, optim
from .autograd import Function, backward, detect_anomaly, enable_grad, grad, is_grad_enabled, no_grad
from .backend import (
    cuda_is_available, default_dtype, get_kernels, manual_seed, set_default_dtype, set_kernels,
)
from .creation import (
    arange, as_tensor, eye, full, linspace, ones, ones_like, rand, randint, randn, tensor, zeros,
    zeros_like,
)
from .functional import (
    abs, cat, clip, concat, exp, log, matmul, maximum, mean, minimum, sqrt, stack, sum, where,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .io import load, save
from .nn.summary import summary
from .tensor import Tensor
from .train import EarlyStopping, History, ModelCheckpoint, TerminateOnNaN, evaluate, fit, predict

__version__ = "0.1.0"
