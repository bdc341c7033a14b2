"""Layers and models: Module, Parameter, containers, and the layers built on minidl.functional."""
import sys

from .. import functional
from . import init, utils
from .activation import (
    ELU, GELU, SELU, Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax,
    Softplus, Softsign, Tanh,
)
from .attention import (
    LearnedPositionalEmbedding, MultiheadAttention, PositionalEncoding,
    generate_square_subsequent_mask,
)
from .conv import Conv1d, Conv2d
from .dropout import Dropout
from .embedding import Embedding
from .linear import Flatten, Identity, Linear
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .module import Module, ModuleList, Parameter, Sequential
from .norm import BatchNorm1d, BatchNorm2d, LayerNorm
from .pool import (
    AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d,
)
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .summary import summary
from .transformer import TransformerEncoder, TransformerEncoderLayer

# `import minidl.nn.functional as F` works as `import torch.nn.functional as F` does:
# it is minidl.functional itself.
sys.modules[__name__ + ".functional"] = functional
