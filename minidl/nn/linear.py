"""Linear (fully connected) layer, plus the shape helpers Identity and Flatten."""
import math

from .. import functional as F
from ..creation import zeros
from . import init
from .module import Module, Parameter


class Linear(Module):
    """y = x W^T + b for x of shape (..., in_features).

    weight (out_features, in_features) and bias (out_features,), PyTorch's
    layout. Initialized as PyTorch does: kaiming_uniform_(weight, a=sqrt(5)),
    which is U(-1/sqrt(in_features), 1/sqrt(in_features)), and the bias from
    the same uniform distribution.
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        make = dict(dtype=dtype, device=device or "cpu")
        self.weight = Parameter(zeros(out_features, in_features, **make))
        self.bias = Parameter(zeros(out_features, **make)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. to remove a layer from a model).
    Any arguments are accepted and ignored, as in PyTorch, so it can stand in for any layer."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Flatten(Module):
    """Merge dims start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        return F.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
