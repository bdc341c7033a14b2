"""Tests for minidl.data: bundled data sets, text tools, splitting/scaling, DataLoader."""

import doctest
import math
import numpy as np
import pytest
from helpers import require

import minidl
from minidl.data import (
    CharVocab, DataLoader, Dataset, Standardizer, TensorDataset, Tokenizer, load_char_corpus,
    load_diabetes, load_digits, load_sms_spam, one_hot, pad_sequences, split_last,
    standardize, text_to_word_sequence, train_test_split,
)
from minidl.data import text as text_module
from minidl.data.datasets import DATA_DIR


# ---------------------------------------------------------------- bundled data sets

def test_digits_shapes_values_and_classes():
    X, y, info = load_digits(return_info=True)
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16 and np.all(X == np.round(X))
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert len(info.feature_names) == 64 and info.class_names == tuple("0123456789")
    assert load_digits(dtype=np.float64)[0].dtype == np.float64


def test_diabetes_is_in_original_units():
    X, y, info = load_diabetes(return_info=True)
    assert X.shape == (442, 10) and y.shape == (442,) and X.dtype == y.dtype == np.float32
    assert info.feature_names[:4] == ("age", "sex", "bmi", "bp")
    np.testing.assert_allclose(X[0], [59, 2, 32.1, 101, 157, 93.2, 38, 4, 4.8598, 87], rtol=1e-6)
    assert set(np.unique(X[:, 1])) == {1.0, 2.0}
    assert y.min() == 25 and y.max() == 346


def test_sms_spam_texts_and_labels():
    texts, labels, class_names = load_sms_spam()
    assert class_names == ("ham", "spam")
    assert len(texts) == len(labels) == 4534 and labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [3973, 561]
    assert all(isinstance(t, str) and t for t in texts)
    assert len(set(texts)) == len(texts)                      # repeated messages removed
    assert "Free entry in 2 a wkly comp" in texts[1] and labels[1] == 1


def test_char_corpus_is_moby_dick():
    text, info = load_char_corpus(return_info=True)
    assert isinstance(text, str) and len(text) == 1_190_317
    assert text.startswith("CHAPTER 1. Loomings.\n\nCall me Ishmael.")
    assert "moby" in info.name


def test_loaders_are_deterministic_and_return_fresh_arrays():
    X1, y1 = load_digits()
    X1[0, 0] = 99.0
    y1[0] = 7
    X2, y2 = load_digits()
    assert X2[0, 0] == 0 and y2[0] == 0
    assert load_sms_spam()[0][:5] == load_sms_spam()[0][:5]
    np.testing.assert_array_equal(load_diabetes()[0], load_diabetes()[0])


def test_every_bundled_file_is_documented_and_small():
    files = [p for p in DATA_DIR.iterdir() if p.name != "README.md"]
    readme = (DATA_DIR / "README.md").read_text(encoding="utf-8")
    for path in files:
        assert f"## {path.name}" in readme, f"{path.name} has no section in README.md"
    assert {p.suffix for p in files} <= {".npz", ".gz"}
    assert sum(p.stat().st_size for p in files) < 3_000_000


# ---------------------------------------------------------------- Tokenizer

TEXTS = ["The cat sat on the mat.", "The dog ate my homework!", "My cat ate the dog's dinner"]
# Worked out by hand: counts the 4, cat 2, ate 2, my 2, everything else 1; equal counts
# keep the order of first appearance (cat in text 1, then ate and my in text 2).
EXPECTED_INDEX = {"the": 1, "cat": 2, "ate": 3, "my": 4, "sat": 5, "on": 6, "mat": 7, "dog": 8,
                  "homework": 9, "dog's": 10, "dinner": 11}


def test_text_to_word_sequence_keeps_apostrophes_and_drops_punctuation():
    assert text_to_word_sequence("Hello,  World! It's\tme.") == ["hello", "world", "it's", "me"]
    assert text_to_word_sequence("A-b", lower=False) == ["A", "b"]


def test_tokenizer_vocabulary_by_frequency_then_first_appearance():
    tok = Tokenizer().fit_on_texts(TEXTS)
    assert tok.word_index == EXPECTED_INDEX
    assert tok.index_word == {i: w for w, i in EXPECTED_INDEX.items()}
    assert tok.word_counts["the"] == 4 and list(tok.word_counts)[:3] == ["the", "cat", "sat"]
    assert tok.word_docs["the"] == 3 and tok.word_docs["cat"] == 2 and tok.word_docs["mat"] == 1
    assert tok.document_count == 3


def test_texts_to_sequences_drops_unknown_words_without_oov_token():
    tok = Tokenizer().fit_on_texts(TEXTS)
    assert tok.texts_to_sequences(["the cat ate a fish", ""]) == [[1, 2, 3], []]


def test_num_words_keeps_only_indices_below_it():
    tok = Tokenizer(num_words=4).fit_on_texts(TEXTS)
    assert tok.word_index == EXPECTED_INDEX                  # the index itself is complete
    assert tok.texts_to_sequences(["my cat sat on the mat"]) == [[2, 1]]


def test_oov_token_takes_index_one_and_stands_in_for_cut_words():
    tok = Tokenizer(num_words=5, oov_token="<OOV>").fit_on_texts(TEXTS)
    assert tok.word_index["<OOV>"] == 1 and tok.word_index["the"] == 2
    assert tok.word_index["dinner"] == 12
    # my = 5 and sat = 6 are cut by num_words=5; "a" and "zebra" are unknown.
    assert tok.texts_to_sequences(["my cat sat on a zebra"]) == [[1, 3, 1, 1, 1, 1]]
    assert tok.sequences_to_texts([[2, 3, 6, 99]]) == ["the cat <OOV> <OOV>"]


def test_texts_to_matrix_modes():
    tok = Tokenizer().fit_on_texts(TEXTS)
    expected = {
        "binary": {1: 1.0, 2: 1.0},
        "count": {1: 2.0, 2: 1.0},
        "freq": {1: 2 / 3, 2: 1 / 3},
        # tf = 1 + log(count), idf = log(1 + 3 documents / (1 + documents with the word))
        "tfidf": {1: (1 + math.log(2)) * math.log(1 + 3 / 4), 2: math.log(1 + 3 / 3)},
    }
    for mode, cells in expected.items():
        matrix = tok.texts_to_matrix(["the cat the", "zebra"], mode=mode)
        assert matrix.shape == (2, 12)
        want = np.zeros((2, 12))
        for column, value in cells.items():
            want[0, column] = value
        np.testing.assert_allclose(matrix, want, err_msg=mode)


def test_texts_to_matrix_width_is_num_words():
    tok = Tokenizer(num_words=3).fit_on_texts(TEXTS)
    np.testing.assert_array_equal(tok.texts_to_matrix(["cat ate my the"], mode="count"),
                                  [[0, 1, 1]])


def test_tokenizer_errors_are_clear():
    with pytest.raises(TypeError, match="single str"):
        Tokenizer().fit_on_texts("just one text")
    with pytest.raises(ValueError, match="fit_on_texts first"):
        Tokenizer().texts_to_matrix(["a"])
    with pytest.raises(ValueError, match="unknown matrix mode"):
        Tokenizer().fit_on_texts(TEXTS).texts_to_matrix(["a"], mode="onehot")


def test_examples_in_the_text_docstrings_hold():
    result = doctest.testmod(text_module)
    assert result.attempted >= 3 and result.failed == 0


# ---------------------------------------------------------------- pad_sequences

SEQS = [[1, 2, 3], [4, 5], [6]]


def test_pad_sequences_pads_and_truncates_at_the_front_by_default():
    out = pad_sequences(SEQS)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [[1, 2, 3], [0, 4, 5], [0, 0, 6]])
    np.testing.assert_array_equal(pad_sequences(SEQS, maxlen=2), [[2, 3], [4, 5], [0, 6]])


def test_pad_sequences_post_options_value_and_dtype():
    np.testing.assert_array_equal(pad_sequences(SEQS, maxlen=2, padding="post", truncating="post"),
                                  [[1, 2], [4, 5], [6, 0]])
    out = pad_sequences(SEQS, maxlen=4, value=-1, dtype="float32", padding="post")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[1, 2, 3, -1], [4, 5, -1, -1], [6, -1, -1, -1]])


def test_pad_sequences_edge_cases():
    np.testing.assert_array_equal(pad_sequences([[], [7]]), [[0], [7]])
    assert pad_sequences([[1, 2], [3]], maxlen=0).shape == (2, 0)
    assert pad_sequences([]).shape == (0, 0)
    vectors = pad_sequences([[[1, 1], [2, 2]], [[3, 3]]])
    np.testing.assert_array_equal(vectors, [[[1, 1], [2, 2]], [[0, 0], [3, 3]]])
    with pytest.raises(ValueError, match="padding"):
        pad_sequences(SEQS, padding="middle")


# ---------------------------------------------------------------- CharVocab

def test_char_vocab_is_sorted_and_round_trips():
    vocab = CharVocab("hello")
    assert vocab.itos == ["e", "h", "l", "o"] and vocab.stoi == {"e": 0, "h": 1, "l": 2, "o": 3}
    assert vocab.size == len(vocab) == 4
    codes = vocab.encode("hell")
    assert codes.dtype == np.int64 and codes.tolist() == [1, 0, 2, 2]
    assert vocab.decode([2, 3]) == "lo"
    assert vocab.decode(minidl.tensor(codes)) == "hell"
    text = load_char_corpus()[:5000]
    assert CharVocab(text).decode(CharVocab(text).encode(text)) == text


def test_char_vocab_errors_name_the_character():
    with pytest.raises(KeyError, match="'z'"):
        CharVocab("abc").encode("abz")
    with pytest.raises(IndexError, match="outside 0..2"):
        CharVocab("abc").decode([3])


# ---------------------------------------------------------------- train_test_split

@pytest.mark.parametrize("n, test_size, train_size", [
    (10, None, None), (10, 0.25, None), (17, 0.33, None), (17, 3, None), (100, None, 0.6),
    (100, 0.1, 0.5), (7, None, 5), (5, 0.5, None),
])
def test_split_sizes_match_sklearn(n, test_size, train_size):
    sk = require("sklearn.model_selection")
    X = np.arange(n)
    train, test = train_test_split(X, test_size=test_size, train_size=train_size, random_state=0)
    sk_train, sk_test = sk.train_test_split(X, test_size=test_size, train_size=train_size,
                                            random_state=0)
    assert (len(train), len(test)) == (len(sk_train), len(sk_test))


def test_split_keeps_rows_together_and_parts_disjoint():
    X = np.arange(40).reshape(20, 2)
    y = np.arange(20) * 10
    texts = [f"doc {i}" for i in range(20)]
    X_tr, X_te, y_tr, y_te, t_tr, t_te = train_test_split(X, y, texts, test_size=0.3,
                                                          random_state=1)
    assert len(X_te) == 6 and isinstance(t_tr, list)
    np.testing.assert_array_equal(X_tr[:, 0] * 5, y_tr)
    assert t_te == [f"doc {i // 10}" for i in y_te]
    assert sorted(np.concatenate([y_tr, y_te]).tolist()) == y.tolist()


def test_split_without_shuffle_takes_the_first_samples_for_training():
    train, test = train_test_split(np.arange(10), test_size=3, shuffle=False)
    assert train.tolist() == list(range(7)) and test.tolist() == [7, 8, 9]


def test_split_last_holds_out_the_last_fraction_in_order_as_keras():
    X, y, texts = np.arange(20).reshape(10, 2), np.arange(10) * 3, [f"t{i}" for i in range(10)]
    X_first, X_last, y_first, y_last, t_first, t_last = split_last(X, y, texts,
                                                                   validation_split=0.3)
    # Keras keeps int(10 * 0.7) = 7 for training (10 * 0.7 is 7.000000000000001); a test
    # share rounded up as train_test_split rounds it (ceil(10 * 0.3) = 4) would keep 6
    np.testing.assert_array_equal(X_first, X[:7])
    np.testing.assert_array_equal(X_last, X[7:])
    assert y_first.tolist() == (np.arange(7) * 3).tolist() and y_last.tolist() == [21, 24, 27]
    assert t_first == texts[:7] and t_last == texts[7:]
    for n in range(2, 60):
        for fraction in (0.05, 0.1, 0.2, 0.25, 0.3, 1 / 3, 0.5, 0.7, 0.9):
            if 0 < int(n * (1 - fraction)) < n:
                first, last = split_last(np.arange(n), validation_split=fraction)
                assert len(first) == int(n * (1 - fraction))
                assert np.concatenate([first, last]).tolist() == list(range(n))


def test_split_last_that_leaves_an_empty_part_is_an_error():
    with pytest.raises(ValueError, match="validation_split=0.99 of 64 samples leaves an empty"):
        split_last(np.arange(64), validation_split=0.99)
    with pytest.raises(ValueError, match=r"split_last: validation_split must be in \(0, 1\)"):
        split_last(np.arange(64), validation_split=1.0)


def test_split_is_reproducible_by_seed_and_by_manual_seed():
    X = np.arange(50)
    a = train_test_split(X, random_state=3)
    b = train_test_split(X, random_state=3)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    minidl.manual_seed(7)
    c = train_test_split(X)
    minidl.manual_seed(7)
    d = train_test_split(X)
    assert all(np.array_equal(p, q) for p, q in zip(c, d))
    assert not np.array_equal(train_test_split(X, random_state=4)[0], a[0])


def test_stratified_split_keeps_class_proportions():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    for seed in range(5):
        y_tr, y_te = train_test_split(y, test_size=0.2, stratify=y, random_state=seed)
        assert np.bincount(y_te).tolist() == [12, 6, 2]
        assert np.bincount(y_tr).tolist() == [48, 24, 8]


def test_stratified_counts_are_within_one_of_the_exact_share():
    rng = np.random.default_rng(0)
    for trial in range(20):
        y = rng.integers(0, 4, size=int(rng.integers(40, 120)))
        if np.bincount(y).min() < 2:
            continue
        y_tr, y_te = train_test_split(y, test_size=0.3, stratify=y, random_state=trial)
        share = np.bincount(y, minlength=4) / len(y)
        assert np.all(np.abs(np.bincount(y_te, minlength=4) - share * len(y_te)) < 1)
        assert np.all(np.abs(np.bincount(y_tr, minlength=4) - share * len(y_tr)) < 1)
        assert len(y_te) == math.ceil(0.3 * len(y))


def test_split_errors_are_clear():
    with pytest.raises(ValueError, match="different lengths"):
        train_test_split(np.arange(5), np.arange(6))
    with pytest.raises(ValueError, match="only one member"):
        train_test_split(np.arange(6), stratify=[0, 0, 0, 1, 1, 2])
    with pytest.raises(ValueError, match="must be in"):
        train_test_split(np.arange(6), test_size=1.5)
    with pytest.raises(ValueError, match="more than"):
        train_test_split(np.arange(6), test_size=4, train_size=3)


# ---------------------------------------------------------------- Standardizer, one_hot

def test_standardizer_matches_sklearn_and_uses_train_statistics_only():
    preprocessing = require("sklearn.preprocessing")
    rng = np.random.default_rng(0)
    train = rng.normal(5, 3, size=(50, 4))
    train[:, 2] = 7.0                                        # a constant feature
    test = rng.normal(5, 3, size=(10, 4))
    ours = Standardizer().fit(train)
    theirs = preprocessing.StandardScaler().fit(train)
    np.testing.assert_allclose(ours.transform(test), theirs.transform(test), atol=1e-12)
    np.testing.assert_allclose(ours.inverse_transform(ours.transform(test)), test, atol=1e-12)
    train_std, test_std = standardize(train, test)
    np.testing.assert_allclose(train_std.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(train_std.std(axis=0), [1, 1, 0, 1], atol=1e-12)
    np.testing.assert_allclose(test_std, theirs.transform(test), atol=1e-12)


def test_standardizer_dtypes_and_errors():
    assert standardize(np.array([[1, 2], [3, 5], [4, 4]], dtype=np.float32)).dtype == np.float32
    assert standardize(np.arange(6).reshape(3, 2)).dtype == np.float64
    with pytest.raises(RuntimeError, match="fit first"):
        Standardizer().transform(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"\(samples, 2\)"):
        Standardizer().fit(np.ones((3, 2))).transform(np.ones((3, 3)))


def test_one_hot():
    out = one_hot(np.array([2, 0, 1]), num_classes=4)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]])
    assert one_hot([1, 3]).shape == (2, 4)
    with pytest.raises(ValueError, match="0..1"):
        one_hot([0, 2], num_classes=2)


# ---------------------------------------------------------------- DataLoader

def _epoch(loader):
    return [tuple(t.numpy() for t in batch) for batch in loader]


def test_dataloader_batches_cover_the_data_once():
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    loader = DataLoader(TensorDataset(X, y), batch_size=4)
    batches = _epoch(loader)
    assert len(loader) == len(batches) == 3
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert isinstance(next(iter(loader))[0], minidl.Tensor)
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), X)


def test_dataloader_drop_last():
    loader = DataLoader(TensorDataset(np.arange(10)), batch_size=4, drop_last=True)
    assert len(loader) == 2 and [len(b[0]) for b in _epoch(loader)] == [4, 4]


def test_dataloader_shuffle_is_reproducible_and_new_each_epoch():
    data = TensorDataset(np.arange(30))
    first = [b[0] for b in _epoch(DataLoader(data, batch_size=30, shuffle=True, seed=1))]
    again = [b[0] for b in _epoch(DataLoader(data, batch_size=30, shuffle=True, seed=1))]
    np.testing.assert_array_equal(first[0], again[0])
    assert sorted(first[0].tolist()) == list(range(30))
    loader = DataLoader(data, batch_size=30, shuffle=True, seed=1)
    assert not np.array_equal(_epoch(loader)[0][0], _epoch(loader)[0][0])
    minidl.manual_seed(5)
    a = _epoch(DataLoader(data, batch_size=30, shuffle=True))[0][0]
    minidl.manual_seed(5)
    b = _epoch(DataLoader(data, batch_size=30, shuffle=True))[0][0]
    np.testing.assert_array_equal(a, b)


class Squares(Dataset):
    """A map-style dataset written the plain way: one sample per index."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return np.full(3, i * i, dtype=np.float32), i, f"item {i}"


def test_dataloader_collates_a_custom_dataset():
    xb, yb, names = next(iter(DataLoader(Squares(), batch_size=3)))
    assert xb.shape == (3, 3) and xb.dtype == np.float32 and yb.dtype == np.int64
    np.testing.assert_array_equal(xb.numpy()[:, 0], [0, 1, 4])
    assert names == ["item 0", "item 1", "item 2"]


def test_general_path_equals_tensor_dataset_fast_path():
    X, y = load_digits()
    data = TensorDataset(X[:50], y[:50])

    class Plain(Dataset):
        def __len__(self):
            return len(data)

        def __getitem__(self, i):
            return data[i]

    fast = _epoch(DataLoader(data, batch_size=16, shuffle=True, seed=3))
    plain = _epoch(DataLoader(Plain(), batch_size=16, shuffle=True, seed=3))
    for (xf, yf), (xp, yp) in zip(fast, plain):
        assert xf.dtype == xp.dtype and yf.dtype == yp.dtype
        np.testing.assert_array_equal(xf, xp)
        np.testing.assert_array_equal(yf, yp)


def test_tensor_dataset_accepts_tensors_and_checks_lengths():
    data = TensorDataset(minidl.tensor([[1.0, 2.0], [3.0, 4.0]]), [0, 1])
    x, y = data[1]
    np.testing.assert_array_equal(x, [3.0, 4.0])
    assert y == 1
    with pytest.raises(ValueError, match="different lengths"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(data, batch_size=0)
    with pytest.raises(ValueError, match="unknown device"):
        DataLoader(data, device="tpu")
