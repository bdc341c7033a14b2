"""Data for minidl: bundled real data sets, text tools, splitting and scaling, batching.

    from minidl.data import load_digits, train_test_split, standardize, TensorDataset, DataLoader
    (X_train, y_train), (X_test, y_test) = load_fashion_mnist()   # found on disk, or download=True
"""
from .dataset import DataLoader, Dataset, TensorDataset, collate
from .datasets import (
    DatasetInfo, load_char_corpus, load_diabetes, load_digits, load_sms_spam,
)
from .fashion_mnist import load_fashion_mnist
from .idx import read_idx
from .preprocessing import Standardizer, one_hot, split_last, standardize, train_test_split
from .text import CharVocab, Tokenizer, pad_sequences, text_to_word_sequence
