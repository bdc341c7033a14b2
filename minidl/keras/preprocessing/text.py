"""keras.preprocessing.text: Tokenizer and text_to_word_sequence, minidl.data's (which
follow Keras: the vocabulary ranked by frequency, index 0 left for padding)."""
from ...data.text import Tokenizer, text_to_word_sequence  # noqa: F401
