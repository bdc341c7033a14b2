"""What Keras keeps per session: the default float type, the fuzz factor, and layer names.

Keras names every layer after its class, in snake case, and numbers the repeats within
a session: the first Dense is "dense", the next "dense_1", then "dense_2"...
`clear_session()` starts the numbering again, as `keras.backend.clear_session()` does.
"""
import re

_EPSILON = 1e-7          # Keras's backend.epsilon(): the clipping of probabilities in losses
_FLOATX = "float32"
_name_counts = {}


def epsilon():
    """The fuzz factor losses clip probabilities with (1e-7, as in Keras)."""
    return _EPSILON


def floatx():
    """The float type of weights and inputs: 'float32', as in Keras."""
    return _FLOATX


def clear_session():
    """Forget the layer names handed out so far (the next Dense is "dense" again)."""
    _name_counts.clear()


def snake_case(class_name):
    """'MaxPooling2D' -> 'max_pooling2d', 'SimpleRNN' -> 'simple_rnn', as Keras names layers."""
    words = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", words).lower()


def unique_name(base, zero_based=True):
    """base, then base_1, base_2, ... for each later request in this session; with
    zero_based=False base_1, base_2, ... from the start (Keras's names of Inputs)."""
    count = _name_counts.get(base, 0)
    _name_counts[base] = count + 1
    if not zero_based:
        return f"{base}_{count + 1}"
    return base if count == 0 else f"{base}_{count}"
