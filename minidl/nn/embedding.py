"""Embedding layer: a learned vector for each of num_embeddings tokens."""
from .. import functional as F
from ..creation import zeros
from . import init
from .module import Module, Parameter


class Embedding(Module):
    """Maps integer indices of any shape (...) to vectors (..., embedding_dim).

    weight (num_embeddings, embedding_dim), initialized N(0, 1) as in PyTorch.
    The row `padding_idx`, if given, starts at zero and gets no gradient, so a
    padding token stays the zero vector.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None):
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} is out of range for "
                                 f"{num_embeddings} embeddings")
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = padding_idx
        self.weight = Parameter(zeros(num_embeddings, embedding_dim))
        self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, indices):
        return F.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self):
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        return text + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")
