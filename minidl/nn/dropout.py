"""Dropout layer: randomly zeroes activations while training, a regularizer."""
from .. import functional as F
from .module import Module


class Dropout(Module):
    """Zero each element with probability p in training mode and scale the
    others by 1/(1-p); the identity in eval mode (`model.eval()`)."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be between 0 and 1, got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"
