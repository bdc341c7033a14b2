"""Convolution layers: Conv1d on (N, C, L) sequences and Conv2d on (N, C, H, W) images."""
import math

from .. import functional as F
from ..creation import zeros
from ..functional.conv import as_tuple
from . import init
from .module import Module, Parameter

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What Conv1d and Conv2d share: the checks, the parameters and their init, the
    padding modes, the repr. `spatial` is 1 or 2 and `conv` the functional op."""

    spatial = None
    conv = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        op, n = type(self).__name__, self.spatial
        if not isinstance(groups, int) or groups < 1:
            raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
        for name, channels in (("in_channels", in_channels), ("out_channels", out_channels)):
            if channels % groups:
                raise ValueError(f"{op}: {name}={channels} must be divisible by "
                                 f"groups={groups}")
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"{op}: padding_mode must be one of {PADDING_MODES}, "
                             f"got {padding_mode!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = as_tuple(kernel_size, n, "kernel_size", op)
        self.stride = as_tuple(stride, n, "stride", op)
        self.dilation = as_tuple(dilation, n, "dilation", op)
        self.padding = self._checked_padding(op, padding)
        self.groups, self.padding_mode = groups, padding_mode
        make = dict(dtype=dtype, device=device or "cpu")
        self.weight = Parameter(zeros(out_channels, in_channels // groups, *self.kernel_size,
                                      **make))
        self.bias = Parameter(zeros(out_channels, **make)) if bias else None
        self.reset_parameters()

    def _checked_padding(self, op, padding):
        if not isinstance(padding, str):
            return as_tuple(padding, self.spatial, "padding", op)
        if padding not in ("valid", "same"):
            raise ValueError(f"{op}: invalid padding string {padding!r}, should be one of "
                             "'valid', 'same'")
        if padding == "same" and any(s != 1 for s in self.stride):
            raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                             f"(stride={self.stride})")
        return padding

    def reset_parameters(self):
        """As PyTorch: kaiming_uniform_(weight, a=sqrt(5)), which is U(-1/sqrt(fan_in),
        1/sqrt(fan_in)) with fan_in = in_channels / groups * kernel size, and the bias
        from the same uniform distribution."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init.calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def _pad_widths(self):
        """The padding as F.pad takes it, (before, after) pairs from the last dim: for
        padding modes other than zeros, which pad the input before a padding-0 conv.
        "same" puts the odd element of an odd total after, as the functional op does."""
        if self.padding == "valid":
            both = [(0, 0)] * self.spatial
        elif self.padding == "same":
            totals = [d * (k - 1) for k, d in zip(self.kernel_size, self.dilation)]
            both = [(t // 2, t - t // 2) for t in totals]
        else:
            both = [(p, p) for p in self.padding]
        return tuple(w for pair in reversed(both) for w in pair)

    def forward(self, input):
        if self.padding_mode == "zeros":
            return self.conv(input, self.weight, self.bias, self.stride, self.padding,
                             self.dilation, self.groups)
        padded = F.pad(input, self._pad_widths(), mode=self.padding_mode)
        return self.conv(padded, self.weight, self.bias, self.stride, 0, self.dilation,
                         self.groups)

    def extra_repr(self):
        n = self.spatial
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0,) * n:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class Conv1d(_ConvNd):
    """1-D convolution of (N, in_channels, L) sequences into out_channels.

    weight (out_channels, in_channels / groups, k) and bias (out_channels,), PyTorch's
    layout and init. padding: int, "valid" or "same"; padding_mode: "zeros",
    "reflect", "replicate" or "circular".
    """

    spatial = 1
    conv = staticmethod(F.conv1d)


class Conv2d(_ConvNd):
    """2-D convolution of (N, in_channels, H, W) images into out_channels maps.

    weight (out_channels, in_channels / groups, kh, kw) and bias (out_channels,),
    PyTorch's layout and init. padding: int, pair, "valid" or "same"; padding_mode:
    "zeros", "reflect", "replicate" or "circular".
    """

    spatial = 2
    conv = staticmethod(F.conv2d)
