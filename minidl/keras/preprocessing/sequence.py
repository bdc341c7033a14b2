"""keras.preprocessing.sequence: pad_sequences, minidl.data's (Keras's semantics: padding
and truncating "pre" by default)."""
from ...data.text import pad_sequences  # noqa: F401
