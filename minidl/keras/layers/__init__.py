"""Keras's layers, each built from minidl's nn modules (see each file's docstring)."""
from .attention import MultiHeadAttention
from .base import InputSpec, Layer, Weight
from .conv import Conv1D, Conv2D
from .core import Activation, Dense, Dropout, Flatten, Lambda, Reshape, Softmax, TFOpLambda
from .embedding import Embedding
from .input_layer import Input, InputLayer
from .merging import (
    Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract, add, concatenate,
)
from .normalization import BatchNormalization, LayerNormalization
from .pooling import (
    AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D,
    GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D,
)
from .recurrent import GRU, LSTM, SimpleRNN

# Keras's short names
Convolution1D, Convolution2D = Conv1D, Conv2D
MaxPool1D, MaxPool2D = MaxPooling1D, MaxPooling2D
AvgPool1D, AvgPool2D = AveragePooling1D, AveragePooling2D
GlobalAvgPool1D, GlobalMaxPool1D = GlobalAveragePooling1D, GlobalMaxPooling1D
GlobalAvgPool2D, GlobalMaxPool2D = GlobalAveragePooling2D, GlobalMaxPooling2D
