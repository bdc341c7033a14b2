"""minidl.keras: a Keras front end built from minidl's own modules.

A tf.keras listing runs with only its imports changed:

    from tensorflow.keras.layers import Dense   ->  from minidl.keras.layers import Dense
    import tensorflow as tf                     ->  from minidl.keras import tf

Each layer is built from minidl.nn modules (a Dense is an nn.Linear whose weight Keras
shows transposed); Keras's own semantics are kept where they differ from PyTorch's
(channels-last images, Keras's initializations and defaults, one recurrent bias,
evaluate() returning [loss, *metrics]). docs/cheatsheet.md puts Keras, PyTorch,
scikit-learn and minidl side by side.
"""
import sys

from . import (
    activations, backend, callbacks, initializers, layers, losses, metrics, models, ops,
    optimizers, preprocessing, utils,
)
from .layers import Input
from .models import Model, Sequential
from . import tf  # noqa: E402 (after ops, which it uses)

tf.keras = sys.modules[__name__]   # tf.keras.layers.Dense, as in TensorFlow
